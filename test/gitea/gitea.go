// Package gitea runs a real Gitea (built from the module proxy by test/binaries) for
// tests: SQLite, install lock, an admin user with an API token, listening on 127.0.0.1
// only, its data in a temporary folder, stopped by its own PID.
package gitea

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gitfleet/gitfleet/test/binaries"
)

// The admin user every server has.
const (
	AdminUser     = "gitfleet"
	AdminPassword = "gitfleet-test-password-1"
	adminEmail    = "gitfleet@example.com"
)

// Server is a running Gitea.
type Server struct {
	// URL is the web and Git base URL with a trailing slash, e.g. http://127.0.0.1:41234/.
	URL string
	// Token is an API token of the admin user (scopes all).
	Token string

	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	out    syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartForTest builds (or reuses) the Gitea binary, starts a server and registers its
// stop with t.Cleanup.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := binaries.Gitea.Path(ctx, os.Stderr)
	if err != nil {
		t.Fatalf("building Gitea: %v", err)
	}
	s, err := Start(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatalf("starting Gitea: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start runs Gitea from bin with its data in dir.
func Start(ctx context.Context, bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	static, err := staticRoot(ctx)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), dir: dir}
	ini := filepath.Join(dir, "app.ini")
	if err := os.WriteFile(ini, []byte(appIni(dir, u.Username, port, static)), 0o600); err != nil {
		return nil, err
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--config", ini, "--work-path", dir)...)
		cmd.Env = s.env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("gitea %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := run("migrate"); err != nil {
		return nil, err
	}
	if _, err := run("admin", "user", "create", "--username", AdminUser, "--password", AdminPassword,
		"--email", adminEmail, "--admin", "--must-change-password=false"); err != nil {
		return nil, err
	}
	tok, err := run("admin", "user", "generate-access-token", "--username", AdminUser, "--token-name", "gitfleet", "--scopes", "all", "--raw")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(tok, "\n")
	s.Token = strings.TrimSpace(lines[len(lines)-1])

	s.cmd = exec.Command(bin, "web", "--config", ini, "--work-path", dir)
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			s.cmd = nil
			return nil, fmt.Errorf("gitea web exited: %s", s.out.String())
		default:
		}
		resp, err := http.Get(s.URL + "api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("gitea did not answer on %s within 60s: %s", s.URL, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) env() []string {
	return append(os.Environ(), "GITEA_WORK_DIR="+s.dir, "HOME="+s.dir, "I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true")
}

// staticRoot is Gitea's source folder in the module cache: a binary built without the
// bindata tag reads its locales and templates from there.
func staticRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "code.gitea.io", "gitea@"+binaries.Gitea.Version)
	if _, err := os.Stat(filepath.Join(dir, "options", "locale")); err != nil {
		return "", fmt.Errorf("gitea sources (locales) not in the module cache: %w", err)
	}
	return dir, nil
}

func appIni(dir, runUser string, port int, static string) string {
	return fmt.Sprintf(`APP_NAME = gitfleet test
RUN_USER = %[2]s
RUN_MODE = prod
WORK_PATH = %[1]s
; CI runs as root; Gitea refuses that unless told.
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
ROOT_URL = http://127.0.0.1:%[3]d/
DISABLE_SSH = true
OFFLINE_MODE = true
APP_DATA_PATH = %[1]s/data
STATIC_ROOT_PATH = %[4]s
LFS_START_SERVER = false

[security]
INSTALL_LOCK = true
SECRET_KEY = gitfleet-test-secret-key
INTERNAL_TOKEN = eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjE3MDAwMDAwMDB9.gitfleet-test-internal-token

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[queue]
TYPE = level
DATADIR = %[1]s/queues

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[1]s/log

[cron]
ENABLED = false

[mailer]
ENABLED = false
`, dir, runUser, port, static)
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) by its own process group.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
}

// Log is what the server printed so far.
func (s *Server) Log() string { return s.out.String() }

// APIURL is the API base URL with a trailing slash (…/api/v1/).
func (s *Server) APIURL() string { return s.URL + "api/v1/" }

// RepoURL is the HTTP Git URL of repository owner/name.
func (s *Server) RepoURL(repo string) string { return s.URL + repo + ".git" }

// Auth is the admin user's Git credentials.
func (s *Server) Auth() transport.AuthMethod {
	return &githttp.BasicAuth{Username: AdminUser, Password: AdminPassword}
}

// CreateRepo creates a repository of the admin user, with a first commit on main (a README;
// Gitea serves an empty repository badly until a push has been processed), and returns
// owner/name.
func (s *Server) CreateRepo(ctx context.Context, name string) (string, error) {
	if err := s.Do(ctx, http.MethodPost, "user/repos", map[string]any{"name": name, "default_branch": "main", "auto_init": true, "readme": "Default"}, nil); err != nil {
		return "", err
	}
	return AdminUser + "/" + name, nil
}

// Do calls the API (path relative to /api/v1/) with the admin token, sending in as JSON
// and decoding the answer into out when not nil. A status of 300 or more is an error.
func (s *Server) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.APIURL()+strings.TrimPrefix(path, "/"), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("gitea %s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

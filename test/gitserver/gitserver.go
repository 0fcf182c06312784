// Package gitserver runs a real git server for gitfleet's integration and end-to-end
// tests (fluxcd's gittestserver, which serves repositories with the git binary over
// smart HTTP and, optionally, SSH), and holds the helpers those tests use to seed
// repositories, push commits and read branches back.
//
//	srv := gitserver.StartForTest(t, gitserver.Options{})
//	if err := srv.InitRepo("fleet", map[string]string{"a.yaml": "..."}, gitserver.DefaultBranch); err != nil { ... }
//	files, err := srv.ReadBranch(ctx, "fleet", gitserver.DefaultBranch)
//
// The server listens on 127.0.0.1 only and keeps its repositories in a temporary folder
// that Stop removes. Its request log is silenced unless GITFLEET_TEST_VERBOSE=1.
package gitserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// DefaultBranch is the branch SeedRepo commits to.
const DefaultBranch = "main"

// Options configures a Server.
type Options struct {
	// Username and Password switch HTTP basic authentication on when Username is set.
	// (SSH then requires a client key, which SSHAuth provides; any key is accepted.)
	Username, Password string
	// SSH also serves the repositories over SSH, on another port of 127.0.0.1.
	SSH bool
	// AutoCreate creates a missing repository on its first push.
	AutoCreate bool
}

// Server is a running git server.
type Server struct {
	srv  *gittestserver.GitServer
	opts Options
	root string

	keyDir     string
	hostKey    ssh.PublicKey
	clientKey  []byte // PEM (OpenSSH private key)
	sshDone    chan struct{}
	sshAddress string

	stopOnce sync.Once
}

// TB is the part of testing.TB that StartForTest uses. Both *testing.T and Ginkgo's
// GinkgoT() satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Start starts a git server with an empty root folder. The caller must call Stop.
func Start(opts Options) (*Server, error) {
	silenceGitkit()
	srv, err := gittestserver.NewTempGitServer()
	if err != nil {
		return nil, fmt.Errorf("creating the git server's root: %w", err)
	}
	s := &Server{srv: srv, opts: opts, root: srv.Root()}
	if opts.Username != "" {
		srv.Auth(opts.Username, opts.Password)
	}
	if opts.AutoCreate {
		srv.AutoCreate()
	}
	// httptest listens on 127.0.0.1:0.
	if err := srv.StartHTTP(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("starting the git HTTP server: %w", err)
	}
	if err := checkLoopback(srv.HTTPAddress()); err != nil {
		s.Stop()
		return nil, err
	}
	if opts.SSH {
		if err := s.startSSH(); err != nil {
			s.Stop()
			return nil, fmt.Errorf("starting the git SSH server: %w", err)
		}
	}
	return s, nil
}

// StartForTest starts a git server and stops it when the test ends; it fails the test
// if the server does not start.
func StartForTest(t TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("gitserver.Start() = %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) startSSH() error {
	var err error
	s.keyDir, err = os.MkdirTemp("", "gitfleet-gitserver-keys-")
	if err != nil {
		return err
	}
	s.srv.KeyDir(s.keyDir)
	if err := s.srv.ListenSSH(); err != nil { // binds 127.0.0.1:0
		return err
	}
	addr := s.srv.SSHAddress() // ssh://git@127.0.0.1:port
	u, err := url.Parse(addr)
	if err != nil {
		return err
	}
	s.sshAddress = u.Host
	if err := checkLoopback("ssh://" + u.Host); err != nil {
		return err
	}
	s.sshDone = make(chan struct{})
	go func() {
		defer close(s.sshDone)
		_ = s.srv.StartSSH() // returns when the listener is closed by StopSSH
	}()

	pub, err := os.ReadFile(filepath.Join(s.keyDir, "gitkit.rsa.pub"))
	if err != nil {
		return fmt.Errorf("reading the SSH host key: %w", err)
	}
	s.hostKey, _, _, _, err = ssh.ParseAuthorizedKey(pub)
	if err != nil {
		return fmt.Errorf("parsing the SSH host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "gitfleet test client")
	if err != nil {
		return err
	}
	s.clientKey = pem.EncodeToMemory(block)
	return nil
}

// Stop stops the server and removes its repositories. It may be called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.srv.StopHTTP()
		if s.sshDone != nil {
			_ = s.srv.StopSSH()
			<-s.sshDone
		}
		_ = os.RemoveAll(s.root)
		if s.keyDir != "" {
			_ = os.RemoveAll(s.keyDir)
		}
	})
}

// Root is the folder holding the bare repositories, one folder per repository name.
func (s *Server) Root() string { return s.root }

// URL is the server's base HTTP URL, http://127.0.0.1:port, without credentials.
func (s *Server) URL() string { return s.srv.HTTPAddress() }

// RepoURL is the HTTP URL of the repository called name (a path such as "fleet" or
// "org/fleet.git"), without credentials: pass Auth() along with it.
func (s *Server) RepoURL(name string) string {
	return s.URL() + "/" + strings.TrimPrefix(name, "/")
}

// RepoURLWithCredentials is RepoURL with the basic-auth user and password in the URL,
// for programs that take no separate credentials (e.g. the git binary).
func (s *Server) RepoURLWithCredentials(name string) string {
	return s.srv.HTTPAddressWithCredentials() + "/" + strings.TrimPrefix(name, "/")
}

// SSHRepoURL is ssh://git@127.0.0.1:port/name, or "" without Options.SSH.
func (s *Server) SSHRepoURL(name string) string {
	if s.sshAddress == "" {
		return ""
	}
	return "ssh://git@" + s.sshAddress + "/" + strings.TrimPrefix(name, "/")
}

// Auth returns the go-git HTTP credentials of the server, or nil when it needs none.
func (s *Server) Auth() transport.AuthMethod {
	if s.opts.Username == "" {
		return nil
	}
	return &githttp.BasicAuth{Username: s.opts.Username, Password: s.opts.Password}
}

// SSHAuth returns go-git SSH credentials that the server accepts, checking the server's
// host key, or nil without Options.SSH.
func (s *Server) SSHAuth() transport.AuthMethod {
	if s.clientKey == nil {
		return nil
	}
	auth, err := gitssh.NewPublicKeys("git", s.clientKey, "")
	if err != nil {
		panic(fmt.Sprintf("parsing a key made by this package: %v", err)) // cannot happen
	}
	auth.HostKeyCallback = ssh.FixedHostKey(s.hostKey)
	return auth
}

// SSHIdentity returns the PEM private key of SSHAuth (for a Secret's "identity"), or
// nil without Options.SSH.
func (s *Server) SSHIdentity() []byte { return bytes.Clone(s.clientKey) }

// SSHKnownHosts returns a known_hosts line for the server's host key (for a Secret's
// "known_hosts"), or nil without Options.SSH.
func (s *Server) SSHKnownHosts() []byte {
	if s.hostKey == nil {
		return nil
	}
	return []byte(knownHostsLine(s.sshAddress, s.hostKey))
}

func knownHostsLine(hostport string, key ssh.PublicKey) string {
	host, port, _ := net.SplitHostPort(hostport)
	if port != "22" {
		host = "[" + host + "]:" + port
	}
	return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
}

// InitRepo creates the bare repository name whose HEAD is branch and, if files is not
// empty, pushes one commit holding exactly files (path → content) to branch.
func (s *Server) InitRepo(name string, files map[string]string, branch string) error {
	dir, err := s.repoDir(name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("repository %q already exists", name)
	}
	if err := initBare(dir, branch); err != nil {
		return fmt.Errorf("creating repository %q: %w", name, err)
	}
	if len(files) == 0 {
		return nil
	}
	_, err = Push(context.Background(), s.RepoURL(name), s.Auth(), Commit{
		Branch:  branch,
		Files:   files,
		Message: "Initial commit",
	})
	return err
}

// SeedRepo creates the bare repository name with one commit on DefaultBranch holding
// the files of fixtureDir (a folder in testdata, say), keeping their relative paths.
func (s *Server) SeedRepo(name, fixtureDir string) error {
	files, err := ReadDir(fixtureDir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("fixture %s holds no files", fixtureDir)
	}
	return s.InitRepo(name, files, DefaultBranch)
}

// Push makes one commit on a branch of the repository name and pushes it. See Push.
func (s *Server) Push(ctx context.Context, name string, c Commit) (string, error) {
	return Push(ctx, s.RepoURL(name), s.Auth(), c)
}

// ReadBranch returns the files (path → content) of branch in the repository name. See
// ReadBranch.
func (s *Server) ReadBranch(ctx context.Context, name, branch string) (map[string]string, error) {
	return ReadBranch(ctx, s.RepoURL(name), s.Auth(), branch)
}

// Branches returns the branches of the repository name with their commit hashes.
func (s *Server) Branches(ctx context.Context, name string) (map[string]string, error) {
	return Branches(ctx, s.RepoURL(name), s.Auth())
}

// Head returns the commit hash of branch in the repository name, or an error wrapping
// ErrBranchNotFound.
func (s *Server) Head(ctx context.Context, name, branch string) (string, error) {
	return Head(ctx, s.RepoURL(name), s.Auth(), branch)
}

// repoDir is the folder of the repository name, which must stay inside the root.
func (s *Server) repoDir(name string) (string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" || name == "" {
		return "", fmt.Errorf("invalid repository name %q", name)
	}
	return filepath.Join(s.root, filepath.FromSlash(clean)), nil
}

// ReadDir returns the files under dir (path relative to dir, with slashes → content),
// skipping .git folders.
func ReadDir(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading fixture %s: %w", dir, err)
	}
	return files, nil
}

// checkLoopback makes sure a server address is on 127.0.0.1.
func checkLoopback(address string) error {
	u, err := url.Parse(address)
	if err != nil {
		return fmt.Errorf("parsing server address %q: %w", address, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("git server listens on %s, not on the loopback interface", u.Host)
	}
	return nil
}

// Verbose reports whether GITFLEET_TEST_VERBOSE asks for the servers' output (the
// same switch as package envtest's).
func Verbose() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("GITFLEET_TEST_VERBOSE")))
	switch v {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

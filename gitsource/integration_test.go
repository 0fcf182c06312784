//go:build integration

package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// startGitServer starts fluxcd's gittestserver (git over smart HTTP through the git binary)
// with basic auth user/pass and an empty bare repository fleet.git.
func startGitServer(t *testing.T) (srv *gittestserver.GitServer, repoURL string) {
	t.Helper()
	srv = gittestserver.NewGitServer(t.TempDir()).Auth("user", "pass")
	gitCmd(t, "", "init", "-q", "--bare", "-b", "main", filepath.Join(srv.Root(), "fleet.git"))
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	return srv, srv.HTTPAddress() + "/fleet.git"
}

var goodAuth = &Auth{Username: "user", Password: "pass"}

func TestIntegrationHTTPWriteAndFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, url := startGitServer(t)
	w := NewWriter()
	res, err := w.Write(ctx, WriteRequest{URL: url, Auth: goodAuth, Branch: "env/dev",
		Files: files("gitfleet.json", "{}", "clusters/a/app/cm.yaml", "v1"), Message: "render", Trailers: StageTrailers("abc", "dev")})
	if err != nil || !res.Created {
		t.Fatalf("Write() over HTTP = %+v, %v", res, err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	co, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Auth: goodAuth, Dir: dir})
	if err != nil || co.Commit != res.Commit {
		t.Fatalf("Fetch() = %+v, %v; want %s", co, err, res.Commit)
	}
	res2, err := w.Write(ctx, WriteRequest{URL: url, Auth: goodAuth, Branch: "env/dev",
		Files: files("gitfleet.json", "{}", "clusters/b/app/cm.yaml", "v1"), Message: "render 2"})
	if err != nil || !res2.Committed {
		t.Fatalf("second Write() = %+v, %v", res2, err)
	}
	if sha, err := LsRemote(ctx, url, "env/dev", goodAuth); err != nil || sha != res2.Commit {
		t.Fatalf("LsRemote() = %s, %v; want %s", sha, err, res2.Commit)
	}
	co, err = Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Auth: goodAuth, Dir: dir})
	if err != nil || co.Commit != res2.Commit {
		t.Fatalf("incremental Fetch() = %+v, %v; want %s", co, err, res2.Commit)
	}
	if diff := cmp.Diff(map[string]string{"gitfleet.json": "{}", "clusters/b/app/cm.yaml": "v1"}, readDirFiles(t, dir)); diff != "" {
		t.Fatalf("work tree (-want +got):\n%s", diff)
	}
	got, err := ReadTree(ctx, url, "env/dev", goodAuth, "clusters/")
	if err != nil || len(got) != 1 {
		t.Fatalf("ReadTree() = %v, %v", got, err)
	}
}

func TestIntegrationHTTPErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, url := startGitServer(t)
	if _, err := NewWriter().Write(ctx, WriteRequest{URL: url, Auth: goodAuth, Branch: "main", Files: files("a", "b")}); err != nil {
		t.Fatal(err)
	}
	wrong := &Auth{Username: "user", Password: "wrong-password"}
	closed := closedPortURL(t)
	tests := map[string]struct {
		url    string
		branch string
		auth   *Auth
		want   error
	}{
		"wrong credentials": {url, "main", wrong, ErrAuthentication},
		"no credentials":    {url, "main", nil, ErrAuthentication},
		"missing branch":    {url, "env/none", goodAuth, ErrBranchNotFound},
		"missing repo":      {strings.TrimSuffix(url, "fleet.git") + "none.git", "main", goodAuth, ErrUnreachable},
		"unreachable":       {closed, "main", goodAuth, ErrUnreachable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Fetch(ctx, FetchOptions{URL: tc.url, Branch: tc.branch, Auth: tc.auth, Dir: t.TempDir()})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Fetch() = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("Fetch() error %q leaks the password", err)
			}
			if _, err := LsRemote(ctx, tc.url, tc.branch, tc.auth); !errors.Is(err, tc.want) {
				t.Fatalf("LsRemote() = %v, want %v", err, tc.want)
			}
			if !errors.Is(tc.want, ErrBranchNotFound) {
				_, err := NewWriter().Write(ctx, WriteRequest{URL: tc.url, Auth: tc.auth, Branch: tc.branch, Files: files("a", "c")})
				if !errors.Is(err, tc.want) {
					t.Fatalf("Write() = %v, want %v", err, tc.want)
				}
			}
		})
	}
	// Credentials in the URL are redacted from errors.
	u := strings.Replace(url, "http://", "http://user:url-s3cret@", 1)
	_, err := Fetch(ctx, FetchOptions{URL: u, Branch: "env/none", Dir: t.TempDir()})
	if err == nil || strings.Contains(err.Error(), "url-s3cret") {
		t.Fatalf("Fetch(credentials in URL) = %v; want an error without the password", err)
	}
}

func closedPortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/fleet.git"
}

func TestIntegrationHTTPConcurrentWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, url := startGitServer(t)
	if _, err := NewWriter().Write(ctx, WriteRequest{URL: url, Auth: goodAuth, Branch: "env/dev", Files: files("README.md", "r")}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			p := fmt.Sprintf("p%d", i)
			_, err := NewWriter(WithRetry(20, 20*time.Millisecond, 500*time.Millisecond)).Write(ctx, WriteRequest{
				URL: url, Auth: goodAuth, Branch: "env/dev", Scope: []string{"clusters/"},
				Update: placementUpdate(p, files("clusters/c/"+p+"/o.yaml", p)),
			})
			errs <- err
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Write() = %v", err)
		}
	}
	bare := filepath.Join(srv.Root(), "fleet.git")
	if got := remoteFiles(t, bare, "env/dev"); len(got) != n+1 {
		t.Fatalf("branch has %d files, want %d: %v", len(got), n+1, got)
	}
	if c := gitCmd(t, bare, "rev-list", "--count", "env/dev"); c != fmt.Sprint(n+1) {
		t.Fatalf("history has %s commits, want %d", c, n+1)
	}
}

// TestIntegrationSSH fetches over SSH with a key and strict known_hosts checking.
func TestIntegrationSSH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	identity, clientPub := testIdentity(t)
	keyDir := t.TempDir()
	srv := gittestserver.NewGitServer(t.TempDir()).Auth("user", "pass").KeyDir(keyDir)
	want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientPub)))
	srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if strings.TrimSpace(content) != want {
			return nil, errors.New("unknown key")
		}
		return &gitkit.PublicKey{Id: "deploy"}, nil
	})
	bare := filepath.Join(srv.Root(), "fleet.git")
	gitCmd(t, "", "init", "-q", "--bare", "-b", "main", bare)
	sha := commitFiles(t, "file://"+bare, "env/dev", map[string][]byte{"clusters/a/x.yaml": []byte("x")})
	if err := srv.ListenSSH(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })

	sshURL := srv.SSHAddress() + "/fleet.git"
	u, _ := url.Parse(sshURL)
	hostKey, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := fmt.Sprintf("[%s]:%s %s", u.Hostname(), u.Port(), hostKey)
	auth := &Auth{SSHIdentity: identity, SSHKnownHosts: []byte(knownHosts)}

	co, err := Fetch(ctx, FetchOptions{URL: sshURL, Branch: "env/dev", Auth: auth, Dir: t.TempDir()})
	if err != nil || co.Commit != sha {
		t.Fatalf("Fetch(ssh) = %+v, %v; want %s", co, err, sha)
	}
	if got, err := LsRemote(ctx, sshURL, "env/dev", auth); err != nil || got != sha {
		t.Fatalf("LsRemote(ssh) = %s, %v", got, err)
	}
	_, otherHostKey := testIdentity(t)
	badHosts := fmt.Sprintf("[%s]:%s %s", u.Hostname(), u.Port(), ssh.MarshalAuthorizedKey(otherHostKey))
	otherIdentity, _ := testIdentity(t)
	for name, a := range map[string]*Auth{
		"unknown host key": {SSHIdentity: identity, SSHKnownHosts: []byte(badHosts)},
		"host not listed":  {SSHIdentity: identity, SSHKnownHosts: []byte("[127.0.0.2]:22 " + string(hostKey))},
		"refused key":      {SSHIdentity: otherIdentity, SSHKnownHosts: []byte(knownHosts)},
	} {
		if _, err := Fetch(ctx, FetchOptions{URL: sshURL, Branch: "env/dev", Auth: a, Dir: t.TempDir()}); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("Fetch(ssh, %s) = %v, want ErrAuthentication", name, err)
		}
	}
	if _, err := Fetch(ctx, FetchOptions{URL: sshURL, Branch: "env/none", Auth: auth, Dir: t.TempDir()}); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("Fetch(ssh, missing branch) = %v, want ErrBranchNotFound", err)
	}
	// The writer pushes over SSH too.
	res, err := NewWriter().Write(ctx, WriteRequest{URL: sshURL, Auth: auth, Branch: "env/dev", Scope: []string{"clusters/b/"}, Files: files("clusters/b/y.yaml", "y")})
	if err != nil || !res.Committed {
		t.Fatalf("Write(ssh) = %+v, %v", res, err)
	}
	if diff := cmp.Diff(map[string]string{"clusters/a/x.yaml": "x", "clusters/b/y.yaml": "y"}, remoteFiles(t, bare, "env/dev")); diff != "" {
		t.Fatalf("branch after Write(ssh) (-want +got):\n%s", diff)
	}
}

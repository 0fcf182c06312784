package gitserver_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/onsi/ginkgo/v2"

	"github.com/gitfleet/gitfleet/test/gitserver"
)

var ctx = context.Background()

func TestSeedReadPush(t *testing.T) {
	srv := gitserver.StartForTest(t, gitserver.Options{Username: "fleet", Password: "s3cret"})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:<port>", srv.URL())
	}
	if err := srv.SeedRepo("fleet.git", "testdata/fixture"); err != nil {
		t.Fatalf("SeedRepo() = %v", err)
	}

	files, err := srv.ReadBranch(ctx, "fleet.git", gitserver.DefaultBranch)
	if err != nil {
		t.Fatalf("ReadBranch(main) = %v", err)
	}
	want, err := gitserver.ReadDir("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(files, want) {
		t.Fatalf("ReadBranch(main) = %v, want the fixture %v", files, want)
	}

	// The git binary clones it too, and main is the default branch.
	dir := filepath.Join(t.TempDir(), "clone")
	gitCmd(t, "", "clone", "--quiet", srv.RepoURLWithCredentials("fleet.git"), dir)
	if got := strings.TrimSpace(gitCmd(t, dir, "rev-parse", "--abbrev-ref", "HEAD")); got != "main" {
		t.Errorf("cloned HEAD = %q, want main", got)
	}

	// Without credentials, the server refuses.
	_, err = gogit.Clone(memory.NewStorage(), nil, &gogit.CloneOptions{URL: srv.RepoURL("fleet.git")})
	if err == nil {
		t.Errorf("clone without credentials succeeded")
	}

	first, err := srv.Head(ctx, "fleet.git", "main")
	if err != nil {
		t.Fatal(err)
	}
	second, err := srv.Push(ctx, "fleet.git", gitserver.Commit{
		Branch:  "main",
		Files:   map[string]string{"apps/web/deploy.yaml": "kind: Deployment\n", "README.md": "changed\n"},
		Delete:  []string{"apps/web/namespace.yaml"},
		Message: "second",
	})
	if err != nil {
		t.Fatalf("Push(second) = %v", err)
	}
	if second == first {
		t.Fatalf("Push(second) returned the old head %s", first)
	}
	files, err = srv.ReadBranch(ctx, "fleet.git", "main")
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := map[string]string{"README.md": "changed\n", "apps/web/deploy.yaml": "kind: Deployment\n"}
	if !maps.Equal(files, wantFiles) {
		t.Errorf("after Push: files = %v, want %v", files, wantFiles)
	}
	// The git binary sees the same history.
	gitCmd(t, dir, "pull", "--quiet")
	if got := strings.TrimSpace(gitCmd(t, dir, "log", "--format=%s")); got != "second\nInitial commit" {
		t.Errorf("git log = %q", got)
	}

	// Nothing changed: no commit.
	same, err := srv.Push(ctx, "fleet.git", gitserver.Commit{Branch: "main", Files: map[string]string{"README.md": "changed\n"}})
	if err != nil || same != second {
		t.Errorf("Push(no change) = %s, %v; want %s, nil", same, err, second)
	}

	// A branch from main, and an orphan branch holding exactly its files.
	if _, err := srv.Push(ctx, "fleet.git", gitserver.Commit{Branch: "feature", From: "main", Files: map[string]string{"x": "1"}}); err != nil {
		t.Fatalf("Push(feature from main) = %v", err)
	}
	if files, _ := srv.ReadBranch(ctx, "fleet.git", "feature"); len(files) != 3 || files["x"] != "1" {
		t.Errorf("feature files = %v, want main's and x", files)
	}
	if _, err := srv.Push(ctx, "fleet.git", gitserver.Commit{Branch: "rendered/member-1", Files: map[string]string{"a.yaml": "a"}}); err != nil {
		t.Fatalf("Push(orphan) = %v", err)
	}
	if files, _ := srv.ReadBranch(ctx, "fleet.git", "rendered/member-1"); !maps.Equal(files, map[string]string{"a.yaml": "a"}) {
		t.Errorf("orphan branch files = %v", files)
	}
	if _, err := srv.Push(ctx, "fleet.git", gitserver.Commit{Branch: "feature", ReplaceAll: true, Files: map[string]string{"only": "this"}}); err != nil {
		t.Fatal(err)
	}
	if files, _ := srv.ReadBranch(ctx, "fleet.git", "feature"); !maps.Equal(files, map[string]string{"only": "this"}) {
		t.Errorf("after ReplaceAll: files = %v", files)
	}

	branches, err := srv.Branches(ctx, "fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(branches)); !slices.Equal(got, []string{"feature", "main", "rendered/member-1"}) {
		t.Errorf("Branches() = %v", got)
	}

	_, err = srv.ReadBranch(ctx, "fleet.git", "nope")
	if !errors.Is(err, gitserver.ErrBranchNotFound) {
		t.Errorf("ReadBranch(nope) = %v, want ErrBranchNotFound", err)
	}
}

func TestInitRepo(t *testing.T) {
	srv := gitserver.StartForTest(t, gitserver.Options{})
	if err := srv.InitRepo("org/empty", nil, "trunk"); err != nil {
		t.Fatalf("InitRepo(empty) = %v", err)
	}
	if b, err := srv.Branches(ctx, "org/empty"); err != nil || len(b) != 0 {
		t.Errorf("Branches(empty repo) = %v, %v; want none", b, err)
	}
	// The first push to an empty repository.
	if _, err := srv.Push(ctx, "org/empty", gitserver.Commit{Branch: "trunk", Files: map[string]string{"f": "1"}}); err != nil {
		t.Fatalf("Push(first) = %v", err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	gitCmd(t, "", "clone", "--quiet", srv.RepoURL("org/empty"), dir)
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); string(got) != "1" {
		t.Errorf("cloned f = %q, want 1", got)
	}
	if err := srv.InitRepo("org/empty", nil, "trunk"); err == nil {
		t.Errorf("InitRepo on an existing repository succeeded")
	}
	if err := srv.InitRepo("../escape", nil, "main"); err != nil {
		// Names are kept inside the root: "../escape" is "escape".
		t.Errorf("InitRepo(../escape) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(srv.Root(), "escape")); err != nil {
		t.Errorf("repository ../escape not created inside the root: %v", err)
	}
}

func TestAutoCreate(t *testing.T) {
	srv := gitserver.StartForTest(t, gitserver.Options{AutoCreate: true})
	if _, err := srv.Push(ctx, "new.git", gitserver.Commit{Branch: "main", Files: map[string]string{"f": "1"}}); err != nil {
		t.Fatalf("Push(to a missing repository) = %v", err)
	}
	if files, err := srv.ReadBranch(ctx, "new.git", "main"); err != nil || files["f"] != "1" {
		t.Errorf("ReadBranch() = %v, %v", files, err)
	}
}

func TestSSH(t *testing.T) {
	srv := gitserver.StartForTest(t, gitserver.Options{SSH: true})
	url := srv.SSHRepoURL("fleet")
	if !strings.HasPrefix(url, "ssh://git@127.0.0.1:") {
		t.Fatalf("SSHRepoURL() = %q", url)
	}
	if err := srv.InitRepo("fleet", map[string]string{"a": "1"}, "main"); err != nil {
		t.Fatal(err)
	}
	files, err := gitserver.ReadBranch(ctx, url, srv.SSHAuth(), "main")
	if err != nil || files["a"] != "1" {
		t.Fatalf("ReadBranch over SSH = %v, %v", files, err)
	}
	if _, err := gitserver.Push(ctx, url, srv.SSHAuth(), gitserver.Commit{Branch: "main", Files: map[string]string{"b": "2"}}); err != nil {
		t.Fatalf("Push over SSH = %v", err)
	}
	files, err = srv.ReadBranch(ctx, "fleet", "main")
	if err != nil || !maps.Equal(files, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("after an SSH push: ReadBranch over HTTP = %v, %v", files, err)
	}
	if kh := string(srv.SSHKnownHosts()); !strings.HasPrefix(kh, "[127.0.0.1]:") || !strings.Contains(kh, "ssh-rsa ") {
		t.Errorf("SSHKnownHosts() = %q", kh)
	}
	if id := string(srv.SSHIdentity()); !strings.Contains(id, "OPENSSH PRIVATE KEY") {
		t.Errorf("SSHIdentity() is not a PEM private key")
	}
}

func TestStop(t *testing.T) {
	srv, err := gitserver.Start(gitserver.Options{SSH: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.InitRepo("r", map[string]string{"a": "1"}, "main"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop()
	if _, err := os.Stat(srv.Root()); !os.IsNotExist(err) {
		t.Errorf("root %s still there after Stop (%v)", srv.Root(), err)
	}
	if _, err := srv.Branches(ctx, "r"); err == nil {
		t.Errorf("Branches() on a stopped server succeeded")
	}
}

// gitCmd runs the git binary, isolated from the user's configuration.
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Ginkgo suites pass GinkgoT() to StartForTest.
var _ = func() gitserver.TB { return ginkgo.GinkgoT() }

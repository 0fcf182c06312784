package gitsource

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var fixedTime = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func files(kv ...string) map[string][]byte {
	m := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = []byte(kv[i+1])
	}
	return m
}

// remoteFiles lists branch's files in the bare repository dir with the git binary.
func remoteFiles(t *testing.T, dir, branch string) map[string]string {
	t.Helper()
	out := map[string]string{}
	list := gitCmd(t, dir, "ls-tree", "-r", "--name-only", "refs/heads/"+branch)
	if list == "" {
		return out
	}
	for _, p := range strings.Split(list, "\n") {
		out[p] = gitCmd(t, dir, "show", "refs/heads/"+branch+":"+p)
	}
	return out
}

func writeReq(url, branch string, f map[string][]byte) WriteRequest {
	return WriteRequest{
		URL: url, Branch: branch, Files: f, Time: fixedTime,
		Message:  "Render fleet abc123 for dev",
		Trailers: StageTrailers("abc123", "dev"),
	}
}

func TestWriteCreatesOrphanBranchWithTrailers(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	req := writeReq(url, "env/dev", files("gitfleet.json", "{}\n", "clusters/eu-1/app/default/configmap-a.yaml", "a: 1\n"))
	req.Author = Signature{Name: "gitfleet-hub", Email: "hub@example.com"}
	req.Committer = Signature{Name: "gitfleet-bot", Email: "bot@example.com"}
	res, err := NewWriter().Write(ctx, req)
	if err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if !res.Committed || !res.Created || res.Attempts != 1 {
		t.Fatalf("Write() = %+v, want a created branch with a commit in 1 attempt", res)
	}
	if head := gitCmd(t, dir, "rev-parse", "refs/heads/env/dev"); head != res.Commit {
		t.Fatalf("remote head = %s, Write().Commit = %s", head, res.Commit)
	}
	if diff := cmp.Diff(map[string]string{"gitfleet.json": "{}", "clusters/eu-1/app/default/configmap-a.yaml": "a: 1"}, remoteFiles(t, dir, "env/dev")); diff != "" {
		t.Fatalf("branch files (-want +got):\n%s", diff)
	}
	if parents := gitCmd(t, dir, "log", "-1", "--format=%P", "env/dev"); parents != "" {
		t.Fatalf("orphan commit has parents %q", parents)
	}
	trailers := gitCmd(t, dir, "log", "-1", "--format=%(trailers:only,unfold)", "env/dev")
	if want := "Gitfleet-Source-Commit: abc123\nGitfleet-Stage: dev"; trailers != want {
		t.Fatalf("trailers = %q, want %q", trailers, want)
	}
	if got := gitCmd(t, dir, "log", "-1", "--format=%s|%an <%ae>|%cn <%ce>|%at", "env/dev"); got != fmt.Sprintf("Render fleet abc123 for dev|gitfleet-hub <hub@example.com>|gitfleet-bot <bot@example.com>|%d", fixedTime.Unix()) {
		t.Fatalf("commit header = %q", got)
	}
	gitCmd(t, dir, "fsck", "--strict")
}

func TestWriteIsDeterministicAndMatchesGit(t *testing.T) {
	// Names that exercise git's tree order (a directory sorts as "name/").
	f := files("a.yaml", "1", "a/b.yaml", "2", "a-b/c.yaml", "3", "a0", "4", "clusters/x/p/ns/k-n.yaml", "5", "README.md", "6")
	ctx := context.Background()
	_, url1 := newBareRepo(t)
	_, url2 := newBareRepo(t)
	r1, err := NewWriter().Write(ctx, writeReq(url1, "env/dev", f))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewWriter().Write(ctx, writeReq(url2, "env/dev", f))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Tree != r2.Tree || r1.Commit != r2.Commit {
		t.Fatalf("same input gave commits %s/%s and trees %s/%s", r1.Commit, r2.Commit, r1.Tree, r2.Tree)
	}
	// The git binary computes the same tree for the same files.
	_, url3 := newBareRepo(t)
	sha := commitFiles(t, url3, "main", f)
	work := filepath.Dir(strings.TrimPrefix(url3, "file://"))
	if tree := gitCmd(t, work, "--git-dir", strings.TrimPrefix(url3, "file://"), "rev-parse", sha+"^{tree}"); tree != r1.Tree {
		t.Fatalf("git computes tree %s for the same files, Write built %s", tree, r1.Tree)
	}
}

func TestWriteNoOpAndStaleRemoval(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	w := NewWriter()
	first, err := w.Write(ctx, writeReq(url, "env/dev", files("keep.yaml", "k", "clusters/old/app/x.yaml", "x", "clusters/new/app/y.yaml", "y")))
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.Write(ctx, writeReq(url, "env/dev", files("keep.yaml", "k", "clusters/old/app/x.yaml", "x", "clusters/new/app/y.yaml", "y")))
	if err != nil {
		t.Fatal(err)
	}
	if again.Committed || again.Created || again.Commit != first.Commit {
		t.Fatalf("unchanged Write() = %+v, want no commit and head %s", again, first.Commit)
	}
	// A fresh writer (no cache) agrees.
	again, err = NewWriter().Write(ctx, writeReq(url, "env/dev", files("keep.yaml", "k", "clusters/old/app/x.yaml", "x", "clusters/new/app/y.yaml", "y")))
	if err != nil || again.Committed || again.Commit != first.Commit {
		t.Fatalf("unchanged Write() with a new Writer = %+v, %v", again, err)
	}
	third, err := w.Write(ctx, writeReq(url, "env/dev", files("keep.yaml", "k", "clusters/new/app/y.yaml", "y2")))
	if err != nil || !third.Committed {
		t.Fatalf("Write() = %+v, %v; want a commit", third, err)
	}
	if diff := cmp.Diff(map[string]string{"keep.yaml": "k", "clusters/new/app/y.yaml": "y2"}, remoteFiles(t, dir, "env/dev")); diff != "" {
		t.Fatalf("branch files (-want +got):\n%s", diff)
	}
	if parent := gitCmd(t, dir, "log", "-1", "--format=%P", "env/dev"); parent != first.Commit {
		t.Fatalf("parent = %s, want %s", parent, first.Commit)
	}
}

func TestWriteScopeKeepsOtherFiles(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	commitFiles(t, url, "env/dev", map[string][]byte{"docs/manual.md": []byte("m"), "clusters/a/x.yaml": []byte("old"), "gitfleet.json": []byte("{}")})
	req := writeReq(url, "env/dev", files("clusters/b/y.yaml", "new", "gitfleet.json", `{"v":2}`))
	req.Scope = []string{"clusters/", "gitfleet.json"}
	if _, err := NewWriter().Write(ctx, req); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"docs/manual.md": "m", "clusters/b/y.yaml": "new", "gitfleet.json": `{"v":2}`}
	if diff := cmp.Diff(want, remoteFiles(t, dir, "env/dev")); diff != "" {
		t.Fatalf("branch files (-want +got):\n%s", diff)
	}
	req.Files = files("elsewhere.txt", "x")
	if _, err := NewWriter().Write(ctx, req); err == nil || !strings.Contains(err.Error(), "outside the writer's scope") {
		t.Fatalf("Write(file outside scope) = %v, want a scope error", err)
	}
	for _, bad := range []string{"../x", "clusters/../x", "clusters/.git/config", "/abs", "clusters//x"} {
		req.Files = files(bad, "x")
		if _, err := NewWriter().Write(ctx, req); err == nil {
			t.Fatalf("Write(%q) succeeded, want a path error", bad)
		}
	}
}

// placementUpdate replaces the files of one placement in every cluster.
func placementUpdate(placement string, f map[string][]byte) func(map[string][]byte) (map[string][]byte, error) {
	return func(cur map[string][]byte) (map[string][]byte, error) {
		for p := range cur {
			if parts := strings.Split(p, "/"); len(parts) > 2 && parts[2] == placement {
				delete(cur, p)
			}
		}
		for p, c := range f {
			cur[p] = c
		}
		return cur, nil
	}
}

func TestWriteUpdateRebuildsOnFreshBase(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	commitFiles(t, url, "env/dev", map[string][]byte{"clusters/a/p1/x.yaml": []byte("p1"), "clusters/a/p2/x.yaml": []byte("p2")})
	calls := 0
	req := writeReq(url, "env/dev", nil)
	req.Scope = []string{"clusters/"}
	inner := placementUpdate("p1", files("clusters/a/p1/x.yaml", "p1-v2", "clusters/b/p1/x.yaml", "p1-b"))
	req.Update = func(cur map[string][]byte) (map[string][]byte, error) {
		calls++
		if calls == 1 {
			// Another writer lands p3 between our read and our push.
			commitFiles(t, url, "env/dev", map[string][]byte{"clusters/c/p3/x.yaml": []byte("p3")})
		}
		return inner(cur)
	}
	res, err := NewWriter().Write(ctx, req)
	if err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if res.Attempts != 2 || calls != 2 {
		t.Fatalf("Write() attempts = %d, Update calls = %d; want 2 and 2", res.Attempts, calls)
	}
	want := map[string]string{"clusters/a/p1/x.yaml": "p1-v2", "clusters/a/p2/x.yaml": "p2", "clusters/b/p1/x.yaml": "p1-b", "clusters/c/p3/x.yaml": "p3"}
	if diff := cmp.Diff(want, remoteFiles(t, dir, "env/dev")); diff != "" {
		t.Fatalf("branch files (-want +got):\n%s", diff)
	}
	if n := gitCmd(t, dir, "rev-list", "--count", "env/dev"); n != "3" {
		t.Fatalf("history has %s commits, want 3 (nothing force-pushed away)", n)
	}
}

func TestWriteConcurrentWritersLoseNothing(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	commitFiles(t, url, "env/dev", map[string][]byte{"README.md": []byte("r")})
	const writers, perWriter = 3, 4
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	var mu sync.Mutex
	retried := 0
	for i := 0; i < writers; i++ {
		w := NewWriter(WithRetry(20, 10*time.Millisecond, 200*time.Millisecond)) // one process each
		for j := 0; j < perWriter; j++ {
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				<-start
				p := fmt.Sprintf("p%d-%d", i, j)
				req := writeReq(url, "env/dev", nil)
				req.Scope = []string{"clusters/"}
				req.Time = time.Time{}
				req.Update = placementUpdate(p, files("clusters/c/"+p+"/o.yaml", p))
				res, err := w.Write(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if res.Attempts > 1 {
					retried++
				}
				mu.Unlock()
			}(i, j)
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Write() = %v", err)
	}
	got := remoteFiles(t, dir, "env/dev")
	if len(got) != 1+writers*perWriter {
		t.Fatalf("branch has %d files, want %d: %v", len(got), 1+writers*perWriter, got)
	}
	if n := gitCmd(t, dir, "rev-list", "--count", "env/dev"); n != fmt.Sprint(1+writers*perWriter) {
		t.Fatalf("history has %s commits, want %d", n, 1+writers*perWriter)
	}
	t.Logf("%d of %d writes rebuilt their commit at least once", retried, writers*perWriter)
}

func TestWriteFromBaseBranch(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	base := commitFiles(t, url, "env/prod", map[string][]byte{"a": []byte("1")})

	// Unchanged tree: the new branch points at the base head, no empty commit.
	req := writeReq(url, "gitfleet/promote/prod", files("a", "1"))
	req.BaseBranch = "env/prod"
	res, err := NewWriter().Write(ctx, req)
	if err != nil || res.Committed || !res.Created || res.Commit != base {
		t.Fatalf("Write(unchanged, from base) = %+v, %v; want created at %s without a commit", res, err, base)
	}
	req.Branch = "gitfleet/promote/prod-2"
	req.Files = files("a", "2")
	res, err = NewWriter().Write(ctx, req)
	if err != nil || !res.Committed || !res.Created {
		t.Fatalf("Write(changed, from base) = %+v, %v", res, err)
	}
	if parent := gitCmd(t, dir, "log", "-1", "--format=%P", "gitfleet/promote/prod-2"); parent != base {
		t.Fatalf("parent = %s, want base head %s", parent, base)
	}
	req.Branch, req.BaseBranch = "other", "env/none"
	if _, err := NewWriter().Write(ctx, req); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("Write(missing base) = %v, want ErrBranchNotFound", err)
	}
}

func TestWriterReadTree(t *testing.T) {
	ctx := context.Background()
	_, url := newBareRepo(t)
	commitFiles(t, url, "env/dev", map[string][]byte{"clusters/a/x.yaml": []byte("x"), "clusters/b/y.yaml": []byte("y"), "README.md": []byte("r")})
	got, err := ReadTree(ctx, url, "env/dev", nil, "clusters/a/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files("clusters/a/x.yaml", "x"), got); diff != "" {
		t.Fatalf("ReadTree(clusters/a/) (-want +got):\n%s", diff)
	}
	got, err = ReadTree(ctx, url, "env/dev", nil, "")
	if err != nil || len(got) != 3 {
		t.Fatalf("ReadTree(\"\") = %v, %v; want 3 files", got, err)
	}
	got, err = ReadTree(ctx, url, "env/dev", nil, "README.md")
	if err != nil || string(got["README.md"]) != "r" {
		t.Fatalf("ReadTree(README.md) = %v, %v", got, err)
	}
	got, err = ReadTree(ctx, url, "env/dev", nil, "nothing/")
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadTree(nothing/) = %v, %v; want no files", got, err)
	}
	if _, err := ReadTree(ctx, url, "env/none", nil, ""); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("ReadTree(env/none) = %v, want ErrBranchNotFound", err)
	}
}

func TestWriterCacheStaysSmall(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	w := NewWriter()
	for i := 0; i < 30; i++ {
		f := map[string][]byte{}
		for j := 0; j < 50; j++ {
			f[fmt.Sprintf("clusters/c%d/p/o.yaml", j)] = []byte(fmt.Sprintf("gen %d", i))
		}
		if _, err := w.Write(ctx, writeReq(url, "env/dev", f)); err != nil {
			t.Fatalf("Write #%d = %v", i, err)
		}
	}
	c := w.cache(url, "env/dev")
	// One tree is 50 blobs + 50*2 trees + root + clusters + commit ≈ 153 objects.
	if n := len(c.st.Objects); n > 3000 {
		t.Fatalf("cache holds %d objects after 30 writes, want it compacted", n)
	}
	if n := gitCmd(t, dir, "rev-list", "--count", "env/dev"); n != "30" {
		t.Fatalf("history has %s commits, want 30", n)
	}
	gitCmd(t, dir, "fsck", "--strict")
}

func TestWriteContextCancelled(t *testing.T) {
	_, url := newBareRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewWriter().Write(ctx, writeReq(url, "env/dev", files("a", "b"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestWriteResetToBase(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	base1 := commitFiles(t, url, "env/prod", map[string][]byte{"a": []byte("1"), "hand": []byte("x")})
	req := writeReq(url, "gitfleet/promote/prod", files("a", "2"))
	req.BaseBranch, req.Scope = "env/prod", []string{"a"}
	first, err := NewWriter().Write(ctx, req)
	if err != nil || !first.Committed {
		t.Fatalf("Write(promote) = %+v, %v", first, err)
	}
	// Someone pushes to env/prod by hand: the promotion branch is rebuilt on the new base.
	base2 := commitFiles(t, url, "env/prod", map[string][]byte{"hand": []byte("y")})
	req.ResetToBase = true
	res, err := NewWriter().Write(ctx, req)
	if err != nil || !res.Committed || res.Created {
		t.Fatalf("Write(ResetToBase) = %+v, %v", res, err)
	}
	if parent := gitCmd(t, dir, "log", "-1", "--format=%P", "gitfleet/promote/prod"); parent != base2 {
		t.Fatalf("promotion branch parent = %s, want the new base %s (old base %s)", parent, base2, base1)
	}
	if diff := cmp.Diff(map[string]string{"a": "2", "hand": "y"}, remoteFiles(t, dir, "gitfleet/promote/prod")); diff != "" {
		t.Fatalf("promotion branch files (-want +got):\n%s", diff)
	}
	// Same content on the same base: nothing to do, even with another commit time.
	req.Time = fixedTime.Add(time.Hour)
	again, err := NewWriter().Write(ctx, req)
	if err != nil || again.Committed || again.Commit != res.Commit {
		t.Fatalf("repeated Write(ResetToBase) = %+v, %v; want no commit at %s", again, err, res.Commit)
	}
	req.BaseBranch = ""
	if _, err := NewWriter().Write(ctx, req); err == nil {
		t.Fatalf("Write(ResetToBase without BaseBranch) succeeded")
	}
}

func TestDeleteBranch(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	sha := commitFiles(t, url, "gitfleet/promote/prod", map[string][]byte{"a": []byte("1")})
	w := NewWriter()
	if err := w.DeleteBranch(ctx, url, "gitfleet/promote/prod", nil, strings.Repeat("0", 40)); !errors.Is(err, ErrConflict) {
		t.Fatalf("DeleteBranch(wrong expected) = %v, want ErrConflict", err)
	}
	if err := w.DeleteBranch(ctx, url, "gitfleet/promote/prod", nil, sha); err != nil {
		t.Fatalf("DeleteBranch() = %v", err)
	}
	if out := gitCmd(t, dir, "branch", "--list"); out != "" {
		t.Fatalf("branches left: %q", out)
	}
	if err := w.DeleteBranch(ctx, url, "gitfleet/promote/prod", nil, ""); err != nil {
		t.Fatalf("DeleteBranch(missing) = %v, want nil", err)
	}
}

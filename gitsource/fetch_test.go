package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
)

func TestFetchShallowThenIncremental(t *testing.T) {
	ctx := context.Background()
	_, url := newBareRepo(t)
	commitFiles(t, url, "env/dev", map[string][]byte{"a.yaml": []byte("a1"), "keep/b.yaml": []byte("b1")})
	sha2 := commitFiles(t, url, "env/dev", map[string][]byte{"a.yaml": []byte("a2"), "gone/c.yaml": []byte("c")})
	dir := filepath.Join(t.TempDir(), "cache")

	co, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir})
	if err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	want := &Checkout{Dir: dir, Commit: sha2, Revision: "env/dev@sha1:" + sha2}
	if diff := cmp.Diff(want, co); diff != "" {
		t.Fatalf("Fetch() checkout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a.yaml": "a2", "keep/b.yaml": "b1", "gone/c.yaml": "c"}, readDirFiles(t, dir)); diff != "" {
		t.Fatalf("files after first Fetch (-want +got):\n%s", diff)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	shallow, err := repo.Storer.Shallow()
	if err != nil || len(shallow) != 1 {
		t.Fatalf("Shallow() = %v, %v; want one shallow commit (depth 1)", shallow, err)
	}
	if _, err := repo.CommitObject(shallow[0]); err != nil {
		t.Fatalf("shallow commit %s missing: %v", shallow[0], err)
	}

	// A marker in .git survives an incremental fetch: the clone is reused.
	marker := filepath.Join(dir, ".git", "gitfleet-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Modified files in the work tree are restored.
	if err := os.WriteFile(filepath.Join(dir, "keep", "b.yaml"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	sha3 := commitFiles(t, url, "env/dev", map[string][]byte{"gone/c.yaml": nil, "new/d.yaml": []byte("d")})
	co, err = Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir})
	if err != nil {
		t.Fatalf("second Fetch() = %v", err)
	}
	if co.Commit != sha3 {
		t.Fatalf("second Fetch().Commit = %s, want %s", co.Commit, sha3)
	}
	if diff := cmp.Diff(map[string]string{"a.yaml": "a2", "keep/b.yaml": "b1", "new/d.yaml": "d"}, readDirFiles(t, dir)); diff != "" {
		t.Fatalf("files after incremental Fetch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("clone was not reused: %v", err)
	}

	// Nothing new: same answer.
	co, err = Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir})
	if err != nil || co.Commit != sha3 {
		t.Fatalf("third Fetch() = %+v, %v; want commit %s", co, err, sha3)
	}
}

func TestFetchDepth(t *testing.T) {
	_, url := newBareRepo(t)
	for i := 0; i < 4; i++ {
		commitFiles(t, url, "main", map[string][]byte{"f": {byte('0' + i)}})
	}
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), FetchOptions{URL: url, Branch: "main", Dir: dir, Depth: 2}); err != nil {
		t.Fatal(err)
	}
	repo, _ := git.PlainOpen(dir)
	iter, err := repo.Log(&git.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = iter.ForEach(func(*object.Commit) error { n++; return nil })
	if n != 2 {
		t.Fatalf("Fetch(Depth: 2) brought %d commits, want 2", n)
	}
}

func TestFetchURLChangeReclones(t *testing.T) {
	_, url1 := newBareRepo(t)
	_, url2 := newBareRepo(t)
	commitFiles(t, url1, "main", map[string][]byte{"one": []byte("1")})
	sha2 := commitFiles(t, url2, "main", map[string][]byte{"two": []byte("2")})
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), FetchOptions{URL: url1, Branch: "main", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	co, err := Fetch(context.Background(), FetchOptions{URL: url2, Branch: "main", Dir: dir})
	if err != nil || co.Commit != sha2 {
		t.Fatalf("Fetch(url2) = %+v, %v; want %s", co, err, sha2)
	}
	if diff := cmp.Diff(map[string]string{"two": "2"}, readDirFiles(t, dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
}

func TestFetchErrors(t *testing.T) {
	_, url := newBareRepo(t)
	commitFiles(t, url, "main", map[string][]byte{"f": []byte("x")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cached := t.TempDir()
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "main", Dir: cached}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		opts FetchOptions
		want error
	}{
		"missing branch":              {FetchOptions{URL: url, Branch: "nope", Dir: t.TempDir()}, ErrBranchNotFound},
		"missing branch, incremental": {FetchOptions{URL: url, Branch: "nope", Dir: cached}, ErrBranchNotFound},
		"missing repository":          {FetchOptions{URL: "file://" + filepath.Join(t.TempDir(), "none.git"), Branch: "main", Dir: t.TempDir()}, ErrUnreachable},
		"connection refused":          {FetchOptions{URL: "http://127.0.0.1:1/repo.git", Branch: "main", Dir: t.TempDir()}, ErrUnreachable},
		"ssh without key":             {FetchOptions{URL: "ssh://git@127.0.0.1:1/repo.git", Branch: "main", Dir: t.TempDir()}, ErrAuthentication},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Fetch(ctx, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Fetch(%s) = %v, want an error wrapping %v", tc.opts.URL, err, tc.want)
			}
			if testing.Verbose() {
				t.Logf("Fetch(%s) = %v", tc.opts.URL, err)
			}
		})
	}
}

func TestLsRemote(t *testing.T) {
	_, url := newBareRepo(t)
	sha := commitFiles(t, url, "env/prod", map[string][]byte{"f": []byte("x")})
	got, err := LsRemote(context.Background(), url, "env/prod", nil)
	if err != nil || got != sha {
		t.Fatalf("LsRemote(env/prod) = %q, %v; want %q", got, err, sha)
	}
	if _, err := LsRemote(context.Background(), url, "env/none", nil); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("LsRemote(env/none) = %v, want ErrBranchNotFound", err)
	}
}

func TestFetchWorkTreeTypesAndRepairs(t *testing.T) {
	ctx := context.Background()
	_, url := newBareRepo(t)
	work := filepath.Join(t.TempDir(), "work")
	gitCmd(t, "", "init", "-q", "-b", "main", work)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(work, "charts", "app"), 0o755))
	must(os.WriteFile(filepath.Join(work, "charts", "app", "Chart.yaml"), []byte("name: app\n"), 0o644))
	must(os.WriteFile(filepath.Join(work, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Symlink("charts/app", filepath.Join(work, "current")))
	must(os.WriteFile(filepath.Join(work, "x"), []byte("file"), 0o644))
	gitCmd(t, work, "add", "-A")
	gitCmd(t, work, "commit", "-q", "-m", "one")
	gitCmd(t, work, "push", "-q", url, "HEAD:refs/heads/main")

	dir := t.TempDir()
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "main", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "current")); err != nil || target != "charts/app" {
		t.Fatalf("symlink current -> %q, %v; want charts/app", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("run.sh mode = %v, %v; want executable", fi.Mode(), err)
	}

	// Local damage is repaired: a same-size edit, a deletion.
	must(os.WriteFile(filepath.Join(dir, "charts", "app", "Chart.yaml"), []byte("name: bad\n"), 0o644))
	must(os.Chtimes(filepath.Join(dir, "charts", "app", "Chart.yaml"), time.Now().Add(time.Hour), time.Now().Add(time.Hour)))
	must(os.Remove(filepath.Join(dir, "run.sh")))
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "main", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	got := readDirFiles(t, dir)
	if diff := cmp.Diff(map[string]string{"charts/app/Chart.yaml": "name: app\n", "run.sh": "#!/bin/sh\n", "x": "file"}, got); diff != "" {
		t.Fatalf("repaired work tree (-want +got):\n%s", diff)
	}
	// Untracked files survive an incremental fetch, and go when the work tree is
	// re-listed (here: its record is lost).
	must(os.MkdirAll(filepath.Join(dir, "extra", "deep"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "extra", "deep", "f"), nil, 0o644))
	must(os.Remove(filepath.Join(dir, ".git", manifestFile)))
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "main", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "extra")); !os.IsNotExist(err) {
		t.Fatalf("extra folder still there after a full re-list: %v", err)
	}

	// A file becomes a folder and a folder a file; the symlink goes away.
	must(os.Remove(filepath.Join(work, "x")))
	must(os.MkdirAll(filepath.Join(work, "x"), 0o755))
	must(os.WriteFile(filepath.Join(work, "x", "inner"), []byte("in"), 0o644))
	must(os.RemoveAll(filepath.Join(work, "charts")))
	must(os.WriteFile(filepath.Join(work, "charts"), []byte("now a file"), 0o644))
	must(os.Remove(filepath.Join(work, "current")))
	gitCmd(t, work, "add", "-A")
	gitCmd(t, work, "commit", "-q", "-m", "two")
	gitCmd(t, work, "push", "-q", url, "HEAD:refs/heads/main")
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "main", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"charts": "now a file", "run.sh": "#!/bin/sh\n", "x/inner": "in"}, readDirFiles(t, dir)); diff != "" {
		t.Fatalf("work tree after type changes (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(dir, "current")); !os.IsNotExist(err) {
		t.Fatalf("symlink still there: %v", err)
	}
}

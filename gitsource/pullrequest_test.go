package gitsource

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestLoadPullRequest(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	c1 := commitFiles(t, url, "main", files("a.yaml", "a: 1\n", "b.yaml", "b: 1\n"))
	gitCmd(t, dir, "branch", "feature", c1)
	f1 := commitFiles(t, url, "feature", files("b.yaml", "b: 2\n"))
	// main moves on after the pull request left it.
	c2 := commitFiles(t, url, "main", files("a.yaml", "a: 2\n"))

	p, err := LoadPullRequest(ctx, url, nil, PullRequestRefs(1, "feature"), "main", 0)
	if err != nil {
		t.Fatalf("LoadPullRequest() = %v", err)
	}
	if p.Head != f1 || p.Ref != "refs/heads/feature" || p.BranchHead != c2 || p.MergeBase != c1 {
		t.Fatalf("head %s from %s, branch head %s, merge base %s; want %s from refs/heads/feature, %s, %s",
			p.Head, p.Ref, p.BranchHead, p.MergeBase, f1[:7], c2[:7], c1[:7])
	}
	for sha, want := range map[string]map[string]string{
		c1: {"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"},
		f1: {"a.yaml": "a: 1\n", "b.yaml": "b: 2\n"},
		c2: {"a.yaml": "a: 2\n", "b.yaml": "b: 1\n"},
	} {
		out := filepath.Join(t.TempDir(), sha)
		if err := p.Export(sha, out); err != nil {
			t.Fatalf("Export(%s) = %v", sha[:7], err)
		}
		got := readDirFiles(t, out)
		if len(got) != len(want) || got["a.yaml"] != want["a.yaml"] || got["b.yaml"] != want["b.yaml"] {
			t.Errorf("Export(%s) = %v, want %v", sha[:7], got, want)
		}
	}
	if err := p.Export("0123456789012345678901234567890123456789", t.TempDir()); !errors.Is(err, ErrCommitNotFound) {
		t.Errorf("Export(another commit) = %v, want ErrCommitNotFound", err)
	}

	t.Run("merge base beyond the depth", func(t *testing.T) {
		p, err := LoadPullRequest(ctx, url, nil, PullRequestRefs(1, "feature"), "main", 1)
		if err != nil {
			t.Fatal(err)
		}
		if p.Head != f1 || p.BranchHead != c2 || p.MergeBase != "" {
			t.Errorf("depth 1: head %s, branch head %s, merge base %q; want no merge base", p.Head[:7], p.BranchHead[:7], p.MergeBase)
		}
	})
	t.Run("up to date", func(t *testing.T) {
		p, err := LoadPullRequest(ctx, url, nil, []string{"refs/heads/main"}, "main", 0)
		if err != nil || p.MergeBase != c2 {
			t.Errorf("a pull request at the branch head: merge base %q, %v; want %s", p.MergeBase, err, c2[:7])
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := LoadPullRequest(ctx, url, nil, PullRequestRefs(2, "gone"), "main", 0); !errors.Is(err, ErrBranchNotFound) {
			t.Errorf("missing head = %v, want ErrBranchNotFound", err)
		}
		if _, err := LoadPullRequest(ctx, url, nil, PullRequestRefs(1, "feature"), "nope", 0); !errors.Is(err, ErrBranchNotFound) {
			t.Errorf("missing branch = %v, want ErrBranchNotFound", err)
		}
	})
}

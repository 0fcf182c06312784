package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadHistory(t *testing.T) {
	ctx := context.Background()
	dir, url := newBareRepo(t)
	c1 := commitFiles(t, url, "env/prod", files("gitfleet.json", `{"rev":"r1"}`, "clusters/a/x.yaml", "v: 1\n"))
	c2 := commitFiles(t, url, "env/prod", files("gitfleet.json", `{"rev":"r2"}`, "clusters/a/x.yaml", "v: 2\n"))
	// A pull request branch merged into env/prod with a merge commit, as forges do.
	work := filepath.Join(t.TempDir(), "w")
	gitCmd(t, "", "clone", "-q", "-b", "env/prod", url, work)
	gitCmd(t, work, "checkout", "-q", "-b", "gitfleet/promote/prod")
	for p, c := range map[string]string{"clusters/a/x.yaml": "v: 3\n", "gitfleet.json": `{"rev":"r3"}`} {
		if err := os.WriteFile(filepath.Join(work, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCmd(t, work, "commit", "-q", "-am", "Promote r3")
	prHead := gitCmd(t, work, "rev-parse", "HEAD")
	gitCmd(t, work, "checkout", "-q", "env/prod")
	gitCmd(t, work, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "gitfleet/promote/prod")
	gitCmd(t, work, "push", "-q", "origin", "env/prod")
	merge := gitCmd(t, work, "rev-parse", "HEAD")

	h, err := LoadHistory(ctx, url, "env/prod", nil, 0)
	if err != nil {
		t.Fatalf("LoadHistory() = %v", err)
	}
	if h.Head != merge {
		t.Errorf("Head = %s, want the merge %s", h.Head, merge)
	}
	var mainline, others []string
	for _, c := range h.Commits {
		if c.Mainline {
			mainline = append(mainline, c.SHA)
		} else {
			others = append(others, c.SHA)
		}
	}
	if len(mainline) != 3 || mainline[0] != merge || mainline[1] != c2 || mainline[2] != c1 {
		t.Errorf("mainline = %v, want the merge, %s, %s", mainline, c2[:7], c1[:7])
	}
	if len(others) != 1 || others[0] != prHead {
		t.Errorf("merged commits = %v, want the pull request's %s", others, prHead[:7])
	}
	if got := h.Lookup(c2[:7]); len(got) != 1 || got[0].SHA != c2 {
		t.Errorf("Lookup(%s) = %v", c2[:7], got)
	}
	if got := h.Lookup(prHead[:10]); len(got) != 1 || got[0].Mainline {
		t.Errorf("Lookup(pull request head) = %v, want it, not on the mainline", got)
	}
	if got := h.Lookup("abc"); got != nil {
		t.Errorf("Lookup(3 characters) = %v, want nil", got)
	}
	f, err := h.Files(c1, "")
	if err != nil || string(f["clusters/a/x.yaml"]) != "v: 1\n" || string(f["gitfleet.json"]) != `{"rev":"r1"}` || len(f) != 2 {
		t.Errorf("Files(c1) = %v, %v", f, err)
	}
	if tree, err := h.Tree(c1); err != nil || tree != gitCmd(t, dir, "rev-parse", c1+"^{tree}") {
		t.Errorf("Tree(c1) = %s, %v", tree, err)
	}

	t.Run("export", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "c1")
		if err := h.Export(c1, out); err != nil {
			t.Fatalf("Export(c1) = %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(out, "clusters/a/x.yaml")); err != nil || string(b) != "v: 1\n" {
			t.Errorf("exported clusters/a/x.yaml = %q, %v; want c1's v: 1", b, err)
		}
		if err := h.Export(c1[:7], filepath.Join(t.TempDir(), "short")); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("Export(short sha) = %v, want ErrCommitNotFound", err)
		}
		if err := h.Export("0123456789012345678901234567890123456789", filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("Export(unknown) = %v, want ErrCommitNotFound", err)
		}
	})
	t.Run("depth", func(t *testing.T) {
		h, err := LoadHistory(ctx, url, "env/prod", nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Truncated || len(h.Lookup(c1[:7])) != 0 {
			t.Errorf("depth 2: truncated %v, c1 found %v; want truncated without c1", h.Truncated, h.Lookup(c1[:7]))
		}
	})
	t.Run("missing branch", func(t *testing.T) {
		if _, err := LoadHistory(ctx, url, "env/nope", nil, 0); !errors.Is(err, ErrBranchNotFound) {
			t.Errorf("LoadHistory(missing) = %v, want ErrBranchNotFound", err)
		}
	})
}

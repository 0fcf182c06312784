package gitsource

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestExportRef(t *testing.T) {
	ctx := context.Background()
	_, url := newBareRepo(t)
	commitFiles(t, url, "main", files("a.yaml", "a: 1\n"))
	sha := commitFiles(t, url, "feature", files("a.yaml", "a: 2\n", "apps/b/b.yaml", "b: 1\n"))

	dir := filepath.Join(t.TempDir(), "pr")
	got, ref, err := ExportRef(ctx, url, nil, PullRequestRefs(7, "feature"), dir)
	if err != nil {
		t.Fatalf("ExportRef() = %v", err)
	}
	// A plain git server has no refs/pull/7/head: the branch is used.
	if got != sha || ref != "refs/heads/feature" {
		t.Errorf("ExportRef() = %s from %s, want %s from refs/heads/feature", got, ref, sha)
	}
	if files := readDirFiles(t, dir); len(files) != 2 || files["a.yaml"] != "a: 2\n" || files["apps/b/b.yaml"] != "b: 1\n" {
		t.Errorf("exported files = %v", files)
	}
	if _, _, err := ExportRef(ctx, url, nil, PullRequestRefs(8, "gone"), filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("ExportRef(missing refs) = %v, want ErrBranchNotFound", err)
	}
}

package hub

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSnapshotsKeepPinnedRevisions(t *testing.T) {
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Snapshots{Root: t.TempDir(), Keep: 1}
	s.Pin("ns", []string{"a"})
	// Modification times order the revisions: each stored one is a minute younger than the
	// one before, and all older than the next one stored.
	past := time.Now().Add(-time.Hour)
	for i, sha := range []string{"a", "b", "c"} {
		dst, err := s.Store("ns", "fleet", sha, work)
		if err != nil {
			t.Fatalf("Store(%s) = %v", sha, err)
		}
		mod := past.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(dst, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	for sha, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if got := s.Has("ns", "fleet", sha); got != want {
			t.Errorf("Has(%s) = %v, want %v (a pinned, c newest, b pruned)", sha, got, want)
		}
	}
	if _, err := s.Require("ns", "fleet", "b"); !errors.Is(err, ErrRevisionGone) {
		t.Errorf("Require(b) = %v, want ErrRevisionGone", err)
	}
	if got, ok := s.Resolve("ns", "fleet", "c"); !ok || got != "c" {
		t.Errorf("Resolve(c) = %q, %v; want c", got, ok)
	}
	if _, ok := s.Resolve("ns", "fleet", "b"); ok {
		t.Errorf("Resolve(b) found a pruned revision")
	}
}

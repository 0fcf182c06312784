package hub

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Snapshots keeps read-only copies of fetched revisions, one folder per commit, so that
// renders read a stable tree while the next fetch moves the clone on. Folders are
// <root>/<namespace>/<name>/<sha>; the newest Keep revisions of each source are kept, and
// so is every revision pinned for the namespace (the revisions pipeline stages hold or
// move to, which hydration renders again for later stages).
type Snapshots struct {
	Root string
	// Keep is how many revisions of one source stay on disk (default 3): enough for the
	// stages of a pipeline to render different revisions.
	Keep int

	mu sync.Mutex
	// pinned revisions by namespace and set.
	pinned map[string]map[string]map[string]bool
}

// Resolve returns the one stored revision of a source whose SHA starts with prefix.
func (s *Snapshots) Resolve(namespace, name, prefix string) (string, bool) {
	entries, err := os.ReadDir(filepath.Join(s.Root, namespace, name))
	if err != nil || prefix == "" {
		return "", false
	}
	found := ""
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) && filepath.Ext(e.Name()) != ".tmp" && s.Has(namespace, name, e.Name()) {
			if found != "" {
				return "", false // ambiguous
			}
			found = e.Name()
		}
	}
	return found, found != ""
}

// Pin replaces the revisions pinned in a namespace for the stages of its pipelines: they
// are never pruned.
func (s *Snapshots) Pin(namespace string, shas []string) { s.PinSet(namespace, "stages", shas) }

// PinSet replaces one named set of pinned revisions of a namespace (e.g. the revisions of
// a pipeline's Promotion history, so that a rollback to one of them can be rendered again);
// a revision in any set is never pruned.
func (s *Snapshots) PinSet(namespace, set string, shas []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pinned == nil {
		s.pinned = map[string]map[string]map[string]bool{}
	}
	if s.pinned[namespace] == nil {
		s.pinned[namespace] = map[string]map[string]bool{}
	}
	m := make(map[string]bool, len(shas))
	for _, sha := range shas {
		m[sha] = true
	}
	s.pinned[namespace][set] = m
}

// pinnedIn is the union of a namespace's pinned sets; s.mu is held.
func (s *Snapshots) pinnedIn(namespace string) map[string]bool {
	out := map[string]bool{}
	for _, set := range s.pinned[namespace] {
		for sha := range set {
			out[sha] = true
		}
	}
	return out
}

// ErrRevisionGone is wrapped by Require when a revision's snapshot is not on disk.
var ErrRevisionGone = errors.New("revision is not stored")

// Require returns the folder of a stored revision, or an error wrapping ErrRevisionGone
// that says how to recover.
func (s *Snapshots) Require(namespace, name, sha string) (string, error) {
	if !s.Has(namespace, name, sha) {
		return "", fmt.Errorf("revision %s of GitSource %s/%s: %w (the hub keeps the revisions pipelines refer to, but this one was lost, e.g. by a restart without a persistent data dir): promote a newer revision into the stage", sha, namespace, name, ErrRevisionGone)
	}
	return s.Path(namespace, name, sha), nil
}

// Path is the folder of one revision of a source.
func (s *Snapshots) Path(namespace, name, sha string) string {
	return filepath.Join(s.Root, namespace, name, sha)
}

// Has reports whether a revision is stored.
func (s *Snapshots) Has(namespace, name, sha string) bool {
	_, err := os.Stat(filepath.Join(s.Path(namespace, name, sha), ".complete"))
	return err == nil
}

// Store copies a work tree (without .git) into the revision's folder, unless it is there
// already, and drops the oldest revisions past Keep. Symbolic links are copied as links,
// so that renderers can refuse the ones escaping the tree.
func (s *Snapshots) Store(namespace, name, sha, worktree string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst := s.Path(namespace, name, sha)
	if s.Has(namespace, name, sha) {
		now := time.Now()
		_ = os.Chtimes(dst, now, now)
		return dst, nil
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := copyTree(worktree, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("storing revision %s of %s/%s: %w", sha, namespace, name, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dst)
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	s.prune(filepath.Dir(dst), s.pinnedIn(namespace))
	return dst, nil
}

// prune keeps the newest Keep revisions in dir, and the pinned ones.
func (s *Snapshots) prune(dir string, pinned map[string]bool) {
	keep := s.Keep
	if keep <= 0 {
		keep = 3
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type rev struct {
		path string
		mod  int64
	}
	var revs []rev
	for _, e := range entries {
		if !e.IsDir() || filepath.Ext(e.Name()) == ".tmp" || pinned[e.Name()] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		revs = append(revs, rev{filepath.Join(dir, e.Name()), info.ModTime().UnixNano()})
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].mod > revs[j].mod })
	for _, r := range revs[min(keep, len(revs)):] {
		_ = os.RemoveAll(r.path)
	}
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == ".git" && d.IsDir() {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		default:
			return copyFile(path, target)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read only
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close() // the copy's error is the one to report
		return err
	}
	return out.Close()
}

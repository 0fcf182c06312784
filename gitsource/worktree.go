package gitsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// manifestFile, inside .git, records what Fetch last wrote to the work tree, like git's
// index: per file the blob hash and the size and modification time seen after writing,
// so an unchanged file is recognised with one lstat instead of being hashed.
const manifestFile = "gitfleet-worktree.json"

type manifest struct {
	Commit string                   `json:"commit"`
	Tree   string                   `json:"tree"`
	Files  map[string]manifestEntry `json:"files"`
}

type manifestEntry struct {
	Hash  string `json:"h"`
	Mode  uint32 `json:"m"`
	Size  int64  `json:"s,omitempty"`
	MTime int64  `json:"t,omitempty"`
}

func loadManifest(dir string) *manifest {
	m := &manifest{Files: map[string]manifestEntry{}}
	b, err := os.ReadFile(filepath.Join(dir, ".git", manifestFile))
	if err != nil || json.Unmarshal(b, m) != nil || m.Files == nil {
		return &manifest{Files: map[string]manifestEntry{}}
	}
	return m
}

func (m *manifest) save(dir string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".git", manifestFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ".git", manifestFile))
}

// treeListing returns every file of tree (path → hash and mode), without reading blobs.
func treeListing(s storer.EncodedObjectStorer, tree plumbing.Hash) (map[string]manifestEntry, error) {
	t, err := object.GetTree(s, tree)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	out := map[string]manifestEntry{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		if err := cleanPath(name); err != nil {
			return nil, fmt.Errorf("tree %s: %w", tree, err)
		}
		out[name] = manifestEntry{Hash: e.Hash.String(), Mode: uint32(e.Mode)}
	}
}

// materialize makes the work tree dir (everything but .git) hold the files of commit.
//
// When the last materialisation is on record and its tree is readable, only the files that
// differ between the two trees are written or removed, and every other recorded file is
// checked with one lstat (size, modification time, type) and rewritten if it was changed or
// deleted. Otherwise (first time, damaged record) the whole work tree is walked: files and
// folders that are not in the commit are removed too.
func materialize(s storer.EncodedObjectStorer, dir string, commit plumbing.Hash) error {
	c, err := object.GetCommit(s, commit)
	if err != nil {
		return fmt.Errorf("read commit %s: %w", commit, err)
	}
	old := loadManifest(dir)
	next := &manifest{Commit: commit.String(), Tree: c.TreeHash.String()}
	if old.Tree != "" {
		if next.Files, err = diffListing(s, old, c.TreeHash); err == nil {
			err = syncTracked(s, dir, old, next)
			if err == nil {
				return next.save(dir)
			}
			return fmt.Errorf("update work tree %s: %w", dir, err)
		}
	}
	if next.Files, err = treeListing(s, c.TreeHash); err != nil {
		return err
	}
	if err := syncAll(s, dir, old, next); err != nil {
		return fmt.Errorf("update work tree %s: %w", dir, err)
	}
	return next.save(dir)
}

// diffListing returns the listing of tree from the old listing and the changes between
// the old tree and tree.
func diffListing(s storer.EncodedObjectStorer, old *manifest, tree plumbing.Hash) (map[string]manifestEntry, error) {
	out := make(map[string]manifestEntry, len(old.Files))
	for p, e := range old.Files {
		out[p] = manifestEntry{Hash: e.Hash, Mode: e.Mode}
	}
	if old.Tree == tree.String() {
		return out, nil
	}
	from, err := object.GetTree(s, plumbing.NewHash(old.Tree))
	if err != nil {
		return nil, err
	}
	to, err := object.GetTree(s, tree)
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		if ch.From.Name != "" {
			delete(out, ch.From.Name)
		}
		if ch.To.Name != "" {
			e := ch.To.TreeEntry
			if e.Mode == filemode.Submodule || e.Mode == filemode.Dir {
				continue
			}
			if err := cleanPath(ch.To.Name); err != nil {
				return nil, fmt.Errorf("tree %s: %w", tree, err)
			}
			out[ch.To.Name] = manifestEntry{Hash: e.Hash.String(), Mode: uint32(e.Mode)}
		}
	}
	return out, nil
}

// syncTracked removes the recorded files that left, then writes every file whose content,
// mode or on-disk state differs from the record.
func syncTracked(s storer.EncodedObjectStorer, dir string, old, next *manifest) error {
	want := next.Files
	next.Files = make(map[string]manifestEntry, len(want))
	var gone []string
	for p := range old.Files {
		if _, ok := want[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(gone)))
	for _, p := range gone {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.RemoveAll(full); err != nil {
			return err
		}
		// Remove the folders this left empty (os.Remove fails on a non-empty one).
		for d := filepath.Dir(full); d != dir && len(d) > len(dir); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e := want[p]
		if prev, ok := old.Files[p]; ok && prev.Hash == e.Hash && prev.Mode == e.Mode {
			if fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil && unchanged(fi, prev) {
				next.Files[p] = prev
				continue
			}
		}
		if err := writeEntry(s, dir, p, e, next); err != nil {
			return err
		}
	}
	return nil
}

func unchanged(fi fs.FileInfo, prev manifestEntry) bool {
	return fi.Size() == prev.Size && fi.ModTime().UnixNano() == prev.MTime && sameType(fi.Mode(), prev.Mode)
}

// syncAll walks the whole work tree: it removes what is not in next.Files, keeps the
// recorded files that are unchanged and writes the rest.
func syncAll(s storer.EncodedObjectStorer, dir string, old, next *manifest) error {
	want := next.Files
	next.Files = make(map[string]manifestEntry, len(want))
	seen := make(map[string]bool, len(want))
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case rel == ".git":
			return filepath.SkipDir
		case d.IsDir():
			if _, isFile := want[rel]; isFile {
				// A file replaces this folder; it is written below.
				if err := os.RemoveAll(p); err != nil {
					return err
				}
				return filepath.SkipDir
			}
			dirs = append(dirs, p)
			return nil
		}
		e, ok := want[rel]
		if !ok {
			return os.Remove(p)
		}
		seen[rel] = true
		if prev, ok := old.Files[rel]; ok && prev.Hash == e.Hash && prev.Mode == e.Mode {
			if fi, err := d.Info(); err == nil && unchanged(fi, prev) {
				next.Files[rel] = prev
				return nil
			}
		}
		return writeEntry(s, dir, rel, e, next)
	})
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(want)-len(seen))
	for p := range want {
		if !seen[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := writeEntry(s, dir, p, want[p], next); err != nil {
			return err
		}
	}
	// Remove folders left empty, deepest first.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = os.Remove(d) // fails, harmlessly, when not empty
	}
	return nil
}

func sameType(m fs.FileMode, gm uint32) bool {
	if filemode.FileMode(gm) == filemode.Symlink {
		return m&fs.ModeSymlink != 0
	}
	return m.IsRegular() && (m&0o100 != 0) == (filemode.FileMode(gm) == filemode.Executable)
}

// writeEntry writes one file (or symlink) of the tree and records it in next.
func writeEntry(s storer.EncodedObjectStorer, dir, rel string, e manifestEntry, next *manifest) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	content, err := readBlob(s, plumbing.NewHash(e.Hash))
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	switch filemode.FileMode(e.Mode) {
	case filemode.Symlink:
		// As git does; readers of the work tree decide whether a link may leave it.
		if err := os.Symlink(string(content), p); err != nil {
			return err
		}
	default:
		perm := os.FileMode(0o644)
		if filemode.FileMode(e.Mode) == filemode.Executable {
			perm = 0o755
		}
		if err := os.WriteFile(p, content, perm); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	e.Size, e.MTime = fi.Size(), fi.ModTime().UnixNano()
	next.Files[rel] = e
	return nil
}

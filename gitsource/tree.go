package gitsource

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeNode is a directory of the tree being built. A node that was never loaded stands for
// the unchanged base tree with hash, which is reused as is (no read, no re-encoding).
type treeNode struct {
	hash    plumbing.Hash
	loaded  bool
	entries map[string]*treeEntry
}

// treeEntry is a file (mode and blob hash) or a directory (dir != nil).
type treeEntry struct {
	dir  *treeNode
	mode filemode.FileMode
	hash plumbing.Hash
}

// newTreeNode returns the root of a tree starting from base (ZeroHash for an empty tree).
func newTreeNode(base plumbing.Hash) *treeNode {
	if base.IsZero() {
		return &treeNode{loaded: true, entries: map[string]*treeEntry{}}
	}
	return &treeNode{hash: base}
}

func (n *treeNode) load(s storer.EncodedObjectStorer) error {
	if n.loaded {
		return nil
	}
	t, err := object.GetTree(s, n.hash)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", n.hash, err)
	}
	n.entries = make(map[string]*treeEntry, len(t.Entries))
	for _, e := range t.Entries {
		if e.Mode == filemode.Dir {
			n.entries[e.Name] = &treeEntry{mode: e.Mode, dir: &treeNode{hash: e.Hash}}
		} else {
			n.entries[e.Name] = &treeEntry{mode: e.Mode, hash: e.Hash}
		}
	}
	n.loaded = true
	return nil
}

// remove deletes the file or directory at path; a missing path is not an error.
func (n *treeNode) remove(s storer.EncodedObjectStorer, path string) error {
	if path == "" {
		n.loaded, n.entries = true, map[string]*treeEntry{}
		return nil
	}
	parts := strings.Split(path, "/")
	cur := n
	for _, p := range parts[:len(parts)-1] {
		if err := cur.load(s); err != nil {
			return err
		}
		e := cur.entries[p]
		if e == nil || e.dir == nil {
			return nil
		}
		cur = e.dir
	}
	if err := cur.load(s); err != nil {
		return err
	}
	delete(cur.entries, parts[len(parts)-1])
	return nil
}

// put adds or replaces the file at path.
func (n *treeNode) put(s storer.EncodedObjectStorer, path string, mode filemode.FileMode, blob plumbing.Hash) error {
	parts := strings.Split(path, "/")
	cur := n
	for i, p := range parts[:len(parts)-1] {
		if err := cur.load(s); err != nil {
			return err
		}
		e := cur.entries[p]
		if e == nil {
			e = &treeEntry{mode: filemode.Dir, dir: &treeNode{loaded: true, entries: map[string]*treeEntry{}}}
			cur.entries[p] = e
		} else if e.dir == nil {
			return fmt.Errorf("path %q: %q is a file", path, strings.Join(parts[:i+1], "/"))
		}
		cur = e.dir
	}
	if err := cur.load(s); err != nil {
		return err
	}
	name := parts[len(parts)-1]
	if e := cur.entries[name]; e != nil && e.dir != nil {
		return fmt.Errorf("path %q is a directory", path)
	}
	cur.entries[name] = &treeEntry{mode: mode, hash: blob}
	return nil
}

// write stores every loaded tree bottom-up and returns the root hash; empty directories
// are dropped (their hash is ZeroHash). Unloaded subtrees keep their hash.
func (n *treeNode) write(s storer.EncodedObjectStorer) (plumbing.Hash, error) {
	if !n.loaded {
		return n.hash, nil
	}
	entries := make([]object.TreeEntry, 0, len(n.entries))
	for name, e := range n.entries {
		if e.dir == nil {
			entries = append(entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
			continue
		}
		h, err := e.dir.write(s)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if !h.IsZero() {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	sortTreeEntries(entries)
	t := &object.Tree{Entries: entries}
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h := obj.Hash()
	if s.HasEncodedObject(h) == nil {
		return h, nil
	}
	return s.SetEncodedObject(obj)
}

// sortTreeEntries orders entries as git does: by name, a directory compared as name + "/".
func sortTreeEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
}

// writeEmptyTree stores git's empty tree (used for a commit whose tree has no files).
func writeEmptyTree(s storer.EncodedObjectStorer) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	if err := (&object.Tree{}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// writeBlob stores content unless an identical blob is already there, and returns its hash.
func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(plumbing.BlobObject, content)
	if s.HasEncodedObject(h) == nil {
		return h, nil
	}
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// cleanPath checks a repository-relative file path: slash-separated, no empty, "." or ".."
// component, no .git component, no leading slash, no backslash or NUL.
func cleanPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("path %q: backslash or NUL", p)
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "", c == ".", c == "..":
			return fmt.Errorf("path %q: empty, '.' or '..' component", p)
		case strings.EqualFold(c, ".git"):
			return fmt.Errorf("path %q: .git component", p)
		}
	}
	return nil
}

// normalizeScope turns scope entries ("clusters/", "README.md") into clean paths without a
// trailing slash; an empty scope is the whole tree, returned as [""].
func normalizeScope(scope []string) ([]string, error) {
	if len(scope) == 0 {
		return []string{""}, nil
	}
	out := make([]string, 0, len(scope))
	for _, s := range scope {
		s = strings.TrimSuffix(s, "/")
		if s == "" {
			return []string{""}, nil
		}
		if err := cleanPath(s); err != nil {
			return nil, fmt.Errorf("scope: %w", err)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// inScope reports whether path is one of the scope entries or below one.
func inScope(scope []string, path string) bool {
	for _, s := range scope {
		if s == "" || path == s || strings.HasPrefix(path, s+"/") {
			return true
		}
	}
	return false
}

// readFiles returns the files of tree below prefix (a file path, a folder, or "" for all),
// keyed by their full path.
func readFiles(s storer.EncodedObjectStorer, tree plumbing.Hash, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if tree.IsZero() {
		return out, nil
	}
	root, err := object.GetTree(s, tree)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	start := root
	if prefix != "" {
		e, err := root.FindEntry(prefix)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			b, err := readBlob(s, e.Hash)
			if err != nil {
				return nil, err
			}
			out[prefix] = b
			return out, nil
		}
		if start, err = object.GetTree(s, e.Hash); err != nil {
			return nil, err
		}
	}
	w := object.NewTreeWalker(start, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		b, err := readBlob(s, e.Hash)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if prefix != "" {
			name = prefix + "/" + name
		}
		out[name] = b
	}
	return out, nil
}

func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	obj, err := s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// scopeFiles returns the files of tree that lie in scope.
func scopeFiles(s storer.EncodedObjectStorer, tree plumbing.Hash, scope []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, p := range scope {
		files, err := readFiles(s, tree, p)
		if err != nil {
			return nil, err
		}
		for k, v := range files {
			out[k] = v
		}
	}
	return out, nil
}

// buildTree applies desired (the full content of scope) over the base tree and stores the
// result, returning the new root tree hash (emptyTreeHash when nothing is left).
func buildTree(s storer.EncodedObjectStorer, base plumbing.Hash, scope []string, desired map[string][]byte) (plumbing.Hash, error) {
	root := newTreeNode(base)
	for _, p := range scope {
		if err := root.remove(s, p); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	paths := make([]string, 0, len(desired))
	for p := range desired {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := cleanPath(p); err != nil {
			return plumbing.ZeroHash, err
		}
		if !inScope(scope, p) {
			return plumbing.ZeroHash, fmt.Errorf("path %q is outside the writer's scope %q", p, scope)
		}
		h, err := writeBlob(s, desired[p])
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("store %s: %w", p, err)
		}
		if err := root.put(s, p, filemode.Regular, h); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	h, err := root.write(s)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if h.IsZero() {
		return writeEmptyTree(s)
	}
	return h, nil
}

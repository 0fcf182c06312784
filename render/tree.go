package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tree is a source tree: a folder every read is confined to, after resolving symlinks.
type tree struct {
	root string // absolute, symlinks resolved
}

func newTree(root string) (*tree, error) {
	if root == "" {
		return nil, errors.New("source root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("source root %q: %w", root, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("source root %q: %w", root, err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return nil, fmt.Errorf("source root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source root %q is not a directory", root)
	}
	return &tree{root: resolved}, nil
}

// within reports whether p (clean, absolute) is root or below it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	r := root
	if !strings.HasSuffix(r, string(filepath.Separator)) {
		r += string(filepath.Separator)
	}
	return strings.HasPrefix(p, r)
}

// abs turns a path relative to the root (slash or OS separated) into an absolute path,
// without resolving symlinks. Absolute paths are cleaned and returned as they are.
func (t *tree) abs(p string) string {
	p = filepath.FromSlash(p)
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(t.root, p)
}

// rel returns how errors name an absolute path: relative to the root, with slashes, or as
// it is when it is outside the root.
func (t *tree) rel(p string) string {
	if !within(t.root, p) {
		return p
	}
	r, err := filepath.Rel(t.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// outside builds the ErrOutsideRoot error for display path shown (and, when it differs,
// the real path it leads to).
func (t *tree) outside(shown, resolved string) error {
	if resolved == "" || resolved == shown {
		return fmt.Errorf("%q: %w", shown, ErrOutsideRoot)
	}
	return fmt.Errorf("%q resolves to %q: %w", shown, resolved, ErrOutsideRoot)
}

// resolve returns the real path of p (relative to the root, or absolute) after following
// every symlink, or ErrOutsideRoot when p or its real path is outside the root. A path
// that does not exist resolves through its longest existing parent.
func (t *tree) resolve(p string) (string, error) {
	a := t.abs(p)
	shown := filepath.ToSlash(p)
	if filepath.IsAbs(filepath.FromSlash(p)) {
		shown = t.rel(a)
	}
	if !within(t.root, a) {
		return "", t.outside(shown, "")
	}
	resolved, err := filepath.EvalSymlinks(a)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", shown, err)
		}
		if _, lerr := os.Lstat(a); lerr == nil {
			// a itself exists: a symlink whose target is missing.
			target, _ := os.Readlink(a)
			if target != "" && !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(a), target)
			}
			if target != "" && !within(t.root, filepath.Clean(target)) {
				return "", t.outside(shown, filepath.Clean(target))
			}
			return "", fmt.Errorf("%s: dangling symlink: %w", shown, fs.ErrNotExist)
		}
		parent, err := t.resolve(filepath.Dir(a))
		if err != nil {
			return "", err
		}
		resolved = filepath.Join(parent, filepath.Base(a))
	}
	if !within(t.root, resolved) {
		return "", t.outside(shown, resolved)
	}
	return resolved, nil
}

// readFile reads a file of the tree (path relative to the root, or absolute).
func (t *tree) readFile(p string) ([]byte, error) {
	resolved, err := t.resolve(p)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(resolved)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", displayErrPath(t, p), unwrapPathError(err))
	}
	return data, nil
}

func displayErrPath(t *tree, p string) string {
	if filepath.IsAbs(filepath.FromSlash(p)) {
		return t.rel(filepath.Clean(filepath.FromSlash(p)))
	}
	return filepath.ToSlash(p)
}

// unwrapPathError drops the *fs.PathError wrapper (which repeats the absolute path) and
// keeps its cause.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// walkEntry is one file found by walk.
type walkEntry struct {
	// rel is the path relative to the walked folder, with slashes, as found (through
	// symlinks).
	rel string
	// real is the resolved path (empty when err is set).
	real string
	info fs.FileInfo
	// err is set for an entry that cannot be followed: a symlink leading outside the
	// tree (wrapping ErrOutsideRoot), or a dangling one.
	err error
}

// walk lists every file below dir (relative to the root, or absolute) in lexical order,
// following symlinks that stay inside the tree. skipDir, when set, is asked about every
// folder (by its path relative to dir) and may prune it. Files below symlinks leading
// outside the tree are reported with err set and not read. Symlink loops are cut.
func (t *tree) walk(dir string, recurse bool, skipDir func(rel string, info fs.FileInfo) bool) ([]walkEntry, error) {
	start, err := t.resolve(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayErrPath(t, dir), unwrapPathError(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", displayErrPath(t, dir))
	}
	var out []walkEntry
	active := map[string]bool{start: true}
	var visit func(realDir, rel string) error
	visit = func(realDir, rel string) error {
		entries, err := os.ReadDir(realDir)
		if err != nil {
			return fmt.Errorf("reading folder %s: %w", t.rel(realDir), unwrapPathError(err))
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			name := e.Name()
			childRel := name
			if rel != "" {
				childRel = rel + "/" + name
			}
			full := filepath.Join(realDir, name)
			resolved := full
			if e.Type()&fs.ModeSymlink != 0 {
				r, err := t.resolve(full)
				if err != nil {
					out = append(out, walkEntry{rel: childRel, err: err})
					continue
				}
				resolved = r
			}
			info, err := os.Stat(resolved)
			if err != nil {
				out = append(out, walkEntry{rel: childRel, err: err})
				continue
			}
			if info.IsDir() {
				if !recurse || (skipDir != nil && skipDir(childRel, info)) || active[resolved] {
					continue
				}
				active[resolved] = true
				if err := visit(resolved, childRel); err != nil {
					return err
				}
				delete(active, resolved)
				continue
			}
			out = append(out, walkEntry{rel: childRel, real: resolved, info: info})
		}
		return nil
	}
	if err := visit(start, ""); err != nil {
		return nil, err
	}
	return out, nil
}

package render

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// confinedFS is the read-only file system krusty runs on: every path must resolve, after
// symlinks, inside the source tree. kustomize's LoadRestrictionsRootOnly checks paths
// lexically against each kustomization's folder, which a symlink defeats; this checks
// the real path of every access. The first refused path is kept for the error message.
type confinedFS struct {
	t     *tree
	inner filesys.FileSystem

	mu      sync.Mutex
	escaped error
}

var _ filesys.FileSystem = (*confinedFS)(nil)

func newConfinedFS(t *tree) *confinedFS {
	return &confinedFS{t: t, inner: filesys.MakeFsOnDisk()}
}

// errReadOnly is returned by every write: rendering never changes the tree.
var errReadOnly = errors.New("the source tree is read-only while rendering")

// check resolves p and records the first escape.
func (c *confinedFS) check(p string) error {
	_, err := c.t.resolve(p)
	if err != nil && errors.Is(err, ErrOutsideRoot) {
		c.mu.Lock()
		if c.escaped == nil {
			c.escaped = err
		}
		c.mu.Unlock()
	}
	return err
}

// escape returns the first refused path, if any.
func (c *confinedFS) escape() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.escaped
}

// Create refuses: the tree is read-only.
func (c *confinedFS) Create(p string) (filesys.File, error) {
	return nil, fmt.Errorf("create %s: %w", c.t.rel(p), errReadOnly)
}

// Mkdir refuses: the tree is read-only.
func (c *confinedFS) Mkdir(p string) error {
	return fmt.Errorf("mkdir %s: %w", c.t.rel(p), errReadOnly)
}

// MkdirAll refuses: the tree is read-only.
func (c *confinedFS) MkdirAll(p string) error {
	return fmt.Errorf("mkdir %s: %w", c.t.rel(p), errReadOnly)
}

// RemoveAll refuses: the tree is read-only.
func (c *confinedFS) RemoveAll(p string) error {
	return fmt.Errorf("remove %s: %w", c.t.rel(p), errReadOnly)
}

// WriteFile refuses: the tree is read-only.
func (c *confinedFS) WriteFile(p string, _ []byte) error {
	return fmt.Errorf("write %s: %w", c.t.rel(p), errReadOnly)
}

// Open opens a file inside the tree.
func (c *confinedFS) Open(p string) (filesys.File, error) {
	if err := c.check(p); err != nil {
		return nil, err
	}
	return c.inner.Open(p)
}

// IsDir reports whether p is a folder inside the tree.
func (c *confinedFS) IsDir(p string) bool {
	return c.check(p) == nil && c.inner.IsDir(p)
}

// ReadDir lists a folder inside the tree.
func (c *confinedFS) ReadDir(p string) ([]string, error) {
	if err := c.check(p); err != nil {
		return nil, err
	}
	return c.inner.ReadDir(p)
}

// CleanedAbs resolves p like the disk file system does, inside the tree only.
func (c *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if err := c.check(p); err != nil {
		return "", "", err
	}
	d, f, err := c.inner.CleanedAbs(p)
	if err != nil {
		return d, f, err
	}
	if err := c.check(filepath.Join(string(d), f)); err != nil {
		return "", "", err
	}
	return d, f, nil
}

// Exists reports whether p exists inside the tree.
func (c *confinedFS) Exists(p string) bool {
	return c.check(p) == nil && c.inner.Exists(p)
}

// Glob returns the matches of pattern that are inside the tree.
func (c *confinedFS) Glob(pattern string) ([]string, error) {
	matches, err := c.inner.Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := matches[:0]
	for _, m := range matches {
		if c.check(m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// ReadFile reads a file inside the tree.
func (c *confinedFS) ReadFile(p string) ([]byte, error) {
	if err := c.check(p); err != nil {
		return nil, err
	}
	return c.inner.ReadFile(p)
}

// Walk walks a folder inside the tree (symlinks are not followed; reading what it finds
// goes through the checks above).
func (c *confinedFS) Walk(p string, walkFn filepath.WalkFunc) error {
	if err := c.check(p); err != nil {
		return err
	}
	return c.inner.Walk(p, walkFn)
}

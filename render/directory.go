package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// directorySource is a loaded folder of plain manifests.
type directorySource struct {
	display string
	files   []manifestFile
	hash    string
}

// manifestFile is one manifest file, named by its path in the repository.
type manifestFile struct {
	name string
	data []byte
}

// isManifestFile reports whether a file name is one the directory source reads.
func isManifestFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// loadDirectory reads the *.yaml, *.yml and *.json files of the folder p (and of its
// sub-folders with recurse; folders starting with a dot are skipped), in lexical order.
func loadDirectory(t *tree, p string, recurse bool) (*directorySource, error) {
	display := path.Clean(filepath.ToSlash(p))
	entries, err := t.walk(p, recurse, func(rel string, _ fs.FileInfo) bool {
		return strings.HasPrefix(path.Base(rel), ".")
	})
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w", display, err)
	}
	d := &directorySource{display: display}
	h := sha256.New()
	fmt.Fprintf(h, "directory\x00%s\x00%s\x00%t\x00", cacheVersion, display, recurse)
	for _, e := range entries {
		if !isManifestFile(e.rel) {
			continue
		}
		name := path.Join(display, e.rel)
		if e.err != nil {
			return nil, fmt.Errorf("directory %s: %s: %w", display, name, e.err)
		}
		data, err := t.readFile(e.real)
		if err != nil {
			return nil, fmt.Errorf("directory %s: %w", display, err)
		}
		d.files = append(d.files, manifestFile{name: name, data: data})
		fmt.Fprintf(h, "%q %d\n", name, len(data))
		h.Write(data)
	}
	d.hash = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// render decodes every file; errors name the file.
func (d *directorySource) render() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range d.files {
		objs, err := decodeManifests(f.name, f.data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func (d *directorySource) cacheKey() string { return d.hash }

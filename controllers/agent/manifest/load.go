package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ErrPathNotFound is returned (wrapped) by Load when the folder is not in the checkout.
var ErrPathNotFound = errors.New("path not found in the commit")

// Set is the content of a cluster's folder: the objects in file order, the file each came
// from, and the files or documents that could not be read. When Errors is not empty the
// set is incomplete, and nothing may be pruned on its account.
type Set struct {
	// Objects in the order of their files (by path) and of the documents in each file.
	Objects []*unstructured.Unstructured
	// Files maps each object to the file it came from, relative to the folder.
	Files map[Key]string
	// Errors lists the files and documents that could not be decoded, and duplicates.
	Errors []error
}

// Load reads every *.yaml, *.yml and *.json file below root/path (recursively, hidden
// files and folders excepted) and decodes their objects. Items of a List are taken one
// by one; empty documents are skipped. A document without apiVersion, kind or name, or
// an object defined twice, is reported in Set.Errors and left out; the others are kept.
// Load fails only when the folder cannot be read.
func Load(root, path string) (*Set, error) {
	dir := filepath.Join(root, filepath.FromSlash(strings.Trim(path, "/")))
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrPathNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", path)
	}
	files, err := manifestFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", path, err)
	}
	set := &Set{Files: map[Key]string{}}
	for _, file := range files {
		rel, _ := filepath.Rel(dir, file)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(file)
		if err != nil {
			set.Errors = append(set.Errors, fmt.Errorf("%s: %w", rel, err))
			continue
		}
		objs, errs := Decode(data)
		for _, e := range errs {
			set.Errors = append(set.Errors, fmt.Errorf("%s: %w", rel, e))
		}
		for _, obj := range objs {
			key := KeyOf(obj)
			if prev, dup := set.Files[key]; dup {
				set.Errors = append(set.Errors, fmt.Errorf("%s: %s is also defined in %s", rel, key, prev))
				continue
			}
			set.Files[key] = rel
			set.Objects = append(set.Objects, obj)
		}
	}
	return set, nil
}

// manifestFiles lists the manifest files below dir in lexical path order.
func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Decode decodes a stream of YAML (or JSON) documents. Lists are flattened and empty
// documents skipped. Documents that cannot be decoded, or lack apiVersion, kind or
// metadata.name, are returned as errors naming the document; the others are returned.
func Decode(data []byte) ([]*unstructured.Unstructured, []error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	var errs []error
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, errs
		}
		if err != nil {
			return objs, append(errs, fmt.Errorf("document %d: %w", i, err))
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		if t := string(bytes.TrimSpace(j)); t == "null" || t == "" || t == "{}" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		items := []*unstructured.Unstructured{obj}
		if obj.IsList() {
			items = nil
			err := obj.EachListItem(func(o runtime.Object) error {
				u, ok := o.(*unstructured.Unstructured)
				if !ok {
					return fmt.Errorf("list item of type %T", o)
				}
				items = append(items, u)
				return nil
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("document %d: %w", i, err))
				continue
			}
		}
		for _, u := range items {
			if err := validate(u); err != nil {
				errs = append(errs, fmt.Errorf("document %d: %w", i, err))
				continue
			}
			objs = append(objs, u)
		}
	}
}

func validate(u *unstructured.Unstructured) error {
	switch {
	case u.GetAPIVersion() == "":
		return errors.New("object has no apiVersion")
	case u.GetKind() == "":
		return errors.New("object has no kind")
	case u.GetName() == "":
		if u.GetGenerateName() != "" {
			return fmt.Errorf("%s with generateName %q: only named objects can be applied", u.GetKind(), u.GetGenerateName())
		}
		return fmt.Errorf("%s has no metadata.name", u.GetKind())
	}
	return nil
}

// Info is what the branch's gitfleet.json says about the commit: the dry source it was
// rendered from. Unknown fields are ignored.
type Info struct {
	// Source is the fleet config repository and commit rendered.
	Source struct {
		Repository string `json:"repository,omitempty"`
		Commit     string `json:"commit,omitempty"`
	} `json:"source"`
	// Stage is the pipeline stage of the branch.
	Stage string `json:"stage,omitempty"`
	// Clusters lists the clusters the branch holds (the hub writes it); nil when the file
	// does not say.
	Clusters map[string]json.RawMessage `json:"clusters,omitempty"`
}

// Left reports whether the hub's metadata says the branch no longer holds the cluster:
// the file lists clusters, and not this one. A branch without that list (written by hand,
// or by an older hub) never says a cluster left.
func (i Info) Left(cluster string) bool {
	if i.Clusters == nil {
		return false
	}
	_, listed := i.Clusters[cluster]
	return !listed
}

// InfoFile is the name of the file at the branch's root that describes the commit.
const InfoFile = "gitfleet.json"

// ReadInfo reads root/gitfleet.json. It is lenient: a missing or unparsable file gives
// an empty Info, never an error, since the branch may have been written by hand.
func ReadInfo(root string) Info {
	var info Info
	data, err := os.ReadFile(filepath.Join(root, InfoFile))
	if err != nil {
		return Info{}
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return Info{}
	}
	return info
}

package hydrate

import (
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
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// FleetKinds are the kinds a fleetPath may hold. GitSources and Promotions are left out:
// a source must not rewrite itself, and promotions are records the hub writes.
var FleetKinds = map[string]bool{"Placement": true, "Override": true, "Pipeline": true, "MemberCluster": true}

// FleetObject is one object read from a fleetPath, with the file it came from.
type FleetObject struct {
	Object *unstructured.Unstructured
	File   string
}

// ReadFleetObjects decodes every YAML and JSON file under root/rel (recursively) and
// returns the gitfleet objects, in the given namespace, sorted by kind and name. A file
// that does not parse, a non-gitfleet object, a kind not allowed in a fleetPath, an
// object naming another namespace, an object the API server would refuse
// (ValidateFleetObject: unknown fields, apiVersion, name, OpenAPI schema, CEL rules) or
// one defined twice is an error naming the file and the field path, so that a typo never
// silently drops a placement; the objects that were fine are returned with the error.
// The hub's fleetPath loader and `gitfleet render`/`diff` both read through here, so the
// two cannot disagree about what is valid.
func ReadFleetObjects(root, rel, namespace string) ([]FleetObject, error) {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fleetPath %q: %w", rel, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("fleetPath %q is not a folder", rel)
	}
	var out []FleetObject
	var errs []error
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			return nil
		}
		file, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := decodeObjects(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			return nil
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			switch {
			case gvk.Group != fleetv1alpha1.GroupVersion.Group:
				errs = append(errs, fmt.Errorf("%s: %s %q is not a gitfleet object (only %s kinds belong in the fleetPath)", file, gvk.Kind, o.GetName(), fleetv1alpha1.GroupVersion.Group))
				continue
			case !FleetKinds[gvk.Kind]:
				errs = append(errs, fmt.Errorf("%s: kind %s is not allowed in the fleetPath (allowed: MemberCluster, Override, Pipeline, Placement)", file, gvk.Kind))
				continue
			case o.GetNamespace() != "" && namespace != "" && o.GetNamespace() != namespace:
				errs = append(errs, fmt.Errorf("%s: %s %q names namespace %q; fleet objects go to the GitSource's namespace %q", file, gvk.Kind, o.GetName(), o.GetNamespace(), namespace))
				continue
			}
			if verrs := ValidateFleetObject(o); len(verrs) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s %q is invalid: %s", file, gvk.Kind, o.GetName(), formatFieldErrors(verrs)))
				continue
			}
			if namespace != "" {
				o.SetNamespace(namespace)
			}
			out = append(out, FleetObject{Object: o, File: file})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, dupErrs := dropDuplicates(out)
	errs = append(errs, dupErrs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Object, out[j].Object
		return a.GetKind()+"/"+a.GetName() < b.GetKind()+"/"+b.GetName()
	})
	return out, errors.Join(errs...)
}

// dropDuplicates removes every object whose kind and name appear in more than one
// place (the API server would keep only the last one applied, which depends on the
// order files are read): all copies are left out and an error names every file.
func dropDuplicates(objs []FleetObject) ([]FleetObject, []error) {
	files := map[string][]string{}
	for _, fo := range objs {
		k := fo.Object.GetKind() + "/" + fo.Object.GetName()
		files[k] = append(files[k], fo.File)
	}
	var out []FleetObject
	var errs []error
	reported := map[string]bool{}
	for _, fo := range objs {
		k := fo.Object.GetKind() + "/" + fo.Object.GetName()
		if fs := files[k]; len(fs) > 1 {
			if !reported[k] {
				reported[k] = true
				errs = append(errs, fmt.Errorf("%s: %s %q is defined %d times (in %s); keep one", fs[0], fo.Object.GetKind(), fo.Object.GetName(), len(fs), strings.Join(fs, ", ")))
			}
			continue
		}
		out = append(out, fo)
	}
	return out, errs
}

func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("malformed YAML: %w", err)
		}
		// Whole numbers become int64 as in the API server's decoder (not float64), so
		// that the schema's integer checks and CEL rules see what the API server sees.
		var m map[string]any
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("malformed YAML: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("an object without apiVersion, kind or metadata.name")
		}
		out = append(out, o)
	}
}

// LoadFleetDir reads a checkout's fleetPath into a Fleet for local rendering (the
// `gitfleet render` and `gitfleet diff` commands): typed objects with the defaults the
// API server would set where rendering depends on them. Without agents, every cluster
// is taken as joined and healthy (the heartbeat check is off).
func LoadFleetDir(root, fleetPath string) (*Fleet, error) {
	objs, err := ReadFleetObjects(root, fleetPath, "")
	if err != nil {
		return nil, err
	}
	f := &Fleet{Root: root}
	for _, fo := range objs {
		var target any
		switch fo.Object.GetKind() {
		case "Placement":
			f.Placements = append(f.Placements, fleetv1alpha1.Placement{})
			target = &f.Placements[len(f.Placements)-1]
		case "Override":
			f.Overrides = append(f.Overrides, fleetv1alpha1.Override{})
			target = &f.Overrides[len(f.Overrides)-1]
		case "Pipeline":
			f.Pipelines = append(f.Pipelines, fleetv1alpha1.Pipeline{})
			target = &f.Pipelines[len(f.Pipelines)-1]
		case "MemberCluster":
			f.Clusters = append(f.Clusters, fleetv1alpha1.MemberCluster{})
			target = &f.Clusters[len(f.Clusters)-1]
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(fo.Object.Object, target); err != nil {
			return nil, fmt.Errorf("%s: %s %q: %w", fo.File, fo.Object.GetKind(), fo.Object.GetName(), err)
		}
	}
	for i := range f.Clusters {
		f.Clusters[i].Spec.HeartbeatGracePeriod = nil // no heartbeat check
	}
	return f, nil
}

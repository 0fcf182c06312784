package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// HubFieldManager is the server-side apply field manager of everything the hub writes.
const HubFieldManager = "gitfleet-hub"

// FleetSourceLabel marks the objects applied from a GitSource's fleetPath with the
// GitSource's name.
const FleetSourceLabel = "fleet.gitfleet.dev/gitsource"

// fleetKinds are the kinds a fleetPath may hold. GitSources and Promotions are left out:
// a source must not rewrite itself, and promotions are records the hub writes.
var fleetKinds = map[string]bool{"Placement": true, "Override": true, "Pipeline": true, "MemberCluster": true}

// fleetObject is one object read from the fleetPath, with the file it came from.
type fleetObject struct {
	obj  *unstructured.Unstructured
	file string
}

// readFleet decodes every YAML file under dir (recursively). Non-gitfleet objects and
// unknown gitfleet kinds are errors naming the file, so a typo does not silently drop a
// placement; an object naming another namespace is an error too.
func readFleet(root, rel, namespace string) ([]fleetObject, error) {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fleetPath %q: %w", rel, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("fleetPath %q is not a folder", rel)
	}
	var out []fleetObject
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
			case !fleetKinds[gvk.Kind]:
				errs = append(errs, fmt.Errorf("%s: kind %s is not allowed in the fleetPath (allowed: MemberCluster, Override, Pipeline, Placement)", file, gvk.Kind))
				continue
			case o.GetNamespace() != "" && o.GetNamespace() != namespace:
				errs = append(errs, fmt.Errorf("%s: %s %q names namespace %q; fleet objects go to the GitSource's namespace %q", file, gvk.Kind, o.GetName(), o.GetNamespace(), namespace))
				continue
			}
			o.SetNamespace(namespace)
			out = append(out, fleetObject{obj: o, file: file})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return objKey(out[i].obj) < objKey(out[j].obj) })
	return out, errors.Join(errs...)
}

func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
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

func objKey(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetName()
}

// applyFleet server-side applies the fleet objects and prunes those of the previous
// inventory that left Git. It returns the new inventory. When any object fails, nothing
// is pruned (the last good state is kept) and the error names each failure.
func applyFleet(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource, objs []fleetObject, readErr error) ([]fleetv1alpha1.ObjectReference, error) {
	var errs []error
	if readErr != nil {
		errs = append(errs, readErr)
	}
	inventory := make([]fleetv1alpha1.ObjectReference, 0, len(objs))
	for _, fo := range objs {
		o := fo.obj
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[FleetSourceLabel] = src.Name
		o.SetLabels(labels)
		// Status is the hub's and the agents' to write, never Git's.
		unstructured.RemoveNestedField(o.Object, "status")
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), &client.ApplyOptions{FieldManager: HubFieldManager, Force: ptr.To(true)})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %q: %w", fo.file, o.GetKind(), o.GetName(), err))
			continue
		}
		inventory = append(inventory, refOf(o))
	}
	if len(errs) > 0 {
		// Keep what was applied before as well, so that a later good pass prunes it.
		return mergeInventory(src.Status.FleetInventory, inventory), errors.Join(errs...)
	}
	keep := map[fleetv1alpha1.ObjectReference]bool{}
	for _, r := range inventory {
		keep[r] = true
	}
	for _, old := range src.Status.FleetInventory {
		if keep[old] {
			continue
		}
		if err := deleteFleetObject(ctx, c, src, old); err != nil {
			errs = append(errs, err)
			inventory = append(inventory, old)
		}
	}
	return inventory, errors.Join(errs...)
}

// deleteFleetObject deletes an object that left Git, if it still carries this source's
// label (someone may have taken it over by hand).
func deleteFleetObject(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource, ref fleetv1alpha1.ObjectReference) error {
	o := &unstructured.Unstructured{}
	o.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
	err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, o)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pruning %s %q: %w", ref.Kind, ref.Name, err)
	}
	if o.GetLabels()[FleetSourceLabel] != src.Name {
		return nil
	}
	if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("pruning %s %q: %w", ref.Kind, ref.Name, err)
	}
	return nil
}

func refOf(o *unstructured.Unstructured) fleetv1alpha1.ObjectReference {
	gvk := o.GroupVersionKind()
	return fleetv1alpha1.ObjectReference{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

func mergeInventory(a, b []fleetv1alpha1.ObjectReference) []fleetv1alpha1.ObjectReference {
	seen := map[fleetv1alpha1.ObjectReference]bool{}
	var out []fleetv1alpha1.ObjectReference
	for _, list := range [][]fleetv1alpha1.ObjectReference{a, b} {
		for _, r := range list {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+"/"+out[i].Name < out[j].Kind+"/"+out[j].Name })
	return out
}

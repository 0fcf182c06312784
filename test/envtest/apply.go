package envtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// FieldOwner is the default field manager of the server-side applies of this package.
const FieldOwner = "gitfleet-test"

// ApplyOptions tunes ApplyFiles and Apply.
type ApplyOptions struct {
	// DryRun asks the server to validate and default the objects (admission, OpenAPI
	// schema, CEL rules) without storing them.
	DryRun bool
	// Namespace is given to namespaced objects that have none; default "default".
	Namespace string
	// FieldOwner is the field manager; default FieldOwner. Conflicts are forced.
	FieldOwner string
}

// ApplyYAMLFiles server-side applies every object of the YAML (or JSON) files, with a
// server-side dry run if dryRun is set. See ApplyFiles.
func ApplyYAMLFiles(ctx context.Context, c client.Client, dryRun bool, paths ...string) ([]*unstructured.Unstructured, error) {
	return ApplyFiles(ctx, c, ApplyOptions{DryRun: dryRun}, paths...)
}

// ApplyFiles reads multi-document YAML (or JSON) files and server-side applies their
// objects in order. A path may be a folder: its *.yaml, *.yml and *.json files are read
// in name order (not recursively), except kustomization.yaml. Items of a List are
// applied one by one. Once a CustomResourceDefinition is applied (not in a dry run), it
// is waited for until Established, so that later documents may use it.
//
// It goes on after a failure and returns every error, each naming its file and object,
// together with the objects as the server returned them.
func ApplyFiles(ctx context.Context, c client.Client, opts ApplyOptions, paths ...string) ([]*unstructured.Unstructured, error) {
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	var applied []*unstructured.Unstructured
	var errs []error
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs, err := DecodeYAML(bytes.NewReader(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		for _, obj := range objs {
			if err := applyOne(ctx, c, opts, obj); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", file, err))
				continue
			}
			applied = append(applied, obj)
		}
	}
	return applied, errors.Join(errs...)
}

// Apply server-side applies the objects in order, as ApplyFiles does, updating each
// with the server's answer.
func Apply(ctx context.Context, c client.Client, opts ApplyOptions, objs ...*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		errs = append(errs, applyOne(ctx, c, opts, obj))
	}
	return errors.Join(errs...)
}

func applyOne(ctx context.Context, c client.Client, opts ApplyOptions, obj *unstructured.Unstructured) error {
	if obj.GetNamespace() == "" {
		// An unknown kind (e.g. a CRD applied in the same dry run) is left for the
		// server to report.
		if namespaced, err := c.IsObjectNamespaced(obj); err == nil && namespaced {
			ns := opts.Namespace
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			obj.SetNamespace(ns)
		}
	}
	owner := opts.FieldOwner
	if owner == "" {
		owner = FieldOwner
	}
	ao := &client.ApplyOptions{FieldManager: owner, Force: ptr.To(true)}
	if opts.DryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	name := objectName(obj)
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), ao); err != nil {
		return fmt.Errorf("applying %s: %w", name, err)
	}
	if !opts.DryRun && obj.GetKind() == "CustomResourceDefinition" && obj.GroupVersionKind().Group == apiextensionsv1.GroupName {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		crd.Name = obj.GetName()
		if err := WaitFor(ctx, c, crd, CRDEstablished); err != nil {
			return fmt.Errorf("applied %s: %w", name, err)
		}
	}
	return nil
}

// DecodeYAML decodes a stream of YAML (or JSON) documents into objects, skipping empty
// documents and flattening Lists. Every object must have apiVersion and kind.
func DecodeYAML(r io.Reader) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d: %w", i, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if t := string(bytes.TrimSpace(j)); t == "null" || t == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if !obj.IsList() {
			objs = append(objs, obj)
			continue
		}
		if err := obj.EachListItem(func(item runtime.Object) error {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("list item of type %T", item)
			}
			objs = append(objs, u)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}
}

// expandPaths replaces folders by the manifest files they hold.
func expandPaths(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			n := e.Name()
			switch {
			case e.IsDir(), strings.HasPrefix(n, "."),
				n == "kustomization.yaml", n == "kustomization.yml", n == "Kustomization":
				continue
			case strings.HasSuffix(n, ".yaml"), strings.HasSuffix(n, ".yml"), strings.HasSuffix(n, ".json"):
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(p, n))
		}
	}
	return files, nil
}

func objectName(obj *unstructured.Unstructured) string {
	key := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		key = ns + "/" + key
	}
	return fmt.Sprintf("%s %s", obj.GetObjectKind().GroupVersionKind().Kind, key)
}

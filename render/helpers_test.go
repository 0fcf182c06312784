package render

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

const (
	testRoot     = "testdata/repo"
	testRevision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
)

// rawJSON marshals v for the API's apiextensionsv1.JSON fields.
func rawJSON(t testing.TB, v any) *apiextensionsv1.JSON {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", v, err)
	}
	return &apiextensionsv1.JSON{Raw: data}
}

func input(placement string, spec *fleetv1.PlacementSpec) Input {
	return Input{Root: testRoot, Placement: placement, Spec: spec, SourceRevision: testRevision}
}

func helmSpec(h *fleetv1.HelmSource) *fleetv1.PlacementSpec {
	return &fleetv1.PlacementSpec{Helm: h}
}

func mustRender(t testing.TB, r *Renderer, in Input, c Cluster) []Object {
	t.Helper()
	objs, err := r.Render(context.Background(), in, c)
	if err != nil {
		t.Fatalf("Render(%s for cluster %s) = %v, want no error", in.Placement, c.Name, err)
	}
	return objs
}

func renderErr(t testing.TB, r *Renderer, in Input, c Cluster) error {
	t.Helper()
	objs, err := r.Render(context.Background(), in, c)
	if err == nil {
		t.Fatalf("Render(%s for cluster %s) = %d objects, want an error", in.Placement, c.Name, len(objs))
	}
	return err
}

// find returns the object with that kind and name, or nil.
func find(objs []Object, kind, name string) *Object {
	for i := range objs {
		if objs[i].ID.Kind == kind && objs[i].ID.Name == name {
			return &objs[i]
		}
	}
	return nil
}

func mustFind(t testing.TB, objs []Object, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("output has no %s %s; it has %v", kind, name, ids(objs))
	}
	return o.Object
}

func ids(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID.String()
	}
	return out
}

func str(t testing.TB, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if err != nil || !found {
		t.Fatalf("%s %s has no %s (err %v)", u.GetKind(), u.GetName(), strings.Join(fields, "."), err)
	}
	switch x := v.(type) {
	case string:
		return x
	default:
		data, _ := json.Marshal(x)
		return string(data)
	}
}

// wantErr checks that err wraps target (when not nil) and holds every fragment.
func wantErr(t testing.TB, err error, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want one containing %q", fragments)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %v", err, target)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error = %q\nwant it to contain %q", err, f)
		}
	}
}

// copyTree copies the testdata repository into a temporary folder (for tests that add
// symlinks) and returns the copy's root.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}

package render

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// canonicalYAML must give the bytes of sigs.k8s.io/yaml.Marshal, the common Kubernetes
// YAML form, for every object the tests render and for awkward values.
func TestCanonicalYAMLMatchesSigsYAML(t *testing.T) {
	var objs []map[string]any
	for _, spec := range []Input{input("shop", webSpec()), input("shop", kustomizeSpec("kustomize/overlays/prod")), input("a", dirSpec("manifests", true))} {
		for _, o := range mustRender(t, New(Options{}), spec, newCluster) {
			objs = append(objs, o.Object.DeepCopy().Object)
		}
	}
	objs = append(objs, map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "odd", "labels": map[string]any{"a10": "x", "a2": "y", "B": "z"}},
		"spec": map[string]any{
			"floats":  []any{0.5, 1e-05, 1e6, 3.0, 1e21, -2.25, 123456789.125},
			"strings": []any{"4", "true", "null", "on", "", " lead", "a: b", "multi\nline\n", "<html>", "ünï", "~"},
			"ints":    []any{int64(0), int64(-7), int64(9007199254740993)},
			"empty":   map[string]any{}, "list": []any{}, "nil": nil, "bool": false,
		},
	})
	for _, o := range objs {
		want, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := canonicalYAML(o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("canonicalYAML(%v) differs from sigs.k8s.io/yaml (-want +got):\n%s", o["metadata"], diff)
		}
	}
}

func TestSortOrder(t *testing.T) {
	mk := func(apiVersion, kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
		if ns != "" {
			u.SetNamespace(ns)
		}
		return u
	}
	in := []*unstructured.Unstructured{
		mk("v1", "Service", "b", "web"),
		mk("apps/v1", "Deployment", "a", "web"),
		mk("v1", "ConfigMap", "b", "a"),
		mk("v1", "ConfigMap", "a", "z"),
		mk("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
		mk("v1", "Namespace", "", "b"),
		mk("v1", "Namespace", "", "a"),
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "things.example.com"),
		mk("example.com/v1", "Thing", "", "t"),
	}
	crd := in[7]
	_ = unstructured.SetNestedField(crd.Object, "Cluster", "spec", "scope")
	_ = unstructured.SetNestedField(crd.Object, "example.com", "spec", "group")
	_ = unstructured.SetNestedField(crd.Object, "Thing", "spec", "names", "kind")
	scoped := ClusterScopedCRDKinds(in)
	if !scoped[schema.GroupKind{Group: "example.com", Kind: "Thing"}] {
		t.Fatalf("ClusterScopedCRDKinds = %v, want example.com Thing", scoped)
	}
	var objs []Object
	for _, u := range in {
		o, err := finishObject(u, "", "p", "", scoped)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	sortObjects(objs)
	want := []string{
		"apiextensions.k8s.io/v1 CustomResourceDefinition things.example.com",
		"v1 Namespace a",
		"v1 Namespace b",
		"example.com/v1 Thing t",
		"rbac.authorization.k8s.io/v1 ClusterRole reader",
		"v1 ConfigMap a/z",
		"v1 ConfigMap b/a",
		"v1 Service b/web",
		"apps/v1 Deployment a/web",
	}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Errorf("sort order (-want +got):\n%s", diff)
	}
	data, _ := json.Marshal(objs[0].ID)
	if len(data) == 0 {
		t.Fatal("ObjectID does not marshal")
	}
}

func TestFilePath(t *testing.T) {
	for _, tc := range []struct {
		id   ObjectID
		want string
	}{
		{ObjectID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "api"}, "clusters/eu-1/shop/web/deployment-api.yaml"},
		{ObjectID{Version: "v1", Kind: "Namespace", Name: "web"}, "clusters/eu-1/shop/_cluster/namespace-web.yaml"},
		{ObjectID{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "system:reader"}, "clusters/eu-1/shop/_cluster/clusterrole-system:reader.yaml"},
	} {
		if got := FilePath("eu-1", "shop", tc.id); got != tc.want {
			t.Errorf("FilePath(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}
	if got := PlacementDir("eu-1", "shop"); got != "clusters/eu-1/shop" {
		t.Errorf("PlacementDir = %q", got)
	}
	if got := ClusterDir("eu-1"); got != "clusters/eu-1" {
		t.Errorf("ClusterDir = %q", got)
	}
}

package drift

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// A field set as the API server records it for a Deployment applied by gitfleet.
const deploymentFields = `{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{}}},
"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{},"f:args":{}},
"k:{\"name\":\"side\"}":{".":{},"f:image":{},"f:name":{}}},"f:volumes":{"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}},
"f:metadata2":{}}`

func fields(t *testing.T, js string) *fieldpath.Set {
	t.Helper()
	s := &fieldpath.Set{}
	if err := s.FromJSON(bytes.NewReader([]byte(js))); err != nil {
		t.Fatalf("FromJSON: %v", err)
	}
	return s
}

func deployment(replicas int64, image string, mutate func(map[string]any)) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "namespace": "ns", "labels": map[string]any{"app.kubernetes.io/managed-by": "gitfleet"}},
		"spec": map[string]any{
			"replicas":                replicas,
			"progressDeadlineSeconds": int64(600), // defaulted, not owned
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{
					map[string]any{"name": "side", "image": "busybox", "imagePullPolicy": "Always"},
					map[string]any{"name": "app", "image": image, "args": []any{"a", "b"}, "terminationMessagePath": "/dev/termination-log"},
				},
				"volumes": []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
			}},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	return &unstructured.Unstructured{Object: obj}
}

func TestCompare(t *testing.T) {
	owned := fields(t, deploymentFields)
	applied := deployment(2, "nginx:1", nil)
	for name, tc := range map[string]struct {
		live *unstructured.Unstructured
		opts Options
		want []Diff
	}{
		"same": {live: deployment(2, "nginx:1", nil)},
		"defaulted and controller fields are not drift": {live: deployment(2, "nginx:1", func(o map[string]any) {
			o["status"] = map[string]any{"replicas": int64(2)}
			o["spec"].(map[string]any)["progressDeadlineSeconds"] = int64(30)
			o["metadata"].(map[string]any)["labels"].(map[string]any)["other"] = "x"
		})},
		"int and float are equal": {live: deployment(2, "nginx:1", func(o map[string]any) {
			o["spec"].(map[string]any)["replicas"] = float64(2)
		})},
		"replicas and image": {live: deployment(5, "nginx:2", nil), want: []Diff{
			{Path: ".spec.replicas", InCluster: "5", InGit: "2"},
			{Path: ".spec.template.spec.containers[name=app].image", InCluster: `"nginx:2"`, InGit: `"nginx:1"`},
		}},
		"atomic list": {live: deployment(2, "nginx:1", func(o map[string]any) {
			c := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
			c[1].(map[string]any)["args"] = []any{"a"}
		}), want: []Diff{{Path: ".spec.template.spec.containers[name=app].args", InCluster: `["a"]`, InGit: `["a","b"]`}}},
		"missing item reported once": {live: deployment(2, "nginx:1", func(o map[string]any) {
			s := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			s["containers"] = s["containers"].([]any)[1:]
		}), want: []Diff{{Path: ".spec.template.spec.containers[name=side]", InGit: `{"image":"busybox","imagePullPolicy":"Always","name":"side"}`}}},
		"emptyDir filled by others is not drift": {live: deployment(2, "nginx:1", func(o map[string]any) {
			s := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			s["volumes"] = []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{"medium": "Memory"}}}
		})},
		"label key with dots": {live: deployment(2, "nginx:1", func(o map[string]any) {
			o["metadata"].(map[string]any)["labels"] = map[string]any{}
		}), want: []Diff{{Path: `.metadata.labels["app.kubernetes.io/managed-by"]`, InGit: `"gitfleet"`}}},
		"ignored": {live: deployment(5, "nginx:2", nil), opts: Options{Ignore: mustPatterns(t, "spec.replicas, .spec.template.spec.containers[*].image")}},
		"redacted": {live: deployment(5, "nginx:1", nil), opts: Options{Redact: true}, want: []Diff{
			{Path: ".spec.replicas", InCluster: `"(redacted)"`, InGit: `"(redacted)"`}}},
		"gone": {live: nil, want: []Diff{{Path: ".", InGit: "(object)"}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := Compare(owned, applied, tc.live, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compare() (-want +got):\n%s", diff)
			}
		})
	}
}

func mustPatterns(t *testing.T, s string) []Pattern {
	t.Helper()
	p, errs := ParsePatterns(s)
	if len(errs) > 0 {
		t.Fatalf("ParsePatterns(%q) = %v", s, errs)
	}
	return p
}

func TestParsePattern(t *testing.T) {
	for in, want := range map[string]string{
		".spec.replicas":                          ".spec.replicas",
		"spec.replicas":                           ".spec.replicas",
		"/spec/replicas":                          ".spec.replicas",
		"/metadata/labels/a.b~1c":                 `.metadata.labels["a.b/c"]`,
		`.metadata.labels["app.kubernetes.io/x"]`: `.metadata.labels["app.kubernetes.io/x"]`,
		".spec.containers[name=app].image":        ".spec.containers[name=app].image",
		".spec.containers[*].image":               ".spec.containers[*].image",
		"/spec/args/0":                            ".spec.args[0]",
	} {
		p, err := ParsePattern(in)
		if err != nil {
			t.Errorf("ParsePattern(%q) = %v", in, err)
			continue
		}
		if got := p.String(); got != want {
			t.Errorf("ParsePattern(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{".spec..x", ".spec[unclosed", `.spec["unterminated]`} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) = nil error, want one", bad)
		}
	}
	pats, errs := ParsePatterns(`.a, .b[k=1,j=2] ,, .c["x,y"]`)
	if len(errs) != 0 || len(pats) != 3 {
		t.Errorf("ParsePatterns() = %v, %v; want 3 patterns", pats, errs)
	}
}

func TestOwnedFields(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"managedFields": []any{
		map[string]any{"manager": "gitfleet", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:data": map[string]any{"f:a": map[string]any{}}}},
		map[string]any{"manager": "gitfleet", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:data": map[string]any{"f:b": map[string]any{}}}},
		map[string]any{"manager": "other", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:data": map[string]any{"f:c": map[string]any{}}}},
	}}}}
	set, err := OwnedFields(u, "gitfleet")
	if err != nil {
		t.Fatal(err)
	}
	if got := set.String(); got != ".data.a" {
		t.Errorf("OwnedFields() = %q, want .data.a", got)
	}
}

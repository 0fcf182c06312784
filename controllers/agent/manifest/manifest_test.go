package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"gitfleet.json":                    `{"source":{"repository":"r","commit":"abc"},"stage":"dev"}`,
		"clusters/c1/web/ns/b.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: ns\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ns\n",
		"clusters/c1/web/ns/a.json":        `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","namespace":"ns"}}`,
		"clusters/c1/web/ns/list.yaml":     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s\n    namespace: ns\n",
		"clusters/c1/web/ns/README.md":     "not a manifest",
		"clusters/c1/.hidden/x.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hidden\n",
		"clusters/c1/web/ns/noname.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		"clusters/c1/web/ns/dup.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: ns\n",
		"clusters/c1/web/ns/broken.yaml":   "apiVersion: v1\nkind: [\n",
		"clusters/c2/other/ns/other.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
		"clusters/c1/web/ns/generate.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: g-\n",
	})
	set, err := Load(root, "clusters/c1/")
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	var names []string
	for _, o := range set.Objects {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	want := []string{"Secret/a", "ConfigMap/b", "ConfigMap/c", "Service/s"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Load() objects (-want +got):\n%s", diff)
	}
	if got := set.Files[Key{Kind: "Service", Namespace: "ns", Name: "s"}]; got != "web/ns/list.yaml" {
		t.Errorf("Files[Service ns/s] = %q, want web/ns/list.yaml", got)
	}
	var errs []string
	for _, e := range set.Errors {
		errs = append(errs, e.Error())
	}
	joined := strings.Join(errs, "\n")
	for _, want := range []string{"broken.yaml: document 1", "dup.yaml: ConfigMap ns/b is also defined in web/ns/b.yaml",
		"noname.yaml: document 1: ConfigMap has no metadata.name", "generate.yaml: document 1: ConfigMap with generateName"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Load() errors = %q, want one containing %q", joined, want)
		}
	}
	if _, err := Load(root, "clusters/missing"); err == nil || !strings.Contains(err.Error(), ErrPathNotFound.Error()) {
		t.Errorf("Load(missing) = %v, want ErrPathNotFound", err)
	}
}

func TestReadInfo(t *testing.T) {
	root := t.TempDir()
	if got := ReadInfo(root); !reflect.DeepEqual(got, Info{}) {
		t.Errorf("ReadInfo(no file) = %+v, want empty", got)
	}
	write(t, root, map[string]string{InfoFile: "{not json"})
	if got := ReadInfo(root); !reflect.DeepEqual(got, Info{}) {
		t.Errorf("ReadInfo(bad json) = %+v, want empty", got)
	}
	write(t, root, map[string]string{InfoFile: `{"source":{"repository":"https://x/y.git","commit":"abc"},"stage":"prod","tools":{"helm":"3"}}`})
	got := ReadInfo(root)
	if got.Source.Commit != "abc" || got.Source.Repository != "https://x/y.git" || got.Stage != "prod" {
		t.Errorf("ReadInfo() = %+v", got)
	}
}

func TestPhases(t *testing.T) {
	for name, tc := range map[string]struct {
		gk         schema.GroupKind
		namespaced bool
		want       Phase
	}{
		"crd":         {schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}, false, PhaseCRDs},
		"namespace":   {schema.GroupKind{Kind: "Namespace"}, false, PhaseNamespaces},
		"clusterrole": {schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, false, PhaseClusterScoped},
		"deployment":  {schema.GroupKind{Group: "apps", Kind: "Deployment"}, true, PhaseNamespaced},
		"webhook":     {schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}, false, PhaseAdmission},
		"apiservice":  {schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}, false, PhaseAdmission},
		"custom":      {schema.GroupKind{Group: "example.com", Kind: "Widget"}, true, PhaseNamespaced},
	} {
		if got := PhaseOf(tc.gk, tc.namespaced); got != tc.want {
			t.Errorf("%s: PhaseOf(%v, %v) = %v, want %v", name, tc.gk, tc.namespaced, got, tc.want)
		}
	}
	objs := []*unstructured.Unstructured{obj("apps/v1", "Deployment"), obj("v1", "Namespace"),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition"), obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")}
	fixed, rest := SplitFixed(objs)
	if len(fixed[PhaseCRDs]) != 1 || len(fixed[PhaseNamespaces]) != 1 || len(fixed[PhaseAdmission]) != 1 || len(rest) != 1 {
		t.Errorf("SplitFixed() = %v, %v", fixed, rest)
	}
	order := PruneOrder()
	if order[0] != PhaseAdmission || order[len(order)-1] != PhaseCRDs {
		t.Errorf("PruneOrder() = %v, want admission first and CRDs last", order)
	}
}

func obj(apiVersion, kind string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName("x")
	return u
}

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{Kind: "ConfigMap", Namespace: "ns", Name: "a"}, "ConfigMap ns/a"},
		{Key{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "a"}, "Deployment.apps ns/a"},
		{Key{Kind: "Namespace", Name: "ns"}, "Namespace ns"},
	} {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.k, got, tc.want)
		}
	}
}

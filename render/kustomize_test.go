package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func kustomizeSpec(path string) *fleetv1.PlacementSpec {
	return &fleetv1.PlacementSpec{Kustomize: &fleetv1.KustomizeSource{Path: path}}
}

func TestKustomizeOverlay(t *testing.T) {
	objs := mustRender(t, New(Options{}), input("shop", kustomizeSpec("kustomize/overlays/prod")), newCluster)

	var cmName string
	for _, o := range objs {
		if o.ID.Kind == "ConfigMap" {
			cmName = o.ID.Name
		}
	}
	if !strings.HasPrefix(cmName, "shop-config-") {
		t.Fatalf("configMapGenerator: ConfigMap %q, want shop-config-<hash>", cmName)
	}
	want := []string{
		"v1 Namespace shop-prod",
		"rbac.authorization.k8s.io/v1 ClusterRole shop-reader",
		"v1 ConfigMap shop-prod/" + cmName,
		"v1 Service shop-prod/shop",
		"apps/v1 Deployment shop-prod/shop",
		"monitoring.coreos.com/v1 PodMonitor shop-prod/shop",
	}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Errorf("Render(kustomize/overlays/prod) objects (-want +got):\n%s", diff)
	}

	d := mustFind(t, objs, "Deployment", "shop")
	if got := str(t, d, "spec", "replicas"); got != "3" {
		t.Errorf("patches (file): replicas = %s, want 3", got)
	}
	if got := d.GetAnnotations()["prometheus.io/scrape"]; got != "true" {
		t.Errorf("component patch: annotation prometheus.io/scrape = %q, want true", got)
	}
	containers, _, _ := unstructuredSlice(d.Object, "spec", "template", "spec", "containers")
	c0 := containers[0].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"name": "ENVIRONMENT", "value": "prod"}}, c0["env"]); diff != "" {
		t.Errorf("patches (inline JSON 6902): env (-want +got):\n%s", diff)
	}
	ref := c0["envFrom"].([]any)[0].(map[string]any)["configMapRef"].(map[string]any)["name"]
	if ref != cmName {
		t.Errorf("envFrom configMapRef = %v, want the generated name %s", ref, cmName)
	}
	cm := mustFind(t, objs, "ConfigMap", cmName)
	for k, v := range map[string]string{"LOG_LEVEL": "warn", "REGION": "eu"} {
		if got := str(t, cm, "data", k); got != v {
			t.Errorf("configMapGenerator merge: data.%s = %q, want %q", k, got, v)
		}
	}
	if got := str(t, cm, "data", "app.properties"); !strings.Contains(got, "cart.ttl=30m") {
		t.Errorf("configMapGenerator files: app.properties = %q", got)
	}
	if got := d.GetLabels()["app.kubernetes.io/name"]; got != "shop" {
		t.Errorf("labels: app.kubernetes.io/name = %q, want shop", got)
	}
}

func TestKustomizeTargetNamespace(t *testing.T) {
	spec := kustomizeSpec("kustomize/base")
	spec.TargetNamespace = "shop-dev"
	objs := mustRender(t, New(Options{}), input("shop", spec), newCluster)
	for _, o := range objs {
		wantNS := "shop-dev"
		if o.ID.Kind == "ClusterRole" {
			wantNS = ""
		}
		if o.ID.Namespace != wantNS {
			t.Errorf("%s: namespace %q, want %q", o.ID, o.ID.Namespace, wantNS)
		}
	}
}

func TestKustomizeErrors(t *testing.T) {
	// A kustomization in a copy of the tree whose resource is a symlink to a file outside.
	root := copyTree(t, filepath.Join(testRoot, "kustomize"))
	outside := filepath.Join(filepath.Dir(root), "outside.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(root, "link")
	if err := os.MkdirAll(linkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(linkDir, "stolen.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(linkDir, "kustomization.yaml"), []byte("resources:\n  - stolen.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A base that is a symlink to a folder outside the tree.
	if err := os.Symlink(filepath.Dir(root), filepath.Join(root, "outside-base")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "link-base"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "link-base", "kustomization.yaml"), []byte("resources:\n  - ../outside-base\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		root      string
		path      string
		target    error
		fragments []string
	}{
		"missing resource": {
			path:      "kustomize/broken",
			target:    ErrRender,
			fragments: []string{"kustomize build kustomize/broken", "missing.yaml"},
		},
		"remote base": {
			path:      "kustomize/remote",
			target:    ErrRemoteRefused,
			fragments: []string{`kustomize/remote/kustomization.yaml: resources entry "github.com/example/shop//deploy?ref=v1.0.0": remote references are refused`},
		},
		"base outside the tree": {
			path:      "kustomize/escape",
			target:    ErrOutsideRoot,
			fragments: []string{`kustomize/escape/kustomization.yaml: resources entry "../../../../..": path escapes the source tree`},
		},
		"path outside the tree": {
			path:      "../..",
			target:    ErrOutsideRoot,
			fragments: []string{"kustomize ../..", "path escapes the source tree"},
		},
		"symlinked file outside the tree": {
			root:      root,
			path:      "link",
			target:    ErrOutsideRoot,
			fragments: []string{`kustomize link: link/kustomization.yaml: resources entry "stolen.yaml": path escapes the source tree`},
		},
		"symlinked base outside the tree": {
			root:      root,
			path:      "link-base",
			target:    ErrOutsideRoot,
			fragments: []string{`link-base/kustomization.yaml: resources entry "../outside-base": path escapes the source tree`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := input("shop", kustomizeSpec(tc.path))
			if tc.root != "" {
				in.Root = tc.root
			}
			err := renderErr(t, New(Options{}), in, newCluster)
			wantErr(t, err, tc.target, tc.fragments...)
			if !strings.Contains(err.Error(), "stolen") && strings.Contains(err.Error(), filepath.Dir(root)+"/outside") {
				t.Errorf("error %q names a host path", err)
			}
		})
	}
}

func TestIsRemote(t *testing.T) {
	for ref, want := range map[string]bool{
		"../base":                                  false,
		"deployment.yaml":                          false,
		"user@example.yaml":                        false,
		"https://example.com/deploy.yaml":          true,
		"HTTP://example.com/x":                     true,
		"git::https://example.com/repo.git":        true,
		"ssh://git@example.com/repo.git":           true,
		"file:///tmp/repo":                         true,
		"git@github.com:example/shop.git//deploy":  true,
		"github.com/example/shop//deploy?ref=v1.0": true,
	} {
		if got := isRemote(ref); got != want {
			t.Errorf("isRemote(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestKustomizeRemoteInPatchAndPlugin(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/kustomization.yaml", "resources:\n  - ../b\n")
	write("b/kustomization.yaml", "patches:\n  - path: https://example.com/patch.yaml\n")
	write("c/kustomization.yaml", "transformers:\n  - |-\n    apiVersion: builtin\n    kind: PatchTransformer\n    metadata:\n      name: p\n    path: https://example.com/patch.yaml\n")
	for path, frag := range map[string]string{
		"a": `b/kustomization.yaml: patches.path entry "https://example.com/patch.yaml"`,
		"c": `c/kustomization.yaml: transformers entry: path "https://example.com/patch.yaml"`,
	} {
		in := Input{Root: root, Placement: "p", Spec: kustomizeSpec(path)}
		err := renderErr(t, New(Options{}), in, newCluster)
		wantErr(t, err, ErrRemoteRefused, frag)
	}
}

// The scan above refuses escaping references before krusty runs; the file system krusty
// runs on refuses them again, for anything the scan does not know about.
func TestConfinedFS(t *testing.T) {
	root := t.TempDir()
	inside := filepath.Join(root, "repo")
	if err := os.MkdirAll(filepath.Join(inside, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inside, "app", "ok.yaml"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(inside, "app", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	tr, err := newTree(inside)
	if err != nil {
		t.Fatal(err)
	}
	fsys := newConfinedFS(tr)
	app := filepath.Join(tr.root, "app")
	if data, err := fsys.ReadFile(filepath.Join(app, "ok.yaml")); err != nil || string(data) != "ok" {
		t.Errorf("ReadFile(ok.yaml) = %q, %v; want ok", data, err)
	}
	if _, err := fsys.ReadFile(filepath.Join(app, "link.yaml")); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("ReadFile(link.yaml) error = %v, want ErrOutsideRoot", err)
	}
	if _, err := fsys.ReadFile(filepath.Join(app, "..", "..", "secret.txt")); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("ReadFile(../../secret.txt) error = %v, want ErrOutsideRoot", err)
	}
	if fsys.Exists(filepath.Join(root, "secret.txt")) || fsys.IsDir(root) {
		t.Errorf("Exists/IsDir report paths outside the tree")
	}
	if _, _, err := fsys.CleanedAbs(root); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("CleanedAbs(outside) error = %v, want ErrOutsideRoot", err)
	}
	matches, err := fsys.Glob(filepath.Join(app, "*.yaml"))
	if err != nil || len(matches) != 1 || filepath.Base(matches[0]) != "ok.yaml" {
		t.Errorf("Glob(app/*.yaml) = %v, %v; want only ok.yaml", matches, err)
	}
	if err := fsys.WriteFile(filepath.Join(app, "new.yaml"), nil); !errors.Is(err, errReadOnly) {
		t.Errorf("WriteFile error = %v, want errReadOnly", err)
	}
	if fsys.escape() == nil {
		t.Errorf("escape() = nil after refused reads")
	}
}

//go:build integration

package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/binaries"
)

// The parity tests run the real tools as oracles: gitfleet's output must equal theirs
// object for object, apart from the provenance annotations gitfleet adds.

// kubectlPath is the kubectl whose `kubectl kustomize` is the kustomize oracle.
const kubectlPath = "/usr/bin/kubectl"

// withoutProvenance returns gitfleet's objects keyed by ID, with the provenance
// annotations (and an annotations map they leave empty) removed.
func withoutProvenance(objs []Object) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		u := o.Object.DeepCopy()
		ann := u.GetAnnotations()
		delete(ann, fleetv1.PlacementAnnotation)
		delete(ann, fleetv1.SourceRevisionAnnotation)
		if len(ann) == 0 {
			ann = nil
		}
		u.SetAnnotations(ann)
		out[o.ID.String()] = u.Object
	}
	return out
}

// oracleObjects decodes a tool's YAML output, keyed by ID.
func oracleObjects(t *testing.T, tool string, data []byte) map[string]map[string]any {
	t.Helper()
	objs, err := decodeManifests(tool, data)
	if err != nil {
		t.Fatalf("decoding the output of %s: %v", tool, err)
	}
	out := map[string]map[string]any{}
	for _, u := range objs {
		id := objectID(u).String()
		if _, dup := out[id]; dup {
			t.Fatalf("%s printed %s twice", tool, id)
		}
		out[id] = u.Object
	}
	return out
}

func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return stdout.Bytes()
}

func keys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func compareWithOracle(t *testing.T, tool string, want map[string]map[string]any, objs []Object) {
	t.Helper()
	got := withoutProvenance(objs)
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Fatalf("objects differ from %s (-%s +gitfleet):\n%s", tool, tool, diff)
	}
	for id, w := range want {
		if diff := cmp.Diff(w, got[id]); diff != "" {
			t.Errorf("%s differs from %s (-%s +gitfleet):\n%s", id, tool, tool, diff)
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s printed no objects", tool)
	}
}

func TestParityHelmTemplate(t *testing.T) {
	helm, err := binaries.Helm.Path(context.Background(), os.Stderr)
	if err != nil {
		t.Fatalf("building the helm CLI: %v", err)
	}
	home := t.TempDir()
	env := []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
	values := map[string]any{"image": map[string]any{"tag": "2.0.0"}, "podAnnotations": map[string]any{"team": "shop"}}

	for name, tc := range map[string]struct {
		helm      fleetv1.HelmSource
		namespace string
		cluster   Cluster
	}{
		"web chart, kubernetes 1.22, no monitoring API": {
			helm:      fleetv1.HelmSource{Path: "charts/web", ValuesFiles: []string{"values-prod.yaml"}, Values: rawJSON(t, values)},
			namespace: "web", cluster: oldCluster,
		},
		"web chart, kubernetes 1.30 with monitoring API": {
			helm:      fleetv1.HelmSource{Path: "charts/web", ValuesFiles: []string{"values-prod.yaml"}, Values: rawJSON(t, values)},
			namespace: "web", cluster: newCluster,
		},
		"web chart, release name, default namespace, subchart disabled": {
			helm: fleetv1.HelmSource{Path: "charts/web", ReleaseName: "front",
				Values: rawJSON(t, map[string]any{"metrics": map[string]any{"enabled": false}})},
			cluster: newCluster,
		},
		"web chart without CRDs": {
			helm:      fleetv1.HelmSource{Path: "charts/web", SkipCRDs: true},
			namespace: "web", cluster: newCluster,
		},
		"common chart": {
			helm:      fleetv1.HelmSource{Path: "charts/common"},
			namespace: "tools", cluster: oldCluster,
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &fleetv1.PlacementSpec{Helm: &tc.helm, TargetNamespace: tc.namespace}
			objs := mustRender(t, New(Options{}), input("shop", spec), tc.cluster)

			release := tc.helm.ReleaseName
			if release == "" {
				release = "shop"
			}
			namespace := tc.namespace
			if namespace == "" {
				namespace = "default"
			}
			chartDir := filepath.Join(testRoot, tc.helm.Path)
			args := []string{"template", release, chartDir, "--namespace", namespace, "--skip-tests"}
			if !tc.helm.SkipCRDs {
				args = append(args, "--include-crds")
			}
			if tc.cluster.KubernetesVersion != "" {
				args = append(args, "--kube-version", tc.cluster.KubernetesVersion)
			}
			for _, v := range tc.cluster.APIVersions {
				args = append(args, "--api-versions", v)
			}
			for _, f := range tc.helm.ValuesFiles {
				args = append(args, "-f", filepath.Join(chartDir, f))
			}
			if tc.helm.Values != nil {
				// Not t.TempDir(): helm splits -f at commas, and test names have some.
				dir, err := os.MkdirTemp("", "gitfleet-values-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				f := filepath.Join(dir, "values.json")
				if err := os.WriteFile(f, tc.helm.Values.Raw, 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", f)
			}
			want := oracleObjects(t, "helm template", run(t, env, helm, args...))
			compareWithOracle(t, "helm template", want, objs)
		})
	}
}

func TestParityKubectlKustomize(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Fatalf("kubectl is required for the kustomize parity test: %v", err)
	}
	for _, path := range []string{"kustomize/overlays/prod", "kustomize/base", "kustomize/secret-generator"} {
		t.Run(path, func(t *testing.T) {
			spec := kustomizeSpec(path)
			spec.AllowSecrets = true
			objs := mustRender(t, New(Options{}), input("shop", spec), newCluster)
			want := oracleObjects(t, "kubectl kustomize", run(t, nil, kubectlPath, "kustomize", filepath.Join(testRoot, path)))
			compareWithOracle(t, "kubectl kustomize", want, objs)
		})
	}
}

func TestParityOutputIsStable(t *testing.T) {
	// Same inputs, byte-identical output, across Renderers (no cache shared).
	render := func() string {
		var b bytes.Buffer
		for _, spec := range []*fleetv1.PlacementSpec{webSpec(), kustomizeSpec("kustomize/overlays/prod"), dirSpec("manifests", true)} {
			for _, o := range mustRender(t, New(Options{}), input("shop", spec), newCluster) {
				fmt.Fprintf(&b, "# %s\n%s", o.FilePath("c", "shop"), o.YAML)
			}
		}
		return b.String()
	}
	if a, b := render(), render(); a != b {
		t.Errorf("two renders of the same inputs differ:\n%s", cmp.Diff(a, b))
	}
}

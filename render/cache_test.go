package render

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// fleet returns n clusters named c-000... with the given kube versions in turn.
func fleet(n int, versions ...string) []Cluster {
	out := make([]Cluster, n)
	for i := range out {
		out[i] = Cluster{
			Name:              fmt.Sprintf("c-%03d", i),
			Labels:            map[string]string{"region": []string{"eu", "us"}[i%2]},
			KubernetesVersion: versions[i%len(versions)],
		}
	}
	return out
}

func statsOf(r *Renderer) CacheStats { return r.Cache().Stats() }

func TestCacheRendersOncePerInputs(t *testing.T) {
	perCluster := []fleetv1.OverrideRule{{
		Name:      "cluster-label",
		Target:    &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment"},
		JSONPatch: []fleetv1.JSONPatchOperation{{Op: "add", Path: "/metadata/labels/cluster", Value: rawJSON(t, "${CLUSTER_NAME}")}},
	}}
	helm := webSpec()
	helm.Overrides = perCluster
	kust := kustomizeSpec("kustomize/overlays/prod")
	kust.Overrides = perCluster

	for name, tc := range map[string]struct {
		spec       *fleetv1.PlacementSpec
		versions   []string
		wantMisses uint64
		deployment string
	}{
		"helm, one kube version":  {spec: helm, versions: []string{"1.30.0"}, wantMisses: 1, deployment: "shop-web"},
		"helm, two kube versions": {spec: helm, versions: []string{"1.30.0", "1.22.0"}, wantMisses: 2, deployment: "shop-web"},
		"kustomize, two versions": {spec: kust, versions: []string{"1.30.0", "1.22.0"}, wantMisses: 1, deployment: "shop"},
		"directory, two versions": {spec: dirSpec("manifests", true), versions: []string{"1.30.0", "1.22.0"}, wantMisses: 1},
	} {
		t.Run(name, func(t *testing.T) {
			r := New(Options{})
			src, err := r.Load(t.Context(), input("shop", tc.spec))
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			clusters := fleet(500, tc.versions...)
			for _, c := range clusters {
				objs, err := src.Render(t.Context(), c)
				if err != nil {
					t.Fatalf("Render(%s) = %v", c.Name, err)
				}
				if tc.deployment != "" {
					if got := mustFind(t, objs, "Deployment", tc.deployment).GetLabels()["cluster"]; got != c.Name {
						t.Fatalf("Render(%s): per-cluster patch label = %q", c.Name, got)
					}
				}
			}
			s := statsOf(r)
			if s.Misses != tc.wantMisses || s.Hits != 500-tc.wantMisses {
				t.Errorf("after 500 clusters: stats %+v, want %d renders (misses) and %d hits", s, tc.wantMisses, 500-tc.wantMisses)
			}
		})
	}
}

func TestCachePerClusterHelmValuesRenderEach(t *testing.T) {
	spec := webSpec()
	spec.Overrides = []fleetv1.OverrideRule{
		{Name: "name", HelmValues: rawJSON(t, map[string]any{"env": map[string]any{"CLUSTER": "${CLUSTER_NAME}"}})},
		{Name: "eu-only", ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}},
			HelmValues: rawJSON(t, map[string]any{"replicaCount": 2})},
	}
	r := New(Options{})
	src, err := r.Load(t.Context(), input("shop", spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fleet(20, "1.30.0") {
		if _, err := src.Render(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Render(t.Context(), c); err != nil { // again: a hit
			t.Fatal(err)
		}
	}
	if s := statsOf(r); s.Misses != 20 || s.Hits != 20 {
		t.Errorf("stats %+v, want 20 misses (one per cluster's values) and 20 hits", s)
	}
}

func TestCacheConcurrentRendersShareOne(t *testing.T) {
	r := New(Options{})
	src, err := r.Load(t.Context(), input("shop", webSpec()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, c := range fleet(64, "1.30.0") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := src.Render(t.Context(), c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := statsOf(r); s.Misses != 1 || s.Hits != 63 {
		t.Errorf("64 concurrent renders: stats %+v, want 1 miss and 63 hits", s)
	}
}

func TestCacheKeyFollowsContent(t *testing.T) {
	root := copyTree(t, testRoot)
	r := New(Options{})
	in := input("shop", webSpec())
	in.Root = root
	c := fleet(1, "1.30.0")[0]

	mustRender(t, r, in, c)
	mustRender(t, r, in, c) // a new Load of the same content: a hit
	if s := statsOf(r); s.Misses != 1 || s.Hits != 1 {
		t.Fatalf("same content loaded twice: stats %+v, want 1 miss, 1 hit", s)
	}
	values := filepath.Join(root, "charts", "web", "values.yaml")
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(values, append(data, []byte("extra: true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRender(t, r, in, c)
	if s := statsOf(r); s.Misses != 2 {
		t.Errorf("after changing the chart: stats %+v, want a second miss", s)
	}
	// A change outside the kustomization's folders does not invalidate it.
	kin := input("shop", kustomizeSpec("kustomize/overlays/prod"))
	kin.Root = root
	mustRender(t, r, kin, c)
	if err := os.WriteFile(filepath.Join(root, "manifests", "new.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRender(t, r, kin, c)
	if s := statsOf(r); s.Misses != 3 || s.Hits != 2 {
		t.Errorf("kustomize after an unrelated change: stats %+v, want 3 misses, 2 hits", s)
	}
	// A change in its base does.
	if err := os.WriteFile(filepath.Join(root, "kustomize", "base", "config", "app.properties"), []byte("cart.ttl=1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRender(t, r, kin, c)
	if s := statsOf(r); s.Misses != 4 {
		t.Errorf("kustomize after a change in its base: stats %+v, want 4 misses", s)
	}
}

func TestCacheBounds(t *testing.T) {
	r := New(Options{Cache: NewCache(2, 0)})
	src, err := r.Load(t.Context(), input("shop", webSpec()))
	if err != nil {
		t.Fatal(err)
	}
	clusters := fleet(3, "1.28.0", "1.29.0", "1.30.0")
	for _, c := range clusters {
		if _, err := src.Render(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	s := statsOf(r)
	if s.Entries != 2 || s.Evictions != 1 || s.Misses != 3 {
		t.Errorf("3 renders in a 2-entry cache: stats %+v, want 2 entries, 1 eviction, 3 misses", s)
	}
	if _, err := src.Render(t.Context(), clusters[0]); err != nil { // evicted: renders again
		t.Fatal(err)
	}
	if s := statsOf(r); s.Misses != 4 {
		t.Errorf("the least recently used render was not evicted: stats %+v", s)
	}

	tiny := New(Options{Cache: NewCache(10, 16)})
	for range 2 {
		mustRender(t, tiny, input("shop", webSpec()), clusters[0])
	}
	if s := statsOf(tiny); s.Entries != 0 || s.Misses != 2 || s.Bytes != 0 {
		t.Errorf("renders larger than the byte bound: stats %+v, want none kept", s)
	}
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	r := New(Options{})
	in := input("app", helmSpec(&fleetv1.HelmSource{Path: "charts/broken-template"}))
	for range 2 {
		_ = renderErr(t, r, in, oldCluster) // renderErr fails the test when no error comes back
	}
	if s := statsOf(r); s.Misses != 2 || s.Entries != 0 {
		t.Errorf("stats %+v, want failed renders not cached", s)
	}
}

package render

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// benchClusters is the fleet size of the benchmarks.
const benchClusters = 1000

// benchFleet returns 1000 clusters in two regions, on two Kubernetes versions, each with
// its own replica share.
func benchFleet() []Cluster {
	out := make([]Cluster, benchClusters)
	for i := range out {
		replicas := int32(1 + i%5)
		out[i] = Cluster{
			Name:              fmt.Sprintf("cluster-%04d", i),
			Labels:            map[string]string{"region": []string{"eu", "us"}[i%2], "env": "prod"},
			Properties:        map[string]string{"mirror": []string{"eu.example.com", "us.example.com"}[i%2]},
			KubernetesVersion: []string{"1.30.2", "1.31.0"}[(i/2)%2],
			APIVersions:       newCluster.APIVersions,
			Replicas:          &replicas,
		}
	}
	return out
}

// benchOverrides are per-cluster rules: a label and the replica share on every
// Deployment, and a region's image mirror.
func benchOverrides(b *testing.B, container string) []fleetv1.OverrideRule {
	return []fleetv1.OverrideRule{
		{
			Name:   "per-cluster",
			Target: &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment"},
			JSONPatch: []fleetv1.JSONPatchOperation{
				{Op: "add", Path: "/metadata/labels/cluster", Value: rawJSON(b, "${CLUSTER_NAME}")},
				{Op: "replace", Path: "/spec/replicas", Value: rawJSON(b, "${CLUSTER_REPLICAS}")},
			},
		},
		{
			Name:            "eu-mirror",
			ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}},
			Target:          &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment"},
			JSONPatch: []fleetv1.JSONPatchOperation{{Op: "replace", Path: "/spec/template/spec/containers/0/image",
				Value: rawJSON(b, "mirror.${CLUSTER_PROPERTY[mirror]}/"+container)}},
		},
	}
}

// benchRender renders the input for the whole fleet once per iteration, with a fresh
// Renderer (a cold cache) unless warm is set.
func benchRender(b *testing.B, in Input, warm bool) {
	clusters := benchFleet()
	ctx := context.Background()
	r := New(Options{})
	var renders uint64
	b.ReportAllocs()
	for b.Loop() {
		if !warm {
			r = New(Options{})
		}
		before := r.Cache().Stats().Misses
		src, err := r.Load(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range clusters {
			objs, err := src.Render(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			if len(objs) == 0 {
				b.Fatal("no objects")
			}
		}
		renders += r.Cache().Stats().Misses - before
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchClusters), "ns/cluster")
	b.ReportMetric(float64(renders)/float64(b.N), "renders/op")
}

// BenchmarkRenderHelmFleet renders the web chart (vendored subchart, CRDs, hooks) for
// 1000 clusters: two regions' helmValues times two Kubernetes versions make four
// distinct renders; JSON patches differ per cluster.
func BenchmarkRenderHelmFleet(b *testing.B) {
	spec := webSpec()
	spec.Overrides = append(benchOverrides(b, "web:1.27.0"), fleetv1.OverrideRule{
		Name: "region-env", HelmValues: rawJSON(b, map[string]any{"env": map[string]any{"REGION": "${CLUSTER_LABEL[region]}"}}),
	})
	benchRender(b, input("shop", spec), false)
}

// BenchmarkRenderHelmFleetWarm is BenchmarkRenderHelmFleet with the cache kept between
// iterations: a new revision that leaves the chart and values unchanged.
func BenchmarkRenderHelmFleetWarm(b *testing.B) {
	spec := webSpec()
	spec.Overrides = benchOverrides(b, "web:1.27.0")
	benchRender(b, input("shop", spec), true)
}

// BenchmarkRenderHelmFleetPerClusterValues is the worst case: helmValues that differ for
// every cluster, so each of the 1000 clusters renders the chart.
func BenchmarkRenderHelmFleetPerClusterValues(b *testing.B) {
	spec := webSpec()
	spec.Overrides = []fleetv1.OverrideRule{{
		Name: "per-cluster-values", HelmValues: rawJSON(b, map[string]any{"env": map[string]any{"CLUSTER": "${CLUSTER_NAME}"}}),
	}}
	benchRender(b, input("shop", spec), false)
}

// BenchmarkRenderKustomizeFleet renders the prod overlay (base, component, patches,
// configMapGenerator) for 1000 clusters with per-cluster JSON patches: one render.
func BenchmarkRenderKustomizeFleet(b *testing.B) {
	spec := kustomizeSpec("kustomize/overlays/prod")
	spec.Overrides = benchOverrides(b, "shop:2.4.1")
	benchRender(b, input("shop", spec), false)
}

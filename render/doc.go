// Package render turns a checked-out source tree and a Placement into the Kubernetes
// objects one member cluster gets: it renders Helm charts (Helm v3 SDK), kustomizations
// (krusty) and plain manifest folders, applies the placement's and the fleet's override
// rules for that cluster, sets namespaces and provenance annotations, refuses plaintext
// Secrets, and returns the objects normalised (canonical YAML) and sorted.
//
// The package is pure: it needs no API server and touches no network, except to fetch a
// chart from a chart repository named by helm.repoURL. Every path it reads is confined to
// the source tree; remote kustomize bases are refused.
//
// Rendering happens in two steps so that a fleet of clusters shares the expensive part:
//
//	r := render.New(render.Options{})
//	src, err := r.Load(ctx, render.Input{Root: dir, Placement: "web", Spec: &pl.Spec, ...})
//	for _, c := range clusters {
//		objs, err := src.Render(ctx, c) // cached: same inputs render once
//		...
//	}
//
// Load reads and hashes the source once per placement and revision; Render runs per cluster
// and goes through the Renderer's Cache, keyed by the content hash of the source, the
// effective Helm values and the cluster facts a chart can see. Override patches and deletes
// run after the cache on copies, so clusters that differ only by patches render once.
//
// See docs/rendering.md for the user-facing rules.
package render

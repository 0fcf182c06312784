package agent

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/gitfleet/gitfleet/controllers/agent/health"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

func deployment(generation, observed int64, available bool) *unstructured.Unstructured {
	status := map[string]any{"observedGeneration": observed, "replicas": int64(1), "updatedReplicas": int64(1), "readyReplicas": int64(1), "availableReplicas": int64(1)}
	if available {
		status["conditions"] = []any{map[string]any{"type": "Available", "status": "True"}, map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "app", "generation": generation, "labels": map[string]any{"sel": "x"}},
		"spec":     map[string]any{"replicas": int64(1)},
		"status":   status,
	}}
}

// TestHealthWaitsForTheWatchToCatchUp: right after an apply changed a Deployment, the
// watch may still hold the old object, ready for its old spec. Its health must come from
// the apply's answer (a new generation not observed yet) until the watch catches up, so
// the agent never reports success for a rollout that has not happened.
func TestHealthWaitsForTheWatchToCatchUp(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	old := deployment(1, 1, true)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "DeploymentList"}, old)
	w := newWatchSet(dyn, "sel=x", func(schema.GroupVersionResource, manifest.Key) {})
	defer w.stop()
	w.ensure(map[schema.GroupVersionResource]schema.GroupKind{gvr: {Group: "apps", Kind: "Deployment"}})
	if err := w.waitSynced(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st := &syncState{watches: w}
	key := manifest.Key{Group: "apps", Kind: "Deployment", Namespace: "app", Name: "web"}
	if obj, found, ok := w.get(gvr, key); !ok || !found || obj.GetGeneration() != 1 {
		t.Fatalf("watch cache = %v %v %v, want the old Deployment", obj, found, ok)
	}

	rec := &record{gvr: gvr, applied: deployment(2, 1, true)}
	if res := health.Check(liveOrApplied(st, key, rec)); res.Status == health.Current {
		t.Errorf("health with the watch behind the apply = %+v, want not current (generation 2 not observed)", res)
	}
	// Once the watch holds the applied generation (or a newer one), it is the truth.
	if got := liveOrApplied(st, key, &record{gvr: gvr, applied: deployment(1, 1, true)}); got.GetGeneration() != 1 || got == nil {
		t.Errorf("liveOrApplied with the watch current = %v, want the watch's copy", got)
	}
	if res := health.Check(deployment(2, 2, true)); res.Status != health.Current {
		t.Errorf("health of the rolled-out Deployment = %+v, want current", res)
	}
}

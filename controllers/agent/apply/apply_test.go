package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitfleet/gitfleet/controllers/agent/drift"
)

func TestDesired(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "a", "namespace": "ns", "resourceVersion": "7", "uid": "u",
			"labels": map[string]any{"app": "x"}, "managedFields": []any{}},
		"data": map[string]any{"k": "v"}, "status": map[string]any{"x": "y"},
	}}
	owner := Owner{Labels: map[string]string{"app.kubernetes.io/managed-by": "gitfleet", "fleet.gitfleet.dev/cluster-sync": "ns.s"},
		Label: "fleet.gitfleet.dev/cluster-sync", Value: "ns.s"}
	got := Desired(obj, owner, true)
	if got.GetResourceVersion() != "" || got.GetUID() != "" || got.GetManagedFields() != nil || got.Object["status"] != nil {
		t.Errorf("Desired() kept server fields: %v", got.Object)
	}
	if l := got.GetLabels(); l["app"] != "x" || l["fleet.gitfleet.dev/cluster-sync"] != "ns.s" || l["app.kubernetes.io/managed-by"] != "gitfleet" {
		t.Errorf("Desired() labels = %v", l)
	}
	if got.GetAnnotations()[AdoptedAnnotation] != "true" {
		t.Errorf("Desired(adopted) annotations = %v, want %s", got.GetAnnotations(), AdoptedAnnotation)
	}
	if obj.GetResourceVersion() != "7" || len(obj.GetLabels()) != 1 {
		t.Errorf("Desired() changed its argument: %v", obj.Object)
	}
	if !owner.Owns(got.GetLabels()) || owner.Owns(obj.GetLabels()) {
		t.Error("Owner.Owns() does not follow the label")
	}
	if got := Desired(obj, owner, false); got.GetAnnotations()[AdoptedAnnotation] != "" {
		t.Errorf("Desired(not adopted) annotations = %v", got.GetAnnotations())
	}
}

func TestSummarizeDiffs(t *testing.T) {
	diffs := []drift.Diff{
		{Path: ".data.a", InCluster: `"1"`, InGit: `"2"`},
		{Path: ".data.b", InGit: `"3"`},
		{Path: ".data.c", InCluster: `"4"`, InGit: `"5"`},
	}
	want := `.data.a ("1" in cluster, "2" in Git), .data.b (missing in cluster, "3" in Git), 1 more`
	if got := SummarizeDiffs(diffs, 2); got != want {
		t.Errorf("SummarizeDiffs() = %q, want %q", got, want)
	}
}

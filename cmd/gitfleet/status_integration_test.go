//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestMain gives controller-runtime a logger (silent unless GITFLEET_TEST_VERBOSE is set;
// without one it prints a stack trace after 30 s).
func TestMain(m *testing.M) {
	ctrl.SetLogger(envtest.Logger(os.Stderr))
	os.Exit(m.Run())
}

func cond(typ string, st metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

func TestStatus(t *testing.T) {
	hub := envtest.StartForTest(t, envtest.Options{Name: "hub", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	ctx := context.Background()
	ns := envtest.NewNamespace(t, hub.Client)

	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "prod-eu", Namespace: ns}}
	if err := hub.Client.Create(ctx, mc); err != nil {
		t.Fatal(err)
	}
	mc.Status.AppliedCommit = "abcdef0123456789"
	if err := hub.Client.Status().Update(ctx, mc); err != nil {
		t.Fatal(err)
	}
	p := &fleetv1alpha1.Placement{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: fleetv1alpha1.PlacementSpec{SourceRef: fleetv1alpha1.LocalObjectReference{Name: "fleet"}, Kustomize: &fleetv1alpha1.KustomizeSource{Path: "apps/web"}}}
	if err := hub.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	healthy := []metav1.Condition{
		cond(fleetv1alpha1.ScheduledCondition, metav1.ConditionTrue, "ScheduleSucceeded", "picked"),
		cond(fleetv1alpha1.RenderedCondition, metav1.ConditionTrue, "Succeeded", "3 objects"),
		cond(fleetv1alpha1.CommittedCondition, metav1.ConditionTrue, "Succeeded", "env/prod@abcdef0"),
		cond(fleetv1alpha1.AppliedCondition, metav1.ConditionTrue, "AgentReported", "3 objects applied"),
		cond(fleetv1alpha1.AvailableCondition, metav1.ConditionTrue, "AgentReported", "ready"),
		cond(fleetv1alpha1.DriftedCondition, metav1.ConditionFalse, "NoDrift", "match"),
	}
	p.Status.Clusters = []fleetv1alpha1.ClusterPlacementStatus{{ClusterName: "prod-eu", Stage: "prod", RenderedCommit: "abcdef0123456789", Conditions: healthy}}
	if err := hub.Client.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns)
	if code != 0 {
		t.Fatalf("status = exit %d, stderr %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"web        prod-eu  prod   yes        yes       abcdef0  yes (abcdef0)  yes      none",
		"1 placements on 1 clusters: 1 committed, 1 applied, 1 healthy, 0 drifted, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	// A failed render makes the command fail, for scripts, and says why.
	p.Status.Clusters[0].Conditions[1] = cond(fleetv1alpha1.RenderedCondition, metav1.ConditionFalse, "RenderFailed", "template broken.yaml: nil pointer")
	if err := hub.Client.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns, "-o", "json")
	if code != 1 {
		t.Errorf("status with a failed render = exit %d, want 1", code)
	}
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	if len(rep.Rows) != 1 || !rep.Rows[0].Failed || !strings.Contains(rep.Rows[0].Message, "broken.yaml") {
		t.Errorf("status -o json rows = %+v, want one failed row naming broken.yaml", rep.Rows)
	}
	if out, _, _ := runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns, "-o", "yaml"); !strings.Contains(out, "failed: true") {
		t.Errorf("status -o yaml lacks the failed row:\n%s", out)
	}
}

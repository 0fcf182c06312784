//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// readyAt is a Ready=True condition about the given generation, as the hub sets it.
func readyAt(gen int64) metav1.Condition {
	c := cond(fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, "Succeeded", "ok")
	c.ObservedGeneration = gen
	return c
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
	mc.Status.Conditions = []metav1.Condition{readyAt(mc.Generation)}
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
	p.Status.Conditions = []metav1.Condition{readyAt(p.Generation)}
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

// TestStatusWithoutHub: with an API server and no hub running, `gitfleet status` does not
// say all is well: Placements never reconciled, a change not processed, a stale agent
// heartbeat give exit 3 and say why; a namespace that does not exist gives exit 4.
func TestStatusWithoutHub(t *testing.T) {
	hub := envtest.StartForTest(t, envtest.Options{Name: "hub", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	ctx := context.Background()
	ns := envtest.NewNamespace(t, hub.Client)

	out, stderr, code := runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", "no-such-namespace")
	if code != 4 || !strings.Contains(stderr, `namespace "no-such-namespace" does not exist`) {
		t.Errorf("status in a missing namespace = exit %d, stderr %q, stdout %q; want exit 4 saying the namespace does not exist", code, stderr, out)
	}

	// An empty namespace: nothing to reconcile, nothing wrong.
	if out, stderr, code := runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns); code != 0 {
		t.Errorf("status in an empty namespace = exit %d, stderr %s\n%s", code, stderr, out)
	}

	for _, name := range []string{"api", "web"} {
		p := &fleetv1alpha1.Placement{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: fleetv1alpha1.PlacementSpec{SourceRef: fleetv1alpha1.LocalObjectReference{Name: "fleet"}, Kustomize: &fleetv1alpha1.KustomizeSource{Path: "apps/" + name}}}
		if err := hub.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, code = runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns)
	if code != 3 {
		t.Errorf("status with 2 placements never reconciled = exit %d, want 3; stderr %s\n%s", code, stderr, out)
	}
	for _, want := range []string{`not reconciled: Placement "api" has no Ready condition`, `not reconciled: Placement "web" has no Ready condition`, "is the hub running?"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	// Ready, but about an older generation: a change the hub has not processed.
	for _, name := range []string{"api", "web"} {
		p := &fleetv1alpha1.Placement{}
		if err := hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions = []metav1.Condition{readyAt(p.Generation)}
		if err := hub.Client.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if out, stderr, code := runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns); code != 0 {
		t.Errorf("status with every placement Ready = exit %d, stderr %s\n%s", code, stderr, out)
	}
	p := &fleetv1alpha1.Placement{}
	if err := hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.TargetNamespace = "web"
	if err := hub.Client.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns, "-o", "json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	if code != 3 || len(rep.NotReconciled) != 1 || !strings.Contains(rep.NotReconciled[0], `Placement "web": generation 2 not processed yet`) {
		t.Errorf("status after an unprocessed change = exit %d, notReconciled %q; want 3 and the web placement's generation", code, rep.NotReconciled)
	}
	p.Status.Conditions = []metav1.Condition{readyAt(p.Generation)}
	if err := hub.Client.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}

	// A cluster whose agent stopped heartbeating.
	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "prod-eu", Namespace: ns},
		Spec: fleetv1alpha1.MemberClusterSpec{HeartbeatGracePeriod: &metav1.Duration{Duration: time.Minute}}}
	if err := hub.Client.Create(ctx, mc); err != nil {
		t.Fatal(err)
	}
	mc.Status.Conditions = []metav1.Condition{readyAt(mc.Generation)}
	mc.Status.LastHeartbeatTime = &metav1.Time{Time: time.Now().Add(-10 * time.Minute)}
	if err := hub.Client.Status().Update(ctx, mc); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "status", "--kubeconfig", hub.Kubeconfig, "-n", ns)
	if code != 3 || !strings.Contains(out, `MemberCluster "prod-eu": last agent heartbeat 10m`) {
		t.Errorf("status with a stale heartbeat = exit %d, want 3 naming the cluster:\n%s", code, out)
	}
}

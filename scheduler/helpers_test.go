package scheduler_test

import (
	"strings"
	"testing"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

// run schedules at fx.Now and fails the test on an error.
func run(t *testing.T, p v1alpha1.PlacementPolicy, clusters []v1alpha1.MemberCluster, current []v1alpha1.ClusterDecision) scheduler.Result {
	t.Helper()
	res, err := scheduler.Schedule(scheduler.Input{Policy: p, Clusters: clusters, Current: current, Now: fx.Now})
	if err != nil {
		t.Fatalf("Schedule(%+v) = %v, want no error", p, err)
	}
	return res
}

// reasons maps the not-selected clusters to their reasons.
func reasons(res scheduler.Result) map[string]string {
	out := map[string]string{}
	for _, d := range res.Decisions {
		if !d.Selected {
			out[d.ClusterName] = d.Reason
		}
	}
	return out
}

// checkReasons checks that each named cluster is not selected with a reason containing
// the given text.
func checkReasons(t *testing.T, res scheduler.Result, want map[string]string) {
	t.Helper()
	got := reasons(res)
	for name, sub := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("no not-selected decision for %s; decisions: %+v", name, res.Decisions)
			continue
		}
		if !strings.Contains(r, sub) {
			t.Errorf("reason for %s = %q, want it to contain %q", name, r, sub)
		}
	}
}

func names(ns ...string) []string { return ns }

package hub

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday

func member(name, applied string, healthy metav1.ConditionStatus) *fleetv1alpha1.MemberCluster {
	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
	mc.Status.AppliedCommit = applied
	if healthy != "" {
		mc.Status.Conditions = []metav1.Condition{{Type: fleetv1alpha1.HealthyCondition, Status: healthy}}
	}
	return mc
}

func TestClusterHealth(t *testing.T) {
	tests := map[string]struct {
		clusters []*fleetv1alpha1.MemberCluster
		statuses map[string]gitsource.CommitState
		want     stageHealth
		msg      string
	}{
		"commit statuses alone report health": {
			clusters: []*fleetv1alpha1.MemberCluster{member("a", "", ""), member("b", "", ""), member("c", "", "")},
			statuses: map[string]gitsource.CommitState{"gitfleet/cluster/a": "success", "gitfleet/cluster/b": "failure", "gitfleet/cluster/c": "pending"},
			want:     stageHealth{Total: 3, Healthy: 1, Failed: []string{"b"}, Pending: []string{"c"}}, msg: "1 cluster failed: b",
		},
		"a failing commit status wins over a healthy MemberCluster": {
			clusters: []*fleetv1alpha1.MemberCluster{member("a", "h", "True")},
			statuses: map[string]gitsource.CommitState{"gitfleet/cluster/a": "error"},
			want:     stageHealth{Total: 1, Failed: []string{"a"}}, msg: "1 cluster failed: a",
		},
		"no clusters": {want: stageHealth{}, msg: "no clusters"},
		"all healthy on the head": {
			clusters: []*fleetv1alpha1.MemberCluster{member("a", "h", "True"), member("b", "h", "True")},
			want:     stageHealth{Total: 2, Healthy: 2}, msg: "2/2 clusters healthy",
		},
		"healthy on an older commit is pending": {
			clusters: []*fleetv1alpha1.MemberCluster{member("a", "h", "True"), member("b", "old", "True")},
			want:     stageHealth{Total: 2, Healthy: 1, Pending: []string{"b"}}, msg: "1/2 clusters healthy, 1 pending",
		},
		"a failure is named": {
			clusters: []*fleetv1alpha1.MemberCluster{member("eu-2", "h", "False"), member("a", "h", "True"), member("b", "h", "")},
			want:     stageHealth{Total: 3, Healthy: 1, Failed: []string{"eu-2"}, Pending: []string{"b"}}, msg: "1 cluster failed: eu-2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := clusterHealth(tc.clusters, "h", tc.statuses)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("clusterHealth() (-want +got):\n%s", diff)
			}
			if got.Message() != tc.msg {
				t.Errorf("Message() = %q, want %q", got.Message(), tc.msg)
			}
		})
	}
}

func TestNextHealthySince(t *testing.T) {
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	healthy := stageHealth{Total: 1, Healthy: 1}
	tests := map[string]struct {
		old    fleetv1alpha1.StageStatus
		head   string
		health stageHealth
		now    time.Time
		want   *metav1.Time
	}{
		"unhealthy":                 {old: fleetv1alpha1.StageStatus{HealthySince: &earlier, RenderedCommit: "h"}, head: "h", health: stageHealth{Total: 1}, want: nil},
		"stays healthy on the head": {old: fleetv1alpha1.StageStatus{HealthySince: &earlier, RenderedCommit: "h"}, head: "h", health: healthy, want: &earlier},
		"new head restarts":         {old: fleetv1alpha1.StageStatus{HealthySince: &earlier, RenderedCommit: "old"}, head: "h", health: healthy, want: ptr.To(metav1.NewTime(t0))},
		"just became healthy":       {old: fleetv1alpha1.StageStatus{RenderedCommit: "h"}, head: "h", health: healthy, want: ptr.To(metav1.NewTime(t0))},
		"rounded up to a second": {old: fleetv1alpha1.StageStatus{RenderedCommit: "h"}, head: "h", health: healthy, now: t0.Add(-999 * time.Millisecond),
			want: ptr.To(metav1.NewTime(t0))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := t0
			if !tc.now.IsZero() {
				now = tc.now
			}
			got := nextHealthySince(tc.old, tc.head, tc.health, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("nextHealthySince() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateGates(t *testing.T) {
	since := func(d time.Duration) *metav1.Time { return ptr.To(metav1.NewTime(t0.Add(-d))) }
	healthyPrev := fleetv1alpha1.StageStatus{Name: "dev", Clusters: 2, HealthyClusters: 2, HealthySince: since(10 * time.Minute), Message: "2/2 clusters healthy"}
	unhealthyPrev := fleetv1alpha1.StageStatus{Name: "dev", Clusters: 2, HealthyClusters: 1, Message: "1 cluster failed: eu-2"}
	soak := func(d time.Duration) *fleetv1alpha1.StageGates {
		return &fleetv1alpha1.StageGates{SoakDuration: &metav1.Duration{Duration: d}}
	}
	window := func(schedule string, d time.Duration) *fleetv1alpha1.StageGates {
		return &fleetv1alpha1.StageGates{PreviousStageHealthy: ptr.To(false), Windows: []fleetv1alpha1.TimeWindow{{Schedule: schedule, Duration: metav1.Duration{Duration: d}}}}
	}
	tests := map[string]struct {
		gates *fleetv1alpha1.StageGates
		prev  fleetv1alpha1.StageStatus
		want  gateOutcome
	}{
		"default: previous stage healthy passes": {
			prev: healthyPrev,
			want: gateOutcome{Passed: true, Results: []fleetv1alpha1.GateResult{{Name: GatePreviousStage, Passed: true, Message: "dev: 2/2 clusters healthy"}}},
		},
		"default: previous stage failing blocks": {
			prev: unhealthyPrev,
			want: gateOutcome{Results: []fleetv1alpha1.GateResult{{Name: GatePreviousStage, Message: "dev: 1 cluster failed: eu-2"}}},
		},
		"gate off": {
			gates: &fleetv1alpha1.StageGates{PreviousStageHealthy: ptr.To(false)},
			prev:  unhealthyPrev,
			want:  gateOutcome{Passed: true},
		},
		"soak elapsed": {
			gates: soak(5 * time.Minute), prev: healthyPrev,
			want: gateOutcome{Passed: true, Results: []fleetv1alpha1.GateResult{
				{Name: GatePreviousStage, Passed: true, Message: "dev: 2/2 clusters healthy"},
				{Name: GateSoak, Passed: true, Message: "dev healthy for 10m0s (soak 5m0s)"}}},
		},
		"soak running": {
			gates: soak(time.Hour), prev: healthyPrev,
			want: gateOutcome{RetryAfter: 50 * time.Minute, Results: []fleetv1alpha1.GateResult{
				{Name: GatePreviousStage, Passed: true, Message: "dev: 2/2 clusters healthy"},
				{Name: GateSoak, Message: "50m0s of 1h0m0s soak left"}}},
		},
		"soak waits for health": {
			gates: soak(time.Hour), prev: unhealthyPrev,
			want: gateOutcome{Results: []fleetv1alpha1.GateResult{
				{Name: GatePreviousStage, Message: "dev: 1 cluster failed: eu-2"},
				{Name: GateSoak, Message: "1h0m0s soak starts once dev is healthy"}}},
		},
		"window open": {
			gates: window("0 9 * * 1-5", 2*time.Hour), prev: unhealthyPrev,
			want: gateOutcome{Passed: true, Results: []fleetv1alpha1.GateResult{{Name: GateWindow, Passed: true, Message: "a promotion window is open"}}},
		},
		"window closed": {
			gates: window("0 14 * * 1-5", time.Hour), prev: unhealthyPrev,
			want: gateOutcome{RetryAfter: 4 * time.Hour, Results: []fleetv1alpha1.GateResult{{Name: GateWindow, Message: "next window opens at 2026-11-23T14:00:00Z"}}},
		},
		"window just closed": {
			gates: window("0 8 * * *", 2*time.Hour), prev: unhealthyPrev,
			want: gateOutcome{RetryAfter: 22 * time.Hour, Results: []fleetv1alpha1.GateResult{{Name: GateWindow, Message: "next window opens at 2026-11-24T08:00:00Z"}}},
		},
		"bad schedule": {
			gates: window("61 * * * *", time.Hour), prev: unhealthyPrev,
			want: gateOutcome{Results: []fleetv1alpha1.GateResult{{Name: GateWindow}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := evaluateGates(fleetv1alpha1.Stage{Name: "staging", Gates: tc.gates}, tc.prev, t0)
			opts := cmpopts.EquateEmpty()
			if name == "bad schedule" {
				opts = cmp.Options{opts, cmpopts.IgnoreFields(fleetv1alpha1.GateResult{}, "Message")}
			}
			if diff := cmp.Diff(tc.want, got, opts); diff != "" {
				t.Errorf("evaluateGates() (-want +got):\n%s", diff)
			}
		})
	}
}

package scheduler_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

// step is one scheduling run in a sequence: the fleet at that time and what is selected.
type step struct {
	clusters []v1alpha1.MemberCluster
	policy   *v1alpha1.PlacementPolicy // nil: the previous step's
	want     []string
}

// runSteps schedules each step with the previous step's decisions and policy hash.
func runSteps(t *testing.T, policy v1alpha1.PlacementPolicy, steps []step) {
	t.Helper()
	var current []v1alpha1.ClusterDecision
	var hash string
	for i, s := range steps {
		if s.policy != nil {
			policy = *s.policy
		}
		res, err := scheduler.Schedule(scheduler.Input{
			Policy: policy, Clusters: s.clusters, Current: current, PreviousPolicyHash: hash, Now: fx.Now,
		})
		if err != nil {
			t.Fatalf("step %d: Schedule() = %v", i, err)
		}
		if diff := cmp.Diff(s.want, res.Selected, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d: Selected (-want +got):\n%s\ndecisions: %+v", i, diff, res.Decisions)
		}
		current, hash = res.Decisions, res.PolicyHash
	}
}

func TestStability(t *testing.T) {
	unhealthy := fx.Healthy(metav1.ConditionFalse, "NodesDown", "")
	healthy := fx.Healthy(metav1.ConditionTrue, "AllGood", "")
	gold := fx.Labels("tier", "gold")
	preferGold := fx.Preferred(fx.PickN(2), 50, fx.LabelTerm("tier", "gold"))
	preferGold3 := fx.Preferred(fx.PickN(3), 50, fx.LabelTerm("tier", "gold"))
	cheap := fx.Preferred(fx.PickN(1), 100, fx.SorterTerm(v1alpha1.AvailableCPUProperty, v1alpha1.Descending))

	cases := map[string]struct {
		policy v1alpha1.PlacementPolicy
		steps  []step
	}{
		"PickN keeps its picks when a better cluster joins": {
			policy: preferGold,
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b")}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("g", gold)}, want: names("a", "b")},
			},
		},
		"PickN keeps its picks when a sorted property changes": {
			policy: cheap,
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Resources(1, "8", "6", "", "")), fx.Cluster("b", fx.Resources(1, "8", "2", "", ""))}, want: names("a")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Resources(1, "8", "1", "", "")), fx.Cluster("b", fx.Resources(1, "8", "7", "", ""))}, want: names("a")},
			},
		},
		"PickN replaces a cluster that left, with the best other": {
			policy: preferGold,
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("c")}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Leaving()), fx.Cluster("b"), fx.Cluster("c"), fx.Cluster("g", gold)}, want: names("b", "g")},
			},
		},
		"PickN replaces a cluster that was deleted from the fleet": {
			policy: fx.PickN(2),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("c")}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("b"), fx.Cluster("c")}, want: names("b", "c")},
			},
		},
		"PickN re-plans when the policy changes": {
			policy: fx.PickN(2),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("g", gold)}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("g", gold)}, policy: &preferGold, want: names("a", "g")},
			},
		},
		"PickN growing keeps the current picks": {
			policy: fx.PickN(2),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("b"), fx.Cluster("c"), fx.Cluster("g", gold)}, want: names("b", "c")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("b"), fx.Cluster("c"), fx.Cluster("g", gold)}, policy: &preferGold3, want: names("b", "c", "g")},
			},
		},
		"PickN with a flapping cluster does not flap back": {
			policy: fx.PickN(1),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", healthy), fx.Cluster("b")}, want: names("a")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", unhealthy), fx.Cluster("b")}, want: names("b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", healthy), fx.Cluster("b")}, want: names("b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", healthy), fx.Cluster("b", unhealthy)}, want: names("a")},
			},
		},
		"PickAll keeps a cluster that turned unhealthy or stopped reporting, until it leaves": {
			policy: fx.PickAll(),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Grace(time.Minute), fx.HeartbeatAgo(time.Second))}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", unhealthy), fx.Cluster("b", fx.Grace(time.Minute), fx.HeartbeatAgo(time.Hour))}, want: names("a", "b")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a", healthy), fx.Cluster("b", fx.Grace(time.Minute), fx.HeartbeatAgo(time.Hour), fx.Leaving())}, want: names("a")},
			},
		},
		"PickAll does not add a cluster that is unhealthy": {
			policy: fx.PickAll(),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", unhealthy)}, want: names("a")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", unhealthy)}, want: names("a")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", healthy)}, want: names("a", "b")},
			},
		},
		"PickAll adds a newly eligible cluster": {
			policy: fx.PickAll(),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Grace(time.Minute))}, want: names("a")},
				{clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Grace(time.Minute), fx.HeartbeatAgo(time.Second))}, want: names("a", "b")},
			},
		},
		"PickN under DoNotSchedule replaces a pick whose region label changed": {
			policy: fx.Spread(fx.PickN(2), "region", 1, v1alpha1.DoNotSchedule),
			steps: []step{
				{clusters: []v1alpha1.MemberCluster{
					fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("eu-2", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "us")),
				}, want: names("eu-1", "us-1")},
				{clusters: []v1alpha1.MemberCluster{
					fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("eu-2", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "eu")),
					fx.Cluster("us-2", fx.Labels("region", "us")),
				}, want: names("eu-1", "us-2")},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { runSteps(t, tc.policy, tc.steps) })
	}
}

func TestUnchangedInputGivesUnchangedDecisions(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{
		fx.Cluster("eu-1", fx.Labels("region", "eu"), fx.Static(v1alpha1.PerCPUCoreCostProperty, "3")),
		fx.Cluster("eu-2", fx.Labels("region", "eu"), fx.Static(v1alpha1.PerCPUCoreCostProperty, "1")),
		fx.Cluster("us-1", fx.Labels("region", "us"), fx.Static(v1alpha1.PerCPUCoreCostProperty, "2")),
		fx.Cluster("x", fx.Leaving()),
	}
	p := fx.Spread(fx.Preferred(fx.PickN(2), 40, fx.SorterTerm(v1alpha1.PerCPUCoreCostProperty, v1alpha1.Ascending)), "region", 1, v1alpha1.DoNotSchedule)
	p.Replicas = &v1alpha1.ReplicaDivision{Total: 5}
	first := run(t, p, clusters, nil)
	second := run(t, p, clusters, first.Decisions)
	if diff := cmp.Diff(first.Selected, second.Selected); diff != "" {
		t.Fatalf("second run selected differently (-first +second):\n%s", diff)
	}
	third := run(t, p, clusters, second.Decisions)
	if diff := cmp.Diff(second, third); diff != "" {
		t.Errorf("third run changed the result (-second +third):\n%s", diff)
	}
	for _, d := range second.Decisions {
		if d.Selected && (d.Score == nil || d.Score.Stickiness != 1 || d.Reason != "kept by PickN: still feasible and the policy is unchanged") {
			t.Errorf("second run decision %+v: want stickiness 1 and the kept reason", d)
		}
	}
}

package scheduler_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

type policyCase struct {
	policy      v1alpha1.PlacementPolicy
	clusters    []v1alpha1.MemberCluster
	current     []string
	want        []string
	wantMissing int32
	wantReasons map[string]string
}

func runPolicyCases(t *testing.T, cases map[string]policyCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var current []v1alpha1.ClusterDecision
			for _, n := range tc.current {
				current = append(current, v1alpha1.ClusterDecision{ClusterName: n, Selected: true})
			}
			res := run(t, tc.policy, tc.clusters, current)
			if diff := cmp.Diff(tc.want, res.Selected, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Selected (-want +got):\n%s\ndecisions: %+v", diff, res.Decisions)
			}
			if res.Missing != tc.wantMissing {
				t.Errorf("Missing = %d, want %d", res.Missing, tc.wantMissing)
			}
			wantReason := v1alpha1.ScheduleSucceededReason
			if tc.wantMissing > 0 {
				wantReason = v1alpha1.NotEnoughClustersReason
			}
			if res.Reason != wantReason {
				t.Errorf("Reason = %q, want %q (message %q)", res.Reason, wantReason, res.Message)
			}
			checkReasons(t, res, tc.wantReasons)
		})
	}
}

func TestPickAll(t *testing.T) {
	runPolicyCases(t, map[string]policyCase{
		"no clusters": {policy: fx.PickAll()},
		"empty placement type means PickAll": {
			policy:   v1alpha1.PlacementPolicy{},
			clusters: []v1alpha1.MemberCluster{fx.Cluster("b"), fx.Cluster("a")},
			want:     names("a", "b"),
		},
		"every eligible cluster": {
			policy: fx.PickAll(),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("a"), fx.Cluster("b", fx.Leaving()), fx.Cluster("c"),
				fx.Cluster("d", fx.Healthy(metav1.ConditionFalse, "NodesDown", "2 of 3 nodes NotReady")),
			},
			want: names("a", "c"),
			wantReasons: map[string]string{
				"b": "ClusterEligibility: cluster is leaving the fleet",
				"d": "Healthy is False (NodesDown: 2 of 3 nodes NotReady)",
			},
		},
		"required label term": {
			policy: fx.Required(fx.PickAll(), fx.LabelTerm("region", "eu")),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "us")),
				fx.Cluster("none"),
			},
			want: names("eu-1"),
			wantReasons: map[string]string{
				"us-1": `ClusterAffinity: does not match the required affinity: label requirement "region=eu" is not met`,
				"none": `label requirement "region=eu" is not met`,
			},
		},
		"required terms are ORed": {
			policy: fx.Required(fx.PickAll(), fx.LabelTerm("region", "eu"), fx.LabelTerm("region", "us")),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "us")),
				fx.Cluster("ap-1", fx.Labels("region", "ap")),
			},
			want:        names("eu-1", "us-1"),
			wantReasons: map[string]string{"ap-1": "matches none of the 2 required affinity terms: term 1: "},
		},
		"a term ANDs labels and properties": {
			policy: fx.Required(fx.PickAll(), v1alpha1.ClusterSelectorTerm{
				LabelSelector:    fx.LabelTerm("region", "eu").LabelSelector,
				PropertySelector: fx.PropertyTerm(v1alpha1.NodeCountProperty, v1alpha1.PropertyGe, "3").PropertySelector,
			}),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("big-eu", fx.Labels("region", "eu"), fx.Resources(5, "", "", "", "")),
				fx.Cluster("small-eu", fx.Labels("region", "eu"), fx.Resources(2, "", "", "", "")),
				fx.Cluster("big-us", fx.Labels("region", "us"), fx.Resources(5, "", "", "", "")),
			},
			want: names("big-eu"),
			wantReasons: map[string]string{
				"small-eu": `property requirement "kubernetes-fleet.io/node-count Ge 3" is not met`,
				"big-us":   `label requirement "region=eu" is not met`,
			},
		},
		"taint keeps an intolerant placement off": {
			policy:      fx.PickAll(),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("gpu", fx.Taint("dedicated", "gpu"))},
			want:        names("a"),
			wantReasons: map[string]string{"gpu": "TaintToleration: cluster has taint dedicated=gpu:NoSchedule"},
		},
		"toleration lets the placement on": {
			policy:   fx.Tolerate(fx.PickAll(), "dedicated", "gpu"),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("gpu", fx.Taint("dedicated", "gpu")), fx.Cluster("pay", fx.Taint("dedicated", "payments"))},
			want:     names("a", "gpu"),
		},
		"all clusters tainted": {
			policy:   fx.PickAll(),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Taint("x", "")), fx.Cluster("b", fx.Taint("y", "1"))},
			want:     nil,
			wantReasons: map[string]string{
				"a": "cluster has taint x:NoSchedule, which the placement does not tolerate",
				"b": "cluster has taint y=1:NoSchedule",
			},
		},
		"spread constraints are ignored": {
			policy:   fx.Spread(fx.PickAll(), "region", 1, v1alpha1.DoNotSchedule),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Labels("region", "eu"))},
			want:     names("a", "b"),
		},
	})
}

func TestPickN(t *testing.T) {
	threeRegions := []v1alpha1.MemberCluster{
		fx.Cluster("eu-1", fx.Labels("region", "eu", "tier", "gold")),
		fx.Cluster("eu-2", fx.Labels("region", "eu", "tier", "gold")),
		fx.Cluster("eu-3", fx.Labels("region", "eu", "tier", "gold")),
		fx.Cluster("us-1", fx.Labels("region", "us")),
		fx.Cluster("ap-1", fx.Labels("region", "ap")),
	}
	costs := []v1alpha1.MemberCluster{
		fx.Cluster("a", fx.Static(v1alpha1.PerCPUCoreCostProperty, "0.030")),
		fx.Cluster("b", fx.Static(v1alpha1.PerCPUCoreCostProperty, "0.010")),
		fx.Cluster("c", fx.Static(v1alpha1.PerCPUCoreCostProperty, "0.020")),
		fx.Cluster("d"),
	}
	runPolicyCases(t, map[string]policyCase{
		"equal scores break ties by name": {
			policy:   fx.PickN(2),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("c"), fx.Cluster("b"), fx.Cluster("a")},
			want:     names("a", "b"),
			wantReasons: map[string]string{
				"c": "feasible, but not picked: numberOfClusters (2) was filled by clusters ranked higher",
			},
		},
		"preferred label terms first": {
			policy:   fx.Preferred(fx.PickN(2), 30, fx.LabelTerm("tier", "gold")),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("z1", fx.Labels("tier", "gold")), fx.Cluster("z2", fx.Labels("tier", "gold"))},
			want:     names("z1", "z2"),
		},
		"negative weight avoids": {
			policy:   fx.Preferred(fx.PickN(2), -30, fx.LabelTerm("tier", "gold")),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Labels("tier", "gold")), fx.Cluster("b"), fx.Cluster("c")},
			want:     names("b", "c"),
		},
		"N larger than the feasible set": {
			policy:      fx.PickN(5),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Leaving()), fx.Cluster("c")},
			want:        names("a", "c"),
			wantMissing: 3,
		},
		"N is zero": {
			policy:   fx.PickN(0),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a")},
		},
		"ascending sorter prefers cheap clusters; missing property ranks last": {
			policy:   fx.Preferred(fx.PickN(3), 100, fx.SorterTerm(v1alpha1.PerCPUCoreCostProperty, v1alpha1.Ascending)),
			clusters: costs,
			want:     names("a", "b", "c"),
		},
		"descending sorter prefers expensive clusters": {
			policy:   fx.Preferred(fx.PickN(1), 100, fx.SorterTerm(v1alpha1.PerCPUCoreCostProperty, v1alpha1.Descending)),
			clusters: costs,
			want:     names("a"),
		},
		"negative weight sorter: missing property is still worst": {
			policy:   fx.Preferred(fx.PickN(3), -100, fx.SorterTerm(v1alpha1.PerCPUCoreCostProperty, v1alpha1.Descending)),
			clusters: costs,
			want:     names("a", "b", "c"),
		},
		"spread over regions before affinity": {
			policy:   fx.Spread(fx.Preferred(fx.PickN(3), 50, fx.LabelTerm("tier", "gold")), "region", 1, v1alpha1.DoNotSchedule),
			clusters: threeRegions,
			want:     names("ap-1", "eu-1", "us-1"),
		},
		"spread impossible under DoNotSchedule": {
			policy:      fx.Spread(fx.PickN(4), "region", 1, v1alpha1.DoNotSchedule),
			clusters:    threeRegions[:4], // eu-1..3 and us-1
			want:        names("eu-1", "eu-2", "us-1"),
			wantMissing: 1,
			wantReasons: map[string]string{
				"eu-3": "feasible, but not picked: TopologySpread: topology spread over region (DoNotSchedule, maxSkew 1): region=eu already has",
			},
		},
		"larger maxSkew allows more": {
			policy:   fx.Spread(fx.PickN(4), "region", 3, v1alpha1.DoNotSchedule),
			clusters: threeRegions[:4],
			want:     names("eu-1", "eu-2", "eu-3", "us-1"),
		},
		"ScheduleAnyway fills N with a penalty": {
			policy:   fx.Spread(fx.PickN(4), "region", 1, v1alpha1.ScheduleAnyway),
			clusters: threeRegions[:4],
			want:     names("eu-1", "eu-2", "eu-3", "us-1"),
		},
		"ScheduleAnyway prefers the emptier domain": {
			policy:   fx.Spread(fx.Preferred(fx.PickN(2), 50, fx.LabelTerm("tier", "gold")), "region", 1, v1alpha1.ScheduleAnyway),
			clusters: threeRegions[:4],
			want:     names("eu-1", "us-1"),
		},
		"DoNotSchedule drops clusters without the label": {
			policy:      fx.Spread(fx.PickN(3), "region", 1, v1alpha1.DoNotSchedule),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("eu-1", fx.Labels("region", "eu"))},
			want:        names("eu-1"),
			wantMissing: 2,
			wantReasons: map[string]string{"a": "TopologySpread: cluster has no label region"},
		},
		"ScheduleAnyway takes clusters without the label last": {
			policy:   fx.Spread(fx.PickN(2), "region", 1, v1alpha1.ScheduleAnyway),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "us"))},
			want:     names("eu-1", "us-1"),
		},
		"two constraints": {
			policy: fx.Spread(fx.Spread(fx.PickN(4), "region", 1, v1alpha1.DoNotSchedule), "env", 1, v1alpha1.DoNotSchedule),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("eu-prod", fx.Labels("region", "eu", "env", "prod")),
				fx.Cluster("eu-prod2", fx.Labels("region", "eu", "env", "prod")),
				fx.Cluster("eu-dev", fx.Labels("region", "eu", "env", "dev")),
				fx.Cluster("us-prod", fx.Labels("region", "us", "env", "prod")),
				fx.Cluster("us-dev", fx.Labels("region", "us", "env", "dev")),
			},
			want: names("eu-dev", "eu-prod", "us-dev", "us-prod"),
		},
		"unhealthy and tainted clusters are not picked": {
			policy: fx.PickN(2),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("a", fx.Healthy(metav1.ConditionFalse, "Down", "")), fx.Cluster("b", fx.Taint("k", "v")),
				fx.Cluster("c"), fx.Cluster("d"),
			},
			want: names("c", "d"),
		},
	})
}

func TestPickFixed(t *testing.T) {
	runPolicyCases(t, map[string]policyCase{
		"named clusters": {
			policy:   fx.PickFixed("b", "a"),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b"), fx.Cluster("c")},
			want:     names("a", "b"),
		},
		"duplicate names count once": {
			policy:   fx.PickFixed("a", "a"),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a")},
			want:     names("a"),
		},
		"a missing cluster is reported": {
			policy:      fx.PickFixed("a", "ghost"),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a")},
			want:        names("a"),
			wantMissing: 1,
			wantReasons: map[string]string{"ghost": "no MemberCluster of this name is in the fleet"},
		},
		"an ineligible cluster is reported": {
			policy:      fx.PickFixed("a", "b"),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Grace(5*60e9))},
			want:        names("a"),
			wantMissing: 1,
			wantReasons: map[string]string{"b": "ClusterEligibility: no heartbeat yet"},
		},
		"a taint conflict is reported": {
			policy:      fx.PickFixed("a", "b"),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Taint("dedicated", "gpu"))},
			want:        names("a"),
			wantMissing: 1,
			wantReasons: map[string]string{"b": "TaintToleration: cluster has taint dedicated=gpu:NoSchedule"},
		},
	})
}

func TestPickFixedReportsOnlyNamedClusters(t *testing.T) {
	res := run(t, fx.PickFixed("a"), []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b", fx.Leaving())}, nil)
	want := []v1alpha1.ClusterDecision{{
		ClusterName: "a", Selected: true, Score: &v1alpha1.ClusterScore{},
		Reason: "picked by PickFixed: named in clusterNames, eligible and not tainted",
	}}
	if diff := cmp.Diff(want, res.Decisions); diff != "" {
		t.Errorf("Decisions (-want +got):\n%s", diff)
	}
}

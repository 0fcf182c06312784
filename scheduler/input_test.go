package scheduler_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

func TestEligibility(t *testing.T) {
	runPolicyCases(t, map[string]policyCase{
		"heartbeat": {
			policy: fx.PickAll(),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("no-check"),
				fx.Cluster("never", fx.Grace(5*time.Minute)),
				fx.Cluster("fresh", fx.Grace(5*time.Minute), fx.HeartbeatAgo(4*time.Minute)),
				fx.Cluster("stale", fx.Grace(5*time.Minute), fx.HeartbeatAgo(6*time.Minute)),
				fx.Cluster("future", fx.Grace(5*time.Minute), fx.HeartbeatAgo(-time.Hour)),
				fx.Cluster("stale-no-check", fx.HeartbeatAgo(24*time.Hour)),
			},
			want: names("fresh", "future", "no-check", "stale-no-check"),
			wantReasons: map[string]string{
				"never": "no heartbeat yet: the agent has not reported and heartbeatGracePeriod is 5m0s (0s disables the check)",
				"stale": "no heartbeat since 2026-03-14T15:03:26Z, longer than heartbeatGracePeriod 5m0s",
			},
		},
		"state, deletion and health": {
			policy: fx.PickAll(),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("leaving", fx.Leaving()),
				fx.Cluster("deleting", fx.Deleting()),
				fx.Cluster("unhealthy", fx.Healthy(metav1.ConditionFalse, "", "")),
				fx.Cluster("unknown", fx.Healthy(metav1.ConditionUnknown, "Pending", "")),
				fx.Cluster("healthy", fx.Healthy(metav1.ConditionTrue, "Ok", "")),
			},
			want: names("healthy", "unknown"),
			wantReasons: map[string]string{
				"leaving":   "cluster is leaving the fleet (spec.state is Leave)",
				"deleting":  "cluster is being deleted",
				"unhealthy": "cluster is unhealthy: Healthy is False",
			},
		},
	})
}

func TestProperties(t *testing.T) {
	cost := v1alpha1.PerCPUCoreCostProperty
	runPolicyCases(t, map[string]policyCase{
		"reported properties override static and derived ones": {
			policy: fx.Required(fx.PickAll(), fx.PropertyTerm(cost, v1alpha1.PropertyLt, "5")),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("a", fx.Static(cost, "10"), fx.Reported(cost, "1")),
				fx.Cluster("b", fx.Static(cost, "1"), fx.Reported(cost, "10")),
			},
			want: names("a"),
		},
		"resource properties come from status.resources": {
			policy: fx.Required(fx.PickAll(), v1alpha1.ClusterSelectorTerm{PropertySelector: &v1alpha1.PropertySelector{
				MatchExpressions: []v1alpha1.PropertySelectorRequirement{
					{Name: v1alpha1.AvailableCPUProperty, Operator: v1alpha1.PropertyGe, Values: []string{"1500m"}},
					{Name: v1alpha1.AllocatableMemoryProperty, Operator: v1alpha1.PropertyGt, Values: []string{"8Gi"}},
				},
			}}),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("fits", fx.Resources(3, "4", "2", "16Gi", "1Gi")),
				fx.Cluster("low-cpu", fx.Resources(3, "4", "1", "16Gi", "1Gi")),
				fx.Cluster("low-mem", fx.Resources(3, "4", "2", "8Gi", "1Gi")),
				fx.Cluster("unreported"),
			},
			want: names("fits"),
			wantReasons: map[string]string{
				"low-cpu":    `property requirement "resources.kubernetes-fleet.io/available-cpu Ge 1500m" is not met`,
				"low-mem":    `allocatable-memory Gt 8Gi" is not met`,
				"unreported": "property resources.kubernetes-fleet.io/available-cpu is missing",
			},
		},
		"kubernetes version compares as a version": {
			policy: fx.Required(fx.PickAll(), fx.PropertyTerm(v1alpha1.KubernetesVersionProperty, v1alpha1.PropertyGe, "1.9")),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("v1.10", fx.KubernetesVersion("v1.10.2")),
				fx.Cluster("v1.9", fx.KubernetesVersion("1.9.0")),
				fx.Cluster("v1.8", fx.KubernetesVersion("1.8.15")),
				fx.Cluster("spec-only", func(mc *v1alpha1.MemberCluster) { mc.Spec.KubernetesVersion = "1.33" }),
				fx.Cluster("garbage", fx.KubernetesVersion("latest")),
			},
			want: names("spec-only", "v1.10", "v1.9"),
			wantReasons: map[string]string{
				"v1.8":    "is not met",
				"garbage": `property k8s.io/kubernetes-version is "latest", which is not a version`,
			},
		},
		"property missing fails a required selector": {
			policy:      fx.Required(fx.PickAll(), fx.PropertyTerm(cost, v1alpha1.PropertyNe, "1")),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("has", fx.Static(cost, "2")), fx.Cluster("lacks")},
			want:        names("has"),
			wantReasons: map[string]string{"lacks": "property cost.gitfleet.dev/per-cpu-core is missing (wanted cost.gitfleet.dev/per-cpu-core Ne 1)"},
		},
		"unparsable value fails the selector with a reason": {
			policy:      fx.Required(fx.PickAll(), fx.PropertyTerm(cost, v1alpha1.PropertyGe, "0")),
			clusters:    []v1alpha1.MemberCluster{fx.Cluster("ok", fx.Static(cost, "0.5")), fx.Cluster("bad", fx.Static(cost, "cheap"))},
			want:        names("ok"),
			wantReasons: map[string]string{"bad": `property cost.gitfleet.dev/per-cpu-core is "cheap", which is not a quantity`},
		},
		"unparsable value ranks lowest on a sorter": {
			policy:   fx.Preferred(fx.PickN(1), 100, fx.SorterTerm(cost, v1alpha1.Descending)),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a-bad", fx.Static(cost, "cheap")), fx.Cluster("b", fx.Static(cost, "1"))},
			want:     names("b"),
		},
	})
}

func TestNotSelectedDecisionsAreCapped(t *testing.T) {
	var clusters []v1alpha1.MemberCluster
	for i := range 30 {
		clusters = append(clusters, fx.Cluster(fmt.Sprintf("c%02d", i), fx.Leaving()))
	}
	clusters = append(clusters, fx.Cluster("ok"))
	current := []v1alpha1.ClusterDecision{{ClusterName: "c25", Selected: true}, {ClusterName: "gone", Selected: true}}
	res := run(t, fx.PickAll(), clusters, current)
	if len(res.Decisions) != 1+scheduler.MaxNotSelected {
		t.Fatalf("len(Decisions) = %d, want %d", len(res.Decisions), 1+scheduler.MaxNotSelected)
	}
	if res.NotSelected != 31 {
		t.Errorf("NotSelected = %d, want 31", res.NotSelected)
	}
	var got []string
	for _, d := range res.Decisions[:4] {
		got = append(got, d.ClusterName)
	}
	// Selected first, then the clusters the current decisions selected, then by name.
	if diff := cmp.Diff([]string{"ok", "c25", "gone", "c00"}, got); diff != "" {
		t.Errorf("first decisions (-want +got):\n%s", diff)
	}
	checkReasons(t, res, map[string]string{"gone": "no MemberCluster of this name is in the fleet"})
	if want := "PickAll: 1 clusters selected; 31 not selected (the first 20 have a decision with the reason)"; res.Message != want {
		t.Errorf("Message = %q, want %q", res.Message, want)
	}
}

func TestLongReasonsAreCut(t *testing.T) {
	long := strings.Repeat("é", 1000)
	res := run(t, fx.PickAll(), []v1alpha1.MemberCluster{fx.Cluster("a", fx.Healthy(metav1.ConditionFalse, "X", long), fx.Labels(strings.Repeat("k", 60), "v"))}, nil)
	r := res.Decisions[0].Reason
	if len(r) > scheduler.MaxReasonLength || !strings.HasPrefix(r, "ClusterEligibility: cluster is unhealthy") {
		t.Errorf("reason of %d bytes = %q, want at most %d bytes", len(r), r, scheduler.MaxReasonLength)
	}
}

func TestInvalidPolicy(t *testing.T) {
	badSelector := fx.Required(fx.PickAll(), v1alpha1.ClusterSelectorTerm{LabelSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: "Near"}},
	}})
	cases := map[string]struct {
		policy v1alpha1.PlacementPolicy
		want   string
	}{
		"unknown type":                 {v1alpha1.PlacementPolicy{PlacementType: "PickSome"}, `policy.placementType "PickSome"`},
		"PickN without a number":       {v1alpha1.PlacementPolicy{PlacementType: v1alpha1.PickN}, "numberOfClusters is required"},
		"negative number":              {fx.PickN(-1), "numberOfClusters -1 is negative"},
		"bad label selector":           {badSelector, "required.clusterSelectorTerms[0].labelSelector"},
		"empty required terms":         {fx.Required(fx.PickAll()), "clusterSelectorTerms is empty"},
		"bad property operator":        {fx.Required(fx.PickAll(), fx.PropertyTerm("x", "Around", "1")), `unknown operator "Around"`},
		"bad property value":           {fx.Required(fx.PickAll(), fx.PropertyTerm("x", v1alpha1.PropertyGt, "lots")), `"lots" is not a quantity`},
		"bad version value":            {fx.Required(fx.PickAll(), fx.PropertyTerm(v1alpha1.KubernetesVersionProperty, v1alpha1.PropertyGt, "new")), "is not a version"},
		"weight out of range":          {fx.Preferred(fx.PickAll(), 101, fx.LabelTerm("a", "b")), "preferred[0].weight 101 is outside -100..100"},
		"bad sort order":               {fx.Preferred(fx.PickAll(), 1, fx.SorterTerm("x", "Sideways")), `unknown sortOrder "Sideways"`},
		"empty topology key":           {fx.Spread(fx.PickN(1), "", 1, ""), "topologyKey is empty"},
		"negative max skew":            {fx.Spread(fx.PickN(1), "region", -1, ""), "maxSkew -1 is negative"},
		"bad whenUnsatisfiable":        {fx.Spread(fx.PickN(1), "region", 1, "Maybe"), `whenUnsatisfiable "Maybe"`},
		"bad toleration operator":      {v1alpha1.PlacementPolicy{Tolerations: []v1alpha1.Toleration{{Key: "a", Operator: "Like"}}}, `unknown operator "Like"`},
		"Exists toleration with value": {v1alpha1.PlacementPolicy{Tolerations: []v1alpha1.Toleration{{Key: "a", Operator: v1alpha1.TolerationExists, Value: "b"}}}, "Exists takes no value"},
		"bad replicas type":            {v1alpha1.PlacementPolicy{Replicas: &v1alpha1.ReplicaDivision{Total: 1, Type: "Random"}}, `unknown type "Random"`},
		"bad replicas resource":        {v1alpha1.PlacementPolicy{Replicas: &v1alpha1.ReplicaDivision{Total: 1, Resource: "gpu"}}, `resource "gpu"`},
		"negative replicas":            {v1alpha1.PlacementPolicy{Replicas: &v1alpha1.ReplicaDivision{Total: -1}}, "total -1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := scheduler.Schedule(scheduler.Input{Policy: tc.policy, Clusters: []v1alpha1.MemberCluster{fx.Cluster("a")}, Now: fx.Now})
			if !errors.Is(err, scheduler.ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Schedule(%s) = %v, want an ErrInvalidPolicy containing %q", name, err, tc.want)
			}
		})
	}
}

func TestReplicas(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{
		fx.Cluster("a", fx.Labels("size", "big"), fx.Resources(1, "8", "6", "32Gi", "3Gi")),
		fx.Cluster("b", fx.Resources(1, "8", "3", "32Gi", "1Gi")),
		fx.Cluster("c", fx.Resources(1, "8", "0", "32Gi", "0")),
		fx.Cluster("d"),
	}
	big := v1alpha1.ClusterWeight{ClusterSelector: metav1.LabelSelector{MatchLabels: map[string]string{"size": "big"}}, Weight: 3}
	zero := v1alpha1.ClusterWeight{ClusterSelector: metav1.LabelSelector{}, Weight: 0}
	cases := map[string]struct {
		div  v1alpha1.ReplicaDivision
		want map[string]int32
	}{
		"static weights, unlisted weigh 1": {
			div:  v1alpha1.ReplicaDivision{Total: 10, StaticWeights: []v1alpha1.ClusterWeight{big}},
			want: map[string]int32{"a": 5, "b": 2, "c": 2, "d": 1},
		},
		"first matching weight wins": {
			div:  v1alpha1.ReplicaDivision{Total: 6, Type: v1alpha1.StaticWeight, StaticWeights: []v1alpha1.ClusterWeight{big, zero}},
			want: map[string]int32{"a": 6, "b": 0, "c": 0, "d": 0},
		},
		"equal weights: remainder by name": {
			div:  v1alpha1.ReplicaDivision{Total: 6},
			want: map[string]int32{"a": 2, "b": 2, "c": 1, "d": 1},
		},
		"available cpu": {
			div:  v1alpha1.ReplicaDivision{Total: 10, Type: v1alpha1.AvailableCapacity},
			want: map[string]int32{"a": 7, "b": 3, "c": 0, "d": 0},
		},
		"available memory": {
			div:  v1alpha1.ReplicaDivision{Total: 8, Type: v1alpha1.AvailableCapacity, Resource: "memory"},
			want: map[string]int32{"a": 6, "b": 2, "c": 0, "d": 0},
		},
		"zero total": {
			div:  v1alpha1.ReplicaDivision{Total: 0},
			want: map[string]int32{"a": 0, "b": 0, "c": 0, "d": 0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := fx.PickAll()
			p.Replicas = &tc.div
			res := run(t, p, clusters, nil)
			if diff := cmp.Diff(tc.want, res.Replicas); diff != "" {
				t.Errorf("Replicas (-want +got):\n%s", diff)
			}
			for _, d := range res.Decisions {
				if d.Selected && (d.Replicas == nil || *d.Replicas != tc.want[d.ClusterName]) {
					t.Errorf("decision %s replicas = %v, want %d", d.ClusterName, d.Replicas, tc.want[d.ClusterName])
				}
			}
		})
	}
	t.Run("no replicas without policy.replicas", func(t *testing.T) {
		res := run(t, fx.PickAll(), clusters, nil)
		if res.Replicas != nil || res.Decisions[0].Replicas != nil {
			t.Errorf("Replicas = %v, decision replicas %v; want nil", res.Replicas, res.Decisions[0].Replicas)
		}
	})
}

func TestPolicyHash(t *testing.T) {
	base := fx.Spread(fx.PickN(2), "region", 0, "")
	withDefaults := fx.Spread(fx.PickN(2), "region", 1, v1alpha1.DoNotSchedule)
	withReplicas := base
	withReplicas.Replicas = &v1alpha1.ReplicaDivision{Total: 3}
	if a, b := scheduler.PolicyHash(base), scheduler.PolicyHash(withDefaults); a != b {
		t.Errorf("PolicyHash differs with defaults filled in: %s != %s", a, b)
	}
	if a, b := scheduler.PolicyHash(base), scheduler.PolicyHash(withReplicas); a != b {
		t.Errorf("PolicyHash differs with replicas: %s != %s", a, b)
	}
	if a, b := scheduler.PolicyHash(fx.PickFixed("a", "b")), scheduler.PolicyHash(fx.PickFixed("b", "a", "a")); a != b {
		t.Errorf("PolicyHash depends on the order of clusterNames: %s != %s", a, b)
	}
	if a, b := scheduler.PolicyHash(fx.PickN(2)), scheduler.PolicyHash(fx.PickN(3)); a == b {
		t.Errorf("PolicyHash(PickN 2) == PolicyHash(PickN 3) = %s", a)
	}
	if a, b := scheduler.PolicyHash(v1alpha1.PlacementPolicy{}), scheduler.PolicyHash(fx.PickAll()); a != b {
		t.Errorf("PolicyHash differs for an empty placementType: %s != %s", a, b)
	}
}

func TestSharedFleetAndClustersGiveTheSameResult(t *testing.T) {
	g := fx.NewRandom(7)
	clusters := g.Fleet(50)
	fleet := scheduler.NewFleet(clusters)
	for i := range 20 {
		p := g.Policy(50)
		a, errA := scheduler.Schedule(scheduler.Input{Policy: p, Clusters: clusters, Now: fx.Now})
		b, errB := scheduler.New().Schedule(scheduler.Input{Policy: p, Fleet: fleet, Now: fx.Now})
		if errA != nil || errB != nil {
			t.Fatalf("policy %d: errors %v, %v", i, errA, errB)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("policy %d: Clusters and Fleet differ (-clusters +fleet):\n%s", i, diff)
		}
	}
}

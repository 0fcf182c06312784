package clusteraffinity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/plugins/clusteraffinity"
)

const cost = v1alpha1.PerCPUCoreCostProperty

func TestPreFilter(t *testing.T) {
	cases := map[string]struct {
		policy v1alpha1.PlacementPolicy
		want   framework.Code
	}{
		"no affinity":       {fx.PickAll(), framework.Skip},
		"empty affinity":    {v1alpha1.PlacementPolicy{Affinity: &v1alpha1.Affinity{}}, framework.Skip},
		"only preferred":    {fx.Preferred(fx.PickAll(), 10, fx.LabelTerm("a", "b")), framework.Skip},
		"required":          {fx.Required(fx.PickAll(), fx.LabelTerm("a", "b")), framework.Success},
		"empty term":        {fx.Required(fx.PickAll(), v1alpha1.ClusterSelectorTerm{}), framework.Success},
		"no required terms": {fx.Required(fx.PickAll()), framework.Error},
		"two values":        {fx.Required(fx.PickAll(), twoValues()), framework.Error},
		"empty name":        {fx.Required(fx.PickAll(), fx.PropertyTerm("", v1alpha1.PropertyEq, "1")), framework.Error},
		"sorter empty name": {fx.Preferred(fx.PickAll(), 1, fx.SorterTerm("", v1alpha1.Ascending)), framework.Error},
		"weight too low":    {fx.Preferred(fx.PickAll(), -101, fx.LabelTerm("a", "b")), framework.Error},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			state, _ := fx.Cycle(tc.policy, nil)
			st := clusteraffinity.New().PreFilter(state)
			if st.Code() != tc.want {
				t.Fatalf("PreFilter() = %s %q, want %s", st.Code(), st.Message(), tc.want)
			}
			if st.Code() == framework.Error && !errors.Is(st.Err(), framework.ErrInvalidPolicy) {
				t.Errorf("PreFilter() error %v does not wrap ErrInvalidPolicy", st.Err())
			}
		})
	}
}

func twoValues() v1alpha1.ClusterSelectorTerm {
	t := fx.PropertyTerm("x", v1alpha1.PropertyEq, "1")
	t.PropertySelector.MatchExpressions[0].Values = []string{"1", "2"}
	return t
}

func TestFilter(t *testing.T) {
	inEU := v1alpha1.ClusterSelectorTerm{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "region", Operator: metav1.LabelSelectorOpIn, Values: []string{"eu", "uk"}},
		{Key: "gpu", Operator: metav1.LabelSelectorOpDoesNotExist},
	}}}
	cheap := fx.PropertyTerm(cost, v1alpha1.PropertyLe, "0.02")
	cases := map[string]struct {
		terms   []v1alpha1.ClusterSelectorTerm
		cluster v1alpha1.MemberCluster
		want    string
	}{
		"label match":        {[]v1alpha1.ClusterSelectorTerm{inEU}, fx.Cluster("c", fx.Labels("region", "uk")), ""},
		"label mismatch":     {[]v1alpha1.ClusterSelectorTerm{inEU}, fx.Cluster("c", fx.Labels("region", "us")), `does not match the required affinity: label requirement "region in (eu,uk)" is not met`},
		"second requirement": {[]v1alpha1.ClusterSelectorTerm{inEU}, fx.Cluster("c", fx.Labels("region", "eu", "gpu", "yes")), `label requirement "!gpu" is not met`},
		"property match":     {[]v1alpha1.ClusterSelectorTerm{cheap}, fx.Cluster("c", fx.Static(cost, "0.015")), ""},
		"property mismatch":  {[]v1alpha1.ClusterSelectorTerm{cheap}, fx.Cluster("c", fx.Static(cost, "0.025")), `property requirement "cost.gitfleet.dev/per-cpu-core Le 0.02" is not met`},
		"property missing":   {[]v1alpha1.ClusterSelectorTerm{cheap}, fx.Cluster("c"), "property cost.gitfleet.dev/per-cpu-core is missing (wanted cost.gitfleet.dev/per-cpu-core Le 0.02)"},
		"property unparsable": {[]v1alpha1.ClusterSelectorTerm{cheap}, fx.Cluster("c", fx.Static(cost, "2 cents")),
			`property cost.gitfleet.dev/per-cpu-core is "2 cents", which is not a quantity`},
		"either term": {[]v1alpha1.ClusterSelectorTerm{inEU, cheap}, fx.Cluster("c", fx.Static(cost, "0.01")), ""},
		"neither term": {[]v1alpha1.ClusterSelectorTerm{inEU, cheap}, fx.Cluster("c", fx.Labels("region", "us")),
			`matches none of the 2 required affinity terms: term 1: label requirement "region in (eu,uk)" is not met; term 2: property cost.gitfleet.dev/per-cpu-core is missing`},
		"empty term matches all": {[]v1alpha1.ClusterSelectorTerm{{}}, fx.Cluster("c"), ""},
		"sorter is ignored":      {[]v1alpha1.ClusterSelectorTerm{fx.SorterTerm(cost, v1alpha1.Ascending)}, fx.Cluster("c"), ""},
	}
	// The reasons without explaining, where they differ.
	generic := map[string]string{
		"property unparsable": "does not match the required affinity: property cost.gitfleet.dev/per-cpu-core has a value that is not a quantity",
		"neither term":        "matches none of the 2 required affinity terms",
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := clusteraffinity.New()
			state, fleet := fx.Cycle(fx.Required(fx.PickAll(), tc.terms...), nil, tc.cluster)
			if st := p.PreFilter(state); !st.IsSuccess() {
				t.Fatalf("PreFilter() = %s %q", st.Code(), st.Message())
			}
			fast, st := fx.Filter(state, p, fx.Info(fleet, "c"))
			switch {
			case tc.want == "" && !st.IsSuccess():
				t.Errorf("Filter() = %s %q, want Success", st.Code(), st.Message())
			case tc.want != "" && (st.Code() != framework.Unschedulable || !strings.Contains(st.Message(), tc.want)):
				t.Errorf("Filter() explained = %s %q, want Unschedulable %q", st.Code(), st.Message(), tc.want)
			}
			wantFast := st.Message()
			if g, ok := generic[name]; ok {
				wantFast = g
			}
			if fast.Code() != st.Code() || fast.Message() != wantFast {
				t.Errorf("Filter() = %s %q, want %s %q", fast.Code(), fast.Message(), st.Code(), wantFast)
			}
		})
	}
}

func TestScore(t *testing.T) {
	costs := []v1alpha1.MemberCluster{
		fx.Cluster("c1", fx.Static(cost, "1"), fx.Labels("tier", "gold")),
		fx.Cluster("c2", fx.Static(cost, "2")),
		fx.Cluster("c4", fx.Static(cost, "4"), fx.Labels("tier", "gold")),
		fx.Cluster("none", fx.Labels("tier", "gold")),
		fx.Cluster("bad", fx.Static(cost, "n/a")),
	}
	gold := fx.LabelTerm("tier", "gold")
	goldSorted := fx.SorterTerm(cost, v1alpha1.Descending)
	goldSorted.LabelSelector = gold.LabelSelector
	cases := map[string]struct {
		policy   v1alpha1.PlacementPolicy
		clusters []v1alpha1.MemberCluster
		want     map[string]int32
	}{
		"label preference": {
			policy:   fx.Preferred(fx.PickAll(), 30, gold),
			clusters: costs,
			want:     map[string]int32{"c1": 30, "c2": 0, "c4": 30, "none": 30, "bad": 0},
		},
		"preferences add up": {
			policy:   fx.Preferred(fx.Preferred(fx.PickAll(), 30, gold), -20, fx.PropertyTerm(cost, v1alpha1.PropertyGe, "2")),
			clusters: costs,
			want:     map[string]int32{"c1": 30, "c2": -20, "c4": 10, "none": 30, "bad": 0},
		},
		"ascending sorter scales linearly": {
			policy:   fx.Preferred(fx.PickAll(), 90, fx.SorterTerm(cost, v1alpha1.Ascending)),
			clusters: costs,
			want:     map[string]int32{"c1": 90, "c2": 60, "c4": 0, "none": 0, "bad": 0},
		},
		"descending sorter": {
			policy:   fx.Preferred(fx.PickAll(), 90, fx.SorterTerm(cost, v1alpha1.Descending)),
			clusters: costs,
			want:     map[string]int32{"c1": 0, "c2": 30, "c4": 90, "none": 0, "bad": 0},
		},
		"negative weight: missing is worst": {
			policy:   fx.Preferred(fx.PickAll(), -90, fx.SorterTerm(cost, v1alpha1.Descending)),
			clusters: costs,
			want:     map[string]int32{"c1": 0, "c2": -30, "c4": -90, "none": -90, "bad": -90},
		},
		"sorter with a selector ranges over matching clusters": {
			policy:   fx.Preferred(fx.PickAll(), 50, goldSorted),
			clusters: costs,
			want:     map[string]int32{"c1": 0, "c2": 0, "c4": 50, "none": 0, "bad": 0},
		},
		"all equal get the full weight": {
			policy:   fx.Preferred(fx.PickAll(), 40, fx.SorterTerm(cost, v1alpha1.Ascending)),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Static(cost, "1")), fx.Cluster("b", fx.Static(cost, "1000m"))},
			want:     map[string]int32{"a": 40, "b": 40},
		},
		"an infinite value counts as missing": {
			policy:   fx.Preferred(fx.PickAll(), 40, fx.SorterTerm(cost, v1alpha1.Descending)),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Static(cost, "1")), fx.Cluster("b", fx.Static(cost, "2")), fx.Cluster("huge", fx.Static(cost, "1e400"))},
			want:     map[string]int32{"a": 0, "b": 40, "huge": 0},
		},
		"nobody has the property": {
			policy:   fx.Preferred(fx.PickAll(), 40, fx.SorterTerm(cost, v1alpha1.Ascending)),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a"), fx.Cluster("b")},
			want:     map[string]int32{"a": 0, "b": 0},
		},
		"versions sort too": {
			policy: fx.Preferred(fx.PickAll(), 100, fx.SorterTerm(v1alpha1.KubernetesVersionProperty, v1alpha1.Descending)),
			clusters: []v1alpha1.MemberCluster{
				fx.Cluster("old", fx.KubernetesVersion("1.30.0")), fx.Cluster("mid", fx.KubernetesVersion("1.32.0")),
				fx.Cluster("new", fx.KubernetesVersion("1.34.0")),
			},
			want: map[string]int32{"old": 0, "mid": 50, "new": 100},
		},
		"rounding": {
			policy:   fx.Preferred(fx.PickAll(), 100, fx.SorterTerm(cost, v1alpha1.Descending)),
			clusters: []v1alpha1.MemberCluster{fx.Cluster("a", fx.Static(cost, "0")), fx.Cluster("b", fx.Static(cost, "1")), fx.Cluster("c", fx.Static(cost, "3"))},
			want:     map[string]int32{"a": 0, "b": 33, "c": 100},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := clusteraffinity.New()
			state, fleet := fx.Cycle(tc.policy, nil, tc.clusters...)
			if st := p.PreFilter(state); st.Code() == framework.Error {
				t.Fatalf("PreFilter() = %v", st.Err())
			}
			if st := p.PreScore(state, fleet.Clusters()); !st.IsSuccess() {
				t.Fatalf("PreScore() = %s %q", st.Code(), st.Message())
			}
			got := map[string]int32{}
			for _, ci := range fleet.Clusters() {
				s, st := p.Score(state, ci)
				if !st.IsSuccess() || s.TopologySpread != 0 || s.Stickiness != 0 {
					t.Fatalf("Score(%s) = %+v, %v", ci.Name, s, st)
				}
				got[ci.Name] = s.Affinity
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("affinity scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPreScoreSkipsWithoutPreferences(t *testing.T) {
	p := clusteraffinity.New()
	state, fleet := fx.Cycle(fx.Required(fx.PickAll(), fx.LabelTerm("a", "b")), nil, fx.Cluster("c"))
	p.PreFilter(state)
	if st := p.PreScore(state, fleet.Clusters()); !st.IsSkip() {
		t.Errorf("PreScore() = %s, want Skip", st.Code())
	}
}

func TestWithoutPreFilter(t *testing.T) {
	p := clusteraffinity.New()
	state, fleet := fx.Cycle(fx.PickAll(), nil, fx.Cluster("c"))
	if st := p.Filter(state, fx.Info(fleet, "c")); st.Code() != framework.Error {
		t.Errorf("Filter() without PreFilter = %s, want Error", st.Code())
	}
	if st := p.PreScore(state, nil); st.Code() != framework.Error {
		t.Errorf("PreScore() without PreFilter = %s, want Error", st.Code())
	}
	if _, st := p.Score(state, fx.Info(fleet, "c")); st.Code() != framework.Error {
		t.Errorf("Score() without PreFilter = %s, want Error", st.Code())
	}
}

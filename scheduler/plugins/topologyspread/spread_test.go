package topologyspread_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/plugins/topologyspread"
)

func TestPreFilter(t *testing.T) {
	cases := map[string]struct {
		policy v1alpha1.PlacementPolicy
		want   framework.Code
	}{
		"PickN without constraints": {fx.PickN(2), framework.Skip},
		"PickAll ignores them":      {fx.Spread(fx.PickAll(), "region", 1, ""), framework.Skip},
		"defaults":                  {fx.Spread(fx.PickN(2), "region", 0, ""), framework.Success},
		"ScheduleAnyway":            {fx.Spread(fx.PickN(2), "region", 2, v1alpha1.ScheduleAnyway), framework.Success},
		"empty key":                 {fx.Spread(fx.PickN(2), "", 1, ""), framework.Error},
		"negative skew":             {fx.Spread(fx.PickN(2), "region", -2, ""), framework.Error},
		"unknown action":            {fx.Spread(fx.PickN(2), "region", 1, "Sometimes"), framework.Error},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			state, _ := fx.Cycle(tc.policy, nil)
			st := topologyspread.New().PreFilter(state)
			if st.Code() != tc.want {
				t.Errorf("PreFilter() = %s %q, want %s", st.Code(), st.Message(), tc.want)
			}
			if tc.want == framework.Error && !errors.Is(st.Err(), framework.ErrInvalidPolicy) {
				t.Errorf("PreFilter() error %v does not wrap ErrInvalidPolicy", st.Err())
			}
		})
	}
}

func TestFilter(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{fx.Cluster("labelled", fx.Labels("region", "eu")), fx.Cluster("bare")}
	cases := map[string]struct {
		when v1alpha1.UnsatisfiableConstraintAction
		want map[string]string
	}{
		"DoNotSchedule needs the label": {v1alpha1.DoNotSchedule, map[string]string{
			"labelled": "", "bare": "cluster has no label region, the topologyKey of a DoNotSchedule topology spread constraint",
		}},
		"ScheduleAnyway does not": {v1alpha1.ScheduleAnyway, map[string]string{"labelled": "", "bare": ""}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := topologyspread.New()
			state, fleet := fx.Cycle(fx.Spread(fx.PickN(1), "region", 1, tc.when), nil, clusters...)
			p.PreFilter(state)
			for cl, want := range tc.want {
				if st := p.Filter(state, fx.Info(fleet, cl)); st.Message() != want {
					t.Errorf("Filter(%s) = %s %q, want %q", cl, st.Code(), st.Message(), want)
				}
			}
		})
	}
}

// assessAll returns each cluster's verdict: its penalty, or "no".
func assessAll(p *topologyspread.Plugin, state *framework.CycleState, fleet *framework.Fleet) map[string]any {
	out := map[string]any{}
	for _, ci := range fleet.Clusters() {
		s, st := p.Assess(state, ci)
		if st.IsSuccess() {
			out[ci.Name] = s
		} else {
			out[ci.Name] = "no"
		}
	}
	return out
}

func TestPick(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{
		fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("eu-2", fx.Labels("region", "eu")),
		fx.Cluster("eu-3", fx.Labels("region", "eu")), fx.Cluster("us-1", fx.Labels("region", "us")),
		fx.Cluster("bare"),
	}
	cases := map[string]struct {
		when    v1alpha1.UnsatisfiableConstraintAction
		maxSkew int32
		picks   []string
		want    map[string]any
	}{
		"nothing picked": {v1alpha1.DoNotSchedule, 1, nil,
			map[string]any{"eu-1": int32(0), "eu-2": int32(0), "eu-3": int32(0), "us-1": int32(0), "bare": "no"}},
		"DoNotSchedule after one eu": {v1alpha1.DoNotSchedule, 1, []string{"eu-1"},
			map[string]any{"eu-1": "no", "eu-2": "no", "eu-3": "no", "us-1": int32(0), "bare": "no"}},
		"DoNotSchedule balanced again": {v1alpha1.DoNotSchedule, 1, []string{"eu-1", "us-1"},
			map[string]any{"eu-1": int32(0), "eu-2": int32(0), "eu-3": int32(0), "us-1": int32(0), "bare": "no"}},
		"maxSkew 2": {v1alpha1.DoNotSchedule, 2, []string{"eu-1"},
			map[string]any{"eu-1": int32(0), "eu-2": int32(0), "eu-3": int32(0), "us-1": int32(0), "bare": "no"}},
		"ScheduleAnyway penalises": {v1alpha1.ScheduleAnyway, 1, []string{"eu-1", "eu-2"},
			map[string]any{"eu-1": int32(-2), "eu-2": int32(-2), "eu-3": int32(-2), "us-1": int32(0), "bare": int32(-1)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := topologyspread.New()
			state, fleet := fx.Cycle(fx.Spread(fx.PickN(3), "region", tc.maxSkew, tc.when), nil, clusters...)
			p.PreFilter(state)
			var feasible []*framework.ClusterInfo
			for _, ci := range fleet.Clusters() {
				if p.Filter(state, ci).IsSuccess() {
					feasible = append(feasible, ci)
				}
			}
			if st := p.PrePick(state, feasible); !st.IsSuccess() {
				t.Fatalf("PrePick() = %s", st.Code())
			}
			for _, n := range tc.picks {
				p.Picked(state, fx.Info(fleet, n))
			}
			got := assessAll(p, state, fleet)
			for n, want := range tc.want {
				if got[n] != want {
					t.Errorf("Assess(%s) after %v = %v, want %v", n, tc.picks, got[n], want)
				}
			}
		})
	}
}

func TestFits(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{
		fx.Cluster("eu-1", fx.Labels("region", "eu")), fx.Cluster("eu-2", fx.Labels("region", "eu")),
		fx.Cluster("us-1", fx.Labels("region", "us")), fx.Cluster("ap-1", fx.Labels("region", "ap")),
	}
	cases := map[string]struct {
		when v1alpha1.UnsatisfiableConstraintAction
		set  []string
		want string
	}{
		"balanced":           {v1alpha1.DoNotSchedule, []string{"eu-1", "us-1", "ap-1"}, ""},
		"skew 1":             {v1alpha1.DoNotSchedule, []string{"eu-1", "eu-2", "us-1", "ap-1"}, ""},
		"skew 2":             {v1alpha1.DoNotSchedule, []string{"eu-1", "eu-2", "us-1"}, "the clusters would have a skew of 2"},
		"empty domain":       {v1alpha1.DoNotSchedule, []string{"eu-1", "us-1"}, ""},
		"ScheduleAnyway any": {v1alpha1.ScheduleAnyway, []string{"eu-1", "eu-2"}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := topologyspread.New()
			state, fleet := fx.Cycle(fx.Spread(fx.PickN(3), "region", 1, tc.when), nil, clusters...)
			p.PreFilter(state)
			p.PrePick(state, fleet.Clusters())
			var set []*framework.ClusterInfo
			for _, n := range tc.set {
				set = append(set, fx.Info(fleet, n))
			}
			st := p.Fits(state, set)
			if (tc.want == "" && !st.IsSuccess()) || !strings.Contains(st.Message(), tc.want) {
				t.Errorf("Fits(%v) = %s %q, want %q", tc.set, st.Code(), st.Message(), tc.want)
			}
		})
	}
}

func TestSkippedPlugin(t *testing.T) {
	p := topologyspread.New()
	state, fleet := fx.Cycle(fx.PickN(1), nil, fx.Cluster("a"))
	if st := p.PreFilter(state); !st.IsSkip() {
		t.Fatalf("PreFilter() = %s, want Skip", st.Code())
	}
	if st := p.PrePick(state, fleet.Clusters()); !st.IsSkip() {
		t.Errorf("PrePick() = %s, want Skip", st.Code())
	}
	if s, st := p.Assess(state, fx.Info(fleet, "a")); s != 0 || !st.IsSuccess() {
		t.Errorf("Assess() = %d, %v", s, st)
	}
	if st := p.Fits(state, fleet.Clusters()); !st.IsSuccess() {
		t.Errorf("Fits() = %v", st)
	}
	p.Picked(state, fx.Info(fleet, "a")) // no panic
	if st := p.Filter(state, fx.Info(fleet, "a")); st.Code() != framework.Error {
		t.Errorf("Filter() without constraints = %s, want Error (PreFilter said Skip)", st.Code())
	}
}

package framework_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

// fake is a plugin at every extension point that records its calls and returns the
// configured statuses.
type fake struct {
	name                            string
	preFilter, filter, preScore     *framework.Status
	prePick, assess, fits, scoreErr *framework.Status
	score                           framework.ClusterScore
	spread                          int32
	calls                           *[]string
}

func (f *fake) Name() string { return f.name }
func (f *fake) record(what string) {
	*f.calls = append(*f.calls, f.name+"."+what)
}
func (f *fake) PreFilter(*framework.CycleState) *framework.Status {
	f.record("PreFilter")
	return f.preFilter
}
func (f *fake) Filter(_ *framework.CycleState, c *framework.ClusterInfo) *framework.Status {
	f.record("Filter(" + c.Name + ")")
	return f.filter
}
func (f *fake) PreScore(*framework.CycleState, []*framework.ClusterInfo) *framework.Status {
	f.record("PreScore")
	return f.preScore
}
func (f *fake) Score(_ *framework.CycleState, c *framework.ClusterInfo) (framework.ClusterScore, *framework.Status) {
	f.record("Score(" + c.Name + ")")
	return f.score, f.scoreErr
}
func (f *fake) PrePick(*framework.CycleState, []*framework.ClusterInfo) *framework.Status {
	f.record("PrePick")
	return f.prePick
}
func (f *fake) Assess(_ *framework.CycleState, c *framework.ClusterInfo) (int32, *framework.Status) {
	f.record("Assess(" + c.Name + ")")
	return f.spread, f.assess
}
func (f *fake) Fits(*framework.CycleState, []*framework.ClusterInfo) *framework.Status {
	f.record("Fits")
	return f.fits
}
func (f *fake) Picked(_ *framework.CycleState, c *framework.ClusterInfo) {
	f.record("Picked(" + c.Name + ")")
}

func TestProfileRunsPluginsInOrder(t *testing.T) {
	var calls []string
	no := framework.UnschedulableStatus("no")
	skip := framework.NewStatus(framework.Skip)
	a := &fake{name: "A", calls: &calls, score: framework.ClusterScore{Affinity: 2}, spread: -1}
	b := &fake{name: "B", calls: &calls, filter: no, preScore: skip, score: framework.ClusterScore{Affinity: 100}, prePick: skip}
	c := &fake{name: "C", calls: &calls, preFilter: skip}
	p := framework.NewProfile("test", a, b, c)
	if p.Name() != "test" || len(p.Plugins()) != 3 {
		t.Fatalf("NewProfile: name %q, %d plugins", p.Name(), len(p.Plugins()))
	}
	state, fleet := fx.Cycle(fx.PickAll(), nil, fx.Cluster("x"))
	x, _ := fleet.Get("x")

	if err := p.RunPreFilter(state); err != nil {
		t.Fatalf("RunPreFilter() = %v", err)
	}
	plugin, st := p.RunFilter(state, x)
	if plugin != "B" || st != no {
		t.Errorf("RunFilter() = %q, %v; want B's status", plugin, st)
	}
	if err := p.RunPreScore(state, nil); err != nil {
		t.Fatalf("RunPreScore() = %v", err)
	}
	score, err := p.RunScore(state, x)
	if err != nil || score.Affinity != 2 {
		t.Errorf("RunScore() = %+v, %v; want 2 (A 2, C 0; B skipped in PreScore)", score, err)
	}
	if err := p.RunPrePick(state, nil); err != nil || !p.HasPickPlugins(state) {
		t.Fatalf("RunPrePick() = %v, HasPickPlugins %v", err, p.HasPickPlugins(state))
	}
	spread, plugin, st := p.RunAssess(state, x)
	if spread != -1 || plugin != "" || st != nil {
		t.Errorf("RunAssess() = %d, %q, %v; want -1 from A only", spread, plugin, st)
	}
	if plugin, st := p.RunFits(state, []*framework.ClusterInfo{x}); plugin != "" || st != nil {
		t.Errorf("RunFits() = %q, %v", plugin, st)
	}
	p.RunPicked(state, x)
	if st := p.ExplainFilter(state, "B", x); st != no || state.Explain() {
		t.Errorf("ExplainFilter(B) = %v, Explain() after = %v; want B's status and false", st, state.Explain())
	}
	if st := p.ExplainFilter(state, "Z", x); st != nil {
		t.Errorf("ExplainFilter(unknown plugin) = %v, want nil", st)
	}
	want := []string{
		"A.PreFilter", "B.PreFilter", "C.PreFilter",
		"A.Filter(x)", "B.Filter(x)", // C skipped; B stopped the chain anyway
		"A.PreScore", "B.PreScore", "C.PreScore",
		"A.Score(x)", "C.Score(x)",
		"A.PrePick", "B.PrePick", "C.PrePick",
		"A.Assess(x)", "C.Assess(x)",
		"A.Fits", "C.Fits",
		"A.Picked(x)", "C.Picked(x)",
		"B.Filter(x)",
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestProfileErrors(t *testing.T) {
	bad := framework.AsStatus(errors.New("bad policy"))
	cases := map[string]struct {
		plugin *fake
		run    func(*framework.Profile, *framework.CycleState, *framework.ClusterInfo) error
		want   string
	}{
		"PreFilter error": {
			plugin: &fake{preFilter: bad},
			run: func(p *framework.Profile, s *framework.CycleState, _ *framework.ClusterInfo) error {
				return p.RunPreFilter(s)
			},
			want: "P: bad policy",
		},
		"PreFilter Unschedulable breaks the contract": {
			plugin: &fake{preFilter: framework.UnschedulableStatus("huh")},
			run: func(p *framework.Profile, s *framework.CycleState, _ *framework.ClusterInfo) error {
				return p.RunPreFilter(s)
			},
			want: "P: unexpected status Unschedulable: huh",
		},
		"PreScore error": {
			plugin: &fake{preScore: bad},
			run: func(p *framework.Profile, s *framework.CycleState, _ *framework.ClusterInfo) error {
				return p.RunPreScore(s, nil)
			},
			want: "P: bad policy",
		},
		"Score error": {
			plugin: &fake{scoreErr: bad},
			run: func(p *framework.Profile, s *framework.CycleState, c *framework.ClusterInfo) error {
				if err := p.RunPreScore(s, nil); err != nil {
					return err
				}
				_, err := p.RunScore(s, c)
				return err
			},
			want: "score plugin P on cluster x: Error: bad policy",
		},
		"PrePick error": {
			plugin: &fake{prePick: bad},
			run: func(p *framework.Profile, s *framework.CycleState, _ *framework.ClusterInfo) error {
				return p.RunPrePick(s, nil)
			},
			want: "P: bad policy",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var calls []string
			tc.plugin.name, tc.plugin.calls = "P", &calls
			state, fleet := fx.Cycle(v1alpha1.PlacementPolicy{}, nil, fx.Cluster("x"))
			x, _ := fleet.Get("x")
			err := tc.run(framework.NewProfile("p", tc.plugin), state, x)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

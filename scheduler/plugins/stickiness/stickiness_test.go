package stickiness_test

import (
	"testing"

	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/plugins/stickiness"
)

func TestScore(t *testing.T) {
	state, fleet := fx.Cycle(fx.PickN(1), []string{"a", "gone"}, fx.Cluster("a"), fx.Cluster("b"))
	p := stickiness.New()
	for name, want := range map[string]int32{"a": 1, "b": 0} {
		s, st := p.Score(state, fx.Info(fleet, name))
		if !st.IsSuccess() || s != (framework.ClusterScore{Stickiness: want}) {
			t.Errorf("Score(%s) = %+v, %v; want stickiness %d", name, s, st, want)
		}
	}
	if p.Name() != stickiness.Name {
		t.Errorf("Name() = %q", p.Name())
	}
}

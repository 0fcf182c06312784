package framework

import "fmt"

// Profile is an ordered set of plugins; it runs them at each extension point in the
// order they were given. A plugin that implements several extension points is called at
// each of them.
type Profile struct {
	name       string
	plugins    []Plugin
	preFilters []PreFilterPlugin
	filters    []FilterPlugin
	preScores  []PreScorePlugin
	scores     []ScorePlugin
	picks      []PickPlugin
}

// NewProfile assembles the plugins into a profile.
func NewProfile(name string, plugins ...Plugin) *Profile {
	p := &Profile{name: name, plugins: plugins}
	for _, pl := range plugins {
		if x, ok := pl.(PreFilterPlugin); ok {
			p.preFilters = append(p.preFilters, x)
		}
		if x, ok := pl.(FilterPlugin); ok {
			p.filters = append(p.filters, x)
		}
		if x, ok := pl.(PreScorePlugin); ok {
			p.preScores = append(p.preScores, x)
		}
		if x, ok := pl.(ScorePlugin); ok {
			p.scores = append(p.scores, x)
		}
		if x, ok := pl.(PickPlugin); ok {
			p.picks = append(p.picks, x)
		}
	}
	return p
}

// Name returns the profile's name.
func (p *Profile) Name() string { return p.name }

// Plugins returns the plugins in order.
func (p *Profile) Plugins() []Plugin { return p.plugins }

// RunPreFilter runs every PreFilterPlugin and remembers in the state which Filter
// plugins to call. It fails when a plugin returns Error (or, against the contract,
// Unschedulable).
func (p *Profile) RunPreFilter(state *CycleState) error {
	skipped, err := runPre(p.preFilters, func(pl PreFilterPlugin) *Status { return pl.PreFilter(state) })
	if err != nil {
		return err
	}
	state.filters = active(p.filters, skipped)
	return nil
}

// RunFilter runs the active Filter plugins on the cluster and returns the first that
// did not return Success, with its status; "" and nil when the cluster is feasible.
func (p *Profile) RunFilter(state *CycleState, cluster *ClusterInfo) (string, *Status) {
	for _, pl := range state.filters {
		if st := pl.Filter(state, cluster); !st.IsSuccess() {
			return pl.Name(), st
		}
	}
	return "", nil
}

// ExplainFilter runs the named Filter plugin again on the cluster with
// CycleState.Explain true, for a detailed reason. It returns nil when the profile has
// no such plugin.
func (p *Profile) ExplainFilter(state *CycleState, plugin string, cluster *ClusterInfo) *Status {
	for _, pl := range p.filters {
		if pl.Name() == plugin {
			state.explain = true
			defer func() { state.explain = false }()
			return pl.Filter(state, cluster)
		}
	}
	return nil
}

// RunPreScore runs every PreScorePlugin and remembers in the state which Score plugins
// to call.
func (p *Profile) RunPreScore(state *CycleState, feasible []*ClusterInfo) error {
	skipped, err := runPre(p.preScores, func(pl PreScorePlugin) *Status { return pl.PreScore(state, feasible) })
	if err != nil {
		return err
	}
	state.scores = active(p.scores, skipped)
	return nil
}

// RunScore adds up the partial scores of the active Score plugins for the cluster.
func (p *Profile) RunScore(state *CycleState, cluster *ClusterInfo) (ClusterScore, error) {
	var total ClusterScore
	for _, pl := range state.scores {
		s, st := pl.Score(state, cluster)
		if !st.IsSuccess() {
			return ClusterScore{}, fmt.Errorf("score plugin %s on cluster %s: %s: %w", pl.Name(), cluster.Name, st.Code(), st.Err())
		}
		total = total.Add(s)
	}
	return total, nil
}

// RunPrePick runs PrePick of every PickPlugin and remembers in the state which ones to
// consult.
func (p *Profile) RunPrePick(state *CycleState, feasible []*ClusterInfo) error {
	skipped, err := runPre(p.picks, func(pl PickPlugin) *Status { return pl.PrePick(state, feasible) })
	if err != nil {
		return err
	}
	state.picks = active(p.picks, skipped)
	return nil
}

// HasPickPlugins reports whether any PickPlugin is active in this cycle.
func (p *Profile) HasPickPlugins(state *CycleState) bool { return len(state.picks) > 0 }

// RunAssess asks the active PickPlugins whether the cluster may be picked next. It
// returns the summed score, or the first plugin that refused with its status.
func (p *Profile) RunAssess(state *CycleState, cluster *ClusterInfo) (int32, string, *Status) {
	var total int32
	for _, pl := range state.picks {
		s, st := pl.Assess(state, cluster)
		if !st.IsSuccess() {
			return 0, pl.Name(), st
		}
		total += s
	}
	return total, "", nil
}

// RunFits asks the active PickPlugins whether the clusters, picked together, keep their
// hard constraints; it returns the first plugin that says no, with its status.
func (p *Profile) RunFits(state *CycleState, clusters []*ClusterInfo) (string, *Status) {
	for _, pl := range state.picks {
		if st := pl.Fits(state, clusters); !st.IsSuccess() {
			return pl.Name(), st
		}
	}
	return "", nil
}

// RunPicked tells the active PickPlugins that the cluster was picked.
func (p *Profile) RunPicked(state *CycleState, cluster *ClusterInfo) {
	for _, pl := range state.picks {
		pl.Picked(state, cluster)
	}
}

// runPre calls a "pre" extension point of every plugin and returns the names of those
// that said Skip.
func runPre[P Plugin](plugins []P, call func(P) *Status) (map[string]bool, error) {
	var skipped map[string]bool
	for _, pl := range plugins {
		st := call(pl)
		switch st.Code() {
		case Success:
		case Skip:
			if skipped == nil {
				skipped = map[string]bool{}
			}
			skipped[pl.Name()] = true
		case Error:
			return nil, fmt.Errorf("%s: %w", pl.Name(), st.Err())
		default:
			return nil, fmt.Errorf("%s: unexpected status %s: %s", pl.Name(), st.Code(), st.Message())
		}
	}
	return skipped, nil
}

func active[P Plugin](plugins []P, skipped map[string]bool) []P {
	if len(skipped) == 0 {
		return plugins
	}
	out := make([]P, 0, len(plugins))
	for _, pl := range plugins {
		if !skipped[pl.Name()] {
			out = append(out, pl)
		}
	}
	return out
}

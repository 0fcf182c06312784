// Package stickiness scores the clusters the current decisions already selected, so
// that among equally good clusters the scheduler keeps what it has.
package stickiness

import "github.com/gitfleet/gitfleet/scheduler/framework"

// Name is the plugin's name.
const Name = "Stickiness"

// Plugin is the stickiness scorer.
type Plugin struct{}

var _ framework.ScorePlugin = (*Plugin)(nil)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns "Stickiness".
func (p *Plugin) Name() string { return Name }

// Score is Stickiness 1 for a cluster the current decisions select, 0 otherwise.
func (p *Plugin) Score(state *framework.CycleState, cluster *framework.ClusterInfo) (framework.ClusterScore, *framework.Status) {
	if state.CurrentlySelected(cluster.Name) {
		return framework.ClusterScore{Stickiness: 1}, nil
	}
	return framework.ClusterScore{}, nil
}

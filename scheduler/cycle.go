package scheduler

import (
	"fmt"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// cycle places one placement.
type cycle struct {
	profile *framework.Profile
	policy  *v1alpha1.PlacementPolicy
	fleet   *framework.Fleet
	current map[string]bool
	// keep is true while the policy is unchanged: PickN keeps its current clusters.
	keep  bool
	state *framework.CycleState

	selected    []candidate
	notSelected notSelected
}

// candidate is a feasible cluster.
type candidate struct {
	ci     *framework.ClusterInfo
	score  framework.ClusterScore
	picked bool
	// kept is set, for PickN while the policy is unchanged, on the clusters the
	// current decisions select.
	kept bool
}

// rejection is a cluster that was considered and not selected.
type rejection struct {
	name string
	// ci is nil for a name that is not in the fleet.
	ci *framework.ClusterInfo
	// plugin and status say which filter dropped it; empty for a feasible cluster PickN
	// did not pick, and for a name that is not in the fleet.
	plugin string
	status *framework.Status
	// notFound is set for a name that is not in the fleet.
	notFound bool
}

// run filters, scores and picks.
func (c *cycle) run() error {
	candidates := c.candidates()
	if err := c.profile.RunPreFilter(c.state); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	feasible := make([]*framework.ClusterInfo, 0, len(candidates))
	for _, ci := range candidates {
		plugin, st := c.profile.RunFilter(c.state, ci)
		switch st.Code() {
		case framework.Success:
			feasible = append(feasible, ci)
		case framework.Unschedulable:
			c.notSelected.add(rejection{name: ci.Name, ci: ci, plugin: plugin, status: st}, c.current[ci.Name])
		default:
			return fmt.Errorf("schedule: filter %s on cluster %s: %s: %w", plugin, ci.Name, st.Code(), st.Err())
		}
	}
	if err := c.profile.RunPreScore(c.state, feasible); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	cands := make([]candidate, len(feasible))
	for i, ci := range feasible {
		score, err := c.profile.RunScore(c.state, ci)
		if err != nil {
			return fmt.Errorf("schedule: %w", err)
		}
		cands[i] = candidate{ci: ci, score: score}
	}
	if c.policy.PlacementType == v1alpha1.PickN {
		if err := c.pickN(cands, feasible, int(*c.policy.NumberOfClusters)); err != nil {
			return err
		}
	} else {
		for i := range cands {
			cands[i].picked = true
		}
	}
	for _, cd := range cands {
		if cd.picked {
			c.selected = append(c.selected, cd)
		} else {
			c.notSelected.add(rejection{name: cd.ci.Name, ci: cd.ci}, c.current[cd.ci.Name])
		}
	}
	return nil
}

// candidates returns the clusters to consider: the named ones for PickFixed (recording
// names not in the fleet as rejections), every cluster otherwise (recording the
// clusters the current decisions select that are no longer in the fleet, so that
// their decision says why they left).
func (c *cycle) candidates() []*framework.ClusterInfo {
	if c.policy.PlacementType != v1alpha1.PickFixed {
		for name := range c.current {
			if _, ok := c.fleet.Get(name); !ok {
				c.notSelected.add(rejection{name: name, notFound: true}, true)
			}
		}
		return c.fleet.Clusters()
	}
	out := make([]*framework.ClusterInfo, 0, len(c.policy.ClusterNames))
	for _, name := range c.policy.ClusterNames {
		if ci, ok := c.fleet.Get(name); ok {
			out = append(out, ci)
			continue
		}
		c.notSelected.add(rejection{name: name, notFound: true}, c.current[name])
	}
	return out
}

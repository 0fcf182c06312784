// Package topologyspread spreads a PickN placement over the values (domains) of a
// cluster label, e.g. region.
//
// The domains of a constraint are the values of its topologyKey among the feasible
// clusters. The skew of a domain is the number of picked clusters in it minus the
// smallest number in any domain. PickN picks one cluster at a time; picking a cluster
// must not raise its domain's skew above maxSkew:
//
//   - DoNotSchedule (the default): such a cluster is not picked now (it may be later,
//     once other domains caught up), and a cluster without the label is not feasible at
//     all. Fewer than numberOfClusters may be picked; the placement reports how many are
//     missing.
//   - ScheduleAnyway: such a cluster is penalised by how far it exceeds maxSkew, and a
//     cluster without the label by 1; nothing is refused.
//
// The penalty is the cluster's ClusterScore.TopologySpread (0 or negative), which ranks
// before affinity. Constraints apply to PickN only.
package topologyspread

import (
	"fmt"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// Name is the plugin's name.
const Name = "TopologySpread"

const stateKey framework.StateKey = Name

// Plugin is the topology spread filter and pick plugin.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
	_ framework.PickPlugin      = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns "TopologySpread".
func (p *Plugin) Name() string { return Name }

// constraint is a compiled constraint and, from PrePick on, its domains and counts.
type constraint struct {
	key      string
	maxSkew  int
	hard     bool // DoNotSchedule
	noLabel  *framework.Status
	domains  []string
	domainOf []int32 // by ClusterInfo.Index; -1 without the label
	counts   []int
	min      int
	refusals []*framework.Status // by domain, for DoNotSchedule
}

type spreadState struct {
	constraints []*constraint
}

// PreFilter compiles the constraints. It returns Skip unless the policy is PickN with
// at least one constraint, and Error wrapping framework.ErrInvalidPolicy for an empty
// topologyKey, a negative maxSkew or an unknown whenUnsatisfiable. maxSkew 0 means 1 and
// an empty whenUnsatisfiable means DoNotSchedule, as the API defaults them.
func (p *Plugin) PreFilter(state *framework.CycleState) *framework.Status {
	pol := state.Policy()
	if pol.PlacementType != v1alpha1.PickN || len(pol.TopologySpreadConstraints) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	s := &spreadState{}
	for i, tc := range pol.TopologySpreadConstraints {
		path := fmt.Sprintf("policy.topologySpreadConstraints[%d]", i)
		c := &constraint{key: tc.TopologyKey, maxSkew: int(tc.MaxSkew)}
		switch {
		case tc.TopologyKey == "":
			return framework.AsStatus(fmt.Errorf("%w: %s.topologyKey is empty", framework.ErrInvalidPolicy, path))
		case tc.MaxSkew < 0:
			return framework.AsStatus(fmt.Errorf("%w: %s.maxSkew %d is negative", framework.ErrInvalidPolicy, path, tc.MaxSkew))
		case tc.MaxSkew == 0:
			c.maxSkew = 1
		}
		switch tc.WhenUnsatisfiable {
		case "", v1alpha1.DoNotSchedule:
			c.hard = true
			c.noLabel = framework.UnschedulableStatus(fmt.Sprintf(
				"cluster has no label %s, the topologyKey of a DoNotSchedule topology spread constraint", c.key))
		case v1alpha1.ScheduleAnyway:
		default:
			return framework.AsStatus(fmt.Errorf("%w: %s.whenUnsatisfiable %q is not DoNotSchedule or ScheduleAnyway",
				framework.ErrInvalidPolicy, path, tc.WhenUnsatisfiable))
		}
		s.constraints = append(s.constraints, c)
	}
	state.Write(stateKey, s)
	return nil
}

// Filter drops a cluster without the topologyKey label of a DoNotSchedule constraint.
func (p *Plugin) Filter(state *framework.CycleState, cluster *framework.ClusterInfo) *framework.Status {
	s, ok := framework.ReadAs[*spreadState](state, stateKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: PreFilter did not run", Name))
	}
	for _, c := range s.constraints {
		if _, has := cluster.Labels[c.key]; c.hard && !has {
			return c.noLabel
		}
	}
	return nil
}

// PrePick finds each constraint's domains among the feasible clusters, with no picks
// yet. It returns Skip when PreFilter did (not PickN, or no constraints).
func (p *Plugin) PrePick(state *framework.CycleState, feasible []*framework.ClusterInfo) *framework.Status {
	s, ok := framework.ReadAs[*spreadState](state, stateKey)
	if !ok {
		return framework.NewStatus(framework.Skip)
	}
	n := state.Fleet().Len()
	for _, c := range s.constraints {
		c.domainOf = make([]int32, n)
		for i := range c.domainOf {
			c.domainOf[i] = -1
		}
		index := map[string]int32{}
		for _, cl := range feasible {
			v, has := cl.Labels[c.key]
			if !has {
				continue
			}
			d, seen := index[v]
			if !seen {
				d = int32(len(c.domains))
				index[v] = d
				c.domains = append(c.domains, v)
			}
			c.domainOf[cl.Index] = d
		}
		c.counts = make([]int, len(c.domains))
		c.min = 0
		if c.hard {
			c.refusals = make([]*framework.Status, len(c.domains))
			for d, v := range c.domains {
				c.refusals[d] = framework.UnschedulableStatus(fmt.Sprintf(
					"topology spread over %s (DoNotSchedule, maxSkew %d): %s=%s already has as many picks as maxSkew allows",
					c.key, c.maxSkew, c.key, v))
			}
		}
	}
	return nil
}

// Assess refuses a cluster whose pick would raise its domain's skew above a
// DoNotSchedule constraint's maxSkew, and otherwise returns the penalty for the
// ScheduleAnyway constraints it would exceed (0 when none).
func (p *Plugin) Assess(state *framework.CycleState, cluster *framework.ClusterInfo) (int32, *framework.Status) {
	s, ok := framework.ReadAs[*spreadState](state, stateKey)
	if !ok {
		return 0, nil
	}
	var penalty int32
	for _, c := range s.constraints {
		d := c.domainOf[cluster.Index]
		if d < 0 {
			if c.hard {
				return 0, c.noLabel // Filter already dropped it; kept for safety
			}
			penalty--
			continue
		}
		excess := c.counts[d] + 1 - c.min - c.maxSkew
		if excess <= 0 {
			continue
		}
		if c.hard {
			return 0, c.refusals[d]
		}
		penalty -= int32(excess)
	}
	return penalty, nil
}

// Fits reports whether the clusters, all picked, keep every DoNotSchedule constraint:
// in each, the fullest domain has at most maxSkew picks more than the emptiest.
func (p *Plugin) Fits(state *framework.CycleState, clusters []*framework.ClusterInfo) *framework.Status {
	s, ok := framework.ReadAs[*spreadState](state, stateKey)
	if !ok {
		return nil
	}
	for _, c := range s.constraints {
		if !c.hard || len(c.domains) == 0 {
			continue
		}
		counts := make([]int, len(c.domains))
		for _, cl := range clusters {
			d := c.domainOf[cl.Index]
			if d < 0 {
				return c.noLabel
			}
			counts[d]++
		}
		lo, hi := counts[0], counts[0]
		for _, n := range counts[1:] {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > c.maxSkew {
			return framework.UnschedulableStatus(fmt.Sprintf(
				"topology spread over %s (DoNotSchedule, maxSkew %d): the clusters would have a skew of %d", c.key, c.maxSkew, hi-lo))
		}
	}
	return nil
}

// Picked counts the cluster in its domains.
func (p *Plugin) Picked(state *framework.CycleState, cluster *framework.ClusterInfo) {
	s, ok := framework.ReadAs[*spreadState](state, stateKey)
	if !ok {
		return
	}
	for _, c := range s.constraints {
		d := c.domainOf[cluster.Index]
		if d < 0 {
			continue
		}
		c.counts[d]++
		c.min = c.counts[0]
		for _, n := range c.counts[1:] {
			c.min = min(c.min, n)
		}
	}
}

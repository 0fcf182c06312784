package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// pickN picks up to n of the feasible candidates, one at a time.
//
// Each pick takes the best remaining candidate that every PickPlugin accepts. "Best"
// is, while the policy is unchanged (keep), currently selected first, then topology
// spread, affinity and name; after a policy change, topology spread, affinity,
// stickiness and name. The candidates are sorted once by everything but topology
// spread, whose score depends on the picks so far; a scan can stop at the first
// accepted candidate without spread penalty, since no later one can beat it.
//
// While the policy is unchanged, the currently selected feasible clusters are first
// kept as a whole when there are at most n of them and the PickPlugins say they fit
// together: picking them one by one could get stuck on an order that differs from the
// one they were picked in, and replace one of them for no reason.
func (c *cycle) pickN(cands []candidate, feasible []*framework.ClusterInfo, n int) error {
	order := make([]int32, len(cands))
	for i := range order {
		order[i] = int32(i)
		cands[i].kept = c.keep && c.current[cands[i].ci.Name]
	}
	slices.SortFunc(order, func(a, b int32) int { return rankCompare(&cands[a], &cands[b]) })
	if err := c.profile.RunPrePick(c.state, feasible); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if !c.profile.HasPickPlugins(c.state) {
		for k := 0; k < n && k < len(order); k++ {
			cands[order[k]].picked = true
		}
		return nil
	}
	picked := 0
	if c.keep {
		picked = c.keepCurrent(cands, order, n)
	}
	for ; picked < n; picked++ {
		best, bestSpread := int32(-1), int32(0)
		for _, i := range order {
			cd := &cands[i]
			if cd.picked {
				continue
			}
			if best >= 0 && cd.kept != cands[best].kept {
				break // a kept cluster was found; a new one cannot beat it
			}
			spread, _, st := c.profile.RunAssess(c.state, cd.ci)
			if !st.IsSuccess() {
				continue
			}
			if best < 0 || spread > bestSpread {
				best, bestSpread = i, spread
			}
			if spread >= 0 {
				break
			}
		}
		if best < 0 {
			break // no remaining candidate can be picked: some are missing
		}
		c.pick(&cands[best], bestSpread)
	}
	return nil
}

// keepCurrent picks the currently selected candidates, all of them, when there are at
// most n and they fit together; it returns how many it picked.
func (c *cycle) keepCurrent(cands []candidate, order []int32, n int) int {
	var kept []int32
	var infos []*framework.ClusterInfo
	for _, i := range order {
		if cands[i].kept {
			kept = append(kept, i)
			infos = append(infos, cands[i].ci)
		}
	}
	if len(kept) == 0 || len(kept) > n {
		return 0
	}
	if _, st := c.profile.RunFits(c.state, infos); !st.IsSuccess() {
		return 0
	}
	for _, i := range kept {
		spread, _, _ := c.profile.RunAssess(c.state, cands[i].ci) // the set fits; only the penalty matters
		c.pick(&cands[i], spread)
	}
	return len(kept)
}

func (c *cycle) pick(cd *candidate, spread int32) {
	cd.picked = true
	cd.score.TopologySpread = spread
	c.profile.RunPicked(c.state, cd.ci)
}

// rankCompare orders candidates by everything but topology spread, best first: kept,
// affinity, stickiness, name; see pickN.
func rankCompare(a, b *candidate) int {
	switch {
	case a.kept != b.kept:
		if a.kept {
			return -1
		}
		return 1
	case a.score.Affinity != b.score.Affinity:
		return cmp.Compare(b.score.Affinity, a.score.Affinity)
	case a.score.Stickiness != b.score.Stickiness:
		return cmp.Compare(b.score.Stickiness, a.score.Stickiness)
	default:
		return strings.Compare(a.ci.Name, b.ci.Name)
	}
}

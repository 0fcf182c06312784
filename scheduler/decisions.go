package scheduler

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/replicas"
)

// result turns the cycle's picks and rejections into the Result.
func (c *cycle) result() (Result, error) {
	// c.selected is in the order of the candidates, which is by name.
	res := Result{
		Selected:    make([]string, len(c.selected)),
		NotSelected: c.notSelected.total,
	}
	for i, cd := range c.selected {
		res.Selected[i] = cd.ci.Name
	}
	if div := c.policy.Replicas; div != nil {
		clusters := make([]*v1alpha1.MemberCluster, len(c.selected))
		for i, cd := range c.selected {
			clusters[i] = cd.ci.Cluster
		}
		shares, err := replicas.Divide(div, clusters)
		if err != nil {
			return Result{}, fmt.Errorf("%w: policy.replicas: %w", ErrInvalidPolicy, err)
		}
		res.Replicas = shares
	}

	report := c.notSelected.first()
	res.Decisions = make([]v1alpha1.ClusterDecision, 0, len(c.selected)+len(report))
	for _, cd := range c.selected {
		d := v1alpha1.ClusterDecision{
			ClusterName: cd.ci.Name,
			Selected:    true,
			Score:       cd.score.API(),
			Reason:      c.selectedReason(cd),
		}
		if res.Replicas != nil {
			n := res.Replicas[cd.ci.Name]
			d.Replicas = &n
		}
		res.Decisions = append(res.Decisions, d)
	}
	for i := range report {
		res.Decisions = append(res.Decisions, v1alpha1.ClusterDecision{
			ClusterName: report[i].name,
			Reason:      truncate(c.rejectedReason(&report[i])),
		})
	}

	res.Wanted, res.Missing = c.wanted(len(c.selected))
	res.Reason = v1alpha1.ScheduleSucceededReason
	if res.Missing > 0 {
		res.Reason = v1alpha1.NotEnoughClustersReason
	}
	res.Message = c.summary(res)
	return res, nil
}

func (c *cycle) wanted(selected int) (wanted, missing int32) {
	switch c.policy.PlacementType {
	case v1alpha1.PickN:
		wanted = *c.policy.NumberOfClusters
	case v1alpha1.PickFixed:
		wanted = int32(len(c.policy.ClusterNames))
	default:
		wanted = int32(selected)
	}
	return wanted, max(0, wanted-int32(selected))
}

func (c *cycle) selectedReason(cd candidate) string {
	switch c.policy.PlacementType {
	case v1alpha1.PickN:
		if cd.kept {
			return "kept by PickN: still feasible and the policy is unchanged"
		}
		return "picked by PickN: among the best-ranked feasible clusters"
	case v1alpha1.PickFixed:
		return "picked by PickFixed: named in clusterNames, eligible and not tainted"
	default:
		return "picked by PickAll: eligible, tolerated and matching the required affinity"
	}
}

func (c *cycle) rejectedReason(r *rejection) string {
	switch {
	case r.notFound:
		return "no MemberCluster of this name is in the fleet"
	case r.status != nil:
		st := r.status
		if explained := c.profile.ExplainFilter(c.state, r.plugin, r.ci); explained.Code() == st.Code() {
			st = explained
		}
		return r.plugin + ": " + st.Message()
	}
	// A feasible cluster PickN did not pick: a PickPlugin may refuse it now.
	if _, plugin, st := c.profile.RunAssess(c.state, r.ci); !st.IsSuccess() {
		return "feasible, but not picked: " + plugin + ": " + st.Message()
	}
	if c.policy.NumberOfClusters == nil {
		return "feasible, but not picked"
	}
	n := *c.policy.NumberOfClusters
	if c.keep && len(c.current) > 0 {
		return fmt.Sprintf("feasible, but not picked: numberOfClusters (%d) was filled by clusters ranked higher "+
			"(current picks stay while feasible and the policy is unchanged)", n)
	}
	return fmt.Sprintf("feasible, but not picked: numberOfClusters (%d) was filled by clusters ranked higher "+
		"(by topology spread, affinity, stickiness, then name)", n)
}

func (c *cycle) summary(res Result) string {
	sel := len(res.Selected)
	var b strings.Builder
	switch c.policy.PlacementType {
	case v1alpha1.PickN:
		fmt.Fprintf(&b, "PickN: %d of %d clusters selected", sel, res.Wanted)
	case v1alpha1.PickFixed:
		fmt.Fprintf(&b, "PickFixed: %d of %d named clusters selected", sel, res.Wanted)
	default:
		fmt.Fprintf(&b, "PickAll: %d clusters selected", sel)
	}
	if res.Missing > 0 {
		fmt.Fprintf(&b, ", %d missing", res.Missing)
	}
	if res.NotSelected > 0 {
		fmt.Fprintf(&b, "; %d not selected", res.NotSelected)
		if res.NotSelected > MaxNotSelected {
			fmt.Fprintf(&b, " (the first %d have a decision with the reason)", MaxNotSelected)
		}
	}
	return b.String()
}

// truncate cuts a reason to MaxReasonLength bytes, on a rune boundary.
func truncate(s string) string {
	if len(s) <= MaxReasonLength {
		return s
	}
	const ellipsis = "..."
	cut := MaxReasonLength - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

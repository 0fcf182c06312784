// Package clusteraffinity filters clusters by the policy's required affinity terms and
// scores them by its preferred ones.
//
// Required terms are ORed; each is an AND of a label selector and property
// requirements (Gt, Ge, Eq, Ne, Lt, Le on quantities, or versions for
// k8s.io/kubernetes-version). A cluster that lacks a property, or whose value cannot be
// parsed, does not match a requirement on it. Preferred terms add their weight
// (-100..100) to every cluster they match; a term with a property sorter adds a share
// of it, scaled linearly between the smallest and the largest value among the feasible
// clusters that match the term's selectors, and a cluster without the property gets
// the worst share (0 for a positive weight, the full weight for a negative one).
package clusteraffinity

import (
	"fmt"
	"math"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// Name is the plugin's name.
const Name = "ClusterAffinity"

const stateKey framework.StateKey = Name

// Plugin is the affinity filter and scorer.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
	_ framework.PreScorePlugin  = (*Plugin)(nil)
	_ framework.ScorePlugin     = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns "ClusterAffinity".
func (p *Plugin) Name() string { return Name }

// compiled is the plugin's cycle state.
type compiled struct {
	required []*term
	// requiredStatus maps the reasons a cluster can fail the only required term for to
	// their statuses, built once; nil with several terms.
	requiredStatus map[string]*framework.Status
	// noneStatus is the generic status for failing several required terms.
	noneStatus *framework.Status
	preferred  []preferred
}

type preferred struct {
	weight int32
	term   *term
	// lo and hi are the range of the sorter's property among the feasible clusters
	// matching the term; ok is false when none has it.
	lo, hi float64
	ok     bool
}

// PreFilter compiles the affinity into the cycle state. It returns Skip when there are
// no required terms (Filter has nothing to check), and Error wrapping
// framework.ErrInvalidPolicy for an invalid selector, operator, value or weight.
func (p *Plugin) PreFilter(state *framework.CycleState) *framework.Status {
	c := &compiled{}
	state.Write(stateKey, c)
	pol := state.Policy()
	if pol.Affinity == nil || pol.Affinity.ClusterAffinity == nil {
		return framework.NewStatus(framework.Skip)
	}
	ca := pol.Affinity.ClusterAffinity
	const base = "policy.affinity.clusterAffinity"
	if ca.Required != nil {
		if len(ca.Required.ClusterSelectorTerms) == 0 {
			return framework.AsStatus(fmt.Errorf("%w: %s.required.clusterSelectorTerms is empty", framework.ErrInvalidPolicy, base))
		}
		for i := range ca.Required.ClusterSelectorTerms {
			t, err := compileTerm(fmt.Sprintf("%s.required.clusterSelectorTerms[%d]", base, i), &ca.Required.ClusterSelectorTerms[i])
			if err != nil {
				return framework.AsStatus(err)
			}
			t.sorter = nil // sorters only rank; they are not allowed in required terms
			c.required = append(c.required, t)
		}
	}
	for i := range ca.Preferred {
		pt := &ca.Preferred[i]
		path := fmt.Sprintf("%s.preferred[%d]", base, i)
		if pt.Weight < -100 || pt.Weight > 100 {
			return framework.AsStatus(fmt.Errorf("%w: %s.weight %d is outside -100..100", framework.ErrInvalidPolicy, path, pt.Weight))
		}
		t, err := compileTerm(path+".preference", &pt.Preference)
		if err != nil {
			return framework.AsStatus(err)
		}
		c.preferred = append(c.preferred, preferred{weight: pt.Weight, term: t})
	}
	if len(c.required) == 1 {
		c.requiredStatus = map[string]*framework.Status{}
		t := c.required[0]
		for _, l := range t.labels {
			c.requiredStatus[l.reason] = framework.UnschedulableStatus(requiredFailure(l.reason))
		}
		for _, pr := range t.props {
			for _, r := range []string{pr.missingReason, pr.failedReason, pr.unusableReason} {
				c.requiredStatus[r] = framework.UnschedulableStatus(requiredFailure(r))
			}
		}
	}
	c.noneStatus = framework.UnschedulableStatus(fmt.Sprintf("matches none of the %d required affinity terms", len(c.required)))
	if len(c.required) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	return nil
}

// Filter drops a cluster that matches none of the required terms. The reason says, for
// each term, the first requirement the cluster fails (with several terms, only when
// explained).
func (p *Plugin) Filter(state *framework.CycleState, cluster *framework.ClusterInfo) *framework.Status {
	c, ok := framework.ReadAs[*compiled](state, stateKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: PreFilter did not run", Name))
	}
	if len(c.required) == 0 {
		return nil
	}
	explain := state.Explain()
	var reasons []string
	for _, t := range c.required {
		ok, reason := t.match(cluster, explain)
		if ok {
			return nil
		}
		if st, found := c.requiredStatus[reason]; found {
			return st
		}
		if explain {
			reasons = append(reasons, reason)
		}
	}
	if !explain {
		return c.noneStatus
	}
	return framework.UnschedulableStatus(requiredFailure(reasons...))
}

// PreScore finds, for each preferred property sorter, the smallest and largest value
// among the feasible clusters that match the term. It returns Skip without preferred
// terms.
func (p *Plugin) PreScore(state *framework.CycleState, feasible []*framework.ClusterInfo) *framework.Status {
	c, ok := framework.ReadAs[*compiled](state, stateKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: PreFilter did not run", Name))
	}
	if len(c.preferred) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	for i := range c.preferred {
		pt := &c.preferred[i]
		if pt.term.sorter == nil {
			continue
		}
		for _, cl := range feasible {
			if ok, _ := pt.term.match(cl, false); !ok {
				continue
			}
			v, ok := sortedValue(pt.term, cl)
			if !ok {
				continue
			}
			if !pt.ok {
				pt.lo, pt.hi, pt.ok = v, v, true
				continue
			}
			pt.lo, pt.hi = math.Min(pt.lo, v), math.Max(pt.hi, v)
		}
	}
	return nil
}

// Score adds up the preferred terms' contributions for the cluster.
func (p *Plugin) Score(state *framework.CycleState, cluster *framework.ClusterInfo) (framework.ClusterScore, *framework.Status) {
	c, ok := framework.ReadAs[*compiled](state, stateKey)
	if !ok {
		return framework.ClusterScore{}, framework.AsStatus(fmt.Errorf("%s: PreFilter did not run", Name))
	}
	var total int32
	for i := range c.preferred {
		total += c.preferred[i].score(cluster)
	}
	return framework.ClusterScore{Affinity: total}, nil
}

func (pt *preferred) score(cl *framework.ClusterInfo) int32 {
	if pt.term.sorter == nil {
		if ok, _ := pt.term.match(cl, false); ok {
			return pt.weight
		}
		return 0
	}
	if ok, _ := pt.term.match(cl, false); !ok {
		return 0
	}
	v, ok := sortedValue(pt.term, cl)
	if !ok || !pt.ok {
		return min(pt.weight, 0) // missing: the worst share
	}
	frac := 1.0
	if pt.hi > pt.lo {
		frac = (v - pt.lo) / (pt.hi - pt.lo)
		if pt.term.sorter.SortOrder == v1alpha1.Ascending {
			frac = 1 - frac
		}
	}
	return int32(math.Round(float64(pt.weight) * frac))
}

// sortedValue returns the cluster's value of the term's sorted property, when it has a
// valid, finite one.
func sortedValue(t *term, cl *framework.ClusterInfo) (float64, bool) {
	v, ok := cl.Properties.Get(t.sorter.Name)
	if !ok || !v.Valid() {
		return 0, false
	}
	f := v.Float()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// Package tainttoleration is the filter that keeps a placement off clusters with a
// NoSchedule taint it does not tolerate.
package tainttoleration

import (
	"fmt"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// Name is the plugin's name.
const Name = "TaintToleration"

// Plugin is the taint filter.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns "TaintToleration".
func (p *Plugin) Name() string { return Name }

// PreFilter checks the policy's tolerations: an unknown operator, or Exists with a
// value, is an invalid policy.
func (p *Plugin) PreFilter(state *framework.CycleState) *framework.Status {
	for i, t := range state.Policy().Tolerations {
		switch t.Operator {
		case "", v1alpha1.TolerationEqual:
		case v1alpha1.TolerationExists:
			if t.Value != "" {
				return framework.AsStatus(fmt.Errorf("%w: policy.tolerations[%d]: operator Exists takes no value", framework.ErrInvalidPolicy, i))
			}
		default:
			return framework.AsStatus(fmt.Errorf("%w: policy.tolerations[%d]: unknown operator %q (want Equal or Exists)", framework.ErrInvalidPolicy, i, t.Operator))
		}
		switch t.Effect {
		case "", v1alpha1.TaintEffectNoSchedule:
		default:
			return framework.AsStatus(fmt.Errorf("%w: policy.tolerations[%d]: unknown effect %q (want NoSchedule)", framework.ErrInvalidPolicy, i, t.Effect))
		}
	}
	return nil
}

var untolerated = framework.UnschedulableStatus("cluster has a NoSchedule taint that the placement does not tolerate")

// Filter drops the cluster when one of its taints is not tolerated; explained, the
// reason names the first such taint.
func (p *Plugin) Filter(state *framework.CycleState, cluster *framework.ClusterInfo) *framework.Status {
	tols := state.Policy().Tolerations
	for _, taint := range cluster.Taints {
		if !Tolerated(tols, taint) {
			if !state.Explain() {
				return untolerated
			}
			return framework.UnschedulableStatus(fmt.Sprintf("cluster has taint %s, which the placement does not tolerate", TaintString(taint)))
		}
	}
	return nil
}

// Tolerated reports whether one of the tolerations tolerates the taint.
func Tolerated(tolerations []v1alpha1.Toleration, taint v1alpha1.Taint) bool {
	for _, t := range tolerations {
		if Tolerates(t, taint) {
			return true
		}
	}
	return false
}

// Tolerates reports whether the toleration tolerates the taint: the effects match (an
// empty toleration effect matches every effect; an empty taint effect is NoSchedule),
// and either the operator is Exists and the keys match (an empty key matches every
// key), or the operator is Equal (the default) and keys and values match.
func Tolerates(t v1alpha1.Toleration, taint v1alpha1.Taint) bool {
	effect := taint.Effect
	if effect == "" {
		effect = v1alpha1.TaintEffectNoSchedule
	}
	if t.Effect != "" && t.Effect != effect {
		return false
	}
	switch t.Operator {
	case v1alpha1.TolerationExists:
		return t.Key == "" || t.Key == taint.Key
	case "", v1alpha1.TolerationEqual:
		return t.Key != "" && t.Key == taint.Key && t.Value == taint.Value
	default:
		return false
	}
}

// TaintString formats a taint as key=value:Effect (key:Effect without a value).
func TaintString(t v1alpha1.Taint) string {
	effect := t.Effect
	if effect == "" {
		effect = v1alpha1.TaintEffectNoSchedule
	}
	if t.Value == "" {
		return t.Key + ":" + string(effect)
	}
	return t.Key + "=" + t.Value + ":" + string(effect)
}

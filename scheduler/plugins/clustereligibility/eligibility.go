// Package clustereligibility is the filter that keeps placements off clusters that
// cannot receive them: clusters being deleted, leaving the fleet (spec.state Leave),
// silent for longer than their heartbeat grace period, or reporting Healthy=False.
package clustereligibility

import (
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
)

// Name is the plugin's name.
const Name = "ClusterEligibility"

// maxMessage caps the Healthy condition message quoted in a reason.
const maxMessage = 200

var (
	deletingStatus  = framework.UnschedulableStatus("cluster is being deleted")
	leavingStatus   = framework.UnschedulableStatus("cluster is leaving the fleet (spec.state is Leave)")
	neverStatus     = framework.UnschedulableStatus("no heartbeat yet, and heartbeatGracePeriod is above 0s")
	staleStatus     = framework.UnschedulableStatus("no heartbeat within heartbeatGracePeriod")
	unhealthyStatus = framework.UnschedulableStatus("cluster is unhealthy: Healthy is False")
)

// Plugin is the eligibility filter.
type Plugin struct{}

var _ framework.FilterPlugin = (*Plugin)(nil)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns "ClusterEligibility".
func (p *Plugin) Name() string { return Name }

// Filter drops a cluster that is not eligible at the cycle's time; see Check.
func (p *Plugin) Filter(state *framework.CycleState, cluster *framework.ClusterInfo) *framework.Status {
	st := check(cluster.Cluster, state.Now(), state.Explain())
	if st != nil && keepsSelected(state, cluster.Cluster) {
		// PickAll keeps a cluster it already placed on when only the agent's reports
		// stopped or turned unhealthy: dropping it would remove the cluster's folder from
		// the branch, and an agent that still reaches Git would delete the apps. It is
		// dropped when it leaves or is deleted. (PickN replaces it instead.)
		return nil
	}
	return st
}

// keepsSelected reports whether a currently selected cluster stays selected under PickAll
// although its heartbeat lapsed or it reports Healthy=False.
func keepsSelected(state *framework.CycleState, mc *v1alpha1.MemberCluster) bool {
	if state.Policy() == nil || state.Policy().PlacementType != v1alpha1.PickAll || !state.CurrentlySelected(mc.Name) {
		return false
	}
	return mc.DeletionTimestamp == nil && mc.Spec.State != v1alpha1.ClusterLeave
}

// Check returns nil when the cluster can receive placements at now, or an
// Unschedulable status saying why not. In order:
//
//   - the cluster is being deleted (metadata.deletionTimestamp is set);
//   - spec.state is Leave;
//   - spec.heartbeatGracePeriod is above zero and the agent never sent a heartbeat
//     (status.lastHeartbeatTime is unset): "no heartbeat yet". A cluster without an
//     agent reporting to the hub needs heartbeatGracePeriod 0s;
//   - the last heartbeat is older than the grace period (a heartbeat in the future, from
//     a skewed clock, counts as fresh);
//   - the Healthy condition is False (Unknown or absent does not exclude the cluster).
func Check(mc *v1alpha1.MemberCluster, now time.Time) *framework.Status {
	return check(mc, now, true)
}

// check is Check; without explain its reasons are generic and allocate nothing.
func check(mc *v1alpha1.MemberCluster, now time.Time, explain bool) *framework.Status {
	switch {
	case mc.DeletionTimestamp != nil:
		return deletingStatus
	case mc.Spec.State == v1alpha1.ClusterLeave:
		return leavingStatus
	}
	if grace := mc.Spec.HeartbeatGrace(); grace > 0 {
		last := mc.Status.LastHeartbeatTime
		if last == nil {
			if !explain {
				return neverStatus
			}
			return framework.UnschedulableStatus(fmt.Sprintf(
				"no heartbeat yet: the agent has not reported and heartbeatGracePeriod is %s (0s disables the check)", grace))
		}
		if now.Sub(last.Time) > grace {
			if !explain {
				return staleStatus
			}
			return framework.UnschedulableStatus(fmt.Sprintf(
				"no heartbeat since %s, longer than heartbeatGracePeriod %s", last.UTC().Format(time.RFC3339), grace))
		}
	}
	if c := apimeta.FindStatusCondition(mc.Status.Conditions, v1alpha1.HealthyCondition); c != nil && c.Status == metav1.ConditionFalse {
		if !explain {
			return unhealthyStatus
		}
		return framework.UnschedulableStatus(unhealthyReason(c))
	}
	return nil
}

func unhealthyReason(c *metav1.Condition) string {
	msg := c.Message
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	switch {
	case c.Reason != "" && msg != "":
		return fmt.Sprintf("cluster is unhealthy: Healthy is False (%s: %s)", c.Reason, msg)
	case c.Reason != "":
		return fmt.Sprintf("cluster is unhealthy: Healthy is False (%s)", c.Reason)
	default:
		return "cluster is unhealthy: Healthy is False"
	}
}

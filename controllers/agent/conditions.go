package agent

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// observations is what a pass saw, reduced to what the conditions, the summary and the
// commit status are derived from. Deriving them is pure (see computeConditions).
type observations struct {
	suspended bool
	// known is true once this agent process applied a commit; until then the
	// conditions about the applied objects are left as the status has them.
	known bool
	// reconciling, when set, says what is in progress.
	reconciling string

	sourceErr    string
	sourceReason string
	stalled      bool

	objects     int      // objects in the commit
	applied     int      // objects applied as Git says
	applyFailed []string // "Kind ns/name: message"
	invalid     []string // files or documents that could not be read
	refused     []string // takeover refused
	pruneFailed []string

	healthTotal    int
	healthReady    int
	notReady       string // description of the first objects not ready
	notReadyCount  int
	unhealthy      string // description of failed objects
	unhealthyCount int
	healthTimedOut bool
	healthTimeout  time.Duration

	drifted      int
	driftMsg     string
	corrected    int
	correctedMsg string
}

// conditionSet holds the derived conditions; a nil entry leaves the condition as it is.
type conditionSet struct {
	Ready, Applied, Healthy, Drifted *metav1.Condition
	// Reconciling and Stalled are removed when nil (they are only present while True).
	Reconciling, Stalled *metav1.Condition
}

func cond(t string, s metav1.ConditionStatus, reason, format string, args ...any) *metav1.Condition {
	msg := oneLine(fmt.Sprintf(format, args...))
	if len(msg) > 32000 {
		msg = msg[:32000]
	}
	return &metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg}
}

// computeConditions derives the conditions from the observations (kstatus rules:
// Reconciling and Stalled only while True, Ready summarising the others).
func computeConditions(o observations) conditionSet {
	var cs conditionSet
	if o.known {
		cs.Applied = appliedCondition(o)
		cs.Healthy = healthyCondition(o)
	}
	cs.Drifted = driftedCondition(o)

	if o.stalled {
		cs.Stalled = cond(v1alpha1.StalledCondition, metav1.ConditionTrue, o.sourceReason, "%s", o.sourceErr)
	}
	switch {
	case o.reconciling != "":
		cs.Reconciling = cond(v1alpha1.ReconcilingCondition, metav1.ConditionTrue, v1alpha1.ProgressingReason, "%s", o.reconciling)
	case cs.Healthy != nil && cs.Healthy.Status == metav1.ConditionUnknown && o.sourceErr == "":
		cs.Reconciling = cond(v1alpha1.ReconcilingCondition, metav1.ConditionTrue, v1alpha1.ProgressingReason, "%s", cs.Healthy.Message)
	}
	cs.Ready = readyCondition(o, cs)
	return cs
}

func appliedCondition(o observations) *metav1.Condition {
	switch {
	case len(o.applyFailed)+len(o.invalid) > 0:
		all := append(append([]string(nil), o.invalid...), o.applyFailed...)
		return cond(v1alpha1.AppliedCondition, metav1.ConditionFalse, v1alpha1.ApplyFailedReason,
			"%d of %d objects failed: %s", len(all), o.objects+len(o.invalid), firstN(all, 5))
	case len(o.refused) > 0:
		return cond(v1alpha1.AppliedCondition, metav1.ConditionFalse, v1alpha1.TakeoverRefusedReason,
			"%d objects exist and were not taken over: %s", len(o.refused), firstN(o.refused, 5))
	case len(o.pruneFailed) > 0:
		return cond(v1alpha1.AppliedCondition, metav1.ConditionFalse, v1alpha1.PruneFailedReason,
			"%d objects that left Git could not be deleted: %s", len(o.pruneFailed), firstN(o.pruneFailed, 5))
	}
	return cond(v1alpha1.AppliedCondition, metav1.ConditionTrue, v1alpha1.SucceededReason, "applied %d objects", o.applied)
}

func healthyCondition(o observations) *metav1.Condition {
	switch {
	case o.unhealthyCount > 0:
		return cond(v1alpha1.HealthyCondition, metav1.ConditionFalse, v1alpha1.HealthCheckFailedReason,
			"%d objects failed: %s", o.unhealthyCount, o.unhealthy)
	case o.notReadyCount > 0 && o.healthTimedOut:
		return cond(v1alpha1.HealthyCondition, metav1.ConditionFalse, v1alpha1.HealthCheckFailedReason,
			"%d objects not ready after %s: %s", o.notReadyCount, o.healthTimeout, o.notReady)
	case o.notReadyCount > 0:
		return cond(v1alpha1.HealthyCondition, metav1.ConditionUnknown, v1alpha1.ProgressingReason,
			"waiting for %d of %d objects to become ready: %s", o.notReadyCount, o.healthTotal, o.notReady)
	}
	return cond(v1alpha1.HealthyCondition, metav1.ConditionTrue, v1alpha1.SucceededReason, "all %d objects are ready", o.healthTotal)
}

func driftedCondition(o observations) *metav1.Condition {
	switch {
	case o.drifted > 0:
		return cond(v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftDetectedReason,
			"%d objects differ from Git: %s", o.drifted, o.driftMsg)
	case o.corrected > 0:
		return cond(v1alpha1.DriftedCondition, metav1.ConditionFalse, v1alpha1.DriftCorrectedReason,
			"Git applied again to %d drifted objects: %s", o.corrected, o.correctedMsg)
	case o.known:
		return cond(v1alpha1.DriftedCondition, metav1.ConditionFalse, v1alpha1.NoDriftReason, "live objects match Git")
	}
	return nil
}

func readyCondition(o observations, cs conditionSet) *metav1.Condition {
	ready := func(s metav1.ConditionStatus, reason, format string, args ...any) *metav1.Condition {
		return cond(v1alpha1.ReadyCondition, s, reason, format, args...)
	}
	switch {
	case o.suspended:
		return ready(metav1.ConditionFalse, v1alpha1.SuspendedReason, "suspended: nothing is applied; drift is still reported")
	case o.sourceErr != "":
		return ready(metav1.ConditionFalse, o.sourceReason, "%s", o.sourceErr)
	case cs.Reconciling != nil && o.reconciling != "":
		return ready(metav1.ConditionUnknown, v1alpha1.ProgressingReason, "%s", o.reconciling)
	case !o.known:
		return ready(metav1.ConditionUnknown, v1alpha1.ProgressingReason, "waiting for the first apply")
	}
	for _, c := range []*metav1.Condition{cs.Applied, cs.Healthy} {
		if c != nil && c.Status == metav1.ConditionFalse {
			return ready(metav1.ConditionFalse, c.Reason, "%s", c.Message)
		}
	}
	if cs.Drifted != nil && cs.Drifted.Status == metav1.ConditionTrue {
		return ready(metav1.ConditionFalse, cs.Drifted.Reason, "%s", cs.Drifted.Message)
	}
	if cs.Healthy != nil && cs.Healthy.Status == metav1.ConditionUnknown {
		return ready(metav1.ConditionUnknown, v1alpha1.ProgressingReason, "%s", cs.Healthy.Message)
	}
	return ready(metav1.ConditionTrue, v1alpha1.SucceededReason, "%s", summary(o))
}

// summary is the status summary for people: "42/42 applied, healthy".
func summary(o observations) string {
	failed := len(o.applyFailed) + len(o.invalid)
	s := fmt.Sprintf("%d/%d applied", o.applied, o.objects+len(o.invalid))
	switch {
	case o.suspended:
		s = "suspended; " + s
	case o.sourceErr != "":
		s = "fetch failed; " + s
	}
	if !o.known {
		if o.sourceErr != "" {
			return "fetch failed"
		}
		return "waiting for the first apply"
	}
	switch {
	case failed > 0:
		s += fmt.Sprintf(", %d failed", failed)
	case len(o.refused) > 0:
		s += fmt.Sprintf(", %d not taken over", len(o.refused))
	}
	switch {
	case o.unhealthyCount > 0:
		s += fmt.Sprintf(", %d unhealthy", o.unhealthyCount)
	case o.notReadyCount > 0:
		s += fmt.Sprintf(", %d not ready", o.notReadyCount)
	default:
		s += ", healthy"
	}
	if o.drifted > 0 {
		s += fmt.Sprintf(", %d drifted", o.drifted)
	}
	return s
}

// MaxStatusDescription is the longest commit status description (GitHub's limit).
const MaxStatusDescription = 140

// commitStatus derives the commit status of the applied commit. ok is false when
// there is nothing to say (no commit fetched, or the fetch failed).
func commitStatus(o observations) (state, description string, ok bool) {
	if o.sourceErr != "" || !o.known || o.suspended {
		return "", "", false
	}
	failed := len(o.applyFailed) + len(o.invalid)
	switch {
	case failed > 0:
		all := append(append([]string(nil), o.invalid...), o.applyFailed...)
		return "failure", cutDescription(fmt.Sprintf("%d of %d objects failed: %s", failed, o.objects+len(o.invalid), firstN(all, 1))), true
	case len(o.refused) > 0:
		return "failure", cutDescription(fmt.Sprintf("%d objects not taken over: %s", len(o.refused), firstN(o.refused, 1))), true
	case len(o.pruneFailed) > 0:
		return "failure", cutDescription(fmt.Sprintf("%d objects could not be pruned: %s", len(o.pruneFailed), firstN(o.pruneFailed, 1))), true
	case o.unhealthyCount > 0:
		return "failure", cutDescription(fmt.Sprintf("%d objects failed health checks: %s", o.unhealthyCount, o.unhealthy)), true
	case o.notReadyCount > 0 && o.healthTimedOut:
		return "failure", cutDescription(fmt.Sprintf("%d objects not ready after %s: %s", o.notReadyCount, o.healthTimeout, o.notReady)), true
	case o.drifted > 0:
		return "failure", driftStatus(o.drifted).description, true
	case o.notReadyCount > 0:
		return "pending", cutDescription(fmt.Sprintf("applied %d objects, waiting for %d to become ready", o.applied, o.notReadyCount)), true
	}
	return "success", fmt.Sprintf("applied %d objects, all healthy", o.applied), true
}

func cutDescription(s string) string {
	s = oneLine(s)
	if len(s) <= MaxStatusDescription {
		return s
	}
	return s[:MaxStatusDescription-3] + "..."
}

package outcome

import (
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Conditioned is what every gitfleet object with conditions implements.
type Conditioned interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	GetGeneration() int64
}

// MaxMessage is the longest condition message SetCondition writes.
const MaxMessage = 1024

// SetCondition sets one condition, stamped with the object's generation, its message cut
// to MaxMessage. A condition whose status changes gets the current time as its
// lastTransitionTime.
func SetCondition(obj Conditioned, typ string, status metav1.ConditionStatus, reason, msg string) {
	SetConditionAt(obj, typ, status, reason, msg, time.Time{})
}

// SetConditionAt is SetCondition with the time a changed status is stamped with (a
// reconciler's clock); the zero time means now.
func SetConditionAt(obj Conditioned, typ string, status metav1.ConditionStatus, reason, msg string, now time.Time) {
	conds := obj.GetConditions()
	c := metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: Truncate(msg, MaxMessage),
		ObservedGeneration: obj.GetGeneration(),
	}
	if !now.IsZero() {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	apimeta.SetStatusCondition(&conds, c)
	obj.SetConditions(conds)
}

// MarkReconciling records a pass in progress (kstatus: Reconciling only while True).
func MarkReconciling(obj Conditioned, msg string) {
	SetCondition(obj, fleetv1alpha1.ReconcilingCondition, metav1.ConditionTrue, fleetv1alpha1.ProgressingReason, msg)
}

// Finish derives Ready and the kstatus conditions at the end of a pass from its error:
// Ready is True (with readyMsg) only without error, else False with the error's reason
// (ReasonOf) and message; Stalled is present only when the error is stalling; Reconciling
// is removed, the pass having ended.
func Finish(obj Conditioned, err error, readyMsg string) {
	FinishAt(obj, err, readyMsg, time.Time{})
}

// FinishAt is Finish with the time changed conditions are stamped with.
func FinishAt(obj Conditioned, err error, readyMsg string, now time.Time) {
	conds := obj.GetConditions()
	apimeta.RemoveStatusCondition(&conds, fleetv1alpha1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(&conds, fleetv1alpha1.StalledCondition)
	obj.SetConditions(conds)
	if err == nil {
		SetConditionAt(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, readyMsg, now)
		return
	}
	reason := ReasonOf(err)
	SetConditionAt(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, err.Error(), now)
	if IsStalling(err) {
		SetConditionAt(obj, fleetv1alpha1.StalledCondition, metav1.ConditionTrue, reason, err.Error(), now)
	}
}

// IsReady reports whether obj's Ready condition is True.
func IsReady(obj Conditioned) bool {
	return apimeta.IsStatusConditionTrue(obj.GetConditions(), fleetv1alpha1.ReadyCondition)
}

// Truncate cuts s to n bytes, ending it with "..." when it was longer.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

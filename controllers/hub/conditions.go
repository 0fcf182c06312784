package hub

import (
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// conditionSetter is what every hub object with conditions implements.
type conditionSetter interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	GetGeneration() int64
}

// setCondition sets one condition, stamped with the object's generation.
func setCondition(obj conditionSetter, typ string, status metav1.ConditionStatus, reason, msg string) {
	conds := obj.GetConditions()
	apimeta.SetStatusCondition(&conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(msg, 1024),
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// markReconciling records a pass in progress (kstatus: Reconciling only while True).
func markReconciling(obj conditionSetter, msg string) {
	setCondition(obj, fleetv1alpha1.ReconcilingCondition, metav1.ConditionTrue, fleetv1alpha1.ProgressingReason, msg)
}

// finishConditions derives Ready and the kstatus conditions at the end of a pass: Ready
// is True only without error; Stalled is present only when the error needs a spec change;
// Reconciling is removed when the pass ended.
func finishConditions(obj conditionSetter, err error, readyMsg string) {
	conds := obj.GetConditions()
	apimeta.RemoveStatusCondition(&conds, fleetv1alpha1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(&conds, fleetv1alpha1.StalledCondition)
	obj.SetConditions(conds)
	if err == nil {
		setCondition(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, readyMsg)
		return
	}
	reason := reasonOf(err)
	setCondition(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, reason, err.Error())
	if isStalling(err) {
		setCondition(obj, fleetv1alpha1.StalledCondition, metav1.ConditionTrue, reason, err.Error())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

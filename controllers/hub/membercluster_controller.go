package hub

import (
	"context"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// MemberClusterReconciler keeps a MemberCluster's Joined and Ready conditions: a cluster
// has joined while its spec.state is Join and its agent's heartbeat is within the grace
// period. The agent owns the rest of the status (heartbeat, properties, Healthy); the two
// write with server-side apply under different field managers, so neither overwrites the
// other's conditions.
type MemberClusterReconciler struct {
	Client client.Client
	Clock  clock.PassiveClock
}

var _ reconcile.Reconciler = (*MemberClusterReconciler)(nil)

// SetupWithManager registers the reconciler.
func (r *MemberClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&fleetv1alpha1.MemberCluster{}).Named("membercluster").Complete(r)
}

// Reconcile computes Joined and Ready and re-checks when the heartbeat would expire.
func (r *MemberClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	mc := &fleetv1alpha1.MemberCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, mc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	joined, reason, msg, recheck := JoinedStatus(mc, r.Clock.Now())
	ready := metav1.ConditionFalse
	readyReason, readyMsg := reason, msg
	if joined == metav1.ConditionTrue {
		ready, readyReason, readyMsg = metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "joined"
		if h := apimeta.FindStatusCondition(mc.Status.Conditions, fleetv1alpha1.HealthyCondition); h != nil && h.Status == metav1.ConditionFalse {
			ready, readyReason, readyMsg = metav1.ConditionFalse, h.Reason, "joined, but the agent reports the cluster unhealthy: "+h.Message
		}
	}
	if unchanged(mc, fleetv1alpha1.JoinedCondition, joined, reason, msg) && unchanged(mc, fleetv1alpha1.ReadyCondition, ready, readyReason, readyMsg) {
		return ctrl.Result{RequeueAfter: recheck}, nil
	}
	now := metav1.NewTime(r.Clock.Now())
	conds := []any{
		conditionMap(fleetv1alpha1.JoinedCondition, joined, reason, msg, mc.Generation, transition(mc, fleetv1alpha1.JoinedCondition, joined, now)),
		conditionMap(fleetv1alpha1.ReadyCondition, ready, readyReason, readyMsg, mc.Generation, transition(mc, fleetv1alpha1.ReadyCondition, ready, now)),
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": fleetv1alpha1.GroupVersion.String(), "kind": "MemberCluster",
		"metadata": map[string]any{"name": mc.Name, "namespace": mc.Namespace},
		"status":   map[string]any{"conditions": conds},
	}}
	if err := r.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), &client.SubResourceApplyOptions{
		ApplyOptions: client.ApplyOptions{FieldManager: HubFieldManager, Force: ptr.To(true)},
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("applying MemberCluster status: %w", err)
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// JoinedStatus says whether a cluster has joined, why, and when to look again (when its
// heartbeat would expire). It is pure, so the scheduler's tests and this controller agree.
func JoinedStatus(mc *fleetv1alpha1.MemberCluster, now time.Time) (metav1.ConditionStatus, string, string, time.Duration) {
	if mc.Spec.State == fleetv1alpha1.ClusterLeave {
		return metav1.ConditionFalse, fleetv1alpha1.LeftReason, "spec.state is Leave", 0
	}
	if !mc.DeletionTimestamp.IsZero() {
		return metav1.ConditionFalse, fleetv1alpha1.LeftReason, "the MemberCluster is being deleted", 0
	}
	grace := mc.Spec.HeartbeatGrace()
	if grace <= 0 {
		return metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "joined (heartbeat check disabled)", 0
	}
	hb := mc.Status.LastHeartbeatTime
	if hb == nil {
		return metav1.ConditionFalse, fleetv1alpha1.HeartbeatMissingReason, "no heartbeat from the agent yet", 0
	}
	age := now.Sub(hb.Time)
	if age > grace {
		return metav1.ConditionFalse, fleetv1alpha1.HeartbeatMissingReason,
			fmt.Sprintf("last heartbeat %s ago, more than the grace period of %s", age.Round(time.Second), grace), 0
	}
	return metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "joined; agent heartbeat is current", grace - age + time.Second
}

func unchanged(mc *fleetv1alpha1.MemberCluster, typ string, st metav1.ConditionStatus, reason, msg string) bool {
	c := apimeta.FindStatusCondition(mc.Status.Conditions, typ)
	return c != nil && c.Status == st && c.Reason == reason && c.Message == msg && c.ObservedGeneration == mc.Generation
}

func transition(mc *fleetv1alpha1.MemberCluster, typ string, st metav1.ConditionStatus, now metav1.Time) metav1.Time {
	if c := apimeta.FindStatusCondition(mc.Status.Conditions, typ); c != nil && c.Status == st {
		return c.LastTransitionTime
	}
	return now
}

func conditionMap(typ string, st metav1.ConditionStatus, reason, msg string, gen int64, t metav1.Time) map[string]any {
	c := metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: t}
	m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
	return m
}

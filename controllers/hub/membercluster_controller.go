package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
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

// Reconcile computes Joined and Ready and re-checks when the heartbeat would expire. It
// writes only these two conditions (server-side apply under HubFieldManager), and only
// when they change.
func (r *MemberClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	mc := &fleetv1alpha1.MemberCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, mc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	end := outcome.Begin(r.Client, mc, outcome.ApplyConditions(HubFieldManager, fleetv1alpha1.JoinedCondition, fleetv1alpha1.ReadyCondition))
	now := r.Clock.Now()
	recheck, err := memberStatus(mc, now)
	return end.Finish(ctx, err, outcome.Summary{ReadyMessage: "joined", RequeueAfter: recheck, Now: now})
}

// memberStatus sets Joined (see JoinedStatus) and returns why the cluster is not Ready, as
// a waiting error (not joined, or joined but reported unhealthy by its agent), nil when it
// is; recheck is when its heartbeat would expire (0: nothing changes by the clock alone).
// It is pure, for table tests.
func memberStatus(mc *fleetv1alpha1.MemberCluster, now time.Time) (recheck time.Duration, notReady error) {
	joined, reason, msg, recheck := JoinedStatus(mc, now)
	outcome.SetConditionAt(mc, fleetv1alpha1.JoinedCondition, joined, reason, msg, now)
	if joined != metav1.ConditionTrue {
		return recheck, outcome.Waiting(reason, recheck, errors.New(msg))
	}
	if h := apimeta.FindStatusCondition(mc.Status.Conditions, fleetv1alpha1.HealthyCondition); h != nil && h.Status == metav1.ConditionFalse {
		return recheck, outcome.Waiting(h.Reason, recheck, errors.New("joined, but the agent reports the cluster unhealthy: "+h.Message))
	}
	return recheck, nil
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

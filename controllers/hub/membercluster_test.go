package hub

import (
	"errors"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
)

var testNow = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// memberCluster is a joined MemberCluster with a 5m grace period whose last heartbeat
// was age ago (no heartbeat with age < 0), changed by the options.
func memberCluster(age time.Duration, opts ...func(*fleetv1alpha1.MemberCluster)) *fleetv1alpha1.MemberCluster {
	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "fleet", Generation: 2}}
	mc.Spec.State = fleetv1alpha1.ClusterJoin
	mc.Spec.HeartbeatGracePeriod = &metav1.Duration{Duration: 5 * time.Minute}
	if age >= 0 {
		mc.Status.LastHeartbeatTime = &metav1.Time{Time: testNow.Add(-age)}
	}
	for _, o := range opts {
		o(mc)
	}
	return mc
}

// TestJoinedStatus: a cluster has joined while its spec.state is Join, it is not being
// deleted and its agent's heartbeat is within the grace period; it is looked at again
// when the heartbeat would expire.
func TestJoinedStatus(t *testing.T) {
	leave := func(mc *fleetv1alpha1.MemberCluster) { mc.Spec.State = fleetv1alpha1.ClusterLeave }
	deleting := func(mc *fleetv1alpha1.MemberCluster) { mc.DeletionTimestamp = &metav1.Time{Time: testNow} }
	noCheck := func(mc *fleetv1alpha1.MemberCluster) { mc.Spec.HeartbeatGracePeriod = nil }
	for name, tc := range map[string]struct {
		mc          *fleetv1alpha1.MemberCluster
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMsg     string
		wantRecheck time.Duration
	}{
		"current heartbeat": {
			mc:         memberCluster(time.Minute),
			wantStatus: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantMsg: "joined; agent heartbeat is current",
			wantRecheck: 4*time.Minute + time.Second,
		},
		"heartbeat at the grace period": {
			mc:         memberCluster(5 * time.Minute),
			wantStatus: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantMsg: "joined; agent heartbeat is current",
			wantRecheck: time.Second,
		},
		"heartbeat too old": {
			mc:         memberCluster(6 * time.Minute),
			wantStatus: metav1.ConditionFalse, wantReason: fleetv1alpha1.HeartbeatMissingReason,
			wantMsg: "last heartbeat 6m0s ago, more than the grace period of 5m0s",
		},
		"no heartbeat yet": {
			mc:         memberCluster(-1),
			wantStatus: metav1.ConditionFalse, wantReason: fleetv1alpha1.HeartbeatMissingReason, wantMsg: "no heartbeat from the agent yet",
		},
		"heartbeat check disabled": {
			mc:         memberCluster(-1, noCheck),
			wantStatus: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantMsg: "joined (heartbeat check disabled)",
		},
		"leave": {
			mc:         memberCluster(time.Minute, leave),
			wantStatus: metav1.ConditionFalse, wantReason: fleetv1alpha1.LeftReason, wantMsg: "spec.state is Leave",
		},
		"being deleted": {
			mc:         memberCluster(time.Minute, deleting),
			wantStatus: metav1.ConditionFalse, wantReason: fleetv1alpha1.LeftReason, wantMsg: "the MemberCluster is being deleted",
		},
	} {
		t.Run(name, func(t *testing.T) {
			st, reason, msg, recheck := JoinedStatus(tc.mc, testNow)
			if st != tc.wantStatus || reason != tc.wantReason || msg != tc.wantMsg || recheck != tc.wantRecheck {
				t.Errorf("JoinedStatus() = %s, %s, %q, %v; want %s, %s, %q, %v", st, reason, msg, recheck,
					tc.wantStatus, tc.wantReason, tc.wantMsg, tc.wantRecheck)
			}
		})
	}
}

// TestMemberStatus: Ready follows Joined, and a joined cluster whose agent reports it
// unhealthy is not Ready; neither is an error to retry: the cluster is looked at again
// when its heartbeat would expire.
func TestMemberStatus(t *testing.T) {
	unhealthy := func(mc *fleetv1alpha1.MemberCluster) {
		mc.Status.Conditions = []metav1.Condition{{Type: fleetv1alpha1.HealthyCondition, Status: metav1.ConditionFalse,
			Reason: fleetv1alpha1.HealthCheckFailedReason, Message: "2 objects failed"}}
	}
	for name, tc := range map[string]struct {
		mc          *fleetv1alpha1.MemberCluster
		wantJoined  metav1.ConditionStatus
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantMsg     string
		wantRecheck time.Duration
	}{
		"joined": {
			mc: memberCluster(time.Minute), wantJoined: metav1.ConditionTrue,
			wantReady: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantMsg: "joined", wantRecheck: 4*time.Minute + time.Second,
		},
		"joined, unhealthy": {
			mc: memberCluster(time.Minute, unhealthy), wantJoined: metav1.ConditionTrue,
			wantReady: metav1.ConditionFalse, wantReason: fleetv1alpha1.HealthCheckFailedReason,
			wantMsg: "joined, but the agent reports the cluster unhealthy: 2 objects failed", wantRecheck: 4*time.Minute + time.Second,
		},
		"heartbeat missing": {
			mc: memberCluster(-1), wantJoined: metav1.ConditionFalse,
			wantReady: metav1.ConditionFalse, wantReason: fleetv1alpha1.HeartbeatMissingReason, wantMsg: "no heartbeat from the agent yet",
		},
	} {
		t.Run(name, func(t *testing.T) {
			recheck, err := memberStatus(tc.mc, testNow)
			outcome.FinishAt(tc.mc, err, "joined", testNow)
			joined := apimeta.FindStatusCondition(tc.mc.Status.Conditions, fleetv1alpha1.JoinedCondition)
			ready := apimeta.FindStatusCondition(tc.mc.Status.Conditions, fleetv1alpha1.ReadyCondition)
			if joined == nil || joined.Status != tc.wantJoined || joined.ObservedGeneration != 2 {
				t.Errorf("Joined = %+v, want %s at generation 2", joined, tc.wantJoined)
			}
			if ready == nil || ready.Status != tc.wantReady || ready.Reason != tc.wantReason || ready.Message != tc.wantMsg {
				t.Errorf("Ready = %+v, want %s, %s, %q", ready, tc.wantReady, tc.wantReason, tc.wantMsg)
			}
			if apimeta.FindStatusCondition(tc.mc.Status.Conditions, fleetv1alpha1.StalledCondition) != nil {
				t.Errorf("conditions %+v: a cluster that is not ready is not stalled", tc.mc.Status.Conditions)
			}
			res, rerr := outcome.Result(err, recheck)
			if rerr != nil || errors.Is(rerr, reconcile.TerminalError(nil)) || res.RequeueAfter != tc.wantRecheck {
				t.Errorf("Result(memberStatus()) = %+v, %v; want a requeue after %v, no error", res, rerr, tc.wantRecheck)
			}
		})
	}
}

package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
)

// TestFinishByErrorKind: the end of a pass reports a source failure by its kind (reason,
// Stalled only when stalling) without ending the agent's periodic work, and retries the
// failure of a step by its kind: transient with backoff, waiting after its delay.
func TestFinishByErrorKind(t *testing.T) {
	unusable := outcome.Stalling(v1alpha1.AuthenticationFailedReason, errors.New("Secret git: no password"))
	unreachable := outcome.Waiting(v1alpha1.FetchFailedReason, DefaultInterval, errors.New("fetching: connection refused"))
	for name, tc := range map[string]struct {
		sourceErr, stepErr, transient error
		wantReady                     metav1.ConditionStatus
		wantReason                    string
		wantStalled                   bool
		wantErr                       bool
		wantRequeue                   time.Duration
	}{
		"unusable credentials stall the source, the pass still comes back": {
			sourceErr: unusable, wantReady: metav1.ConditionFalse, wantReason: v1alpha1.AuthenticationFailedReason, wantStalled: true, wantRequeue: DefaultInterval,
		},
		"an unreachable remote is waited for": {
			sourceErr: unreachable, wantReady: metav1.ConditionFalse, wantReason: v1alpha1.FetchFailedReason, wantRequeue: DefaultInterval,
		},
		"a transient apply error is retried with backoff": {
			transient: errors.New("connection refused"), wantReady: metav1.ConditionUnknown, wantReason: v1alpha1.ProgressingReason, wantErr: true,
		},
		"a waiting step is retried after its delay, not as an error": {
			stepErr: outcome.Waiting(v1alpha1.DependencyNotReadyReason, time.Minute, errors.New("later")), wantReady: metav1.ConditionUnknown, wantReason: v1alpha1.ProgressingReason, wantRequeue: time.Minute,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			scheme := runtime.NewScheme()
			if err := v1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			stored := &v1alpha1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Generation: 1}}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).WithStatusSubresource(stored).Build()
			r := &Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(time.Now()), states: map[types.NamespacedName]*syncState{}}
			cs := &v1alpha1.ClusterSync{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(stored), cs); err != nil {
				t.Fatal(err)
			}
			p := r.newPass(ctx, cs)
			defer p.st.close()
			if tc.sourceErr != nil {
				p.sourceFailed(tc.sourceErr)
			}
			p.transient = tc.transient
			res, err := r.finish(ctx, p, tc.stepErr)
			if (err != nil) != tc.wantErr || res.RequeueAfter != tc.wantRequeue {
				t.Errorf("finish() = %+v, %v; want requeue after %v, error: %v", res, err, tc.wantRequeue, tc.wantErr)
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(stored), stored); err != nil {
				t.Fatal(err)
			}
			ready := apimeta.FindStatusCondition(stored.Status.Conditions, v1alpha1.ReadyCondition)
			if ready == nil || ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("stored Ready = %+v, want %s/%s", ready, tc.wantReady, tc.wantReason)
			}
			if got := apimeta.IsStatusConditionTrue(stored.Status.Conditions, v1alpha1.StalledCondition); got != tc.wantStalled {
				t.Errorf("stored Stalled = %v, want %v", got, tc.wantStalled)
			}
		})
	}
}

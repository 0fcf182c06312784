package outcome

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// TestFinishConditions: Ready is derived from the pass's error; Stalled is present only
// for a stalling error; Reconciling never outlives the pass; other conditions stay.
func TestFinishConditions(t *testing.T) {
	cond := func(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: 3}
	}
	fetched := cond(fleetv1alpha1.FetchedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "fetched")
	for name, tc := range map[string]struct {
		before []metav1.Condition
		err    error
		want   []metav1.Condition
	}{
		"success": {
			before: []metav1.Condition{fetched},
			want:   []metav1.Condition{fetched, cond(fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "all good")},
		},
		"success clears Reconciling and Stalled": {
			before: []metav1.Condition{
				cond(fleetv1alpha1.ReconcilingCondition, metav1.ConditionTrue, fleetv1alpha1.ProgressingReason, "working"),
				cond(fleetv1alpha1.StalledCondition, metav1.ConditionTrue, "Bad", "bad"),
				cond(fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, "Bad", "bad"),
			},
			want: []metav1.Condition{cond(fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "all good")},
		},
		"transient": {
			err:  errors.New("connection reset"),
			want: []metav1.Condition{cond(fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.FailedReason, "connection reset")},
		},
		"waiting": {
			before: []metav1.Condition{cond(fleetv1alpha1.ReconcilingCondition, metav1.ConditionTrue, fleetv1alpha1.ProgressingReason, "working")},
			err:    Waiting(fleetv1alpha1.ForgeRateLimitedReason, time.Minute, errors.New("rate limited")),
			want:   []metav1.Condition{cond(fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.ForgeRateLimitedReason, "rate limited")},
		},
		"stalling": {
			err: Stalling(fleetv1alpha1.DependencyNotReadyReason, errors.New("no such forge")),
			want: []metav1.Condition{
				cond(fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.DependencyNotReadyReason, "no such forge"),
				cond(fleetv1alpha1.StalledCondition, metav1.ConditionTrue, fleetv1alpha1.DependencyNotReadyReason, "no such forge"),
			},
		},
		"stalling no more": {
			before: []metav1.Condition{cond(fleetv1alpha1.StalledCondition, metav1.ConditionTrue, "Bad", "bad")},
			err:    WithReason(fleetv1alpha1.CommitFailedReason, errors.New("push rejected")),
			want:   []metav1.Condition{cond(fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.CommitFailedReason, "push rejected")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			obj := &fleetv1alpha1.GitSource{}
			obj.Generation = 3
			obj.Status.Conditions = tc.before
			Finish(obj, tc.err, "all good")
			if d := cmp.Diff(tc.want, obj.Status.Conditions, cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")); d != "" {
				t.Errorf("Finish(%v) conditions (-want +got):\n%s", tc.err, d)
			}
		})
	}
}

// TestSetCondition: a condition carries the object's generation, a long message is cut,
// and lastTransitionTime moves only when the status changes.
func TestSetCondition(t *testing.T) {
	obj := &fleetv1alpha1.Pipeline{}
	obj.Generation = 7
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	SetConditionAt(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, "A", strings.Repeat("x", 5000), t0)
	c := obj.Status.Conditions[0]
	if c.ObservedGeneration != 7 || len(c.Message) != MaxMessage || !strings.HasSuffix(c.Message, "...") || !c.LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("SetConditionAt() = %+v, want generation 7, a message of %d bytes ending in ..., transition at %v", c, MaxMessage, t0)
	}
	SetConditionAt(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, "B", "other reason", t0.Add(time.Hour))
	if got := obj.Status.Conditions[0].LastTransitionTime.Time; !got.Equal(t0) {
		t.Errorf("same status: lastTransitionTime = %v, want %v (unchanged)", got, t0)
	}
	SetConditionAt(obj, fleetv1alpha1.ReadyCondition, metav1.ConditionTrue, "C", "ok", t0.Add(2*time.Hour))
	if got := obj.Status.Conditions[0].LastTransitionTime.Time; !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("new status: lastTransitionTime = %v, want %v", got, t0.Add(2*time.Hour))
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"much too long", 10, "much to..."},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

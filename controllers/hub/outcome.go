package hub

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
)

// Forwarders to the shared reconcile plumbing (package outcome) for the Pipeline
// reconciler (pipeline_*.go), which adopts outcome.End in a later change; new code uses
// package outcome directly.

func stalling(reason string, err error) error { return outcome.Stalling(reason, err) }

func waiting(reason string, delay time.Duration, err error) error {
	return outcome.Waiting(reason, delay, err)
}

func withReason(reason string, err error) error { return outcome.WithReason(reason, err) }

func result(err error, requeueAfter time.Duration) (ctrl.Result, error) {
	return outcome.Result(err, requeueAfter)
}

func setCondition(obj outcome.Conditioned, typ string, status metav1.ConditionStatus, reason, msg string) {
	outcome.SetCondition(obj, typ, status, reason, msg)
}

func truncate(s string, n int) string { return outcome.Truncate(s, n) }

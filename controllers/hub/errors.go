package hub

import (
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// The three kinds of error decide, in one place (result), what happens after a pass:
//   - stalling: the user must change the spec; Stalled=True, no retry until it changes;
//   - waiting: something else must happen first; retry after a delay, not an error;
//   - transient: anything else; returned, so controller-runtime retries with backoff.

// stallingError needs a change of the spec to go away.
type stallingError struct {
	reason string
	err    error
}

func (e *stallingError) Error() string { return e.err.Error() }
func (e *stallingError) Unwrap() error { return e.err }

// stalling wraps err as a stalling error with a condition reason.
func stalling(reason string, err error) error { return &stallingError{reason: reason, err: err} }

// waitingError means: retry after Delay without logging an error.
type waitingError struct {
	reason string
	err    error
	delay  time.Duration
}

func (e *waitingError) Error() string { return e.err.Error() }
func (e *waitingError) Unwrap() error { return e.err }

// waiting wraps err as a waiting error: retried after delay.
func waiting(reason string, delay time.Duration, err error) error {
	return &waitingError{reason: reason, err: err, delay: delay}
}

// reasonedError is a transient error with a condition reason.
type reasonedError struct {
	reason string
	err    error
}

func (e *reasonedError) Error() string { return e.err.Error() }
func (e *reasonedError) Unwrap() error { return e.err }

// withReason gives a transient error a condition reason.
func withReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &reasonedError{reason: reason, err: err}
}

func isStalling(err error) bool {
	var s *stallingError
	return errors.As(err, &s)
}

// reasonOf returns the condition reason carried by err, or Failed.
func reasonOf(err error) string {
	var s *stallingError
	if errors.As(err, &s) {
		return s.reason
	}
	var w *waitingError
	if errors.As(err, &w) {
		return w.reason
	}
	var r *reasonedError
	if errors.As(err, &r) {
		return r.reason
	}
	return fleetv1alpha1.FailedReason
}

// result turns the outcome of a pass into what controller-runtime should do next.
func result(err error, requeueAfter time.Duration) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: requeueAfter}, nil
	}
	var w *waitingError
	if errors.As(err, &w) {
		return ctrl.Result{RequeueAfter: w.delay}, nil
	}
	if isStalling(err) {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, err
}

package outcome

import (
	"errors"
	"reflect"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// stallingError needs a change of the spec to go away.
type stallingError struct {
	reason string
	err    error
}

func (e *stallingError) Error() string { return e.err.Error() }
func (e *stallingError) Unwrap() error { return e.err }

// Stalling wraps err as a stalling error with a condition reason: the user must change
// the spec. The object is reported Stalled=True and the pass is not retried until the
// object changes.
func Stalling(reason string, err error) error { return &stallingError{reason: reason, err: err} }

// waitingError means: retry after delay without logging an error.
type waitingError struct {
	reason string
	err    error
	delay  time.Duration
}

func (e *waitingError) Error() string { return e.err.Error() }
func (e *waitingError) Unwrap() error { return e.err }

// Waiting wraps err as a waiting error with a condition reason: something else must
// happen first (a rate limit resets, a new commit comes). The pass is retried after
// delay (not at all when delay is 0) and controller-runtime does not log it as an error.
func Waiting(reason string, delay time.Duration, err error) error {
	return &waitingError{reason: reason, err: err, delay: delay}
}

// reasonedError is a transient error with a condition reason.
type reasonedError struct {
	reason string
	err    error
}

func (e *reasonedError) Error() string { return e.err.Error() }
func (e *reasonedError) Unwrap() error { return e.err }

// WithReason gives a transient error a condition reason; nil stays nil.
func WithReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &reasonedError{reason: reason, err: err}
}

// IsStalling reports whether err (or what it wraps) is a stalling error.
func IsStalling(err error) bool {
	var s *stallingError
	return errors.As(err, &s)
}

// ReasonOf returns the condition reason carried by err, or Failed.
func ReasonOf(err error) string {
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

// Result turns the outcome of a pass into what controller-runtime should do next:
// without error, come back after requeueAfter (0: not by the clock). A pass may fail in
// several independent ways at once (errors.Join of one per stage, branch or pull
// request); each part keeps its own meaning:
//   - any transient part: the error is returned, so it is retried with backoff (a
//     waiting or stalling part beside it must not delay it or stop its retries);
//   - else any waiting part: retried after the shortest of their delays;
//   - else (only stalling parts): a terminal error, no retry until the spec changes.
func Result(err error, requeueAfter time.Duration) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: requeueAfter}, nil
	}
	var delay time.Duration
	waits, transient := false, false
	for _, p := range Parts(err) {
		var w *waitingError
		switch {
		case errors.As(p, &w):
			if !waits || w.delay < delay {
				delay = w.delay
			}
			waits = true
		case IsStalling(p):
		default:
			transient = true
		}
	}
	switch {
	case transient:
		return ctrl.Result{}, err
	case waits:
		return ctrl.Result{RequeueAfter: delay}, nil
	default:
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
}

// joinType is the type of the errors errors.Join returns.
var joinType = reflect.TypeOf(errors.Join(errors.New("a"), errors.New("b")))

// Parts splits err into the independent failures errors.Join put together (also when
// the join is wrapped, e.g. by fmt.Errorf("...: %w", joined)). Other errors with several
// causes (render's error kinds, a fmt.Errorf with two %w) are one failure, and so is an
// error of one of the three kinds, whatever it wraps.
func Parts(err error) []error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.(type) { //nolint:errorlint // walks the chain itself, one errors.Unwrap at a time
		case *waitingError, *stallingError, *reasonedError:
			return []error{err}
		}
		if reflect.TypeOf(e) == joinType {
			var out []error
			for _, c := range e.(interface{ Unwrap() []error }).Unwrap() {
				out = append(out, Parts(c)...)
			}
			return out
		}
	}
	return []error{err}
}

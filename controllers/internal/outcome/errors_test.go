package outcome

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/render"
)

// TestResult: a pass that fails in several ways at once keeps the retry of each part: a
// transient part is retried with backoff even beside a stalled or waiting one; waiting
// parts wait for the shortest delay; only stalled parts stop retries.
func TestResult(t *testing.T) {
	transient := errors.New("push rejected: connection reset")
	stalled := Stalling(fleetv1alpha1.InvalidFleetObjectReason, errors.New("bad fleet file"))
	limited := Waiting(fleetv1alpha1.ForgeRateLimitedReason, 10*time.Minute, errors.New("rate limited"))
	soon := Waiting(fleetv1alpha1.ForgeRateLimitedReason, 5*time.Second, errors.New("rate limited too"))
	for name, tc := range map[string]struct {
		err          error
		wantErr      bool
		wantTerminal bool
		wantRequeue  time.Duration
	}{
		"nil":                                 {err: nil, wantRequeue: time.Minute},
		"transient":                           {err: transient, wantErr: true},
		"transient with a reason":             {err: WithReason(fleetv1alpha1.CommitFailedReason, transient), wantErr: true},
		"stalled":                             {err: stalled, wantErr: true, wantTerminal: true},
		"waiting":                             {err: limited, wantRequeue: 10 * time.Minute},
		"waiting without delay":               {err: Waiting(fleetv1alpha1.HeartbeatMissingReason, 0, errors.New("no heartbeat"))},
		"stalled and transient":               {err: errors.Join(stalled, transient), wantErr: true},
		"waiting and transient":               {err: errors.Join(limited, transient), wantErr: true},
		"wrapped join, waiting and transient": {err: fmt.Errorf("pass: %w", errors.Join(limited, fmt.Errorf("status: %w", transient))), wantErr: true},
		"two waits":                           {err: errors.Join(limited, soon), wantRequeue: 5 * time.Second},
		"waiting and stalled":                 {err: errors.Join(stalled, limited), wantRequeue: 10 * time.Minute},
		"nested joins of stalled":             {err: errors.Join(stalled, errors.Join(stalled)), wantErr: true, wantTerminal: true},
		// A render error carries its kind with a second cause; it is one failure, not a
		// join of a failure and a sentinel.
		"stalled wrapping a multi-cause error": {err: Stalling("X", fmt.Errorf("%w: %w", errors.New("a"), render.ErrOverride)), wantErr: true, wantTerminal: true},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Result(tc.err, time.Minute)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Result(%v) error = %v, want error: %v", tc.err, err, tc.wantErr)
			}
			if terminal := errors.Is(err, reconcile.TerminalError(nil)); terminal != tc.wantTerminal {
				t.Errorf("Result(%v): terminal = %v, want %v", tc.err, terminal, tc.wantTerminal)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("Result(%v).RequeueAfter = %v, want %v", tc.err, res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}

// TestReasonOf: each kind carries its reason through wrapping; anything else is Failed.
func TestReasonOf(t *testing.T) {
	base := errors.New("boom")
	for name, tc := range map[string]struct {
		err          error
		wantReason   string
		wantStalling bool
	}{
		"plain":            {err: base, wantReason: fleetv1alpha1.FailedReason},
		"stalling":         {err: Stalling("Bad", base), wantReason: "Bad", wantStalling: true},
		"wrapped stalling": {err: fmt.Errorf("step: %w", Stalling("Bad", base)), wantReason: "Bad", wantStalling: true},
		"waiting":          {err: Waiting("Later", time.Second, base), wantReason: "Later"},
		"with a reason":    {err: WithReason("Flaky", base), wantReason: "Flaky"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ReasonOf(tc.err); got != tc.wantReason {
				t.Errorf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.wantReason)
			}
			if got := IsStalling(tc.err); got != tc.wantStalling {
				t.Errorf("IsStalling(%v) = %v, want %v", tc.err, got, tc.wantStalling)
			}
			if !errors.Is(tc.err, base) {
				t.Errorf("errors.Is(%v, base) = false: the kind must keep its cause", tc.err)
			}
		})
	}
	if WithReason("X", nil) != nil {
		t.Error("WithReason(X, nil) != nil")
	}
}

// TestParts: a join is split into its failures, however deeply wrapped; a kinded error
// is one failure whatever it wraps.
func TestParts(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"nil":                {err: nil, want: 0},
		"one":                {err: a, want: 1},
		"join":               {err: errors.Join(a, b), want: 2},
		"wrapped nested":     {err: fmt.Errorf("x: %w", errors.Join(a, errors.Join(b, c))), want: 3},
		"kind wrapping join": {err: WithReason("R", errors.Join(a, b)), want: 1},
		"two %w":             {err: fmt.Errorf("%w: %w", a, b), want: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got := len(Parts(tc.err)); got != tc.want {
				t.Errorf("len(Parts(%v)) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

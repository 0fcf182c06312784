package hub

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

// TestResultOfJoinedErrors: a pass that fails in several ways at once keeps the retry of
// each part: a transient part is retried with backoff even beside a stalled or waiting
// one; waiting parts wait for the shortest delay; only stalled parts stop retries.
func TestResultOfJoinedErrors(t *testing.T) {
	transient := errors.New("push rejected: connection reset")
	stalled := stalling(fleetv1alpha1.InvalidFleetObjectReason, errors.New("bad fleet file"))
	limited := waiting(fleetv1alpha1.ForgeRateLimitedReason, 10*time.Minute, errors.New("rate limited"))
	soon := waiting(fleetv1alpha1.ForgeRateLimitedReason, 5*time.Second, errors.New("rate limited too"))
	for _, tc := range []struct {
		name         string
		err          error
		wantErr      bool
		wantTerminal bool
		wantRequeue  time.Duration
	}{
		{name: "nil", err: nil, wantRequeue: time.Minute},
		{name: "transient", err: transient, wantErr: true},
		{name: "stalled", err: stalled, wantErr: true, wantTerminal: true},
		{name: "waiting", err: limited, wantRequeue: 10 * time.Minute},
		{name: "stalled and transient", err: errors.Join(stalled, transient), wantErr: true},
		{name: "waiting and transient", err: errors.Join(limited, transient), wantErr: true},
		{name: "wrapped join, waiting and transient", err: fmt.Errorf("pass: %w", errors.Join(limited, fmt.Errorf("status: %w", transient))), wantErr: true},
		{name: "two waits", err: errors.Join(limited, soon), wantRequeue: 5 * time.Second},
		{name: "waiting and stalled", err: errors.Join(stalled, limited), wantRequeue: 10 * time.Minute},
		{name: "nested joins of stalled", err: errors.Join(stalled, errors.Join(stalled)), wantErr: true, wantTerminal: true},
		// A render error carries its kind with a second cause; it is one failure, not a
		// join of a failure and a sentinel.
		{name: "stalled wrapping a multi-cause error", err: stalling("X", fmt.Errorf("%w: %w", errors.New("a"), render.ErrOverride)), wantErr: true, wantTerminal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := result(tc.err, time.Minute)
			if (err != nil) != tc.wantErr {
				t.Fatalf("result() error = %v, want error: %v", err, tc.wantErr)
			}
			if terminal := errors.Is(err, reconcile.TerminalError(nil)); terminal != tc.wantTerminal {
				t.Errorf("terminal = %v, want %v (%v)", terminal, tc.wantTerminal, err)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}

// TestErrorsMetric: gitfleet_hub_errors_total counts each failed part of a pass once,
// render failures of single clusters included.
func TestErrorsMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.observeReconcile("hydration", time.Now(), errors.Join(
		withReason(fleetv1alpha1.CommitFailedReason, errors.New("writing env/dev: push rejected")),
		withReason(fleetv1alpha1.CommitFailedReason, errors.New("writing env/prod: push rejected")),
		waiting(fleetv1alpha1.ForgeRateLimitedReason, time.Minute, errors.New("limited")),
	))
	m.observeReconcile("pipeline", time.Now(), nil)
	m.observeFailures(&hydrate.Plan{Placements: map[string]*hydrate.PlacementPlan{
		"web": {Clusters: map[string]*hydrate.ClusterPlan{
			"a": {Err: errors.New("template: boom")},
			"b": {Err: fmt.Errorf("override x: %w", render.ErrOverride)},
			"c": {},
		}},
		"orphan": {Err: errors.New("pipeline missing")},
	}})
	want := `
# HELP gitfleet_hub_errors_total Failures by condition reason (RenderFailed, OverrideFailed, CommitFailed, FetchFailed, ForgeUnavailable...), one per failed part of a pass: a (placement, cluster) render, a branch write, a fetch, a forge call.
# TYPE gitfleet_hub_errors_total counter
gitfleet_hub_errors_total{reason="CommitFailed"} 2
gitfleet_hub_errors_total{reason="DependencyNotReady"} 1
gitfleet_hub_errors_total{reason="ForgeRateLimited"} 1
gitfleet_hub_errors_total{reason="OverrideFailed"} 1
gitfleet_hub_errors_total{reason="RenderFailed"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitfleet_hub_errors_total"); err != nil {
		t.Fatal(err)
	}
}

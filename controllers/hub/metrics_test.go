package hub

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

// TestErrorsMetric: gitfleet_hub_errors_total counts each failed part of a pass once,
// render failures of single clusters included.
func TestErrorsMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.observeReconcile("hydration", time.Now(), errors.Join(
		outcome.WithReason(fleetv1alpha1.CommitFailedReason, errors.New("writing env/dev: push rejected")),
		outcome.WithReason(fleetv1alpha1.CommitFailedReason, errors.New("writing env/prod: push rejected")),
		outcome.Waiting(fleetv1alpha1.ForgeRateLimitedReason, time.Minute, errors.New("limited")),
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

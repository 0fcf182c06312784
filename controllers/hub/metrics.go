package hub

import (
	"time"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the hub's Prometheus metrics. A nil *Metrics records nothing, so tests and
// the CLI need not set one up.
type Metrics struct {
	reconcileDuration *prometheus.HistogramVec
	fetchDuration     *prometheus.HistogramVec
	renderDuration    *prometheus.HistogramVec
	commitDuration    *prometheus.HistogramVec
	reg               prometheus.Registerer
	pushRetries       prometheus.Counter
	commits           *prometheus.CounterVec
	errors            *prometheus.CounterVec
}

// NewMetrics creates the hub's metrics and registers them with reg (controller-runtime's
// metrics.Registry in the hub binary).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitfleet_hub_reconcile_duration_seconds", Help: "Duration of a hub reconcile pass.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"controller", "result"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitfleet_hub_fetch_duration_seconds", Help: "Duration of a Git fetch of a GitSource.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"result"}),
		renderDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitfleet_hub_render_duration_seconds", Help: "Duration of rendering every placement of a source for every cluster.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"source"}),
		commitDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitfleet_hub_commit_duration_seconds", Help: "Duration of writing and pushing one environment branch.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"branch"}),
		reg: reg,
		pushRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitfleet_hub_push_retries_total", Help: "Pushes to an environment branch retried on a fresh base after a rejection.",
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitfleet_hub_commits_total", Help: "Commits pushed to environment branches.",
		}, []string{"branch"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitfleet_hub_errors_total", Help: "Failures by condition reason (RenderFailed, OverrideFailed, CommitFailed, FetchFailed, ForgeUnavailable...), one per failed part of a pass: a (placement, cluster) render, a branch write, a fetch, a forge call.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.reconcileDuration, m.fetchDuration, m.renderDuration, m.commitDuration,
		m.pushRetries, m.commits, m.errors)
	return m
}

func resultLabel(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}

func (m *Metrics) observeReconcile(controller string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.reconcileDuration.WithLabelValues(controller, resultLabel(err)).Observe(time.Since(start).Seconds())
	for _, part := range outcome.Parts(err) {
		m.errors.WithLabelValues(outcome.ReasonOf(part)).Inc()
	}
}

func (m *Metrics) observeFetch(start time.Time, err error) {
	if m == nil {
		return
	}
	m.fetchDuration.WithLabelValues(resultLabel(err)).Observe(time.Since(start).Seconds())
}

func (m *Metrics) observeRender(source string, d time.Duration) {
	if m == nil {
		return
	}
	m.renderDuration.WithLabelValues(source).Observe(d.Seconds())
}

func (m *Metrics) observeCommit(branch string, d time.Duration, committed bool, retries int) {
	if m == nil {
		return
	}
	m.commitDuration.WithLabelValues(branch).Observe(d.Seconds())
	if committed {
		m.commits.WithLabelValues(branch).Inc()
	}
	m.pushRetries.Add(float64(retries))
}

// watchCache exports the render cache's counters.
func (m *Metrics) watchCache(c *render.Cache) {
	if m == nil || c == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gitfleet_hub_render_cache_hits_total", Help: "Renders served from the render cache."},
			func() float64 { return float64(c.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gitfleet_hub_render_cache_misses_total", Help: "Renders that ran (render cache misses)."},
			func() float64 { return float64(c.Stats().Misses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gitfleet_hub_render_cache_bytes", Help: "Size of the render cache."},
			func() float64 { return float64(c.Stats().Bytes) }),
	)
}

// observeFailures counts the placements and (placement, cluster) pairs of a hydration
// pass that failed to schedule or render, by reason; they are reported on the Placements,
// not returned as the pass's error.
func (m *Metrics) observeFailures(plan *hydrate.Plan) {
	if m == nil {
		return
	}
	for _, pp := range plan.Placements {
		if pp.Err != nil { // the Placement reports it as DependencyNotReady
			m.errors.WithLabelValues(fleetv1alpha1.DependencyNotReadyReason).Inc()
		}
		for _, cp := range pp.Clusters {
			if cp.Err != nil {
				m.errors.WithLabelValues(render.Reason(cp.Err)).Inc()
			}
		}
	}
}

package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
)

// The agent's metrics, registered with controller-runtime's registry (served on the
// manager's metrics endpoint). The label cluster_sync is <namespace>/<name>.
var (
	applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gitfleet_agent_apply_duration_seconds",
		Help:    "Duration of a full apply of a ClusterSync's folder.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
	}, []string{"cluster_sync"})
	objectsApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gitfleet_agent_objects_applied_total",
		Help: "Objects applied, by outcome (created, configured, unchanged, failed, skipped).",
	}, []string{"cluster_sync", "action"})
	objectsPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gitfleet_agent_objects_pruned_total",
		Help: "Objects deleted because they left Git.",
	}, []string{"cluster_sync"})
	driftedObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gitfleet_agent_drifted_objects",
		Help: "Objects that differ from Git now.",
	}, []string{"cluster_sync"})
	driftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gitfleet_agent_drift_corrections_total",
		Help: "Drifted objects applied again.",
	}, []string{"cluster_sync"})
	lastAppliedCommit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gitfleet_agent_last_applied_commit_timestamp_seconds",
		Help: "When the applied commit was last applied in full (Unix time).",
	}, []string{"cluster_sync"})
	conditionGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gitfleet_agent_condition",
		Help: "1 for the current status of each condition type of a ClusterSync, 0 for the others.",
	}, []string{"cluster_sync", "type", "status"})
)

func init() {
	metrics.Registry.MustRegister(applyDuration, objectsApplied, objectsPruned, driftedObjects, driftCorrections,
		lastAppliedCommit, conditionGauge)
}

func metricName(nn types.NamespacedName) string { return nn.Namespace + "/" + nn.Name }

func observeApply(nn types.NamespacedName, d time.Duration, results []apply.Result) {
	n := metricName(nn)
	applyDuration.WithLabelValues(n).Observe(d.Seconds())
	for _, r := range results {
		objectsApplied.WithLabelValues(n, string(r.Action)).Inc()
	}
}

func observePrune(nn types.NamespacedName, pruned int) {
	objectsPruned.WithLabelValues(metricName(nn)).Add(float64(pruned))
}

func observeDrift(nn types.NamespacedName, drifted int) {
	driftedObjects.WithLabelValues(metricName(nn)).Set(float64(drifted))
}

func observeCorrected(nn types.NamespacedName, n int) {
	driftCorrections.WithLabelValues(metricName(nn)).Add(float64(n))
}

func recordAppliedCommit(nn types.NamespacedName, t time.Time) {
	lastAppliedCommit.WithLabelValues(metricName(nn)).Set(float64(t.Unix()))
}

func observeConditions(nn types.NamespacedName, cs *v1alpha1.ClusterSync) {
	n := metricName(nn)
	for _, t := range []string{v1alpha1.ReadyCondition, v1alpha1.AppliedCondition, v1alpha1.HealthyCondition, v1alpha1.DriftedCondition} {
		c := apimeta.FindStatusCondition(cs.Status.Conditions, t)
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			v := 0.0
			if c != nil && c.Status == s {
				v = 1
			}
			conditionGauge.WithLabelValues(n, t, string(s)).Set(v)
		}
	}
}

func forgetMetrics(nn types.NamespacedName) {
	l := prometheus.Labels{"cluster_sync": metricName(nn)}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		applyDuration, objectsApplied, objectsPruned, driftedObjects, driftCorrections, lastAppliedCommit, conditionGauge,
	} {
		v.DeletePartialMatch(l)
	}
}

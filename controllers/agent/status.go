package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/drift"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
)

// MaxObjectResults caps the per-object results in the status.
const MaxObjectResults = 100

// observe reduces the pass and the remembered state to observations.
func (r *Reconciler) observe(p *pass) observations {
	st := p.st
	o := observations{
		suspended:     p.suspend,
		known:         st.appliedGen != 0 || st.appliedCommit != "",
		healthTimeout: p.healthTimeout(),
	}
	if p.sourceErr != nil {
		o.sourceErr, o.sourceReason, o.stalled = oneLine(p.sourceErr.Error()), outcome.ReasonOf(p.sourceErr), outcome.IsStalling(p.sourceErr)
	}
	if st.objects != nil {
		o.objects = len(st.objects.Objects)
		for _, err := range st.objects.Errors {
			o.invalid = append(o.invalid, oneLine(err.Error()))
		}
	}
	for _, res := range st.results {
		switch {
		case res.Succeeded():
			o.applied++
		case res.Prune && res.Action == v1alpha1.ActionFailed:
			o.pruneFailed = append(o.pruneFailed, res.Key.String()+": "+oneLine(res.Message))
		case res.Prune:
		case res.Action == v1alpha1.ActionFailed:
			o.applyFailed = append(o.applyFailed, res.Key.String()+": "+oneLine(res.Message))
		case res.Action == v1alpha1.ActionSkipped:
			o.refused = append(o.refused, res.Key.String()+": "+oneLine(res.Message))
		}
	}
	h := st.health
	o.healthTotal, o.healthReady = h.total, h.ready
	o.notReadyCount, o.notReady = len(h.notReady), describeHealth(h.notReady, 3)
	o.unhealthyCount, o.unhealthy = len(h.failed), describeHealth(h.failed, 3)
	o.healthTimedOut = p.healthTimedOut()
	o.drifted = len(st.drifted)
	o.driftMsg = describeDrift(p.driftFound, 3)
	if len(st.drifted) == 0 && len(st.corrected) > 0 {
		o.corrected = countObjects(st.corrected)
		o.correctedMsg = fmt.Sprintf("%s at %s", describeDrift(st.corrected, 3), st.correctedAt.UTC().Format(time.RFC3339))
	}
	return o
}

func countObjects(entries []driftEntry) int {
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.key.String()] = true
	}
	return len(seen)
}

// finish derives the conditions, writes the status when it changed (observedGeneration
// only when Ready), records metrics and events, and decides when to come back: err, the
// failure of a step, and a transient apply error are retried with backoff by their kind
// (see outcome.Result); else the pass comes back when something is due.
func (r *Reconciler) finish(ctx context.Context, p *pass, err error) (ctrl.Result, error) {
	cs, st := p.cs, p.st
	o := r.observe(p)
	conds := computeConditions(o)

	if o.known {
		cs.Status.AppliedCommit = st.appliedCommit
		cs.Status.AppliedSourceRevision = st.appliedSource
		if !st.lastAppliedTime.IsZero() {
			// The API keeps whole seconds: compare and write those.
			t := metav1.NewTime(st.lastAppliedTime.Truncate(time.Second))
			cs.Status.LastAppliedTime = &t
		}
		cs.Status.Objects = objectResults(st)
		cs.Status.Summary = summary(o)
	} else if o.sourceErr != "" || o.suspended {
		cs.Status.Summary = summary(o)
	}
	if st.commit != "" {
		cs.Status.LastAttemptedCommit = st.commit
	}
	cs.Status.Drift = statusDrift(p.driftFound)
	cs.Status.DriftedObjects = int32(len(st.drifted))
	if p.applied {
		cs.Status.LastHandledReconcileAt = cs.Annotations[v1alpha1.ReconcileRequestAnnotation]
	}
	r.transitionEvents(p, conds)
	if p.transient != nil {
		// The API server is unreachable or busy: retry with backoff.
		err = errors.Join(err, fmt.Errorf("applying: %w", p.transient))
	}
	p.after(syncInterval(cs))
	res, err := p.end.Finish(ctx, err, outcome.Summary{
		Conditions:         func() { setConditions(cs, conds) },
		ObservedGeneration: &cs.Status.ObservedGeneration,
		RequeueAfter:       p.requeue,
		Observe:            func(error) { observeConditions(st.nn, cs) },
	})
	ctrl.LoggerFrom(ctx).V(1).Info("pass done", "duration", r.Clock.Since(p.now).String(), "applied", p.applied,
		"fetched", p.fetched, "drifted", len(st.drifted), "statusWritten", p.end.Written())
	return res, err
}

// setConditions writes the derived conditions, with the generation they describe.
func setConditions(cs *v1alpha1.ClusterSync, set conditionSet) {
	for _, c := range []*metav1.Condition{set.Ready, set.Applied, set.Healthy, set.Drifted} {
		if c != nil {
			c.ObservedGeneration = cs.Generation
			apimeta.SetStatusCondition(&cs.Status.Conditions, *c)
		}
	}
	for t, c := range map[string]*metav1.Condition{v1alpha1.ReconcilingCondition: set.Reconciling, v1alpha1.StalledCondition: set.Stalled} {
		if c == nil {
			apimeta.RemoveStatusCondition(&cs.Status.Conditions, t)
			continue
		}
		c.ObservedGeneration = cs.Generation
		apimeta.SetStatusCondition(&cs.Status.Conditions, *c)
	}
}

// objectResults lists the noteworthy results of the last apply and prune: failures
// first, then refusals, prunes and changes; unchanged objects are left out.
func objectResults(st *syncState) []v1alpha1.ObjectResult {
	rank := map[v1alpha1.ObjectAction]int{v1alpha1.ActionFailed: 0, v1alpha1.ActionSkipped: 1, v1alpha1.ActionPruned: 2,
		v1alpha1.ActionCreated: 3, v1alpha1.ActionConfigured: 4}
	var list []apply.Result
	for _, res := range st.results {
		if _, ok := rank[res.Action]; ok {
			list = append(list, res)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if rank[list[i].Action] != rank[list[j].Action] {
			return rank[list[i].Action] < rank[list[j].Action]
		}
		return list[i].Key.Less(list[j].Key)
	})
	if len(list) > MaxObjectResults {
		list = list[:MaxObjectResults]
	}
	var out []v1alpha1.ObjectResult
	for _, res := range list {
		msg := oneLine(res.Message)
		if len(msg) > 2048 {
			msg = msg[:2045] + "..."
		}
		out = append(out, v1alpha1.ObjectResult{Object: res.Ref, Action: res.Action, Message: msg})
	}
	return out
}

func statusDrift(entries []driftEntry) []v1alpha1.DriftEntry {
	var out []v1alpha1.DriftEntry
	for i, e := range entries {
		if i == MaxDriftEntries {
			break
		}
		out = append(out, v1alpha1.DriftEntry{Object: e.ref, Path: e.diff.Path,
			ValueInCluster: cutValue(e.diff.InCluster), ValueInGit: cutValue(e.diff.InGit)})
	}
	return out
}

func cutValue(s string) string {
	if len(s) <= drift.MaxValueLength+3 {
		return s
	}
	return s[:drift.MaxValueLength] + "..."
}

// markReconciling writes Reconciling=True before a long apply, so that people and
// kstatus see the work in progress.
func (r *Reconciler) markReconciling(ctx context.Context, p *pass, msg string) {
	if err := p.end.MarkReconciling(ctx, oneLine(msg)); err != nil {
		ctrl.LoggerFrom(ctx).Info("could not mark the ClusterSync reconciling", "error", err.Error())
	}
}

// event records a Kubernetes event on the ClusterSync.
func (r *Reconciler) event(cs *v1alpha1.ClusterSync, eventtype, reason, action, format string, args ...any) {
	if r.Recorder == nil {
		return
	}
	note := oneLine(fmt.Sprintf(format, args...))
	if len(note) > 1000 {
		note = note[:997] + "..."
	}
	r.Recorder.Eventf(cs, nil, eventtype, reason, action, "%s", note)
}

// transitionEvents records events when Ready, Healthy or the fetch change state.
func (r *Reconciler) transitionEvents(p *pass, set conditionSet) {
	old := func(t string) *metav1.Condition { return apimeta.FindStatusCondition(p.orig.Status.Conditions, t) }
	if c := set.Healthy; c != nil && c.Status == metav1.ConditionFalse {
		if o := old(v1alpha1.HealthyCondition); o == nil || o.Status != metav1.ConditionFalse {
			r.event(p.cs, "Warning", c.Reason, "CheckHealth", "%s", c.Message)
		}
	}
	if p.sourceErr != nil {
		reason := outcome.ReasonOf(p.sourceErr)
		if o := old(v1alpha1.ReadyCondition); o == nil || o.Reason != reason {
			r.event(p.cs, "Warning", reason, "Fetch", "%s", oneLine(p.sourceErr.Error()))
		}
	}
	if c := set.Ready; c != nil && c.Status == metav1.ConditionTrue {
		if o := old(v1alpha1.ReadyCondition); o == nil || o.Status != metav1.ConditionTrue {
			r.event(p.cs, "Normal", v1alpha1.SucceededReason, "Reconcile", "%s", c.Message)
		}
	}
}

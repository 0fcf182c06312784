package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/drift"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// watchSyncTimeout bounds the wait for new watches before an apply.
const watchSyncTimeout = 15 * time.Second

// reconcileWatches keeps one informer per resource of the inventory, of the applied
// objects and of the commit's objects, so that drift and health come from memory.
func (r *Reconciler) reconcileWatches(ctx context.Context, p *pass) error {
	r.ensureWatches(p)
	if err := p.st.watches.waitSynced(ctx, watchSyncTimeout); err != nil {
		ctrl.LoggerFrom(ctx).Info("watches not synced yet", "error", err.Error())
	}
	return nil
}

func (r *Reconciler) ensureWatches(p *pass) {
	st := p.st
	want := map[schema.GroupVersionResource]schema.GroupKind{}
	for _, rec := range st.records {
		want[rec.gvr] = rec.desired.GroupVersionKind().GroupKind()
	}
	add := func(gk schema.GroupKind, version string) {
		m, err := r.Mapper.RESTMapping(gk, version)
		if err != nil {
			return // unknown kind: reported by the apply
		}
		want[m.Resource] = gk
	}
	for _, ref := range st.inventory {
		add(manifest.KeyOfRef(ref).GroupKind(), ref.Version)
	}
	if st.objects != nil {
		for _, o := range st.objects.Objects {
			gvk := o.GroupVersionKind()
			add(gvk.GroupKind(), gvk.Version)
		}
	}
	st.watches.ensure(want)
}

// needsApply reports whether this pass applies the whole folder: a new commit or
// generation, a reconcile request, an incomplete last apply, or nothing remembered.
func (p *pass) needsApply() bool {
	st := p.st
	if p.suspend || st.objects == nil || !p.fetched {
		return false
	}
	return st.commit != st.appliedCommit || st.appliedGen != p.cs.Generation || !st.applyComplete || !st.pruneComplete ||
		len(st.records) == 0 && len(st.objects.Objects) > 0 ||
		p.cs.Annotations[v1alpha1.ReconcileRequestAnnotation] != p.cs.Status.LastHandledReconcileAt
}

// reconcileApply applies the commit's objects when needsApply says so, and remembers
// what the API server returned for each.
func (r *Reconciler) reconcileApply(ctx context.Context, p *pass) error {
	if !p.needsApply() {
		return nil
	}
	st, cs := p.st, p.cs
	p.applied = true
	r.postStatus(ctx, p, pendingStatus(len(st.objects.Objects)))
	if st.commit != st.appliedCommit {
		r.markReconciling(ctx, p, fmt.Sprintf("applying commit %s (%d objects)", v1alpha1.ShortSHA(st.commit), len(st.objects.Objects)))
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, syncTimeout(cs))
	defer cancel()
	toApply, unchanged := r.splitUnchanged(p)
	results := append(r.applier.Apply(actx, toApply, r.applyOptions(p)), unchanged...)
	observeApply(st.nn, time.Since(start), results)
	p.applyResults = results
	r.remember(p, results, true)
	r.ensureWatches(p)

	var failed []string
	changed := 0
	complete := len(st.objects.Errors) == 0
	for _, res := range results {
		switch res.Action {
		case v1alpha1.ActionCreated, v1alpha1.ActionConfigured:
			changed++
		case v1alpha1.ActionFailed:
			failed = append(failed, res.Key.String()+": "+res.Message)
			if isTransient(res.Err) && p.transient == nil {
				p.transient = res.Err
			}
			complete = false
		case v1alpha1.ActionSkipped:
			complete = false
		}
	}
	if changed > 0 || st.appliedAt.IsZero() {
		st.appliedAt = p.now
	}
	st.applyComplete, st.appliedGen = complete, cs.Generation
	if complete {
		if st.appliedCommit != st.commit || st.lastAppliedTime.IsZero() {
			st.lastAppliedTime = p.now
			recordAppliedCommit(st.nn, p.now)
		}
		st.appliedCommit, st.appliedRevision, st.appliedSource = st.commit, st.revision, st.sourceRevision
	}
	log := ctrl.LoggerFrom(ctx)
	log.Info("applied", "commit", v1alpha1.ShortSHA(st.commit), "objects", len(results), "changed", changed, "failed", len(failed),
		"duration", time.Since(start).Round(time.Millisecond).String())
	if len(failed) > 0 {
		r.event(cs, "Warning", v1alpha1.ApplyFailedReason, "Apply", "%d of %d objects failed at commit %s: %s",
			len(failed), len(results), v1alpha1.ShortSHA(st.commit), firstN(failed, 5))
	} else if changed > 0 {
		r.event(cs, "Normal", "Applied", "Apply", "applied commit %s: %s", v1alpha1.ShortSHA(st.commit), countActions(results))
	}
	return nil
}

// splitUnchanged sets aside the objects that need no request: same in Git as at the
// last apply (under the same spec generation), and not drifted in the cluster since. An
// update touching a few objects of a large commit then sends only those. The others are
// returned as Unchanged results built from what the last apply returned.
func (r *Reconciler) splitUnchanged(p *pass) ([]*unstructured.Unstructured, []apply.Result) {
	st := p.st
	if st.appliedGen != p.cs.Generation || len(st.records) == 0 {
		return st.objects.Objects, nil
	}
	var toApply []*unstructured.Unstructured
	var unchanged []apply.Result
	for _, o := range st.objects.Objects {
		key := manifest.KeyOf(o)
		rec := st.records[key]
		if rec == nil && key.Namespace == "" {
			key.Namespace = metav1.NamespaceDefault
			rec = st.records[key]
		}
		if rec == nil || rec.failed || !equality.Semantic.DeepEqual(rec.desired.Object, o.Object) {
			toApply = append(toApply, o)
			continue
		}
		live, found, ok := st.watches.get(rec.gvr, key)
		if !ok || !found || live.GetResourceVersion() != rec.applied.GetResourceVersion() &&
			len(drift.Compare(rec.owned, rec.applied, live, drift.Options{})) > 0 {
			toApply = append(toApply, o)
			continue
		}
		unchanged = append(unchanged, apply.Result{Key: key, Ref: manifest.RefOf(rec.applied), Action: v1alpha1.ActionUnchanged,
			Applied: rec.applied, Owned: rec.owned, Adopted: rec.adopted, GVR: rec.gvr})
	}
	return toApply, unchanged
}

func (r *Reconciler) applyOptions(p *pass) apply.Options {
	st, pol := p.st, p.cs.Spec.ApplyPolicy
	takeover := pol.Takeover
	if takeover == "" {
		takeover = v1alpha1.TakeoverIfNoDiff
	}
	return apply.Options{
		Owner:    st.owner(),
		Force:    pol.Conflicts != v1alpha1.ConflictReport,
		Takeover: takeover,
		Prior: func(gvr schema.GroupVersionResource, key manifest.Key) (*unstructured.Unstructured, bool) {
			obj, found, ok := st.watches.get(gvr, key)
			return obj, ok && found
		},
		Adopted: func(key manifest.Key) bool {
			rec := st.records[key]
			return rec != nil && rec.adopted
		},
		Intend: r.recordIntent(p),
	}
}

// remember updates the records and last results with apply results. With full set,
// records of objects that are no longer in the commit are dropped.
func (r *Reconciler) remember(p *pass, results []apply.Result, full bool) {
	st := p.st
	if full {
		keep := make(map[manifest.Key]bool, len(results))
		for _, res := range results {
			keep[res.Key] = true
		}
		for k := range st.records {
			if !keep[k] {
				delete(st.records, k)
			}
		}
		st.results = map[manifest.Key]apply.Result{}
	}
	desired := desiredByKey(st.objects)
	for _, res := range results {
		st.results[res.Key] = res
		if !res.Succeeded() {
			if rec := st.records[res.Key]; rec != nil {
				rec.failed = true
				if d := desired[res.Key]; d != nil {
					rec.desired = d // a drift correction applies what Git holds now
				}
			}
			continue
		}
		applied := res.Applied.DeepCopy()
		applied.SetManagedFields(nil)
		d := desired[res.Key]
		if d == nil {
			d = applied
		}
		st.records[res.Key] = &record{gvr: res.GVR, applied: applied, owned: res.Owned, adopted: res.Adopted, desired: d}
	}
}

// desiredByKey indexes the commit's objects by key, with namespaces as the applier
// defaulted them (namespaced objects without one go to "default").
func desiredByKey(set *manifest.Set) map[manifest.Key]*unstructured.Unstructured {
	out := map[manifest.Key]*unstructured.Unstructured{}
	if set == nil {
		return out
	}
	for _, o := range set.Objects {
		k := manifest.KeyOf(o)
		out[k] = o
		if k.Namespace == "" {
			k.Namespace = "default"
			if _, taken := out[k]; !taken {
				out[k] = o
			}
		}
	}
	return out
}

// isTransient reports errors worth a quick retry: the API server unreachable, busy or
// timing out.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "EOF", "i/o timeout", "no such host", "http2: client connection lost", "TLS handshake timeout", "the server is currently unable", "etcdserver"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// countActions summarises results: "3 created, 2 configured, 37 unchanged".
func countActions(results []apply.Result) string {
	counts := map[v1alpha1.ObjectAction]int{}
	for _, r := range results {
		counts[r.Action]++
	}
	var parts []string
	for _, a := range []v1alpha1.ObjectAction{v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged,
		v1alpha1.ActionPruned, v1alpha1.ActionSkipped, v1alpha1.ActionFailed} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], strings.ToLower(string(a))))
		}
	}
	return strings.Join(parts, ", ")
}

// firstN joins up to n items and says how many more there are.
func firstN(items []string, n int) string {
	sorted := append([]string(nil), items...)
	sort.Strings(sorted)
	if len(sorted) <= n {
		return strings.Join(sorted, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(sorted[:n], "; "), len(sorted)-n)
}

package agent

import (
	"context"
	"sort"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/drift"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// MaxDriftEntries caps the drift entries in the status.
const MaxDriftEntries = 100

// reconcileDrift compares every applied object, as the watch sees it, with what the
// last apply returned, over the fields gitfleet owns. Under the policy Correct (and not
// suspended) drifted objects are applied again at once; under Report they are left.
func (r *Reconciler) reconcileDrift(ctx context.Context, p *pass) error {
	st := p.st
	found := map[manifest.Key][]drift.Diff{}
	for k, rec := range st.records {
		live, exists, ok := st.watches.get(rec.gvr, k)
		if !ok || skipDrift(rec.desired, live) {
			continue
		}
		if !exists && r.stillExists(ctx, rec.gvr, k) {
			// The watch has not caught up with an object applied a moment ago: it is not
			// missing. The watch's next event brings it back here.
			continue
		}
		var diffs []drift.Diff
		switch {
		case !exists:
			diffs = drift.Compare(rec.owned, rec.applied, nil, drift.Options{})
		case live.GetDeletionTimestamp() != nil:
			continue
		case live.GetResourceVersion() == rec.applied.GetResourceVersion() || olderThan(live, rec.applied):
			continue
		default:
			diffs = drift.Compare(rec.owned, rec.applied, live, drift.Options{
				Ignore: ignorePatterns(ctx, rec.desired, live),
				Redact: k.Group == "" && k.Kind == "Secret",
			})
		}
		if len(diffs) > 0 {
			found[k] = diffs
		}
	}
	newlyDrifted := 0
	for k := range found {
		if _, seen := st.drifted[k]; !seen {
			newlyDrifted++
		}
	}
	st.drifted = found
	p.driftFound = driftEntries(st, found)
	observeDrift(st.nn, len(found))
	if len(found) == 0 {
		return nil
	}
	if newlyDrifted > 0 {
		r.event(p.cs, "Warning", v1alpha1.DriftDetectedReason, "DetectDrift", "%d objects differ from Git: %s",
			len(found), describeDrift(p.driftFound, 3))
	}
	if p.suspend || p.cs.Spec.ApplyPolicy.Drift == v1alpha1.DriftReport {
		return nil
	}
	return r.correctDrift(ctx, p, found)
}

// correctDrift applies the drifted objects again. The failure status is posted first,
// so that the forge shows that drift happened even when it is corrected at once.
func (r *Reconciler) correctDrift(ctx context.Context, p *pass, found map[manifest.Key][]drift.Diff) error {
	st := p.st
	r.postStatus(ctx, p, driftStatus(len(found)))
	var objs []*unstructured.Unstructured
	for k := range found {
		objs = append(objs, st.records[k].desired)
	}
	results := r.applier.Apply(ctx, objs, r.applyOptions(p))
	r.remember(p, results, false)
	var corrected []string
	for _, res := range results {
		if !res.Succeeded() {
			if isTransient(res.Err) && p.transient == nil {
				p.transient = res.Err
			}
			continue
		}
		for _, e := range p.driftFound {
			if e.key == res.Key {
				p.driftCorrected = append(p.driftCorrected, e)
			}
		}
		delete(st.drifted, res.Key)
		corrected = append(corrected, res.Key.String())
	}
	p.driftFound = driftEntries(st, st.drifted)
	observeDrift(st.nn, len(st.drifted))
	if len(corrected) > 0 {
		st.corrected, st.correctedAt = p.driftCorrected, p.now
		observeCorrected(st.nn, len(corrected))
		r.event(p.cs, "Normal", v1alpha1.DriftCorrectedReason, "CorrectDrift", "applied Git again to %d drifted objects: %s",
			len(corrected), firstN(corrected, 5))
		ctrl.LoggerFrom(ctx).Info("drift corrected", "objects", len(corrected))
	}
	return nil
}

// skipDrift reports whether the object in Git or in the cluster asks not to be
// compared (fleet.gitfleet.dev/drift-skip=true).
func skipDrift(desired, live *unstructured.Unstructured) bool {
	for _, o := range []*unstructured.Unstructured{desired, live} {
		if o != nil && o.GetAnnotations()[v1alpha1.DriftSkipAnnotation] == "true" {
			return true
		}
	}
	return false
}

// ignorePatterns reads fleet.gitfleet.dev/drift-ignore-fields from the object in Git
// and in the cluster.
func ignorePatterns(ctx context.Context, desired, live *unstructured.Unstructured) []drift.Pattern {
	var pats []drift.Pattern
	for _, o := range []*unstructured.Unstructured{desired, live} {
		if o == nil {
			continue
		}
		v := o.GetAnnotations()[v1alpha1.DriftIgnoreFieldsAnnotation]
		if v == "" {
			continue
		}
		ps, errs := drift.ParsePatterns(v)
		for _, err := range errs {
			ctrl.LoggerFrom(ctx).Info("ignoring a bad drift-ignore-fields path", "object", manifest.KeyOf(o).String(), "error", err.Error())
		}
		pats = append(pats, ps...)
	}
	return pats
}

// stillExists confirms with a live read that an object the watch cache lacks is really
// gone, so that a watch lagging behind a fresh apply is never reported as deleted drift.
// A failed read counts as gone (the drift pass then re-applies, which is harmless).
func (r *Reconciler) stillExists(ctx context.Context, gvr schema.GroupVersionResource, k manifest.Key) bool {
	if r.Dynamic == nil {
		return false
	}
	var err error
	if k.Namespace == "" {
		_, err = r.Dynamic.Resource(gvr).Get(ctx, k.Name, metav1.GetOptions{})
	} else {
		_, err = r.Dynamic.Resource(gvr).Namespace(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
	}
	return err == nil
}

// olderThan reports whether live is an older version than applied (a watch that has not
// caught up yet). Resource versions are compared as numbers when both are.
func olderThan(live, applied *unstructured.Unstructured) bool {
	a, err1 := strconv.ParseUint(live.GetResourceVersion(), 10, 64)
	b, err2 := strconv.ParseUint(applied.GetResourceVersion(), 10, 64)
	return err1 == nil && err2 == nil && a < b
}

// driftEntries flattens drift by object, sorted by object and path.
func driftEntries(st *syncState, found map[manifest.Key][]drift.Diff) []driftEntry {
	var out []driftEntry
	for k, diffs := range found {
		ref := manifest.RefOf(st.records[k].applied)
		for _, d := range diffs {
			out = append(out, driftEntry{key: k, ref: ref, diff: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].key != out[j].key {
			return out[i].key.Less(out[j].key)
		}
		return out[i].diff.Path < out[j].diff.Path
	})
	return out
}

// describeDrift names the first n drifted fields.
func describeDrift(entries []driftEntry, n int) string {
	diffs := make([]string, 0, len(entries))
	for _, e := range entries {
		diffs = append(diffs, e.key.String()+" "+apply.SummarizeDiffs([]drift.Diff{e.diff}, 1))
	}
	if len(diffs) <= n {
		return joinSemi(diffs)
	}
	return joinSemi(diffs[:n]) + "; and " + strconv.Itoa(len(diffs)-n) + " more"
}

func joinSemi(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

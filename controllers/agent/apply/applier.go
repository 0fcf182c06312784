// Package apply applies a cluster's objects with server-side apply, in dependency order
// and concurrently within a step, decides on takeover of objects that gitfleet did not
// create, and prunes the objects that left Git.
package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/drift"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// FieldManager is the field manager of every server-side apply of the agent.
const FieldManager = "gitfleet"

// AdoptedAnnotation marks an object that existed before gitfleet applied it (taken over
// under the takeover policy). gitfleet never deletes such an object: when it leaves Git
// it is released (gitfleet's labels and this annotation are removed) and left in place.
const AdoptedAnnotation = "fleet.gitfleet.dev/adopted"

// Default tuning of an Applier.
const (
	DefaultConcurrency    = 16
	DefaultCRDWaitTimeout = 60 * time.Second
	listThreshold         = 8 // new objects of one resource and namespace above which one list replaces GETs
)

// Applier applies and prunes objects. Its fields are dependencies and tuning; it holds
// no state between calls and is safe for concurrent use.
type Applier struct {
	// Dynamic applies, reads and deletes objects.
	Dynamic dynamic.Interface
	// Metadata reads objects' metadata to decide on takeover and pruning.
	Metadata metadata.Interface
	// Mapper maps kinds to resources. Reset (if it is a meta.ResettableRESTMapper) after
	// CustomResourceDefinitions are applied.
	Mapper meta.RESTMapper
	// Concurrency bounds the objects applied at once within a phase.
	Concurrency int
	// CRDWaitTimeout bounds the wait for applied CRDs to become Established.
	CRDWaitTimeout time.Duration
}

// Owner says which objects belong to one ClusterSync: those with its label.
type Owner struct {
	// Labels are set on every applied object (managed-by and cluster-sync).
	Labels map[string]string
	// Label and Value identify the ClusterSync's objects (cluster-sync=<ns>.<name>).
	Label, Value string
}

// Owns reports whether labels mark an object of this owner.
func (o Owner) Owns(labels map[string]string) bool { return labels[o.Label] == o.Value }

// Prior is what the caller already knows of a live object (from an informer cache): the
// object, or ok false when it does not know.
type Prior func(gvr schema.GroupVersionResource, key manifest.Key) (obj *unstructured.Unstructured, ok bool)

// Options tunes one Apply.
type Options struct {
	// Owner labels the objects and says which live objects are gitfleet's.
	Owner Owner
	// Force takes over conflicting fields from other field managers.
	Force bool
	// Takeover decides for objects that exist and are not the owner's.
	Takeover v1alpha1.TakeoverPolicy
	// Prior, when set, is asked first for the live state of an object.
	Prior Prior
	// Adopted, when set, reports objects known to have been taken over earlier (from the
	// last apply), so that their AdoptedAnnotation is kept.
	Adopted func(key manifest.Key) bool
	// Intend, when set, is called before each phase with the inventory entries of the
	// objects about to be applied (namespaces defaulted), so that the caller can record
	// them before they may exist. When it fails, the phase's objects are not applied and
	// fail with its error.
	Intend func(ctx context.Context, refs []v1alpha1.ObjectReference) error
}

// Result is the outcome for one object.
type Result struct {
	// Key of the object (with its namespace defaulted).
	Key manifest.Key
	// Ref is the object's inventory entry.
	Ref v1alpha1.ObjectReference
	// Action taken.
	Action v1alpha1.ObjectAction
	// Message from the API server, the takeover decision or the prune decision.
	Message string
	// Err is set when Action is Failed.
	Err error
	// Applied is the object as the API server returned it after the apply.
	Applied *unstructured.Unstructured
	// Owned are the fields gitfleet owns in Applied.
	Owned *fieldpath.Set
	// Adopted is true when the object existed before gitfleet applied it.
	Adopted bool
	// Diffs, when a takeover was refused, are the fields that differ from Git.
	Diffs []drift.Diff
	// Phase the object was applied in.
	Phase manifest.Phase
	// GVR is the resource of the object, when its kind is served.
	GVR schema.GroupVersionResource
	// Prune is true for the results of Prune.
	Prune bool
}

// Succeeded reports whether the object is applied as Git says.
func (r Result) Succeeded() bool {
	return r.Action == v1alpha1.ActionCreated || r.Action == v1alpha1.ActionConfigured || r.Action == v1alpha1.ActionUnchanged
}

func (a *Applier) concurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return DefaultConcurrency
}

// item is one object on its way through Apply.
type item struct {
	orig    *unstructured.Unstructured // the caller's object
	obj     *unstructured.Unstructured // a copy with its namespace defaulted
	key     manifest.Key
	gvr     schema.GroupVersionResource
	phase   manifest.Phase
	prior   *metav1.ObjectMeta // nil when the object does not exist
	known   bool               // prior is known
	adopted bool
}

// Apply applies objs in phases (CRDs, then Namespaces, cluster-scoped, namespaced,
// admission last), concurrently within a phase, and returns one Result per object in
// the order of objs. An object that fails does not stop the others. The objects are not
// modified.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) []Result {
	results := make([]Result, len(objs))
	index := make(map[*unstructured.Unstructured]int, len(objs))
	for i, o := range objs {
		index[o] = i
		results[i] = Result{Key: manifest.KeyOf(o), Ref: manifest.RefOf(o)}
	}
	fixed, rest := manifest.SplitFixed(objs)
	resolved := false
	for phase := manifest.PhaseCRDs; phase < manifest.NumPhases; phase++ {
		if phase == manifest.PhaseClusterScoped && !resolved {
			// The scope of custom resources is known once their CRDs are in.
			if len(fixed[manifest.PhaseCRDs]) > 0 {
				meta.MaybeResetRESTMapper(a.Mapper)
			}
			for _, o := range rest {
				namespaced, err := a.namespaced(o)
				if err != nil {
					results[index[o]].fail(err)
					continue
				}
				p := manifest.PhaseOf(o.GroupVersionKind().GroupKind(), namespaced)
				fixed[p] = append(fixed[p], o)
			}
			resolved = true
		}
		var items []*item
		for _, o := range fixed[phase] {
			it, err := a.prepare(o, phase)
			if err != nil {
				results[index[o]].fail(err)
				continue
			}
			results[index[o]].Key, results[index[o]].Ref = it.key, manifest.RefOf(it.obj)
			items = append(items, it)
		}
		if len(items) == 0 {
			continue
		}
		if opts.Intend != nil {
			refs := make([]v1alpha1.ObjectReference, len(items))
			for i, it := range items {
				refs[i] = manifest.RefOf(it.obj)
			}
			if err := opts.Intend(ctx, refs); err != nil {
				err = fmt.Errorf("not applied: recording the objects in the inventory first failed: %w", err)
				for _, it := range items {
					results[index[it.obj0()]].fail(err)
				}
				continue
			}
		}
		a.lookupPrior(ctx, items, opts)
		a.forEach(len(items), func(i int) {
			it := items[i]
			results[index[it.obj0()]] = a.applyOne(ctx, it, opts)
		})
		if phase == manifest.PhaseCRDs {
			a.waitEstablished(ctx, items, results, index)
		}
	}
	return results
}

// obj0 returns the caller's object (prepare works on a copy).
func (it *item) obj0() *unstructured.Unstructured { return it.orig }

func (r *Result) fail(err error) {
	r.Action, r.Err, r.Message = v1alpha1.ActionFailed, err, err.Error()
}

func (a *Applier) namespaced(o *unstructured.Unstructured) (bool, error) {
	gvk := o.GroupVersionKind()
	m, err := a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, unknownKind(gvk, err)
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func unknownKind(gvk schema.GroupVersionKind, err error) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("unknown kind: the API server serves no %s in %s", gvk.Kind, gvk.GroupVersion())
	}
	return fmt.Errorf("mapping %s: %w", gvk, err)
}

// prepare maps obj to its resource and defaults its namespace, on a copy.
func (a *Applier) prepare(o *unstructured.Unstructured, phase manifest.Phase) (*item, error) {
	gvk := o.GroupVersionKind()
	m, err := a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, unknownKind(gvk, err)
	}
	obj := o.DeepCopy()
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
	} else {
		obj.SetNamespace("")
	}
	return &item{orig: o, obj: obj, key: manifest.KeyOf(obj), gvr: m.Resource, phase: phase}, nil
}

// forEach runs f(0..n-1) on at most a.concurrency() goroutines.
func (a *Applier) forEach(n int, f func(i int)) {
	workers := min(a.concurrency(), n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// lookupPrior finds out which objects exist and whose they are: from opts.Prior when it
// knows, else with one metadata list per resource and namespace when many objects are
// new, else with one metadata GET per object.
func (a *Applier) lookupPrior(ctx context.Context, items []*item, opts Options) {
	type group struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	unknown := map[group][]*item{}
	for _, it := range items {
		if opts.Adopted != nil && opts.Adopted(it.key) {
			it.adopted = true
		}
		if opts.Prior != nil {
			if live, ok := opts.Prior(it.gvr, it.key); ok && live != nil {
				m := metaOf(live)
				it.prior, it.known = &m, true
				continue
			}
		}
		g := group{it.gvr, it.key.Namespace}
		unknown[g] = append(unknown[g], it)
	}
	var groups []group
	for g, its := range unknown {
		if len(its) >= listThreshold {
			groups = append(groups, g)
		}
	}
	a.forEach(len(groups), func(i int) {
		g := groups[i]
		list, err := a.Metadata.Resource(g.gvr).Namespace(g.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return // fall back to GETs
		}
		byName := make(map[string]*metav1.ObjectMeta, len(list.Items))
		for j := range list.Items {
			byName[list.Items[j].Name] = &list.Items[j].ObjectMeta
		}
		for _, it := range unknown[g] {
			it.prior, it.known = byName[it.key.Name], true
		}
	})
	var rest []*item
	for _, its := range unknown {
		for _, it := range its {
			if !it.known {
				rest = append(rest, it)
			}
		}
	}
	a.forEach(len(rest), func(i int) {
		it := rest[i]
		m, err := a.Metadata.Resource(it.gvr).Namespace(it.key.Namespace).Get(ctx, it.key.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			it.prior, it.known = &m.ObjectMeta, true
		case apierrors.IsNotFound(err):
			it.prior, it.known = nil, true
		}
		// On other errors the apply will report the problem.
	})
}

func metaOf(u *unstructured.Unstructured) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
		Labels: u.GetLabels(), Annotations: u.GetAnnotations(), DeletionTimestamp: u.GetDeletionTimestamp(),
	}
}

// applyOne decides on takeover and applies one object.
func (a *Applier) applyOne(ctx context.Context, it *item, opts Options) Result {
	res := Result{Key: it.key, Ref: manifest.RefOf(it.obj), Phase: it.phase, GVR: it.gvr}
	adopt := it.adopted
	if it.prior != nil {
		if opts.Owner.Owns(it.prior.Labels) {
			adopt = adopt || it.prior.Annotations[AdoptedAnnotation] == "true"
		} else {
			ok, diffs, msg := a.takeover(ctx, it, opts)
			if !ok {
				res.Action, res.Message, res.Diffs = v1alpha1.ActionSkipped, msg, diffs
				return res
			}
			adopt = true
		}
	}
	obj := Desired(it.obj, opts.Owner, adopt)
	out, err := a.Dynamic.Resource(it.gvr).Namespace(it.key.Namespace).Apply(ctx, it.key.Name, obj,
		metav1.ApplyOptions{FieldManager: FieldManager, Force: opts.Force})
	if err != nil {
		res.fail(describeError(err))
		return res
	}
	owned, err := drift.OwnedFields(out, FieldManager)
	if err != nil {
		res.fail(err)
		return res
	}
	res.Applied, res.Owned, res.Adopted = out, owned, adopt
	switch {
	case it.known && it.prior == nil:
		res.Action = v1alpha1.ActionCreated
	case it.prior != nil && it.prior.ResourceVersion == out.GetResourceVersion():
		res.Action = v1alpha1.ActionUnchanged
	default:
		res.Action = v1alpha1.ActionConfigured
	}
	return res
}

// Desired returns the object gitfleet applies: obj with the owner's labels and, for an
// adopted object, the AdoptedAnnotation.
func Desired(obj *unstructured.Unstructured, owner Owner, adopted bool) *unstructured.Unstructured {
	out := obj.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(out.Object, "metadata", "uid")
	unstructured.RemoveNestedField(out.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(out.Object, "metadata", "generation")
	unstructured.RemoveNestedField(out.Object, "status")
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range owner.Labels {
		labels[k] = v
	}
	out.SetLabels(labels)
	if adopted {
		ann := out.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AdoptedAnnotation] = "true"
		out.SetAnnotations(ann)
	}
	return out
}

// takeover applies the takeover policy to an object that exists and is not the
// owner's: whether to apply it, and otherwise why not.
func (a *Applier) takeover(ctx context.Context, it *item, opts Options) (bool, []drift.Diff, string) {
	switch opts.Takeover {
	case v1alpha1.TakeoverAlways:
		return true, nil, ""
	case v1alpha1.TakeoverNever:
		return false, nil, "exists and was not created by gitfleet; not taken over (takeover: Never)"
	}
	// IfNoDiff (the default): take over only when applying changes nothing.
	ri := a.Dynamic.Resource(it.gvr).Namespace(it.key.Namespace)
	live, err := ri.Get(ctx, it.key.Name, metav1.GetOptions{})
	if err != nil {
		return false, nil, fmt.Sprintf("exists and was not created by gitfleet; reading it for takeover: %v", describeError(err))
	}
	dry, err := ri.Apply(ctx, it.key.Name, Desired(it.obj, opts.Owner, true),
		metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return false, nil, fmt.Sprintf("exists and was not created by gitfleet; dry run for takeover: %v", describeError(err))
	}
	owned, err := drift.OwnedFields(dry, FieldManager)
	if err != nil {
		return false, nil, err.Error()
	}
	diffs := drift.Compare(owned, dry, live, drift.Options{Ignore: ownerPatterns(opts.Owner), Redact: isSecret(it.key)})
	if len(diffs) == 0 {
		return true, nil, ""
	}
	return false, diffs, fmt.Sprintf("exists and was not created by gitfleet, and differs from Git in %s; not taken over (takeover: IfNoDiff)", SummarizeDiffs(diffs, 3))
}

// ownerPatterns ignores the labels and annotation gitfleet adds, which an object that
// gitfleet did not create never has.
func ownerPatterns(o Owner) []drift.Pattern {
	var pats []drift.Pattern
	for k := range o.Labels {
		p, _ := drift.ParsePattern(fmt.Sprintf(".metadata.labels[%q]", k))
		pats = append(pats, p)
	}
	p, _ := drift.ParsePattern(fmt.Sprintf(".metadata.annotations[%q]", AdoptedAnnotation))
	return append(pats, p)
}

func isSecret(k manifest.Key) bool { return k.Group == "" && k.Kind == "Secret" }

// SummarizeDiffs names up to limit differing paths, e.g. ".spec.replicas (3 in cluster,
// 2 in Git) and 2 more".
func SummarizeDiffs(diffs []drift.Diff, limit int) string {
	var parts []string
	for i, d := range diffs {
		if i == limit {
			parts = append(parts, fmt.Sprintf("%d more", len(diffs)-limit))
			break
		}
		in := d.InCluster
		if in == "" {
			in = "missing"
		}
		parts = append(parts, fmt.Sprintf("%s (%s in cluster, %s in Git)", d.Path, cut(in, 60), cut(d.InGit, 60)))
	}
	return strings.Join(parts, ", ")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// describeError returns the API server's message for err, naming conflicts.
func describeError(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		if s.Reason == metav1.StatusReasonConflict {
			return fmt.Errorf("conflict with another field manager (conflicts: Report): %s", s.Message)
		}
		return fmt.Errorf("%s", s.Message)
	}
	return err
}

// waitEstablished waits until every applied CRD is Established and marks those that
// are not as failed.
func (a *Applier) waitEstablished(ctx context.Context, items []*item, results []Result, index map[*unstructured.Unstructured]int) {
	timeout := a.CRDWaitTimeout
	if timeout == 0 {
		timeout = DefaultCRDWaitTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a.forEach(len(items), func(i int) {
		it := items[i]
		r := &results[index[it.obj0()]]
		if !r.Succeeded() {
			return
		}
		if established(r.Applied) {
			return
		}
		ri := a.Dynamic.Resource(it.gvr)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				r.fail(fmt.Errorf("applied, but not Established within %s", timeout))
				return
			case <-tick.C:
			}
			crd, err := ri.Get(ctx, it.key.Name, metav1.GetOptions{})
			if err == nil && established(crd) {
				return
			}
		}
	})
}

func established(crd *unstructured.Unstructured) bool {
	if crd == nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

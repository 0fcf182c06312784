package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

// sourceRefIndex indexes Placements by spec.sourceRef.name.
const sourceRefIndex = "spec.sourceRef.name"

// HydrationReconciler is the hub's main job, one pass per GitSource: schedule every
// placement of the source, render it for each selected cluster with its overrides, write
// one commit per environment branch, and report on each Placement. It runs when the
// source's revision changes, and when placements, overrides, pipelines or member clusters
// change in ways that matter to scheduling or rendering.
type HydrationReconciler struct {
	Client    client.Client
	Snapshots *Snapshots
	Writer    *gitsource.Writer
	Renderer  *render.Renderer
	Versions  hydrate.Versions
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	Metrics   *Metrics
	// Committer is the author of environment-branch commits.
	Committer gitsource.Signature
	// PipelineEvents, when set, receives the namespace's Pipelines after a pass moved a
	// branch (the Pipeline controller watches it).
	PipelineEvents chan<- event.GenericEvent
	// Events, when set, are GitSources to hydrate now (the Pipeline controller asks when
	// an approval pull request must be rebuilt on a moved base).
	Events <-chan event.GenericEvent

	memosMu sync.Mutex
	memos   map[types.NamespacedName]*hydrate.Memo
	// unrestorable remembers when a revision could not be fetched again (see
	// restoreRevision), so that a pass does not read the branch's history each time.
	unrestorable sync.Map
}

// memo returns the render memo of one source: a pass re-renders only the pairs whose
// inputs changed since the previous pass.
func (r *HydrationReconciler) memo(src types.NamespacedName) *hydrate.Memo {
	r.memosMu.Lock()
	defer r.memosMu.Unlock()
	if r.memos == nil {
		r.memos = map[types.NamespacedName]*hydrate.Memo{}
	}
	m := r.memos[src]
	if m == nil {
		m = hydrate.NewMemo()
		r.memos[src] = m
	}
	return m
}

var _ reconcile.Reconciler = (*HydrationReconciler)(nil)

// SetupWithManager registers the reconciler and its watches.
func (r *HydrationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &fleetv1alpha1.Placement{}, sourceRefIndex, func(o client.Object) []string {
		return []string{o.(*fleetv1alpha1.Placement).Spec.SourceRef.Name}
	}); err != nil {
		return err
	}
	allSources := handler.EnqueueRequestsFromMapFunc(r.sourcesInNamespace)
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events, &handler.EnqueueRequestForObject{}))
	}
	return b.
		Named("hydration").
		For(&fleetv1alpha1.GitSource{}, builder.WithPredicates(revisionChanged{})).
		Watches(&fleetv1alpha1.Placement{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			p := o.(*fleetv1alpha1.Placement)
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.SourceRef.Name}}}
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&fleetv1alpha1.Override{}, allSources, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&fleetv1alpha1.Pipeline{}, allSources, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, stageRevisionsChanged{}))).
		Watches(&fleetv1alpha1.MemberCluster{}, allSources, builder.WithPredicates(clusterFactsChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(r)
}

func (r *HydrationReconciler) sourcesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list fleetv1alpha1.GitSourceList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing GitSources")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, s := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
	}
	return out
}

// hydrationPass is what one hydration of a GitSource learns, step by step.
type hydrationPass struct {
	src   *fleetv1alpha1.GitSource
	start time.Time
	// fleet is what the pass renders; nil while the source has no stored revision.
	fleet *hydrate.Fleet
	plan  *hydrate.Plan
	// commits is the outcome of writing each branch.
	commits map[string]branchCommit
}

// Reconcile hydrates one source. It reads as the steps of a pass; the deferred end
// reports on each Placement and Override what the pass did (even when a step failed) and
// turns the failures into the next retry.
func (r *HydrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	src := &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, req.NamespacedName, src); err != nil || !src.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName) // a deleted source is not hydrated (its env branches stay)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &hydrationPass{src: src, start: r.Clock.Now()}
	end := outcome.Begin(r.Client, nil) // its status is on the Placements (see report)
	var err error
	defer func() {
		err = errors.Join(err, r.report(ctx, p))
		res, retErr = end.Finish(ctx, err, outcome.Summary{Observe: func(err error) {
			if p.fleet != nil || err != nil {
				r.Metrics.observeReconcile("hydration", p.start, err)
			}
		}})
	}()

	for _, step := range []func(context.Context, *hydrationPass) error{
		r.load,            // the fleet at the source's stored revision (none yet: nothing to do)
		r.render,          // schedule every placement, render it for each selected cluster
		r.commit,          // one commit per environment branch (see writeBranches)
		r.notifyPipelines, // wake the pipelines when a branch moved
	} {
		if err = step(ctx, p); err != nil || p.fleet == nil {
			return
		}
	}
	return
}

// load reads what the pass needs (see loadFleet).
func (r *HydrationReconciler) load(ctx context.Context, p *hydrationPass) (err error) {
	p.fleet, err = r.loadFleet(ctx, p.src)
	return err
}

// render schedules and renders the fleet; a placement or (placement, cluster) that fails
// is reported on its Placement, not as the pass's error.
func (r *HydrationReconciler) render(ctx context.Context, p *hydrationPass) error {
	r.Snapshots.Pin(p.src.Namespace, hydrate.PinnedRevisions(p.fleet.Pipelines))
	p.plan = hydrate.Hydrate(ctx, p.fleet, r.Renderer)
	r.Metrics.observeRender(p.src.Name, r.Clock.Now().Sub(p.start))
	r.Metrics.observeFailures(p.plan)
	return nil
}

// commit writes the branches (see writeBranches). A branch that could not be written is
// reported by report, after the other branches are written and the pipelines notified.
func (r *HydrationReconciler) commit(ctx context.Context, p *hydrationPass) error {
	p.commits = r.writeBranches(ctx, p.src, p.fleet, p.plan)
	return nil
}

// report writes what the pass did on each Placement of the source and each Override,
// and returns the branches that could not be written (CommitFailed), with any status
// patch that failed.
func (r *HydrationReconciler) report(ctx context.Context, p *hydrationPass) error {
	if p.plan == nil {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.plan.Placements)) {
		if err := r.patchPlacementStatus(ctx, p.fleet, p.plan.Placements[name], p.commits); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.patchOverrideStatus(ctx, p.fleet); err != nil {
		errs = append(errs, err)
	}
	for _, c := range p.commits {
		if c.err != nil {
			errs = append(errs, outcome.WithReason(fleetv1alpha1.CommitFailedReason, c.err))
		}
	}
	ctrl.LoggerFrom(ctx).V(1).Info("hydrated", "revision", p.fleet.Revision(), "placements", len(p.plan.Placements), "branches", len(p.plan.Branches), "duration", r.Clock.Now().Sub(p.start).String())
	return errors.Join(errs...)
}

// loadFleet reads what one hydration needs. It returns nil when the source has no stored
// revision yet (the GitSource reconciler triggers hydration once it has).
func (r *HydrationReconciler) loadFleet(ctx context.Context, src *fleetv1alpha1.GitSource) (*hydrate.Fleet, error) {
	_, sha, ok := strings.Cut(src.Status.Revision, "@sha1:")
	if !ok || !r.Snapshots.Has(src.Namespace, src.Name, sha) {
		return nil, nil
	}
	ns := client.InNamespace(src.Namespace)
	var placements fleetv1alpha1.PlacementList
	if err := r.Client.List(ctx, &placements, ns, client.MatchingFields{sourceRefIndex: src.Name}); err != nil {
		return nil, err
	}
	var overrides fleetv1alpha1.OverrideList
	if err := r.Client.List(ctx, &overrides, ns); err != nil {
		return nil, err
	}
	var pipelines fleetv1alpha1.PipelineList
	if err := r.Client.List(ctx, &pipelines, ns); err != nil {
		return nil, err
	}
	var clusters fleetv1alpha1.MemberClusterList
	if err := r.Client.List(ctx, &clusters, ns); err != nil {
		return nil, err
	}
	live := placements.Items[:0]
	for _, p := range placements.Items {
		if p.DeletionTimestamp.IsZero() {
			live = append(live, p)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Name < live[j].Name })
	f := &hydrate.Fleet{
		Root:      r.Snapshots.Path(src.Namespace, src.Name, sha),
		SourceURL: gitsource.RedactURL(src.Spec.URL), SourceBranch: src.Spec.Branch, SourceCommit: sha,
		Placements: live, Overrides: overrides.Items, Pipelines: pipelines.Items, Clusters: clusters.Items,
		Now: r.Clock.Now(), Memo: r.memo(client.ObjectKeyFromObject(src)),
	}
	// The Placements and Overrides of the stored revision, not those applied to the hub:
	// the GitSource controller applies a new revision's objects before its status names
	// that revision, and rendering them as the old revision would let a change reach the
	// stages that hold it (without its promotion, or its approval). When the revision's
	// fleet objects do not load, the GitSource reports it and the applied ones are kept.
	if err := fleetAt(src, f, f.Root); err != nil {
		ctrl.LoggerFrom(ctx).Info("rendering the fleet objects applied to the hub", "revision", sha, "error", err.Error())
	}
	return f, nil
}

// notifyPipelines wakes the Pipeline controller for the pipelines of the namespace when a
// branch moved, so that promotions see new stage heads at once instead of at the next poll.
func (r *HydrationReconciler) notifyPipelines(_ context.Context, p *hydrationPass) error {
	if r.PipelineEvents == nil {
		return nil
	}
	moved := false
	for _, c := range p.commits {
		moved = moved || c.committed
	}
	if !moved {
		return nil
	}
	f := p.fleet
	for i := range f.Pipelines {
		p := &fleetv1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: f.Pipelines[i].Namespace, Name: f.Pipelines[i].Name}}
		select {
		case r.PipelineEvents <- event.GenericEvent{Object: p}:
		default: // the controller is busy; its poll catches up
		}
	}
	return nil
}

// revisionChanged passes GitSource events that change what hydration reads: a new
// revision or a new spec.
type revisionChanged struct{ predicate.Funcs }

// Update passes a changed revision or generation.
func (revisionChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*fleetv1alpha1.GitSource), e.ObjectNew.(*fleetv1alpha1.GitSource)
	return o.Status.Revision != n.Status.Revision || o.Generation != n.Generation
}

// stageRevisionsChanged passes Pipeline status changes that move a stage to another dry
// revision (a promotion), which hydration must write.
type stageRevisionsChanged struct{ predicate.Funcs }

// Update compares the revisions each stage is rendered at.
func (stageRevisionsChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*fleetv1alpha1.Pipeline), e.ObjectNew.(*fleetv1alpha1.Pipeline)
	for _, s := range n.Spec.Stages {
		if hydrate.StageRevision(o, s.Name) != hydrate.StageRevision(n, s.Name) {
			return true
		}
	}
	return false
}

// clusterFactsChanged passes MemberCluster events that matter to scheduling or
// rendering, and drops heartbeats and the agent's apply summaries.
type clusterFactsChanged struct{ predicate.Funcs }

// Update compares everything but the heartbeat and apply reports.
func (clusterFactsChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*fleetv1alpha1.MemberCluster), e.ObjectNew.(*fleetv1alpha1.MemberCluster)
	return clusterFactsKey(o) != clusterFactsKey(n)
}

func clusterFactsKey(mc *fleetv1alpha1.MemberCluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%v|%v|%s|%v|%v|", mc.Generation, mc.Labels, mc.DeletionTimestamp != nil, mc.Status.KubernetesVersion, mc.Status.Properties, mc.Status.APIVersions)
	// The agent's apply reports feed the Placement's Applied/Available/Drifted conditions.
	fmt.Fprintf(&b, "%s|%v|", mc.Status.AppliedCommit, mc.Status.Placements)
	if r := mc.Status.Resources; r != nil {
		fmt.Fprintf(&b, "%d|%v|%v|", r.NodeCount, r.Allocatable, r.Available)
	}
	for _, c := range mc.Status.Conditions {
		if c.Type == fleetv1alpha1.JoinedCondition || c.Type == fleetv1alpha1.HealthyCondition {
			fmt.Fprintf(&b, "%s=%s|", c.Type, c.Status)
		}
	}
	return b.String()
}

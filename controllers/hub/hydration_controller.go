package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/gitfleet/gitfleet/controllers/hub/hydrate"
	"github.com/gitfleet/gitfleet/gitsource"
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

// Reconcile hydrates one source.
func (r *HydrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	start := r.Clock.Now()
	src := &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, req.NamespacedName, src); err != nil || !src.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName) // a deleted source is not hydrated (its env branches stay)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	fleet, err := r.loadFleet(ctx, src)
	if err != nil || fleet == nil {
		return ctrl.Result{}, err
	}
	r.Snapshots.Pin(src.Namespace, hydrate.PinnedRevisions(fleet.Pipelines))
	plan := hydrate.Hydrate(ctx, fleet, r.Renderer)
	r.Metrics.observeRender(src.Name, r.Clock.Now().Sub(start))
	r.Metrics.observeFailures(plan)

	commits := r.writeBranches(ctx, src, fleet, plan)
	r.notifyPipelines(fleet, commits)
	var errs []error
	for _, name := range sortedKeys(plan.Placements) {
		if err := r.patchPlacementStatus(ctx, fleet, plan.Placements[name], commits); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.patchOverrideStatus(ctx, fleet); err != nil {
		errs = append(errs, err)
	}
	for _, c := range commits {
		if c.err != nil {
			errs = append(errs, withReason(fleetv1alpha1.CommitFailedReason, c.err))
		}
	}
	err = errors.Join(errs...)
	r.Metrics.observeReconcile("hydration", start, err)
	log.V(1).Info("hydrated", "revision", fleet.Revision(), "placements", len(plan.Placements), "branches", len(plan.Branches), "duration", r.Clock.Now().Sub(start).String())
	return ctrl.Result{}, err
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

// fleetAt replaces f's Placements and Overrides of src with those the revision in root
// declares (see placementsAt, overridesAt), when src has a fleetPath.
func fleetAt(src *fleetv1alpha1.GitSource, f *hydrate.Fleet, root string) error {
	if src.Spec.FleetPath == "" {
		return nil
	}
	at, err := hydrate.LoadFleetDir(root, src.Spec.FleetPath)
	if err != nil {
		return err
	}
	f.Placements = placementsAt(src, at.Placements, f.Placements)
	f.Overrides = overridesAt(src, at.Overrides, f.Overrides)
	return nil
}

// branchCommit is the outcome of writing one branch.
type branchCommit struct {
	commit string
	err    error
	// committed is true when this pass pushed a new commit.
	committed bool
	// pending names the stage when the branch waits for its first promotion and was not
	// written.
	pending string
}

// writeBranches writes every branch of the plan, plus empty trees for known branches that
// no longer hold anything of this source (their last placement or cluster left). The
// first stage of a pipeline (and env/default) is written at the source head; a later stage
// at the revision its pipeline's status names (see hydrate.StageRevisions), rendered from
// that revision's snapshot, and not at all before its first promotion.
func (r *HydrationReconciler) writeBranches(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, plan *hydrate.Plan) map[string]branchCommit {
	stages := hydrate.StageRevisions(f.Pipelines, f.SourceCommit)
	for _, name := range knownBranches(f) {
		if _, ok := plan.Branches[name]; !ok {
			plan.Branches[name] = &hydrate.Branch{Name: name, Stage: stageName(f, name), Files: map[string][]byte{}}
		}
	}
	names := map[string]bool{}
	for name := range plan.Branches {
		names[name] = true
	}
	for name, st := range stages {
		if st.Base != "" {
			names[name] = true
		}
	}
	plans := map[string]*revisionPlan{f.SourceCommit: {fleet: f, plan: plan}}
	out := map[string]branchCommit{}
	for _, name := range sortedKeys(names) {
		rev := f.SourceCommit
		st, ok := stages[name]
		if ok {
			rev = st.Revision
		}
		if rev == "" {
			out[name] = branchCommit{pending: stages[name].Stage}
			continue
		}
		rp := plans[rev]
		if rp == nil {
			rp = r.planAt(ctx, src, f, rev)
			plans[rev] = rp
		}
		if rp.err != nil {
			out[name] = branchCommit{err: rp.err}
			continue
		}
		// An approval pull request's branch holds the render of the stage's own branch.
		content := name
		if st.Base != "" {
			content = st.Base
		}
		b := rp.plan.Branches[content]
		if b == nil {
			b = &hydrate.Branch{Name: content, Stage: stageName(f, content), Files: map[string][]byte{}}
		}
		// A later stage's own branch moves to another revision only when the pipeline moves
		// it (Moving); else it is rendered again only at the revision it holds.
		guard := ok && !st.First && st.Base == "" && !st.Moving
		sha, committed, err := r.writeBranch(ctx, src, rp.fleet, b, name, st.Base, guard)
		out[name] = branchCommit{commit: sha, err: err, committed: committed}
	}
	return out
}

// revisionPlan is the hydration of the fleet at one dry revision.
type revisionPlan struct {
	fleet *hydrate.Fleet
	plan  *hydrate.Plan
	err   error
}

// planAt hydrates the fleet at an older revision, for the later stages that hold it: the
// revision's sources (charts, kustomizations, files) and, when the source has a fleetPath,
// the revision's Placements and Overrides, so that neither an app change nor a placement
// or override change reaches a stage before it is promoted. MemberClusters and Pipelines
// are today's (they are facts about the fleet, not content of a release).
func (r *HydrationReconciler) planAt(ctx context.Context, src *fleetv1alpha1.GitSource, head *hydrate.Fleet, rev string) *revisionPlan {
	root, err := r.Snapshots.Require(src.Namespace, src.Name, rev)
	if errors.Is(err, ErrRevisionGone) {
		root, err = r.restoreRevision(ctx, src, rev, err)
	}
	if err != nil {
		return &revisionPlan{err: err}
	}
	return r.planAtRoot(ctx, src, head, root, rev)
}

// restoreRetry is how long a revision that could not be fetched again is not tried again.
const restoreRetry = 5 * time.Minute

// restoreRevision brings back the snapshot of a revision that a stage holds but the hub
// no longer has (it restarted on an empty data dir, e.g. an emptyDir volume): it reads the
// recent history of the source branch and stores the revision's files again. gone is the
// error to return, with the reason, when the revision is not there (rewritten away, or
// older than gitsource.DefaultHistoryDepth commits).
func (r *HydrationReconciler) restoreRevision(ctx context.Context, src *fleetv1alpha1.GitSource, rev string, gone error) (string, error) {
	key := src.Namespace + "/" + src.Name + "@" + rev
	if at, ok := r.unrestorable.Load(key); ok && r.Clock.Since(at.(time.Time)) < restoreRetry {
		return "", gone
	}
	start := r.Clock.Now()
	url, auth, err := sourceAccess(ctx, r.Client, src)
	if err != nil {
		return "", err
	}
	hist, err := gitsource.LoadHistory(ctx, url, src.Spec.Branch, auth, 0)
	if err != nil {
		return "", fmt.Errorf("%w; reading %s again failed: %w", gone, src.Spec.Branch, err)
	}
	if err := os.MkdirAll(r.Snapshots.Root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(r.Snapshots.Root, ".restore-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := hist.Export(rev, tmp); err != nil {
		r.unrestorable.Store(key, r.Clock.Now())
		return "", fmt.Errorf("%w; it is not in the last %d commits of %s either", gone, len(hist.Commits), src.Spec.Branch)
	}
	root, err := r.Snapshots.Store(src.Namespace, src.Name, rev, tmp)
	if err != nil {
		return "", err
	}
	r.unrestorable.Delete(key)
	ctrl.LoggerFrom(ctx).Info("restored a revision a stage holds from the source branch's history", "revision", short(rev), "duration", r.Clock.Since(start).Round(time.Millisecond).String())
	return root, nil
}

// planAtRoot is planAt for the files of rev in root (a snapshot, or the checkout of a pull
// request being previewed).
func (r *HydrationReconciler) planAtRoot(ctx context.Context, src *fleetv1alpha1.GitSource, head *hydrate.Fleet, root, rev string) *revisionPlan {
	f := *head
	f.Root, f.SourceCommit = root, rev
	if err := fleetAt(src, &f, root); err != nil {
		return &revisionPlan{err: fmt.Errorf("fleet objects of revision %s: %w", short(rev), err)}
	}
	return &revisionPlan{fleet: &f, plan: hydrate.Hydrate(ctx, &f, r.Renderer)}
}

// placementsAt returns the placements of src as a revision declares them, with the live
// placements' status (their current decisions keep scheduling stable), plus the live
// placements of src that were not applied from its fleetPath (made by hand), sorted by
// name.
func placementsAt(src *fleetv1alpha1.GitSource, declared, live []fleetv1alpha1.Placement) []fleetv1alpha1.Placement {
	status := map[string]fleetv1alpha1.PlacementStatus{}
	for _, p := range live {
		status[p.Name] = p.Status
	}
	var out []fleetv1alpha1.Placement
	for _, p := range declared {
		if p.Spec.SourceRef.Name != src.Name {
			continue
		}
		p.Namespace = src.Namespace
		p.Labels = withFleetSourceLabel(p.Labels, src.Name)
		p.Status = status[p.Name]
		out = append(out, p)
	}
	for _, p := range live {
		if p.Labels[FleetSourceLabel] != src.Name {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return dedupeByName(out, func(p fleetv1alpha1.Placement) string { return p.Name })
}

// overridesAt returns the overrides a revision declares plus the live ones not applied
// from src's fleetPath (by hand, or from another GitSource), sorted by name.
func overridesAt(src *fleetv1alpha1.GitSource, declared, live []fleetv1alpha1.Override) []fleetv1alpha1.Override {
	var out []fleetv1alpha1.Override
	for _, o := range declared {
		o.Namespace = src.Namespace
		o.Labels = withFleetSourceLabel(o.Labels, src.Name)
		out = append(out, o)
	}
	for _, o := range live {
		if o.Labels[FleetSourceLabel] != src.Name {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return dedupeByName(out, func(o fleetv1alpha1.Override) string { return o.Name })
}

// withFleetSourceLabel returns labels plus FleetSourceLabel=source, as applying the
// object from the fleetPath sets them (a copy: declared objects share their maps).
func withFleetSourceLabel(labels map[string]string, source string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[FleetSourceLabel] = source
	return out
}

// dedupeByName keeps the first of each name in a sorted list (a declared object wins over
// one made by hand with the same name: applying the revision will take it over).
func dedupeByName[T any](sorted []T, name func(T) string) []T {
	out := sorted[:0]
	for i, x := range sorted {
		if i > 0 && name(x) == name(sorted[i-1]) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// notifyPipelines wakes the Pipeline controller for the pipelines of the namespace when a
// branch moved, so that promotions see new stage heads at once instead of at the next poll.
func (r *HydrationReconciler) notifyPipelines(f *hydrate.Fleet, commits map[string]branchCommit) {
	if r.PipelineEvents == nil {
		return
	}
	moved := false
	for _, c := range commits {
		moved = moved || c.committed
	}
	if !moved {
		return
	}
	for i := range f.Pipelines {
		p := &fleetv1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: f.Pipelines[i].Namespace, Name: f.Pipelines[i].Name}}
		select {
		case r.PipelineEvents <- event.GenericEvent{Object: p}:
		default: // the controller is busy; its poll catches up
		}
	}
}

// writeBranch commits one branch. A branch with nothing of this source is only written
// when it exists (to clear what left); it is never created empty.
//
// With base set, b is written to branch (an approval pull request's branch), rebuilt on
// base's head at every pass, so a pull request whose base moved (someone pushed to the
// stage's branch) is rebuilt rather than left in conflict. A missing base is created first
// with a README only (a pull request needs a base branch).
func (r *HydrationReconciler) writeBranch(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, b *hydrate.Branch, branch, base string, onlyAtHeldRevision bool) (string, bool, error) {
	start := r.Clock.Now()
	url, auth, err := r.target(ctx, src, f, b)
	if err != nil {
		return "", false, err
	}
	if base != "" {
		if err := r.ensureBase(ctx, url, auth, b); err != nil {
			return "", false, err
		}
	} else if len(b.Pairs) == 0 {
		if _, err := gitsource.LsRemote(ctx, url, b.Name, auth); err != nil {
			if errors.Is(err, gitsource.ErrBranchNotFound) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("checking branch %s: %w", b.Name, err)
		}
	}
	source := hydrate.SourceRef{Repository: f.SourceURL, Branch: f.SourceBranch, Commit: f.SourceCommit}
	msg := commitMessage(f, b)
	if base != "" {
		msg = strings.Replace(msg, "gitfleet: render", "gitfleet: propose", 1)
	}
	skipped := ""
	res, err := r.Writer.Write(ctx, gitsource.WriteRequest{
		URL: url, Auth: auth, Branch: branch, BaseBranch: base, ResetToBase: base != "", Scope: hydrate.Scope,
		Update: func(current map[string][]byte) (map[string][]byte, error) {
			if onlyAtHeldRevision {
				if meta, err := parseMetadata(current[hydrate.MetadataFile]); err == nil && meta.Source.Commit != f.SourceCommit {
					// The branch holds another revision than the pipeline's status says
					// (an approval or rollback pull request was just merged): leave it; the
					// pipeline sees the new head and hydration follows.
					skipped = meta.Source.Commit
					return current, nil
				}
			}
			return b.Desired(current, source, r.Versions), nil
		},
		Message:  msg,
		Trailers: gitsource.StageTrailers(f.SourceCommit, b.Stage),
		Author:   r.Committer,
	})
	if err != nil {
		return "", false, fmt.Errorf("writing %s: %w", branch, err)
	}
	if skipped != "" {
		ctrl.LoggerFrom(ctx).V(1).Info("left a stage branch at the revision it holds", "branch", branch, "holds", skipped, "status", f.SourceCommit)
	}
	r.Metrics.observeCommit(branch, r.Clock.Now().Sub(start), res.Committed, res.Attempts-1)
	if res.Committed {
		ctrl.LoggerFrom(ctx).Info("committed environment branch", "branch", branch, "commit", res.Commit, "source", f.SourceCommit, "attempts", res.Attempts)
		if r.Recorder != nil {
			r.Recorder.Eventf(src, nil, corev1.EventTypeNormal, "Committed", "Hydrate", "%s: %s (from %s)", branch, short(res.Commit), short(f.SourceCommit))
		}
	}
	return res.Commit, res.Committed, nil
}

// ensureBase creates a stage's branch, with its README only, when it does not exist yet:
// the first approval pull request into a stage needs a base.
func (r *HydrationReconciler) ensureBase(ctx context.Context, url string, auth *gitsource.Auth, b *hydrate.Branch) error {
	if _, err := gitsource.LsRemote(ctx, url, b.Name, auth); err == nil {
		return nil
	} else if !errors.Is(err, gitsource.ErrBranchNotFound) {
		return fmt.Errorf("checking branch %s: %w", b.Name, err)
	}
	_, err := r.Writer.Write(ctx, gitsource.WriteRequest{
		URL: url, Auth: auth, Branch: b.Name, Scope: []string{hydrate.ReadmeFile},
		Files:   map[string][]byte{hydrate.ReadmeFile: []byte(fmt.Sprintf("# %s\n\nThis branch is written by gitfleet: it receives stage `%s` through approval pull requests.\n", b.Name, b.Stage))},
		Message: fmt.Sprintf("gitfleet: create %s for stage %s\n\nThe stage is promoted by approval pull requests; this is their base.", b.Name, b.Stage),
		Author:  r.Committer,
	})
	if err != nil {
		return fmt.Errorf("creating %s: %w", b.Name, err)
	}
	return nil
}

// target is the repository the branch goes to: the first of its pipelines with a
// targetRef, or the source itself.
func (r *HydrationReconciler) target(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, b *hydrate.Branch) (string, *gitsource.Auth, error) {
	t := src
	for _, name := range b.Pipelines {
		for i := range f.Pipelines {
			p := &f.Pipelines[i]
			if p.Name != name || p.Spec.TargetRef == nil || p.Spec.TargetRef.Name == src.Name {
				continue
			}
			t = &fleetv1alpha1.GitSource{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: p.Spec.TargetRef.Name}, t); err != nil {
				return "", nil, fmt.Errorf("pipeline %s: target GitSource %q: %w", p.Name, p.Spec.TargetRef.Name, err)
			}
		}
	}
	if t.Spec.SecretRef == nil {
		return t.Spec.URL, nil, nil
	}
	sec := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: t.Spec.SecretRef.Name}, sec); err != nil {
		return "", nil, fmt.Errorf("reading credentials Secret %q of GitSource %s: %w", t.Spec.SecretRef.Name, t.Name, err)
	}
	auth, err := gitsource.AuthFromSecret(sec)
	return t.Spec.URL, auth, err
}

func commitMessage(f *hydrate.Fleet, b *hydrate.Branch) string {
	clusters := map[string]bool{}
	placements := map[string]bool{}
	for _, p := range b.Pairs {
		clusters[p.Cluster] = true
		placements[p.Placement] = true
	}
	msg := fmt.Sprintf("gitfleet: render %s for stage %s\n\n%d clusters, %d placements, from %s@%s.",
		short(f.SourceCommit), b.Stage, len(clusters), len(placements), f.SourceBranch, f.SourceCommit)
	if len(b.Failed) > 0 {
		msg += fmt.Sprintf("\n%d cluster/placement folders kept at their last good render (see gitfleet.json stale).", len(b.Failed))
	}
	return msg
}

// knownBranches are the branches this source may have written: every stage branch of
// every pipeline, and env/default.
func knownBranches(f *hydrate.Fleet) []string {
	set := map[string]bool{"env/" + hydrate.DefaultStage: true}
	for _, p := range f.Pipelines {
		for _, s := range p.Spec.Stages {
			set[s.StageBranch()] = true
		}
	}
	return sortedKeys(set)
}

func stageName(f *hydrate.Fleet, branch string) string {
	for _, p := range f.Pipelines {
		for _, s := range p.Spec.Stages {
			if s.StageBranch() == branch {
				return s.Name
			}
		}
	}
	return hydrate.DefaultStage
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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

package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// Default polling of the Pipeline controller.
const (
	// DefaultPipelinePoll is how often stage heads and cluster health are re-read when
	// nothing else wakes the controller.
	DefaultPipelinePoll = 30 * time.Second
	// DefaultInFlightPoll is the poll while a promotion is being written.
	DefaultInFlightPoll = 2 * time.Second
)

// PipelineReconciler moves dry revisions through the stages of a Pipeline. It reads where
// each stage stands (the head of its branch and the dry revision its gitfleet.json names,
// and what the stage's clusters report), evaluates the gates of each later stage for the
// revision the previous stage holds, and promotes: for an Auto stage it sets the stage's
// targetRevision, which hydration then writes to the stage's branch.
type PipelineReconciler struct {
	Client client.Client
	// Records reads the Promotions at the start of each pass; the manager's API reader
	// (no cache) in the hub. A pass acts on the forge (opens pull requests), so it must
	// see what the previous pass recorded: from a lagging cache, a rollback pull request
	// merged seconds ago looked never opened and was opened again. Client when nil.
	Records client.Reader
	// Writer reads the gitfleet.json of stage branches (shared with hydration, so its
	// branch caches are warm).
	Writer    *gitsource.Writer
	Snapshots *Snapshots
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	Metrics   *Metrics
	// Events are Pipelines to reconcile now (hydration moved a branch; a webhook came).
	Events <-chan event.GenericEvent
	// HydrationEvents, when set, receives GitSources to hydrate now: an approval pull
	// request whose base moved is rebuilt on it.
	HydrationEvents chan<- event.GenericEvent
	// Poll and InFlightPoll default to DefaultPipelinePoll and DefaultInFlightPoll.
	Poll, InFlightPoll time.Duration
	// NewForge, when set, replaces the Forge built from a GitSource's spec.forge (the hub
	// passes its retry policy; tests pass doubles).
	NewForge func(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error)
	// BeforePass, when set, is called at the start of every pass, before anything is read:
	// a test hook that holds the controller at a known point (passes run one at a time, so
	// a pass blocked in it is the only one). Nil in the hub.
	BeforePass func(ctx context.Context, pipeline types.NamespacedName)

	// posted remembers the last commit status posted per pipeline, stage and commit.
	posted sync.Map
	// cleaned remembers the pull request branches this process tried to delete.
	cleaned sync.Map
}

var _ reconcile.Reconciler = (*PipelineReconciler)(nil)

// SetupWithManager registers the reconciler: it runs on spec changes and the
// reconcile.fluxcd.io/requestedAt annotation, when a MemberCluster's report changes, when a
// GitSource fetches a new revision, on Events, and every Poll.
func (r *PipelineReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Poll <= 0 {
		r.Poll = DefaultPipelinePoll
	}
	if r.InFlightPoll <= 0 {
		r.InFlightPoll = DefaultInFlightPoll
	}
	inNamespace := handler.EnqueueRequestsFromMapFunc(r.pipelinesInNamespace)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("pipeline").
		For(&fleetv1alpha1.Pipeline{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&fleetv1alpha1.MemberCluster{}, inNamespace, builder.WithPredicates(clusterReportChanged{})).
		Watches(&fleetv1alpha1.GitSource{}, inNamespace, builder.WithPredicates(revisionChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1})
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

func (r *PipelineReconciler) pipelinesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list fleetv1alpha1.PipelineList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Pipelines")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
	}
	return out
}

// pipelinePass is what one reconcile of a Pipeline learns and decides, step by step.
type pipelinePass struct {
	pipe *fleetv1alpha1.Pipeline
	now  time.Time
	// old is the status at the start of the pass, by stage name.
	old map[string]fleetv1alpha1.StageStatus
	// source is the GitSource the pipeline's placements render (the dry repo); nil when no
	// placement uses the pipeline. url and auth reach the env branches.
	source *fleetv1alpha1.GitSource
	url    string
	auth   *gitsource.Auth
	// clusters of each stage and their health, by stage name.
	clusters map[string][]*fleetv1alpha1.MemberCluster
	health   map[string]stageHealth
	// forge of the env branches' repository and dryForge of the fleet config repo (the
	// same when they are one repository); nil without a forge.
	forge, dryForge gitsource.Forge
	// gates evaluated for each later stage with a candidate revision, by stage name.
	gates map[string]stageGates
	// promotions of the pipeline by name; dirty names those changed in this pass.
	promotions map[string]*fleetv1alpha1.Promotion
	dirty      map[string]bool
	// requeue is the earliest time something may change by the clock alone.
	requeue time.Duration
}

// stageGates is the evaluation of one stage's gates for a candidate revision.
type stageGates struct {
	candidate string
	outcome   gateOutcome
}

func (p *pipelinePass) wakeIn(d time.Duration) { p.requeue = minPositive(p.requeue, d) }

// Reconcile reads as the steps of a pass; the deferred function summarises the
// conditions and patches the status once.
func (r *PipelineReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	if r.BeforePass != nil {
		r.BeforePass(ctx, req.NamespacedName)
	}
	pipe := &fleetv1alpha1.Pipeline{}
	if err := r.Client.Get(ctx, req.NamespacedName, pipe); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pipe.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, pipe) // pipeline_delete.go
	}
	if err := finalizer.Ensure(ctx, r.Client, pipe); err != nil {
		return ctrl.Result{}, err
	}
	end := outcome.Begin(r.Client, pipe)
	start := r.Clock.Now()
	pass := &pipelinePass{pipe: pipe, now: start, requeue: r.Poll, old: map[string]fleetv1alpha1.StageStatus{}, health: map[string]stageHealth{}}
	for _, s := range pipe.Status.Stages {
		pass.old[s.Name] = s
	}
	var err error
	defer func() {
		pipe.Status.Summary = pipelineSummary(pipe)
		res, retErr = end.Finish(ctx, err, outcome.Summary{
			ReadyMessage:       pipe.Status.Summary,
			ObservedGeneration: &pipe.Status.ObservedGeneration,
			RequeueAfter:       pass.requeue,
			Now:                start,
			Observe:            func(err error) { r.Metrics.observeReconcile("pipeline", start, err) },
		})
	}()

	for _, step := range []func(context.Context, *pipelinePass) error{
		r.resolveRepository, // which repo holds the stage branches, with which credentials and forge
		r.checkSourceLive,   // a GitSource being deleted stops the pipeline (pipeline_delete.go)
		r.loadPromotions,    // the records of past and current attempts
		r.observeStages,     // branch heads, their dry revisions, the clusters' health
		r.rollBack,          // rollbacks asked for: restore an earlier tree by pull request
		r.evaluateGates,     // for each later stage, the gates of the previous stage's revision
		r.promote,           // gates passed: set targetRevision for hydration to write
		r.followPromotions,  // each stage's attempt: merged, rejected, or its approval pull request opened (nextPromotion decides)
		r.recordPromotions,  // save the records, garbage-collect old ones
		r.cleanUpBranches,   // delete the branches of merged and closed pull requests
		r.postStageStatuses, // gitfleet/stage/<stage> on the dry commits
	} {
		if err = step(ctx, pass); err != nil {
			return
		}
	}
	return
}

// resolveRepository finds the GitSource whose placements use the pipeline (the dry repo)
// and the repository of the env branches: spec.targetRef, or that source.
func (r *PipelineReconciler) resolveRepository(ctx context.Context, p *pipelinePass) error {
	sourceName, err := PipelineSourceName(ctx, r.Client, p.pipe)
	if err != nil || sourceName == "" {
		return err
	}
	p.source = &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.pipe.Namespace, Name: sourceName}, p.source); err != nil {
		return outcome.WithReason(fleetv1alpha1.DependencyNotReadyReason, fmt.Errorf("GitSource %q of the pipeline's placements: %w", sourceName, err))
	}
	target := p.source
	if ref := p.pipe.Spec.TargetRef; ref != nil && ref.Name != sourceName {
		target = &fleetv1alpha1.GitSource{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.pipe.Namespace, Name: ref.Name}, target); err != nil {
			return outcome.WithReason(fleetv1alpha1.DependencyNotReadyReason, fmt.Errorf("target GitSource %q: %w", ref.Name, err))
		}
	}
	if p.url, p.auth, err = sourceAccess(ctx, r.Client, target); err != nil {
		return err
	}
	if p.forge, err = r.forgeFor(ctx, target); err != nil {
		return err
	}
	p.dryForge = p.forge
	if target != p.source {
		p.dryForge, err = r.forgeFor(ctx, p.source)
	}
	return err
}

// PipelineSourceName is the GitSource whose placements use the pipeline (the first such
// placement by name decides), "" when no placement uses it.
func PipelineSourceName(ctx context.Context, c client.Reader, pipe *fleetv1alpha1.Pipeline) (string, error) {
	var placements fleetv1alpha1.PlacementList
	if err := c.List(ctx, &placements, client.InNamespace(pipe.Namespace)); err != nil {
		return "", fmt.Errorf("listing Placements: %w", err)
	}
	return fleetv1alpha1.PipelineSourceName(pipe.Name, placements.Items), nil
}

// sourceAccess returns a GitSource's URL and credentials. Credentials never reach a log,
// condition or event.
func sourceAccess(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource) (string, *gitsource.Auth, error) {
	if src.Spec.SecretRef == nil {
		return src.Spec.URL, nil, nil
	}
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: src.Spec.SecretRef.Name}, sec); err != nil {
		return "", nil, outcome.WithReason(fleetv1alpha1.AuthenticationFailedReason, fmt.Errorf("reading credentials Secret %q of GitSource %s: %w", src.Spec.SecretRef.Name, src.Name, err))
	}
	auth, err := gitsource.AuthFromSecret(sec)
	if err != nil {
		return "", nil, outcome.WithReason(fleetv1alpha1.AuthenticationFailedReason, err)
	}
	return src.Spec.URL, auth, nil
}

// observeStages rebuilds status.stages from what is observed: for each stage, the head of
// its branch, the dry revision its gitfleet.json names (currentRevision; targetRevision is
// cleared once reached), and the health its clusters report for that head.
func (r *PipelineReconciler) observeStages(ctx context.Context, p *pipelinePass) error {
	if err := r.stageClusters(ctx, p); err != nil {
		return err
	}
	stages := make([]fleetv1alpha1.StageStatus, 0, len(p.pipe.Spec.Stages))
	var errs []error
	for _, s := range p.pipe.Spec.Stages {
		old := p.old[s.Name]
		st := old
		st.Name, st.Branch = s.Name, s.StageBranch()
		if p.url != "" {
			head, rev, err := r.readStageBranch(ctx, p, st.Branch, old)
			if err != nil {
				errs = append(errs, err)
			} else {
				st.RenderedCommit, st.CurrentRevision = head, rev
			}
		}
		if st.TargetRevision != "" && st.TargetRevision == st.CurrentRevision {
			st.TargetRevision = "" // reached: followPromotions records it Merged
		}
		statuses, err := r.clusterStatuses(ctx, p, st.RenderedCommit)
		if err != nil {
			errs = append(errs, err)
		}
		h := clusterHealth(p.clusters[s.Name], st.RenderedCommit, statuses)
		p.health[s.Name] = h
		st.Clusters, st.HealthyClusters = h.Total, h.Healthy
		st.HealthySince = nextHealthySince(old, st.RenderedCommit, h, p.now)
		st.Message = h.Message()
		switch {
		case st.TargetRevision != "":
			st.Message = "promoting " + fleetv1alpha1.ShortSHA(st.TargetRevision) + "; " + st.Message
			// An Auto promotion lands in seconds; an approval pull request waits for
			// people (webhooks bring its merge at once; the poll is the fallback).
			if s.Promotion != fleetv1alpha1.PromotionPullRequest {
				p.wakeIn(r.InFlightPoll)
			}
		case st.RenderedCommit == "":
			st.Message = "nothing promoted yet"
		}
		stages = append(stages, st)
	}
	p.pipe.Status.Stages = stages
	return errors.Join(errs...)
}

// clusterStatuses returns the newest commit status of every context on an env commit
// (the agents post gitfleet/cluster/<name> there); nil without a forge or a commit.
func (r *PipelineReconciler) clusterStatuses(ctx context.Context, p *pipelinePass, sha string) (map[string]gitsource.CommitState, error) {
	if p.forge == nil || sha == "" {
		return nil, nil
	}
	cs, err := p.forge.CombinedStatus(ctx, sha)
	if err != nil {
		return nil, forgeError("reading the agents' commit statuses on "+fleetv1alpha1.ShortSHA(sha), err)
	}
	out := make(map[string]gitsource.CommitState, len(cs.Statuses))
	for _, s := range cs.Statuses {
		out[s.Context] = s.State
	}
	return out, nil
}

// readStageBranch returns the head of a stage branch and the dry revision its
// gitfleet.json names; both empty when the branch does not exist yet. The head is read
// again after the file, so that a commit landing in between is never paired with the
// revision of another.
func (r *PipelineReconciler) readStageBranch(ctx context.Context, p *pipelinePass, branch string, old fleetv1alpha1.StageStatus) (string, string, error) {
	head, err := r.lsRemote(ctx, p, branch)
	if err != nil || head == "" {
		return "", "", err
	}
	if head == old.RenderedCommit && old.RenderedCommit != "" {
		return head, old.CurrentRevision, nil
	}
	for range 3 {
		files, err := r.Writer.ReadTree(ctx, p.url, branch, p.auth, hydrate.MetadataFile)
		if err != nil {
			return "", "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading %s of %s: %w", hydrate.MetadataFile, branch, err))
		}
		rev := ""
		// A stage branch created as the base of a first approval pull request holds no
		// gitfleet.json yet: no revision.
		if data, ok := files[hydrate.MetadataFile]; ok {
			meta, err := parseMetadata(data)
			if err != nil {
				return "", "", fmt.Errorf("%s of %s: %w", hydrate.MetadataFile, branch, err)
			}
			rev = meta.Source.Commit
		}
		again, err := r.lsRemote(ctx, p, branch)
		if err != nil {
			return "", "", err
		}
		if again == head {
			return head, rev, nil
		}
		head = again
	}
	return "", "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("%s moves too fast to be read; retrying", branch))
}

// lsRemote returns the head of branch, "" when it does not exist.
func (r *PipelineReconciler) lsRemote(ctx context.Context, p *pipelinePass, branch string) (string, error) {
	head, err := gitsource.LsRemote(ctx, p.url, branch, p.auth)
	if errors.Is(err, gitsource.ErrBranchNotFound) {
		return "", nil
	}
	if err != nil {
		return "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading head of %s: %w", branch, err))
	}
	return head, nil
}

// stageClusters sorts the namespace's MemberClusters into the pipeline's stages (a cluster
// belongs to the first stage whose selector matches it).
func (r *PipelineReconciler) stageClusters(ctx context.Context, p *pipelinePass) error {
	var list fleetv1alpha1.MemberClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(p.pipe.Namespace)); err != nil {
		return fmt.Errorf("listing MemberClusters: %w", err)
	}
	p.clusters = map[string][]*fleetv1alpha1.MemberCluster{}
	for i := range list.Items {
		mc := &list.Items[i]
		if stage, _ := hydrate.StageOf(p.pipe, mc); stage != "" {
			p.clusters[stage] = append(p.clusters[stage], mc)
		}
	}
	return nil
}

// evaluateGates evaluates, for each later stage, its gates for the revision the previous
// stage holds, when that revision is not already in the stage or moving into it.
func (r *PipelineReconciler) evaluateGates(_ context.Context, p *pipelinePass) error {
	p.gates = map[string]stageGates{}
	stages := p.pipe.Status.Stages
	for i := 1; i < len(stages); i++ {
		prev, cur := stages[i-1], &stages[i]
		candidate := prev.CurrentRevision
		if candidate == "" || candidate == cur.TargetRevision || (cur.TargetRevision == "" && candidate == cur.CurrentRevision) {
			continue
		}
		if p.rolledBackTo(prev.Name) == candidate {
			cur.Message += "; " + prev.Name + " was rolled back to " + fleetv1alpha1.ShortSHA(candidate) + ", which is not proposed to " + cur.Name
			continue
		}
		out := evaluateGates(p.pipe.Spec.Stages[i], prev, p.now)
		p.gates[cur.Name] = stageGates{candidate: candidate, outcome: out}
		if !out.Passed {
			cur.Message += "; " + fleetv1alpha1.ShortSHA(candidate) + " waits for " + out.Waiting()
			p.wakeIn(out.RetryAfter)
		}
	}
	return nil
}

// promote moves the candidates whose gates passed into their stages: the stage gets
// targetRevision, which hydration writes (to the stage's branch for Auto, to
// gitfleet/promote/<stage> for PullRequest), and a Promotion records the attempt. A newer
// candidate that passed the same gates supersedes a revision still moving in (an open
// pull request is then updated); a candidate whose pull request was closed unmerged is not
// proposed again.
func (r *PipelineReconciler) promote(ctx context.Context, p *pipelinePass) error {
	for i := range p.pipe.Status.Stages {
		st := &p.pipe.Status.Stages[i]
		g, ok := p.gates[st.Name]
		forced := p.requested(st.Name)
		if forced != nil && i > 0 && !r.resolveRevision(p, forced) {
			obs := p.observe(forced)
			obs.Problem = "revision " + forced.Spec.DryRevision + " is not one the hub fetched: give the full SHA of a fetched revision"
			r.advance(p, forced, obs)
			forced = nil
		} else if forced != nil && i > 0 {
			// `gitfleet promote --skip-gates`: the revision moves in now, the reason is recorded.
			g, ok = stageGates{candidate: forced.Spec.DryRevision, outcome: gateOutcome{Passed: true,
				Results: []fleetv1alpha1.GateResult{{Name: "skipped", Passed: true, Message: outcome.Truncate(forced.Spec.SkipGatesReason, 1024)}}}}, true
		}
		if !ok || !g.outcome.Passed {
			continue
		}
		// A promotion made by hand (--skip-gates) is not held back, and carries the attempt.
		record := forced
		if forced == nil {
			if why := p.heldBack(st.Name, g.candidate); why != "" {
				st.Message += "; " + fleetv1alpha1.ShortSHA(g.candidate) + " " + why
				continue
			}
			record = p.promotion(st.Name, g.candidate)
		}
		from := p.pipe.Spec.Stages[i-1].Name
		promo := r.startPromotionOn(p, record, st.Name, from, g.candidate, g.outcome.Results)
		if st.TargetRevision != "" {
			if old := p.promotion(st.Name, st.TargetRevision); old != nil && !old.Status.Phase.Finished() {
				old.Status.SupersededBy = promo.Name
				if old.Status.PullRequest != nil {
					// The same pull request carries the newer revision.
					promo.Status.PullRequest = &fleetv1alpha1.PullRequestRef{Number: old.Status.PullRequest.Number, URL: old.Status.PullRequest.URL, HeadBranch: old.Status.PullRequest.HeadBranch}
				}
				obs := p.observe(old)
				obs.SupersededBy = fleetv1alpha1.ShortSHA(g.candidate) + ", which passed the same gates"
				r.advance(p, old, obs)
			}
		}
		st.TargetRevision = g.candidate
		st.Promotion = promo.Name
		st.Message = "promoting " + fleetv1alpha1.ShortSHA(g.candidate) + " from " + from
		p.wakeIn(r.InFlightPoll)
		ctrl.LoggerFrom(ctx).Info("promoting", "stage", st.Name, "revision", g.candidate)
		r.event(p.pipe, corev1.EventTypeNormal, "Promoting", "%s: %s passed the gates", st.Name, fleetv1alpha1.ShortSHA(g.candidate))
	}
	if p.source != nil && r.Snapshots != nil {
		var pipes fleetv1alpha1.PipelineList
		if err := r.Client.List(ctx, &pipes, client.InNamespace(p.pipe.Namespace)); err == nil {
			for i := range pipes.Items {
				if pipes.Items[i].Name == p.pipe.Name {
					pipes.Items[i] = *p.pipe
				}
			}
			r.Snapshots.Pin(p.pipe.Namespace, hydrate.PinnedRevisions(pipes.Items))
		}
		r.Snapshots.PinSet(p.pipe.Namespace, "promotions/"+p.pipe.Name, p.promotionRevisions())
	}
	return nil
}

// resolveRevision expands a Promotion's short dryRevision to the full SHA of a revision the
// hub stored (a unique prefix); it reports false when there is none.
func (r *PipelineReconciler) resolveRevision(p *pipelinePass, pr *fleetv1alpha1.Promotion) bool {
	if p.source == nil || r.Snapshots == nil {
		return len(pr.Spec.DryRevision) == 40
	}
	full, ok := r.Snapshots.Resolve(p.source.Namespace, p.source.Name, pr.Spec.DryRevision)
	if ok {
		// The status says which commit moves in; the spec (immutable) keeps what was asked.
		pr.Spec.DryRevision = full
	}
	return ok
}

// requested returns the newest Promotion made by hand for stage with skipGates that the hub
// has not acted on yet (no phase).
func (p *pipelinePass) requested(stage string) *fleetv1alpha1.Promotion {
	var out *fleetv1alpha1.Promotion
	for _, pr := range p.promotions {
		if pr.Spec.Stage == stage && pr.Spec.SkipGates && pr.Status.Phase == "" &&
			(out == nil || pr.CreationTimestamp.After(out.CreationTimestamp.Time)) {
			out = pr
		}
	}
	return out
}

// pipelineSummary is "dev@1a2b3c4 staging@1a2b3c4 prod@-".
func pipelineSummary(p *fleetv1alpha1.Pipeline) string {
	parts := make([]string, 0, len(p.Status.Stages))
	for _, s := range p.Status.Stages {
		rev := "-"
		if s.CurrentRevision != "" {
			rev = fleetv1alpha1.ShortSHA(s.CurrentRevision)
		}
		part := s.Name + "@" + rev
		if s.TargetRevision != "" {
			part += "→" + fleetv1alpha1.ShortSHA(s.TargetRevision)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " ")
}

// clusterReportChanged passes MemberCluster events that change a stage's health: the
// applied commit, the Healthy condition, labels (stage membership) or state.
type clusterReportChanged struct{ predicate.Funcs }

// Update compares what clusterHealth reads.
func (clusterReportChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*fleetv1alpha1.MemberCluster), e.ObjectNew.(*fleetv1alpha1.MemberCluster)
	return healthKey(o) != healthKey(n)
}

func healthKey(mc *fleetv1alpha1.MemberCluster) string {
	s := fmt.Sprintf("%s|%v|%s|%v|", mc.Status.AppliedCommit, mc.Labels, mc.Spec.State, mc.DeletionTimestamp != nil)
	for _, c := range mc.Status.Conditions {
		if c.Type == fleetv1alpha1.HealthyCondition {
			s += string(c.Status)
		}
	}
	return s
}

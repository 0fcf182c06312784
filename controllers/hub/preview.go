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
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// previewMarker starts every preview comment, so people and tools can find them.
const previewMarker = "<!-- gitfleet:render -->"

// DefaultPreviewPoll is how often open pull requests are listed when no webhook comes.
const DefaultPreviewPoll = 2 * time.Minute

// PreviewReconciler shows reviewers what a pull request to the fleet config repo would
// change before it is merged. For each open pull request into the branch of a GitSource
// with spec.previewPullRequests, it renders the pull request's head with the hub's own code
// and the fleet as it is now (clusters, pipelines), compares it with the render of the
// branch head, or of the merge base when the pull request is behind the branch (what the
// pull request itself changes, as the forge's "files changed"), and reports: a commit status gitfleet/render on the pull request's head
// ("2 clusters change (vs main@1a2b3c4)", failure when a render fails) and, once per head
// commit, a comment with the per-cluster table and diffs. It runs on pull_request webhooks
// (Events), when the branch moves, and every Poll.
type PreviewReconciler struct {
	Client client.Client
	// Hydration renders (its fleet loading, snapshots and renderer are shared).
	Hydration *HydrationReconciler
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	Metrics   *Metrics
	// WorkDir holds the short-lived checkouts of pull request heads.
	WorkDir string
	// Events are GitSources whose pull requests changed (from the webhook receiver).
	Events <-chan event.GenericEvent
	// Poll defaults to DefaultPreviewPoll.
	Poll time.Duration
	// NewForge, when set, replaces the Forge built from a GitSource's spec.forge.
	NewForge func(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error)

	// reported remembers the (pull request head, branch head) pairs already reported, and
	// commented the heads already commented on.
	reported, commented sync.Map
}

// SetupWithManager registers the reconciler.
func (r *PreviewReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Poll <= 0 {
		r.Poll = DefaultPreviewPoll
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("preview").
		For(&fleetv1alpha1.GitSource{}, builder.WithPredicates(revisionChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1})
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

var _ reconcile.Reconciler = (*PreviewReconciler)(nil)

// previewPass is what one pass over a GitSource's pull requests learns, step by step.
type previewPass struct {
	src *fleetv1alpha1.GitSource
	// base is the commit of the branch head (the source's stored revision).
	base  string
	forge gitsource.Forge
	// prs are the open pull requests into the branch, by number.
	prs []*gitsource.PullRequest
	// branch is the render of the branch head, made for the first pull request that
	// needs it.
	branch *previewBase
}

// Reconcile previews the open pull requests of one GitSource that were not reported for
// their current head and the branch's current head. It reads as the steps of a pass; the
// deferred end records the outcome and turns the failures into the next retry (a pass
// has no status of its own: it reports on the forge).
func (r *PreviewReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	src := &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, req.NamespacedName, src); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !src.Spec.PreviewPullRequests || src.Spec.Forge == nil || src.Spec.Forge.Type == fleetv1alpha1.ForgeNone || src.Spec.Suspend || !src.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	_, base, ok := strings.Cut(src.Status.Revision, "@sha1:")
	if !ok {
		return ctrl.Result{RequeueAfter: r.Poll}, nil // not fetched yet; the fetch wakes us
	}
	p := &previewPass{src: src, base: base}
	start := r.Clock.Now()
	end := outcome.Begin(r.Client, nil)
	var err error
	defer func() {
		res, retErr = end.Finish(ctx, err, outcome.Summary{RequeueAfter: r.Poll, Observe: func(err error) {
			r.Metrics.observeReconcile("preview", start, err)
		}})
	}()

	for _, step := range []func(context.Context, *previewPass) error{
		r.connect,             // the forge of the source's repository
		r.listPullRequests,    // the open pull requests into the source's branch
		r.previewPullRequests, // each one not reported yet for its head and the branch head
	} {
		if err = step(ctx, p); err != nil || p.forge == nil {
			return
		}
	}
	return
}

// connect makes the forge client; none when the source has no forge.
func (r *PreviewReconciler) connect(ctx context.Context, p *previewPass) (err error) {
	p.forge, err = r.forge(ctx, p.src)
	return err
}

// listPullRequests lists the open pull requests into the branch.
func (r *PreviewReconciler) listPullRequests(ctx context.Context, p *previewPass) error {
	prs, err := p.forge.ListPullRequests(ctx, "", p.src.Spec.Branch, "open")
	if err != nil {
		return forgeError("listing the pull requests into "+p.src.Spec.Branch, err)
	}
	sort.Slice(prs, func(i, j int) bool { return prs[i].Number < prs[j].Number })
	p.prs = prs
	return nil
}

// previewPullRequests previews each pull request (not the hub's own, gitfleet/...) not
// reported yet for its head and the branch head. A pull request that fails does not stop
// the others.
func (r *PreviewReconciler) previewPullRequests(ctx context.Context, p *previewPass) error {
	src, base := p.src, p.base
	// The branch head is rendered once per pass, for the first pull request that needs it.
	baseOf := func() (*previewBase, error) {
		if p.branch == nil {
			var err error
			if p.branch, err = r.renderBase(ctx, src, base); err != nil {
				return nil, err
			}
		}
		return p.branch, nil
	}
	var errs []error
	for _, pr := range p.prs {
		if pr.Base != src.Spec.Branch || strings.HasPrefix(pr.Head, "gitfleet/") || pr.HeadSHA == "" {
			continue
		}
		key := fmt.Sprintf("%s/%s#%d@%s@%s", src.Namespace, src.Name, pr.Number, pr.HeadSHA, base)
		if _, ok := r.reported.Load(key); ok {
			continue
		}
		done, err := r.alreadyReported(ctx, p.forge, src, pr, base)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !done {
			if err := r.preview(ctx, p.forge, src, pr, base, baseOf); err != nil {
				errs = append(errs, fmt.Errorf("previewing #%d: %w", pr.Number, err))
				continue
			}
		}
		r.reported.Store(key, true)
	}
	return errors.Join(errs...)
}

func (r *PreviewReconciler) forge(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error) {
	if r.NewForge != nil {
		return r.NewForge(ctx, src)
	}
	return ForgeForSource(ctx, r.Client, src)
}

// statusSuffix names what a preview compared with: "(vs main@1a2b3c4)", the branch head
// or the merge base.
func statusSuffix(branch, base string) string {
	return fmt.Sprintf("(vs %s@%s)", branch, fleetv1alpha1.ShortSHA(base))
}

// alreadyReported reads the pull request head's gitfleet/render status: a final one
// against the same branch head means another pass (before a restart) reported it. A
// status for any branch head means the head was commented on already.
func (r *PreviewReconciler) alreadyReported(ctx context.Context, forge gitsource.Forge, src *fleetv1alpha1.GitSource, pr *gitsource.PullRequest, base string) (bool, error) {
	cs, err := forge.CombinedStatus(ctx, pr.HeadSHA)
	if err != nil {
		return false, forgeError(fmt.Sprintf("reading the statuses of #%d", pr.Number), err)
	}
	for _, st := range cs.Statuses {
		if st.Context != fleetv1alpha1.RenderStatusContext {
			continue
		}
		if st.State != gitsource.StatePending {
			r.commented.Store(pr.HeadSHA, true)
		}
		if st.State != gitsource.StatePending && strings.HasSuffix(st.Description, statusSuffix(src.Spec.Branch, base)) {
			return true, nil
		}
	}
	return false, nil
}

// preview renders one pull request and reports the outcome on the forge. A pull request
// that cannot be rendered (bad YAML, a template error) is reported as a failure, not
// returned: only failures to reach Git or the forge are errors.
func (r *PreviewReconciler) preview(ctx context.Context, forge gitsource.Forge, src *fleetv1alpha1.GitSource, pr *gitsource.PullRequest, base string, baseOf func() (*previewBase, error)) error {
	log := ctrl.LoggerFrom(ctx).WithValues("pullRequest", pr.Number, "head", fleetv1alpha1.ShortSHA(pr.HeadSHA))
	suffix := statusSuffix(src.Spec.Branch, base) // or the merge base, once known
	report := func(sha string, state gitsource.CommitState, desc string) error {
		if err := forge.SetStatus(ctx, sha, gitsource.CommitStatus{Context: fleetv1alpha1.RenderStatusContext, State: state, Description: outcome.Truncate(desc+" "+suffix, 140)}); err != nil {
			return forgeError(fmt.Sprintf("posting %s on #%d", fleetv1alpha1.RenderStatusContext, pr.Number), err)
		}
		return nil
	}
	if err := report(pr.HeadSHA, gitsource.StatePending, "rendering"); err != nil {
		return err
	}
	start := r.Clock.Now()
	if err := os.MkdirAll(r.WorkDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(r.WorkDir, "pr-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	url, auth, err := sourceAccess(ctx, r.Client, src)
	if err != nil {
		return err
	}
	hist, err := gitsource.LoadPullRequest(ctx, url, auth, gitsource.PullRequestRefs(pr.Number, pr.Head), src.Spec.Branch, 0)
	if err == nil {
		err = hist.Export(hist.Head, dir)
	}
	if err != nil {
		_ = report(pr.HeadSHA, gitsource.StateError, "could not fetch the pull request")
		return outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	head := hist.Head

	b, err := baseOf()
	if err != nil || b == nil {
		return err // nil, nil: the branch's revision is not stored yet; the next fetch wakes us
	}
	// A pull request is compared with where it left the branch (the merge base), as the
	// forge's "files changed" is: changes made to the branch since are not its own.
	against := base
	if mb := hist.MergeBase; mb != "" && mb != base {
		if b, err = r.renderMergeBase(ctx, src, hist, b.fleet); err != nil {
			return err
		}
		against = mb
		suffix = statusSuffix(src.Spec.Branch, against)
	}
	after := r.Hydration.planAtRoot(ctx, src, b.fleet, dir, head)
	var problems []string
	switch {
	case b.err != nil:
		problems = append(problems, fmt.Sprintf("%s at %s itself does not render: %v", src.Spec.Branch, fleetv1alpha1.ShortSHA(against), b.err))
	case after.err != nil:
		problems = append(problems, after.err.Error())
	default:
		problems = after.plan.Failures()
	}
	var changes []clusterChange
	if len(problems) == 0 {
		changes = diffTrees(b.files, clusterFiles(after.plan, hydrate.SourceRef{Repository: gitsource.RedactURL(src.Spec.URL), Branch: src.Spec.Branch, Commit: head}, b.files))
	}
	state, desc := gitsource.StateSuccess, "no cluster changes"
	switch {
	case len(problems) > 0:
		state, desc = gitsource.StateFailure, fmt.Sprintf("%d %s failed", len(problems), fleetv1alpha1.Plural(len(problems), "render", "renders"))
	case len(changes) > 0:
		desc = fmt.Sprintf("%d %s", len(changes), fleetv1alpha1.Plural(len(changes), "cluster changes", "clusters change"))
	}
	if _, done := r.commented.Load(head); !done {
		body := previewBody(src, against, head, against != base, problems, changes)
		if err := forge.Comment(ctx, pr.Number, body); err != nil {
			return forgeError(fmt.Sprintf("commenting on #%d", pr.Number), err)
		}
		r.commented.Store(head, true)
	}
	if err := report(head, state, desc); err != nil {
		return err
	}
	if head != pr.HeadSHA {
		// The pull request moved while it was rendered: its old head is not left pending.
		_ = report(pr.HeadSHA, gitsource.StateSuccess, "superseded by "+fleetv1alpha1.ShortSHA(head))
	}
	log.Info("previewed pull request", "state", state, "result", desc, "duration", r.Clock.Now().Sub(start).Round(time.Millisecond).String())
	if r.Recorder != nil {
		r.Recorder.Eventf(src, nil, corev1.EventTypeNormal, "PullRequestPreviewed", "Preview", "#%d at %s: %s %s", pr.Number, fleetv1alpha1.ShortSHA(head), desc, suffix)
	}
	return nil
}

// renderMergeBase renders the merge base of a pull request that is behind the branch,
// with the fleet of the branch head's render.
func (r *PreviewReconciler) renderMergeBase(ctx context.Context, src *fleetv1alpha1.GitSource, hist *gitsource.PullRequestHistory, fleet *hydrate.Fleet) (*previewBase, error) {
	dir, err := os.MkdirTemp(r.WorkDir, "merge-base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := hist.Export(hist.MergeBase, dir); err != nil {
		return nil, outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	return newPreviewBase(src, fleet, r.Hydration.planAtRoot(ctx, src, fleet, dir, hist.MergeBase), hist.MergeBase), nil
}

// newPreviewBase is the render rp of commit, to compare pull requests with.
func newPreviewBase(src *fleetv1alpha1.GitSource, fleet *hydrate.Fleet, rp *revisionPlan, commit string) *previewBase {
	if rp.err != nil {
		return &previewBase{fleet: fleet, err: rp.err}
	}
	return &previewBase{fleet: fleet, files: clusterFiles(rp.plan, hydrate.SourceRef{Repository: gitsource.RedactURL(src.Spec.URL), Branch: src.Spec.Branch, Commit: commit}, nil)}
}

// previewBase is the render of the branch head that pull requests are compared with.
type previewBase struct {
	// fleet is today's fleet (clusters, pipelines) without hydration's memo.
	fleet *hydrate.Fleet
	// files below clusters/ of every branch, or err when the branch head does not render.
	files map[string][]byte
	err   error
}

// renderBase renders the branch at its stored revision base; nil when the revision is not
// stored yet.
func (r *PreviewReconciler) renderBase(ctx context.Context, src *fleetv1alpha1.GitSource, base string) (*previewBase, error) {
	f, err := r.Hydration.loadFleet(ctx, src)
	if err != nil || f == nil {
		return nil, err
	}
	fleet := *f
	fleet.Memo = nil // previews leave hydration's memo alone
	return newPreviewBase(src, &fleet, r.Hydration.planAt(ctx, src, &fleet, base), base), nil
}

// clusterFiles returns the files below clusters/ of every branch of a plan as they would
// be written; an object whose content equals its file in current keeps that file (so a
// new dry revision alone is not a change).
func clusterFiles(plan *hydrate.Plan, src hydrate.SourceRef, current map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for _, b := range plan.Branches {
		for p, data := range b.Desired(current, src, hydrate.ToolVersions()) {
			if strings.HasPrefix(p, hydrate.ClustersDir) {
				out[p] = data
			}
		}
	}
	return out
}

// previewBody is the comment: what was compared, what fails, and the per-cluster changes.
func previewBody(src *fleetv1alpha1.GitSource, against, head string, behind bool, problems []string, changes []clusterChange) string {
	repo := gitsource.RedactURL(src.Spec.URL)
	var b strings.Builder
	b.WriteString(previewMarker + "\n### gitfleet: what merging this changes in the fleet\n\n")
	fmt.Fprintf(&b, "Rendered %s with the hub's code and the fleet as it is now (clusters, pipelines), compared with `%s` at %s", commitLink(repo, head), src.Spec.Branch, commitLink(repo, against))
	if behind {
		b.WriteString(", where this pull request left it (as the forge's files changed are): what changed in `" + src.Spec.Branch + "` since is not shown.")
	} else {
		b.WriteString(".")
	}
	b.WriteString(" Every stage gets this change in turn.\n\n")
	if len(problems) > 0 {
		fmt.Fprintf(&b, "**%d %s failed** — merging this would leave the affected clusters at their last good render:\n\n", len(problems), fleetv1alpha1.Plural(len(problems), "render", "renders"))
		for i, p := range problems {
			if i == maxClustersShown {
				fmt.Fprintf(&b, "- … %d more\n", len(problems)-i)
				break
			}
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(outcome.Truncate(p, 1000), "\n", " "))
		}
		return b.String()
	}
	writeChanges(&b, changes)
	return b.String()
}

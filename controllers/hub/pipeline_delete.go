package hub

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
)

// finalize runs while a Pipeline is being deleted: it closes the pipeline's open approval
// and rollback pull requests on the forge, each with a comment saying why, records their
// Promotions as Failed, and then removes the finalizer (the Promotions, owned by the
// Pipeline, are garbage-collected with it). A forge failure is reported (Ready=False
// CleanupFailed) and retried. When the forge can no longer be reached at all (no GitSource
// names the pipeline's repository any more, or its forge Secret is gone), waiting cannot
// help: the pull requests are left open, a Warning event names them, and the Pipeline is
// deleted.
func (r *PipelineReconciler) finalize(ctx context.Context, pipe *fleetv1alpha1.Pipeline) (ctrl.Result, error) {
	open, err := r.openPullRequests(ctx, pipe)
	if err == nil && len(open) > 0 {
		err = r.closePullRequests(ctx, pipe, open)
	}
	if err != nil {
		r.event(pipe, corev1.EventTypeWarning, fleetv1alpha1.CleanupFailedReason, "%s", outcome.Truncate(err.Error(), 1024))
		res, rerr := outcome.Result(err, 0)
		return res, errors.Join(rerr, finalizer.ReportFailed(ctx, r.Client, pipe, "pipeline", err))
	}
	if r.Snapshots != nil {
		r.Snapshots.PinSet(pipe.Namespace, "promotions/"+pipe.Name, nil) // its rollback targets
	}
	return ctrl.Result{}, finalizer.Remove(ctx, r.Client, pipe)
}

// openPullRequests returns the pipeline's Promotions whose pull request is still open
// (not finished), by pull request number.
func (r *PipelineReconciler) openPullRequests(ctx context.Context, pipe *fleetv1alpha1.Pipeline) ([]*fleetv1alpha1.Promotion, error) {
	var records client.Reader = r.Client
	if r.Records != nil {
		records = r.Records
	}
	var list fleetv1alpha1.PromotionList
	if err := records.List(ctx, &list, client.InNamespace(pipe.Namespace)); err != nil {
		return nil, fmt.Errorf("listing Promotions: %w", err)
	}
	var out []*fleetv1alpha1.Promotion
	for i := range list.Items {
		pr := &list.Items[i]
		if pr.Spec.PipelineRef.Name == pipe.Name && pr.Status.PullRequest != nil && !pr.Status.Phase.Finished() {
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Status.PullRequest.Number < out[j].Status.PullRequest.Number })
	return out, nil
}

// closePullRequests closes each open pull request with a comment and finishes its record.
func (r *PipelineReconciler) closePullRequests(ctx context.Context, pipe *fleetv1alpha1.Pipeline, open []*fleetv1alpha1.Promotion) error {
	forge, unreachable, err := r.deletionForge(ctx, pipe)
	if err != nil {
		return err
	}
	if unreachable != "" {
		nums := make([]string, 0, len(open))
		for _, pr := range open {
			nums = append(nums, fmt.Sprintf("#%d", pr.Status.PullRequest.Number))
		}
		r.event(pipe, corev1.EventTypeWarning, "PullRequestsLeftOpen", "the Pipeline is deleted, but its pull requests %s cannot be closed (%s): close them by hand", strings.Join(nums, ", "), unreachable)
		return nil
	}
	var errs []error
	for _, pr := range open {
		n := int(pr.Status.PullRequest.Number)
		got, err := forge.ClosePullRequestWithComment(ctx, n, closingComment(pipe, pr))
		if err != nil && !errors.Is(err, gitsource.ErrNotFound) {
			errs = append(errs, forgeError(fmt.Sprintf("closing pull request #%d of Promotion %s", n, pr.Name), err))
			continue
		}
		msg := fmt.Sprintf("the Pipeline was deleted: pull request #%d closed without merging", n)
		if got != nil && got.Merged {
			msg = fmt.Sprintf("the Pipeline was deleted after pull request #%d was merged", n)
		}
		if err := r.finishDeleted(ctx, pr, msg); err != nil {
			errs = append(errs, err)
		}
		ctrl.LoggerFrom(ctx).Info("closed the pull request of a deleted Pipeline", "pullRequest", n, "promotion", pr.Name)
	}
	return errors.Join(errs...)
}

// finishDeleted records a Promotion of a deleted pipeline as Failed (a retry then skips
// it); it may be gone already.
func (r *PipelineReconciler) finishDeleted(ctx context.Context, pr *fleetv1alpha1.Promotion, msg string) error {
	now := metav1.Now()
	pr.Status.Phase, pr.Status.CompletionTime = fleetv1alpha1.PromotionFailed, &now
	outcome.SetCondition(pr, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, string(fleetv1alpha1.PromotionFailed), msg)
	if err := r.Client.Status().Update(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of Promotion %s: %w", pr.Name, err)
	}
	return nil
}

// closingComment says on a pull request why gitfleet closes it.
func closingComment(pipe *fleetv1alpha1.Pipeline, pr *fleetv1alpha1.Promotion) string {
	what := "approval pull request"
	if pr.Spec.Rollback != nil {
		what = "rollback pull request"
	}
	return fmt.Sprintf("gitfleet: the Pipeline `%s/%s` was deleted, so this %s is closed without merging: nothing moves into stage `%s`. "+
		"The stage's branch is unchanged; a new Pipeline opens a new pull request when it promotes.",
		pipe.Namespace, pipe.Name, what, pr.Spec.Stage)
}

// deletionForge returns the forge of the pipeline's env branches for its deletion: that
// of spec.targetRef, else of the GitSource its placements use, else of the GitSource that
// applied the pipeline from its fleetPath. unreachable says why there is none when
// retrying cannot help (the GitSource or its forge Secret no longer exists).
func (r *PipelineReconciler) deletionForge(ctx context.Context, pipe *fleetv1alpha1.Pipeline) (forge gitsource.Forge, unreachable string, err error) {
	name := ""
	if ref := pipe.Spec.TargetRef; ref != nil {
		name = ref.Name
	}
	if name == "" {
		if name, err = PipelineSourceName(ctx, r.Client, pipe); err != nil {
			return nil, "", err
		}
	}
	if name == "" {
		name = pipe.Labels[fleetv1alpha1.FleetSourceLabel]
	}
	if name == "" {
		return nil, "no placement or GitSource names the pipeline's repository", nil
	}
	src := &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: pipe.Namespace, Name: name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("GitSource %q no longer exists", name), nil
		}
		return nil, "", fmt.Errorf("reading GitSource %q: %w", name, err)
	}
	forge, err = r.forgeFor(ctx, src)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("the forge Secret of GitSource %q no longer exists", name), nil
	case err != nil:
		return nil, "", err
	case forge == nil:
		return nil, fmt.Sprintf("GitSource %q has no forge", name), nil
	}
	return forge, "", nil
}

// checkSourceLive stops a pass while the pipeline's GitSource (or its target GitSource)
// is being deleted: nothing is promoted, Ready=False SourceDeleting says why, and the
// pipeline looks again at its poll. The stage branches stay as they are.
func (r *PipelineReconciler) checkSourceLive(ctx context.Context, p *pipelinePass) error {
	if p.source == nil {
		return nil
	}
	names := []string{p.source.Name}
	if ref := p.pipe.Spec.TargetRef; ref != nil && ref.Name != p.source.Name {
		names = append(names, ref.Name)
	}
	for _, name := range names {
		src := p.source
		if name != p.source.Name {
			src = &fleetv1alpha1.GitSource{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.pipe.Namespace, Name: name}, src); err != nil {
				return client.IgnoreNotFound(err)
			}
		}
		if !src.DeletionTimestamp.IsZero() {
			return outcome.Waiting(fleetv1alpha1.SourceDeletingReason, r.Poll,
				fmt.Errorf("GitSource %q is being deleted: the pipeline is stopped (its stage branches stay as they are)", name))
		}
	}
	return nil
}

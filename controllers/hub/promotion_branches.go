package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
)

// cleanUpBranches deletes the pull request branches (gitfleet/promote/<stage>,
// gitfleet/rollback/<stage>) of finished promotions when nextPromotion says so (merged or
// rejected in an earlier pass, shortly after, and nothing moving into a promotion's stage),
// and only while the branch still holds what the pull request carried (so a branch reused
// since is left alone). Each record is tried once per hub process.
func (r *PipelineReconciler) cleanUpBranches(ctx context.Context, p *pipelinePass) error {
	if p.url == "" {
		return nil
	}
	moving := map[string]bool{}
	for _, st := range p.pipe.Status.Stages {
		moving[st.Name] = st.TargetRevision != ""
	}
	for _, name := range slices.Sorted(maps.Keys(p.promotions)) {
		pr := p.promotions[name]
		if !pr.Status.Phase.Finished() {
			continue
		}
		obs := p.observe(pr)
		obs.Moving = moving[pr.Spec.Stage]
		if !nextPromotion(obs).DeleteBranch {
			continue
		}
		ref := pr.Status.PullRequest
		key := p.pipe.Namespace + "/" + pr.Name + "@" + ref.HeadCommit
		if _, tried := r.cleaned.LoadOrStore(key, true); tried {
			continue
		}
		err := r.Writer.DeleteBranch(ctx, p.url, ref.HeadBranch, p.auth, ref.HeadCommit)
		switch {
		case err == nil:
			ctrl.LoggerFrom(ctx).V(1).Info("deleted pull request branch", "branch", ref.HeadBranch, "promotion", pr.Name)
		case errors.Is(err, gitsource.ErrConflict):
			// Reused for a newer pull request: not ours to delete.
		default:
			r.cleaned.Delete(key)
			return outcome.WithReason(fleetv1alpha1.CommitFailedReason, fmt.Errorf("deleting %s: %w", ref.HeadBranch, err))
		}
	}
	return nil
}

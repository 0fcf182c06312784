package hub

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
)

// The pull requests of promotions: the approval pull request of a PullRequest stage
// (proposeApproval) and the rollback pull request (syncRollback) are read with
// readPullRequest and opened or updated with openOrUpdatePullRequest. What their state
// means for the Promotion is decided by nextPromotion (promotion_lifecycle.go).

// readPullRequest asks the forge for the state of a recorded pull request; what names it
// in errors ("pull request", "rollback pull request").
func (p *pipelinePass) readPullRequest(ctx context.Context, ref *fleetv1alpha1.PullRequestRef, what string) (*gitsource.PullRequest, *prObservation, error) {
	pr, err := p.forge.GetPullRequest(ctx, int(ref.Number))
	if err != nil {
		return nil, nil, forgeError(fmt.Sprintf("reading %s #%d", what, ref.Number), err)
	}
	return pr, &prObservation{Number: pr.Number, Closed: pr.State == gitsource.PRClosed, Merged: pr.Merged}, nil
}

// proposeApproval keeps the approval pull request of a PullRequest stage with a target
// revision in step: once hydration has pushed the render to gitfleet/promote/<stage>, it
// opens the pull request (or updates the open one, pr when read in this pass: title, body
// with the per-cluster changes, the gate status on its head), and the Promotion is Open.
func (r *PipelineReconciler) proposeApproval(ctx context.Context, p *pipelinePass, i int, promo *fleetv1alpha1.Promotion, pr *gitsource.PullRequest) error {
	st := &p.pipe.Status.Stages[i]
	if old := p.old[st.Name].RenderedCommit; old != "" && old != st.RenderedCommit {
		// The stage's branch moved under the pull request (someone pushed to it): rebuild
		// the pull request's branch on the new head.
		r.rehydrate(p, st.Branch+" moved")
	}
	if pr != nil && pr.Mergeable != nil && !*pr.Mergeable {
		r.rehydrate(p, fmt.Sprintf("#%d conflicts with %s", pr.Number, st.Branch))
	}
	headBranch := fleetv1alpha1.PromoteBranch(st.Name)
	head, rev, err := r.readStageBranch(ctx, p, headBranch, fleetv1alpha1.StageStatus{})
	if err != nil {
		return err
	}
	if head == "" || rev != st.TargetRevision {
		st.Message = "preparing the approval pull request for " + fleetv1alpha1.ShortSHA(st.TargetRevision)
		p.wakeIn(r.InFlightPoll)
		return nil
	}
	ref := promo.Status.PullRequest
	if ref != nil && ref.HeadCommit == head {
		st.Message = fmt.Sprintf("awaiting approval #%d", ref.Number)
		return nil
	}
	title, body, err := r.pullRequestText(ctx, p, i, head)
	if err != nil {
		return err
	}
	pr, created, err := p.openOrUpdatePullRequest(ctx, gitsource.NewPullRequest{Title: title, Body: body, Head: headBranch, Base: st.Branch,
		Labels: append([]string{fleetv1alpha1.PromotionPullRequestLabel}, p.pipe.Spec.PullRequestLabels...)}, "approval pull request")
	if err != nil {
		return err
	}
	if created {
		r.event(p.pipe, corev1.EventTypeNormal, "PullRequestOpened", "%s: #%d %s", st.Name, pr.Number, pr.URL)
	}
	if err := p.forge.SetStatus(ctx, head, gitsource.CommitStatus{Context: fleetv1alpha1.GatePreviousStageStatusContext, State: gitsource.StateSuccess,
		Description: outcome.Truncate(p.pipe.Spec.Stages[i-1].Name+": "+p.pipe.Status.Stages[i-1].Message, 140)}); err != nil {
		return forgeError("posting the gate status on the pull request", err)
	}
	obs := p.observe(promo)
	obs.Proposed = pr.Number
	r.advance(p, promo, obs)
	promo.Status.PullRequest = &fleetv1alpha1.PullRequestRef{Number: int32(pr.Number), URL: pr.URL, HeadBranch: headBranch, HeadCommit: head}
	promo.Status.RenderedCommit = head
	p.dirty[promo.Name] = true
	st.Message = fmt.Sprintf("awaiting approval #%d", pr.Number)
	return nil
}

// openOrUpdatePullRequest updates the open pull request from want.Head into want.Base
// (title and body), or opens one with want's labels; what names it in errors.
func (p *pipelinePass) openOrUpdatePullRequest(ctx context.Context, want gitsource.NewPullRequest, what string) (*gitsource.PullRequest, bool, error) {
	open, err := p.forge.ListPullRequests(ctx, want.Head, want.Base, "open")
	if err != nil {
		return nil, false, forgeError("listing pull requests", err)
	}
	if len(open) > 0 {
		pr, err := p.forge.UpdatePullRequest(ctx, open[0].Number, want.Title, want.Body)
		if err != nil {
			return nil, false, forgeError(fmt.Sprintf("updating %s #%d", what, open[0].Number), err)
		}
		return pr, false, nil
	}
	pr, err := p.forge.CreatePullRequest(ctx, want)
	if err != nil {
		return nil, false, forgeError("opening the "+what+" into "+want.Base, err)
	}
	return pr, true, nil
}

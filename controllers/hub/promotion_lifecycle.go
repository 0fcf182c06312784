package hub

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// The lifecycle of a Promotion (an Auto or approval promotion of a dry revision, or a
// rollback) is decided here, by one pure function: nextPromotion takes what a pass
// observed of one attempt (what the hub decided before asking: start, supersede, a
// problem; what the stage's branch and the forge say: carried, the pull request's state)
// and returns the next phase, the message and what to do. The reconciler observes, calls
// it, and acts on the decision (PipelineReconciler.advance writes the phase, in one
// place); docs/promotion.md has the table of phases.
//
//	(new) ──start──▶ Pending ──pull request opened──▶ Open
//	Pending, Open ──merged──▶ Merged          (the one rule: see merged below)
//	Pending, Open ──pull request closed unmerged──▶ Rejected
//	Pending, Open ──a newer attempt passed the same gates──▶ Superseded
//	Pending, Open ──cannot be carried out──▶ Failed
//	Merged, Rejected ──shortly after──▶ the pull request branch is deleted
//	Merged, Superseded, Rejected, Failed ──start again (proposed once more)──▶ Pending

// prObservation is what the forge says of a recorded pull request in this pass.
type prObservation struct {
	Number int
	// Closed is true once the pull request is merged or closed; Merged tells which.
	Closed, Merged bool
}

// promotionObservation is what one pass knows of one attempt.
type promotionObservation struct {
	// Name, Stage and Branch (the stage's branch) name the attempt in messages.
	Name, Stage, Branch string
	// Phase is the recorded phase ("" for a record the hub has not acted on).
	Phase fleetv1alpha1.PromotionPhase
	// Rollback is true for a rollback (it restores RestoredCommit's tree); else it is a
	// promotion of a dry revision.
	Rollback bool
	// Revision is the dry revision it brings into the stage (a rollback: the restored
	// commit's); RestoredCommit the env commit a rollback restores.
	Revision, RestoredCommit string
	// Head is the head of the stage's branch as last read, recorded as the Promotion's
	// renderedCommit once merged ("" leaves it as it is).
	Head string

	// Start is true when the hub starts (or restarts) the attempt in this pass: its gates
	// passed, it was asked with skipGates, or a rollback request is seen for the first time.
	Start bool
	// Problem says why it cannot be carried out ("" when it can).
	Problem string
	// SupersededBy names what replaces it ("" when nothing does): a newer revision that
	// passed the same gates, or a newer rollback of the same stage.
	SupersededBy string

	// Carried is true when the stage's branch holds what the attempt brings: its
	// gitfleet.json names the revision (a promotion), or writing the rollback branch found
	// the stage's branch already holding the restored tree (a rollback).
	Carried bool
	// PullRequest is its recorded pull request as the forge reports it now; nil when none
	// is recorded or it was not read.
	PullRequest *prObservation
	// Proposed is the number of the pull request opened or updated for it in this pass, 0
	// when none was.
	Proposed int

	// Now, Completed (the recorded completionTime, nil when unfinished), Moving (something
	// is moving into the stage) and HasBranch (a pull request branch and the commit it
	// carried are recorded) decide the clean-up of a finished attempt's branch.
	Now       time.Time
	Completed *time.Time
	Moving    bool
	HasBranch bool
}

// promotionEvent is an event on the Pipeline.
type promotionEvent struct {
	Type, Reason, Message string
}

// promotionDecision is what to do with one attempt.
type promotionDecision struct {
	// Phase is the next phase (the recorded one when it does not change).
	Phase fleetv1alpha1.PromotionPhase
	// Message explains a change of phase (the Promotion's Ready condition).
	Message string
	// Event, when set, is recorded on the Pipeline.
	Event *promotionEvent
	// Propose: go on building the attempt (hydration writes the revision; the hub writes
	// the rollback branch and opens or updates the pull request).
	Propose bool
	// Wait: look again soon (the branch or the forge is catching up, or the finished
	// attempt's branch is deleted by the next pass).
	Wait bool
	// DeleteBranch: delete the pull request branch of a finished attempt (if it still
	// holds what the pull request carried).
	DeleteBranch bool
}

// changed reports whether the decision moves the attempt to another phase (or starts it
// again).
func (d promotionDecision) changed(obs promotionObservation) bool {
	return d.Phase != obs.Phase || obs.Start
}

// merged is the one rule for "merged", the same for Auto promotions, approval pull
// requests and rollback pull requests: the forge reports the pull request merged, or the
// stage's branch carries the change and no pull request of it is open. A branch that
// carries it while its pull request still reads open is a merge the forge has not
// reported yet (Gitea moves the branch a moment before it marks the pull request merged,
// and a merge may land in the middle of a pass): the hub waits for the forge.
func merged(obs promotionObservation) bool {
	pr := obs.PullRequest
	return (pr != nil && pr.Merged) || (obs.Carried && (pr == nil || pr.Closed))
}

// nextPromotion decides the next step of one attempt from what was observed. It is pure:
// the reconciler acts on the decision (PipelineReconciler.advance).
func nextPromotion(obs promotionObservation) promotionDecision {
	keep := promotionDecision{Phase: obs.Phase}
	pr := obs.PullRequest
	switch {
	case obs.Start:
		return promotionDecision{Phase: fleetv1alpha1.PromotionPending, Propose: true}
	case obs.Phase.Finished():
		keep.DeleteBranch = deleteBranch(obs)
		return keep
	case obs.Problem != "":
		return failed(obs, obs.Problem)
	case obs.SupersededBy != "":
		return promotionDecision{Phase: fleetv1alpha1.PromotionSuperseded, Message: "superseded by " + obs.SupersededBy}
	case obs.Rollback && obs.Carried && pr == nil:
		// The branch held the restored tree before a pull request was opened: not the
		// rollback's doing (a promotion is proposed once started, a rollback once its pull
		// request exists).
		return failed(obs, fmt.Sprintf("%s already holds the tree of %s: nothing to roll back", obs.Branch, fleetv1alpha1.ShortSHA(obs.RestoredCommit)))
	case merged(obs):
		return mergedDecision(obs)
	case obs.Carried:
		keep.Wait = true // the forge has not reported the merge yet
		return keep
	case pr != nil && pr.Closed:
		d := promotionDecision{Phase: fleetv1alpha1.PromotionRejected, Message: fmt.Sprintf("#%d was closed without merging", pr.Number)}
		if obs.Rollback {
			d.Wait = true // the branch is deleted by the next pass
			d.Event = &promotionEvent{corev1.EventTypeNormal, fleetv1alpha1.RejectedReason, fmt.Sprintf("%s: rollback #%d closed without merging", obs.Stage, pr.Number)}
		} else {
			d.Event = &promotionEvent{corev1.EventTypeNormal, fleetv1alpha1.RejectedReason, fmt.Sprintf("%s rejected: #%d closed without merging", fleetv1alpha1.ShortSHA(obs.Revision), pr.Number)}
		}
		return d
	case obs.Proposed != 0:
		return promotionDecision{Phase: fleetv1alpha1.PromotionOpen, Message: fmt.Sprintf("awaiting approval of #%d", obs.Proposed)}
	}
	keep.Propose = true
	return keep
}

func mergedDecision(obs promotionObservation) promotionDecision {
	d := promotionDecision{Phase: fleetv1alpha1.PromotionMerged, Message: fmt.Sprintf("%s is in %s", fleetv1alpha1.ShortSHA(obs.Revision), obs.Stage)}
	if obs.Rollback {
		n := 0
		if obs.PullRequest != nil {
			n = obs.PullRequest.Number
		}
		d.Message = fmt.Sprintf("#%d merged: %s holds the tree of %s again", n, obs.Branch, fleetv1alpha1.ShortSHA(obs.RestoredCommit))
		d.Event = &promotionEvent{corev1.EventTypeNormal, fleetv1alpha1.RolledBackReason, fmt.Sprintf("%s: rolled back to %s by #%d", obs.Stage, fleetv1alpha1.ShortSHA(obs.Revision), n)}
		d.Wait = true // the branch is deleted by the next pass
	}
	return d
}

func failed(obs promotionObservation, msg string) promotionDecision {
	d := promotionDecision{Phase: fleetv1alpha1.PromotionFailed, Message: msg}
	if obs.Rollback {
		d.Event = &promotionEvent{corev1.EventTypeWarning, fleetv1alpha1.RollbackFailedReason, fmt.Sprintf("%s: %s", obs.Name, msg)}
	}
	return d
}

// branchCleanupWindow is how long after a promotion finished its pull request branch is
// deleted; older records are left alone (their branches were handled, or reused since).
const branchCleanupWindow = 10 * time.Minute

// deleteBranch: the pull request branch (gitfleet/promote/<stage>,
// gitfleet/rollback/<stage>) of an attempt merged or rejected in an earlier pass is
// deleted within branchCleanupWindow, but not while a revision moves into the stage of a
// promotion (hydration may be writing gitfleet/promote/<stage> for it).
func deleteBranch(obs promotionObservation) bool {
	if !obs.HasBranch || obs.Completed == nil ||
		(obs.Phase != fleetv1alpha1.PromotionMerged && obs.Phase != fleetv1alpha1.PromotionRejected) {
		return false
	}
	done := *obs.Completed
	if !done.Before(obs.Now) || obs.Now.Sub(done) > branchCleanupWindow {
		return false
	}
	return obs.Rollback || !obs.Moving
}

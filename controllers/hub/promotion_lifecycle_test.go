package hub

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

const (
	revA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	envC = "cccccccccccccccccccccccccccccccccccccccc"
)

// TestNextPromotion walks every transition of a Promotion through nextPromotion: what a
// pass observed in, the phase, message, event and action out.
func TestNextPromotion(t *testing.T) {
	const (
		pending, open, merged = fleetv1alpha1.PromotionPending, fleetv1alpha1.PromotionOpen, fleetv1alpha1.PromotionMerged
		superseded, rejected  = fleetv1alpha1.PromotionSuperseded, fleetv1alpha1.PromotionRejected
		failedPhase           = fleetv1alpha1.PromotionFailed
	)
	approval := func(phase fleetv1alpha1.PromotionPhase) promotionObservation {
		return promotionObservation{Name: "release-prod-aaaaaaaaaaaa", Stage: "prod", Branch: "env/prod", Phase: phase, Revision: revA, Now: t0}
	}
	rollback := func(phase fleetv1alpha1.PromotionPhase) promotionObservation {
		return promotionObservation{Name: "release-prod-rollback-x", Stage: "prod", Branch: "env/prod", Phase: phase, Rollback: true,
			Revision: revA, RestoredCommit: envC, Now: t0}
	}
	with := func(obs promotionObservation, f func(*promotionObservation)) promotionObservation {
		f(&obs)
		return obs
	}
	openPR := &prObservation{Number: 7}
	mergedPR := &prObservation{Number: 7, Closed: true, Merged: true}
	closedPR := &prObservation{Number: 7, Closed: true}
	ago := func(d time.Duration) *time.Time { at := t0.Add(-d); return &at }

	tests := map[string]struct {
		obs  promotionObservation
		want promotionDecision
	}{
		// Start.
		"a new attempt whose gates passed starts Pending": {
			obs:  with(approval(""), func(o *promotionObservation) { o.Start = true }),
			want: promotionDecision{Phase: pending, Propose: true},
		},
		"a finished attempt proposed again starts over": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.Start = true }),
			want: promotionDecision{Phase: pending, Propose: true},
		},
		"a rollback request seen for the first time starts Pending": {
			obs:  with(rollback(""), func(o *promotionObservation) { o.Start = true }),
			want: promotionDecision{Phase: pending, Propose: true},
		},
		// In flight.
		"an Auto promotion not in the branch yet goes on (hydration writes it)": {
			obs:  approval(pending),
			want: promotionDecision{Phase: pending, Propose: true},
		},
		"an approval whose pull request is opened is Open": {
			obs:  with(approval(pending), func(o *promotionObservation) { o.Proposed = 7 }),
			want: promotionDecision{Phase: open, Message: "awaiting approval of #7"},
		},
		"an open approval pull request is kept up to date": {
			obs:  with(approval(open), func(o *promotionObservation) { o.PullRequest = openPR }),
			want: promotionDecision{Phase: open, Propose: true},
		},
		"an updated pull request leaves the phase Open": {
			obs:  with(approval(open), func(o *promotionObservation) { o.PullRequest, o.Proposed = openPR, 7 }),
			want: promotionDecision{Phase: open, Message: "awaiting approval of #7"},
		},
		"a rollback whose pull request is opened is Open": {
			obs:  with(rollback(pending), func(o *promotionObservation) { o.Proposed = 3 }),
			want: promotionDecision{Phase: open, Message: "awaiting approval of #3"},
		},
		// Merged: one rule for Auto, approval and rollback.
		"an Auto promotion is Merged when the stage's branch names its revision": {
			obs:  with(approval(pending), func(o *promotionObservation) { o.Carried = true }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		"an approval is Merged when the forge reports it merged and the branch carries it": {
			obs:  with(approval(open), func(o *promotionObservation) { o.Carried, o.PullRequest = true, mergedPR }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		"an approval is Merged when the forge reports it merged, before the branch is read carrying it": {
			obs:  with(approval(open), func(o *promotionObservation) { o.PullRequest = mergedPR }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		"an approval merged before the forge reports it waits for the forge": {
			obs:  with(approval(open), func(o *promotionObservation) { o.Carried, o.PullRequest = true, openPR }),
			want: promotionDecision{Phase: open, Wait: true},
		},
		"a rollback is Merged when the forge reports its pull request merged": {
			obs: with(rollback(open), func(o *promotionObservation) { o.PullRequest = mergedPR }),
			want: promotionDecision{Phase: merged, Message: "#7 merged: env/prod holds the tree of ccccccc again", Wait: true,
				Event: &promotionEvent{corev1.EventTypeNormal, "RolledBack", "prod: rolled back to aaaaaaa by #7"}},
		},
		"a rollback merged before the forge reports it waits for the forge (Gitea moves the branch first)": {
			obs:  with(rollback(open), func(o *promotionObservation) { o.Carried, o.PullRequest = true, openPR }),
			want: promotionDecision{Phase: open, Wait: true},
		},
		"a branch that carries the change while its pull request was closed unmerged has it merged": {
			obs:  with(approval(open), func(o *promotionObservation) { o.Carried, o.PullRequest = true, closedPR }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		// Rejected.
		"an approval pull request closed unmerged rejects the revision": {
			obs: with(approval(open), func(o *promotionObservation) { o.PullRequest = closedPR }),
			want: promotionDecision{Phase: rejected, Message: "#7 was closed without merging",
				Event: &promotionEvent{corev1.EventTypeNormal, fleetv1alpha1.RejectedReason, "aaaaaaa rejected: #7 closed without merging"}},
		},
		"a rollback pull request closed unmerged drops the rollback": {
			obs: with(rollback(open), func(o *promotionObservation) { o.PullRequest = closedPR }),
			want: promotionDecision{Phase: rejected, Message: "#7 was closed without merging", Wait: true,
				Event: &promotionEvent{corev1.EventTypeNormal, fleetv1alpha1.RejectedReason, "prod: rollback #7 closed without merging"}},
		},
		// Superseded.
		"a newer revision that passed the same gates supersedes an open approval": {
			obs:  with(approval(open), func(o *promotionObservation) { o.SupersededBy = "bbbbbbb, which passed the same gates" }),
			want: promotionDecision{Phase: superseded, Message: "superseded by bbbbbbb, which passed the same gates"},
		},
		"a newer rollback supersedes an unfinished one": {
			obs:  with(rollback(pending), func(o *promotionObservation) { o.SupersededBy = "the newer rollback y" }),
			want: promotionDecision{Phase: superseded, Message: "superseded by the newer rollback y"},
		},
		// Failed.
		"a skip-gates promotion of a revision the hub never fetched fails": {
			obs:  with(approval(""), func(o *promotionObservation) { o.Problem = "revision 1234567 is not one the hub fetched" }),
			want: promotionDecision{Phase: failedPhase, Message: "revision 1234567 is not one the hub fetched"},
		},
		"a rollback that cannot be carried out fails, with an event": {
			obs: with(rollback(pending), func(o *promotionObservation) { o.Problem = "stage dev is rendered from the head" }),
			want: promotionDecision{Phase: failedPhase, Message: "stage dev is rendered from the head",
				Event: &promotionEvent{corev1.EventTypeWarning, "RollbackFailed", "release-prod-rollback-x: stage dev is rendered from the head"}},
		},
		"a rollback whose branch holds the tree before any pull request has nothing to roll back": {
			obs: with(rollback(pending), func(o *promotionObservation) { o.Carried = true }),
			want: promotionDecision{Phase: failedPhase, Message: "env/prod already holds the tree of ccccccc: nothing to roll back",
				Event: &promotionEvent{corev1.EventTypeWarning, "RollbackFailed", "release-prod-rollback-x: env/prod already holds the tree of ccccccc: nothing to roll back"}},
		},
		"a problem does not touch a finished attempt": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.Problem = "late" }),
			want: promotionDecision{Phase: merged},
		},
		// Hub restart: the state is rebuilt from the records and the forge.
		"after a restart, an Open approval the forge reports merged is Merged": {
			obs:  with(approval(open), func(o *promotionObservation) { o.Carried, o.PullRequest = true, mergedPR }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		"after a restart, a Pending record whose revision the branch holds is Merged": {
			obs:  with(approval(pending), func(o *promotionObservation) { o.Carried = true }),
			want: promotionDecision{Phase: merged, Message: "aaaaaaa is in prod"},
		},
		"after a restart, an Open rollback whose pull request is still open goes on": {
			obs:  with(rollback(open), func(o *promotionObservation) { o.PullRequest = openPR }),
			want: promotionDecision{Phase: open, Propose: true},
		},
		// The branch of a finished attempt.
		"the branch of an approval merged a minute ago is deleted": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.HasBranch, o.Completed = true, ago(time.Minute) }),
			want: promotionDecision{Phase: merged, DeleteBranch: true},
		},
		"the branch of a rejected rollback is deleted": {
			obs:  with(rollback(rejected), func(o *promotionObservation) { o.HasBranch, o.Completed = true, ago(time.Minute) }),
			want: promotionDecision{Phase: rejected, DeleteBranch: true},
		},
		"the branch of an approval is kept while a revision moves into its stage": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.HasBranch, o.Completed, o.Moving = true, ago(time.Minute), true }),
			want: promotionDecision{Phase: merged},
		},
		"the branch of a rollback is deleted while a revision moves into its stage": {
			obs:  with(rollback(merged), func(o *promotionObservation) { o.HasBranch, o.Completed, o.Moving = true, ago(time.Minute), true }),
			want: promotionDecision{Phase: merged, DeleteBranch: true},
		},
		"the branch of an attempt finished in this pass is left for the next": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.HasBranch, o.Completed = true, ago(0) }),
			want: promotionDecision{Phase: merged},
		},
		"the branch of an attempt finished long ago is left alone": {
			obs:  with(approval(merged), func(o *promotionObservation) { o.HasBranch, o.Completed = true, ago(branchCleanupWindow+time.Second) }),
			want: promotionDecision{Phase: merged},
		},
		"the branch of a superseded attempt is kept (its pull request goes on)": {
			obs:  with(approval(superseded), func(o *promotionObservation) { o.HasBranch, o.Completed = true, ago(time.Minute) }),
			want: promotionDecision{Phase: superseded},
		},
		"an attempt without a recorded branch deletes nothing": {
			obs:  with(approval(rejected), func(o *promotionObservation) { o.Completed = ago(time.Minute) }),
			want: promotionDecision{Phase: rejected},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := nextPromotion(tc.obs)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(promotionEvent{})); diff != "" {
				t.Errorf("nextPromotion(%+v) mismatch (-want +got):\n%s", tc.obs, diff)
			}
		})
	}
}

// TestAdvance: the decision is written to the record in one place, and what a restarted
// hub observes is rebuilt from the record.
func TestAdvance(t *testing.T) {
	pipe := &fleetv1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "release"},
		Spec: fleetv1alpha1.PipelineSpec{Stages: []fleetv1alpha1.Stage{{Name: "dev"}, {Name: "prod", Branch: "live/prod"}}}}
	record := func() *fleetv1alpha1.Promotion {
		return &fleetv1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "release-prod-rollback-x"},
			Spec: fleetv1alpha1.PromotionSpec{Stage: "prod", Rollback: &fleetv1alpha1.RollbackSpec{To: "ccccccc"}},
			Status: fleetv1alpha1.PromotionStatus{Phase: fleetv1alpha1.PromotionOpen,
				Rollback:    &fleetv1alpha1.RollbackStatus{RestoredCommit: envC, DryRevision: revA},
				PullRequest: &fleetv1alpha1.PullRequestRef{Number: 7, HeadBranch: "gitfleet/rollback/prod", HeadCommit: envC}}}
	}
	r := &PipelineReconciler{InFlightPoll: 2 * time.Second}
	newPass := func() *pipelinePass {
		return &pipelinePass{pipe: pipe, now: t0, requeue: time.Hour, dirty: map[string]bool{}}
	}

	t.Run("observe rebuilds the facts of a record", func(t *testing.T) {
		got := newPass().observe(record())
		want := promotionObservation{Name: "release-prod-rollback-x", Stage: "prod", Branch: "live/prod", Phase: fleetv1alpha1.PromotionOpen,
			Rollback: true, Revision: revA, RestoredCommit: envC, HasBranch: true, Now: t0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("observe mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("merged: phase, completion, renderedCommit, Ready and a wake-up", func(t *testing.T) {
		p, pr := newPass(), record()
		obs := p.observe(pr)
		obs.PullRequest, obs.Head = &prObservation{Number: 7, Closed: true, Merged: true}, "dddddddddddddddddddddddddddddddddddddddd"
		r.advance(p, pr, obs)
		if pr.Status.Phase != fleetv1alpha1.PromotionMerged || pr.Status.CompletionTime == nil || !pr.Status.CompletionTime.Time.Equal(t0) ||
			pr.Status.RenderedCommit != obs.Head || !p.dirty[pr.Name] || p.requeue != r.InFlightPoll {
			t.Errorf("advance(merged) = %+v (dirty %v, requeue %s), want Merged at %s on %s, saved, a wake-up in %s",
				pr.Status, p.dirty, p.requeue, t0, obs.Head[:7], r.InFlightPoll)
		}
		if c := apimeta.FindStatusCondition(pr.Status.Conditions, fleetv1alpha1.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Merged" {
			t.Errorf("Ready = %+v, want True Merged", c)
		}
	})
	t.Run("waiting for the forge writes nothing", func(t *testing.T) {
		p, pr := newPass(), record()
		obs := p.observe(pr)
		obs.Carried, obs.PullRequest = true, &prObservation{Number: 7}
		if d := r.advance(p, pr, obs); !d.Wait || pr.Status.Phase != fleetv1alpha1.PromotionOpen || p.dirty[pr.Name] || p.requeue != r.InFlightPoll {
			t.Errorf("advance(carried, open) = %+v, phase %s, dirty %v, requeue %s; want a wait, Open, not saved, a wake-up", d, pr.Status.Phase, p.dirty, p.requeue)
		}
	})
	t.Run("a start resets the times of a finished record", func(t *testing.T) {
		p, pr := newPass(), record()
		done := metav1.NewTime(t0.Add(-time.Hour))
		pr.Status.Phase, pr.Status.CompletionTime, pr.Status.SupersededBy = fleetv1alpha1.PromotionSuperseded, &done, "other"
		obs := p.observe(pr)
		obs.Start = true
		r.advance(p, pr, obs)
		if pr.Status.Phase != fleetv1alpha1.PromotionPending || pr.Status.CompletionTime != nil || pr.Status.SupersededBy != "" ||
			pr.Status.StartTime == nil || !pr.Status.StartTime.Time.Equal(t0) || !p.dirty[pr.Name] {
			t.Errorf("advance(start) = %+v, want Pending since %s, no completion, not superseded, saved", pr.Status, t0)
		}
	})
}

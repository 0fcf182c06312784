package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
)

// loadPromotions reads the pipeline's Promotions.
func (r *PipelineReconciler) loadPromotions(ctx context.Context, p *pipelinePass) error {
	var list fleetv1alpha1.PromotionList
	var records client.Reader = r.Client
	if r.Records != nil {
		records = r.Records
	}
	if err := records.List(ctx, &list, client.InNamespace(p.pipe.Namespace)); err != nil {
		return fmt.Errorf("listing Promotions: %w", err)
	}
	p.promotions = map[string]*fleetv1alpha1.Promotion{}
	for i := range list.Items {
		// Records made by hand (kubectl create, generateName) count as well as the hub's.
		if list.Items[i].Spec.PipelineRef.Name == p.pipe.Name {
			p.promotions[list.Items[i].Name] = &list.Items[i]
		}
	}
	p.dirty = map[string]bool{}
	return nil
}

// promotion returns the record of moving rev into stage, nil if there is none: the one
// the stage's status names (the attempt in progress or last finished), else the hub's
// (named by promotionName), else the newest one made by hand.
func (p *pipelinePass) promotion(stage, rev string) *fleetv1alpha1.Promotion {
	matches := func(pr *fleetv1alpha1.Promotion) bool {
		return pr != nil && pr.Spec.Stage == stage && len(pr.Spec.DryRevision) >= 7 && strings.HasPrefix(rev, pr.Spec.DryRevision)
	}
	for _, st := range p.pipe.Status.Stages {
		if st.Name == stage && st.Promotion != "" && matches(p.promotions[st.Promotion]) {
			return p.promotions[st.Promotion]
		}
	}
	if pr := p.promotions[fleetv1alpha1.PromotionName(p.pipe.Name, stage, rev)]; pr != nil {
		return pr
	}
	var out *fleetv1alpha1.Promotion
	for _, pr := range p.promotions {
		if pr.Spec.Stage == stage && len(pr.Spec.DryRevision) >= 7 && strings.HasPrefix(rev, pr.Spec.DryRevision) && (out == nil || pr.CreationTimestamp.After(out.CreationTimestamp.Time)) {
			out = pr
		}
	}
	return out
}

// startPromotion records a new attempt (or restarts the existing record of the same one).
func (r *PipelineReconciler) startPromotion(p *pipelinePass, stage, from, rev string, gates []fleetv1alpha1.GateResult) *fleetv1alpha1.Promotion {
	return r.startPromotionOn(p, p.promotion(stage, rev), stage, from, rev, gates)
}

// startPromotionOn starts the attempt on record pr (nil: a new record). A finished record
// that starts again (its revision is proposed once more, e.g. after a rollback) forgets
// its old pull request.
func (r *PipelineReconciler) startPromotionOn(p *pipelinePass, pr *fleetv1alpha1.Promotion, stage, from, rev string, gates []fleetv1alpha1.GateResult) *fleetv1alpha1.Promotion {
	name := fleetv1alpha1.PromotionName(p.pipe.Name, stage, rev)
	if pr != nil {
		if pr.Status.Phase.Finished() {
			pr.Status.PullRequest, pr.Status.RenderedCommit = nil, ""
		}
	} else {
		pr = &fleetv1alpha1.Promotion{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.pipe.Namespace, Name: name,
				Labels: map[string]string{fleetv1alpha1.PipelineLabel: p.pipe.Name, fleetv1alpha1.StageLabel: stage}},
			Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: p.pipe.Name},
				Stage: stage, FromStage: from, DryRevision: rev},
		}
		p.promotions[name] = pr
	}
	now := metav1.NewTime(p.now)
	for i := range gates {
		gates[i].LastTransitionTime = &now
	}
	pr.Status.Gates = gates
	outcome.SetCondition(pr, fleetv1alpha1.GatesPassedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "every gate passed")
	obs := p.observe(pr)
	obs.Start = true
	r.advance(p, pr, obs)
	return pr
}

// observe is what a pass knows of a record before it looks at the branch or the forge:
// its names, phase and revision.
func (p *pipelinePass) observe(pr *fleetv1alpha1.Promotion) promotionObservation {
	obs := promotionObservation{Name: pr.Name, Stage: pr.Spec.Stage, Branch: fleetv1alpha1.Stage{Name: pr.Spec.Stage}.StageBranch(), Phase: pr.Status.Phase,
		Rollback: pr.Spec.Rollback != nil, Revision: pr.Spec.DryRevision, Now: p.now}
	for _, s := range p.pipe.Spec.Stages {
		if s.Name == pr.Spec.Stage {
			obs.Branch = s.StageBranch()
		}
	}
	if rb := pr.Status.Rollback; rb != nil {
		obs.Revision, obs.RestoredCommit = rb.DryRevision, rb.RestoredCommit
	}
	if ref := pr.Status.PullRequest; ref != nil {
		obs.HasBranch = ref.HeadBranch != "" && ref.HeadCommit != ""
	}
	if t := pr.Status.CompletionTime; t != nil {
		obs.Completed = &t.Time
	}
	return obs
}

// advance decides the next step of a record from what was observed (obs, built on
// p.observe(pr)) with nextPromotion, and writes it: this is the one place a Promotion's
// phase is written. A start resets the
// times; a final phase sets completionTime and the Ready condition (True for Merged);
// Open sets Ready=False AwaitingApproval. The decision is returned for the caller to act
// on (open the pull request, delete the branch).
func (r *PipelineReconciler) advance(p *pipelinePass, pr *fleetv1alpha1.Promotion, obs promotionObservation) promotionDecision {
	d := nextPromotion(obs)
	if d.Wait {
		p.wakeIn(r.InFlightPoll)
	}
	if !d.changed(obs) {
		return d
	}
	now := metav1.NewTime(p.now)
	pr.Status.Phase = d.Phase
	switch {
	case obs.Start:
		pr.Status.StartTime, pr.Status.CompletionTime, pr.Status.SupersededBy = &now, nil, ""
	case d.Phase.Finished():
		pr.Status.CompletionTime = &now
		status := metav1.ConditionFalse
		if d.Phase == fleetv1alpha1.PromotionMerged {
			status = metav1.ConditionTrue
			if obs.Head != "" {
				pr.Status.RenderedCommit = obs.Head
			}
		}
		outcome.SetCondition(pr, fleetv1alpha1.ReadyCondition, status, string(d.Phase), d.Message)
	case d.Phase == fleetv1alpha1.PromotionOpen:
		outcome.SetCondition(pr, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.AwaitingApprovalReason, d.Message)
	}
	if e := d.Event; e != nil {
		r.event(p.pipe, e.Type, e.Reason, "%s", e.Message)
	}
	p.dirty[pr.Name] = true
	return d
}

// followPromotions moves the promotion in flight in each stage on (observe → decide →
// act): it observes whether the stage's branch carries the revision (observeStages read
// it) and, for a PullRequest stage, what the forge says of the approval pull request;
// nextPromotion decides (merged, rejected, waiting, or still to propose); a promotion
// still to propose in a PullRequest stage gets its pull request opened or updated
// (proposeApproval). A rejected revision leaves the stage and is not proposed again.
func (r *PipelineReconciler) followPromotions(ctx context.Context, p *pipelinePass) error {
	var errs []error
	for i, stage := range p.pipe.Spec.Stages {
		st := &p.pipe.Status.Stages[i]
		if stage.Promotion == fleetv1alpha1.PromotionPullRequest && st.TargetRevision != "" && p.forge == nil {
			st.Message = "the stage is promoted by pull request, but the GitSource of its branches has no forge"
			errs = append(errs, outcome.Stalling(fleetv1alpha1.DependencyNotReadyReason, fmt.Errorf("stage %s: %s", st.Name, st.Message)))
			continue
		}
		if err := r.followPromotion(ctx, p, i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *PipelineReconciler) followPromotion(ctx context.Context, p *pipelinePass, i int) error {
	st, byPR := &p.pipe.Status.Stages[i], p.pipe.Spec.Stages[i].Promotion == fleetv1alpha1.PromotionPullRequest
	// In flight: the target revision; else the revision the stage holds, whose record
	// may not be Merged yet (reached in this pass, or its pull request not reported
	// merged, or the hub restarted in between).
	rev, carried := st.TargetRevision, false
	if rev == "" {
		rev, carried = st.CurrentRevision, true
	}
	promo := p.promotion(st.Name, rev)
	switch {
	case rev == "" || i == 0:
		return nil
	case carried && (promo == nil || promo.Status.Phase == "" || promo.Status.Phase.Finished()):
		return nil
	case promo == nil && !byPR:
		return nil
	case promo == nil:
		promo = r.startPromotion(p, st.Name, p.pipe.Spec.Stages[i-1].Name, rev, nil)
	}
	obs := p.observe(promo)
	obs.Carried = carried
	if carried {
		obs.Head = st.RenderedCommit
	}
	var pr *gitsource.PullRequest
	if ref := promo.Status.PullRequest; ref != nil && byPR && !promo.Status.Phase.Finished() {
		var err error
		if pr, obs.PullRequest, err = p.readPullRequest(ctx, ref, "pull request"); err != nil {
			return err
		}
		if obs.PullRequest.Merged && !carried {
			// The forge merged it; the branch head now is the merge.
			if head, err := r.lsRemote(ctx, p, st.Branch); err == nil {
				obs.Head = head
			}
		}
	}
	d := r.advance(p, promo, obs)
	switch {
	case d.Phase == fleetv1alpha1.PromotionMerged && !carried:
		n := int32(0)
		if ref := promo.Status.PullRequest; ref != nil {
			n = ref.Number
		}
		st.Message = fmt.Sprintf("#%d merged; waiting for %s to carry it", n, st.Branch)
		p.wakeIn(r.InFlightPoll)
	case d.Phase == fleetv1alpha1.PromotionRejected && !carried:
		st.Message = fmt.Sprintf("%s rejected: #%d closed without merging", fleetv1alpha1.ShortSHA(rev), promo.Status.PullRequest.Number)
		st.TargetRevision = ""
	case d.Wait && carried:
		st.Message = fmt.Sprintf("%s is in %s; waiting for #%d to read merged; %s", fleetv1alpha1.ShortSHA(rev), st.Branch, promo.Status.PullRequest.Number, st.Message)
	case d.Propose && byPR && !carried:
		return r.proposeApproval(ctx, p, i, promo, pr)
	}
	return nil
}

// recordPromotions saves every record changed in this pass, and deletes finished records
// past the pipeline's promotionHistoryLimit (per stage, oldest first).
func (r *PipelineReconciler) recordPromotions(ctx context.Context, p *pipelinePass) error {
	for _, name := range slices.Sorted(maps.Keys(p.dirty)) {
		if err := r.savePromotion(ctx, p, p.promotions[name]); err != nil {
			return err
		}
	}
	return r.collectPromotions(ctx, p)
}

// savePromotion creates a record (owned by the Pipeline) or updates its status.
func (r *PipelineReconciler) savePromotion(ctx context.Context, p *pipelinePass, pr *fleetv1alpha1.Promotion) error {
	status := pr.Status
	if pr.ResourceVersion == "" {
		if err := controllerutil.SetControllerReference(p.pipe, pr, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, pr); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Promotion %s: %w", pr.Name, err)
		}
		pr.Status = status
	}
	if err := r.Client.Status().Update(ctx, pr); err != nil {
		return fmt.Errorf("updating status of Promotion %s: %w", pr.Name, err)
	}
	return nil
}

// collectPromotions deletes the oldest finished Promotions of each stage past the limit.
func (r *PipelineReconciler) collectPromotions(ctx context.Context, p *pipelinePass) error {
	limit := int(p.pipe.Spec.PromotionHistoryLimit)
	if limit <= 0 {
		limit = 10
	}
	byStage := map[string][]*fleetv1alpha1.Promotion{}
	for _, pr := range p.promotions {
		if pr.Status.Phase.Finished() && pr.ResourceVersion != "" {
			byStage[pr.Spec.Stage] = append(byStage[pr.Spec.Stage], pr)
		}
	}
	for _, list := range byStage {
		sort.Slice(list, func(i, j int) bool { return promotionTime(list[i]).After(promotionTime(list[j]).Time) })
		for _, pr := range list[min(limit, len(list)):] {
			if err := r.Client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting Promotion %s past the history limit: %w", pr.Name, err)
			}
			delete(p.promotions, pr.Name)
		}
	}
	return nil
}

func promotionTime(pr *fleetv1alpha1.Promotion) metav1.Time {
	if pr.Status.CompletionTime != nil {
		return *pr.Status.CompletionTime
	}
	return pr.CreationTimestamp
}

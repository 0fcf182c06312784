package hub

import (
	"context"
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
func (p *pipelinePass) startPromotion(stage, from, rev string, gates []fleetv1alpha1.GateResult) *fleetv1alpha1.Promotion {
	return p.startPromotionOn(p.promotion(stage, rev), stage, from, rev, gates)
}

// startPromotionOn starts the attempt on record pr (nil: a new record). A finished record
// that starts again (its revision is proposed once more, e.g. after a rollback) forgets
// its old pull request.
func (p *pipelinePass) startPromotionOn(pr *fleetv1alpha1.Promotion, stage, from, rev string, gates []fleetv1alpha1.GateResult) *fleetv1alpha1.Promotion {
	name := fleetv1alpha1.PromotionName(p.pipe.Name, stage, rev)
	if pr != nil {
		name = pr.Name
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
	pr.Status.Phase, pr.Status.StartTime, pr.Status.CompletionTime = fleetv1alpha1.PromotionPending, &now, nil
	pr.Status.SupersededBy = ""
	for i := range gates {
		gates[i].LastTransitionTime = &now
	}
	pr.Status.Gates = gates
	setCondition(pr, fleetv1alpha1.GatesPassedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "every gate passed")
	p.dirty[name] = true
	return pr
}

// finishPromotion moves a record to a final phase.
func (p *pipelinePass) finishPromotion(pr *fleetv1alpha1.Promotion, phase fleetv1alpha1.PromotionPhase, msg string) {
	if pr == nil || pr.Status.Phase == phase {
		return
	}
	now := metav1.NewTime(p.now)
	pr.Status.Phase, pr.Status.CompletionTime = phase, &now
	status := metav1.ConditionTrue
	if phase != fleetv1alpha1.PromotionMerged {
		status = metav1.ConditionFalse
	}
	setCondition(pr, fleetv1alpha1.ReadyCondition, status, string(phase), msg)
	p.dirty[pr.Name] = true
}

// recordPromotions marks the attempts whose revision reached its stage as Merged, saves
// every record changed in this pass, and deletes finished records past the pipeline's
// promotionHistoryLimit (per stage, oldest first).
func (r *PipelineReconciler) recordPromotions(ctx context.Context, p *pipelinePass) error {
	for stage, rev := range p.reached {
		pr := p.promotion(stage, rev)
		if pr == nil {
			continue
		}
		for _, st := range p.pipe.Status.Stages {
			if st.Name == stage {
				pr.Status.RenderedCommit = st.RenderedCommit
			}
		}
		p.finishPromotion(pr, fleetv1alpha1.PromotionMerged, fmt.Sprintf("%s is in %s", fleetv1alpha1.ShortSHA(rev), stage))
	}
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

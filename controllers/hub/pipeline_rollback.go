package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// TrailerRollbackOf names, on a rollback commit, the earlier commit whose tree it restores.
const TrailerRollbackOf = "Gitfleet-Rollback-Of"

// rollBack carries out the rollbacks asked for (Promotions with spec.rollback, made by
// `gitfleet rollback`): for the newest unfinished one of each stage it finds the earlier
// commit of the stage's branch, pushes a commit restoring that commit's tree onto
// gitfleet/rollback/<stage> (rebuilt on the branch's head when it moves) and opens or
// updates a pull request into the stage's branch; merging it is the approval, closing it
// rejects the rollback. Older unfinished rollbacks of the same stage are superseded.
func (r *PipelineReconciler) rollBack(ctx context.Context, p *pipelinePass) error {
	byStage := map[string][]*fleetv1alpha1.Promotion{}
	for _, pr := range p.promotions {
		if pr.Spec.Rollback != nil && !pr.Status.Phase.Finished() {
			byStage[pr.Spec.Stage] = append(byStage[pr.Spec.Stage], pr)
		}
	}
	var errs []error
	for _, stage := range slices.Sorted(maps.Keys(byStage)) {
		list := byStage[stage]
		sort.Slice(list, func(i, j int) bool {
			if !list[i].CreationTimestamp.Equal(&list[j].CreationTimestamp) {
				return list[i].CreationTimestamp.Before(&list[j].CreationTimestamp)
			}
			return list[i].Name < list[j].Name
		})
		newest := list[len(list)-1]
		for _, old := range list[:len(list)-1] {
			old.Status.SupersededBy = newest.Name
			obs := p.observe(old)
			obs.SupersededBy = "the newer rollback " + newest.Name
			r.advance(p, old, obs)
		}
		if err := r.syncRollback(ctx, p, newest); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errAlreadyRestored stops the write of a rollback branch whose base, the stage's branch,
// holds the restored tree already.
var errAlreadyRestored = errors.New("the stage's branch holds the restored tree already")

// failRollback ends a rollback that cannot be carried out, with the reason for people
// (a RollbackFailed event).
func (r *PipelineReconciler) failRollback(p *pipelinePass, pr *fleetv1alpha1.Promotion, msg string) {
	obs := p.observe(pr)
	obs.Problem = msg
	r.advance(p, pr, obs)
}

// syncRollback carries out one rollback, step by step: start it, follow its pull request
// (merged or closed ends it), resolve the commit to restore, write the rollback branch and
// open or update the pull request. nextPromotion decides each change of phase.
func (r *PipelineReconciler) syncRollback(ctx context.Context, p *pipelinePass, promo *fleetv1alpha1.Promotion) error {
	st, msg := p.rollbackStage(promo)
	if msg != "" {
		r.failRollback(p, promo, msg)
		return nil
	}
	if promo.Status.Phase == "" {
		obs := p.observe(promo)
		obs.Start = true
		r.advance(p, promo, obs)
	}
	headBranch := fleetv1alpha1.RollbackBranch(st.Name)
	forged, done, err := r.followRollback(ctx, p, st, promo)
	if done || err != nil {
		return err
	}

	// Resolve the commit to restore, once; later passes read its tree back from the
	// rollback branch.
	var files map[string][]byte
	if promo.Status.Rollback == nil {
		res, restored, msg, err := r.resolveRollback(ctx, p, st, promo.Spec.Rollback.To)
		if err != nil {
			return err
		}
		if msg != "" {
			r.failRollback(p, promo, msg)
			return nil
		}
		promo.Status.Rollback, files = res, restored
		p.dirty[promo.Name] = true
	}
	rb := promo.Status.Rollback
	// The rollback branch: the stage's head plus one commit restoring the earlier tree;
	// rebuilt when the stage's branch moves, untouched otherwise.
	if files == nil {
		var err error
		if files, err = r.rollbackFiles(ctx, p, st.Branch, headBranch, rb); err != nil {
			return err
		}
	}
	if files == nil {
		r.failRollback(p, promo, fmt.Sprintf("%s is no longer in the recent history of %s", fleetv1alpha1.ShortSHA(rb.RestoredCommit), st.Branch))
		return nil
	}
	message := fmt.Sprintf("Roll back %s to %s\n\nRestores the rendered tree of %s (dry revision %s).", st.Name, fleetv1alpha1.ShortSHA(rb.DryRevision), rb.RestoredCommit, rb.DryRevision)
	if promo.Spec.Rollback.Reason != "" {
		message += "\n\nReason: " + promo.Spec.Rollback.Reason
	}
	res, err := r.Writer.Write(ctx, gitsource.WriteRequest{
		URL: p.url, Auth: p.auth, Branch: headBranch, BaseBranch: st.Branch, ResetToBase: true,
		Update: func(current map[string][]byte) (map[string][]byte, error) {
			if maps.EqualFunc(current, files, bytes.Equal) {
				return nil, errAlreadyRestored // the branch is left as it is
			}
			return files, nil
		},
		Message:  message,
		Trailers: append(gitsource.StageTrailers(rb.DryRevision, st.Name), gitsource.Trailer{Key: TrailerRollbackOf, Value: rb.RestoredCommit}),
	})
	ref := promo.Status.PullRequest
	switch {
	case errors.Is(err, errAlreadyRestored):
		// The stage's branch holds the restored tree. With the pull request read open at
		// the start of the pass, it is being merged (Gitea moves the branch a moment
		// before it marks the pull request merged, and a merge may land mid-pass):
		// rebuilding the branch now would find nothing to roll back, and a new pull
		// request would be opened or the rollback failed; the next pass reads #N merged.
		// Without a pull request there is nothing to roll back.
		obs := p.observe(promo)
		obs.Carried, obs.PullRequest = true, forged
		if d := r.advance(p, promo, obs); d.Wait && ref != nil {
			st.Message = fmt.Sprintf("rollback to %s is in %s; waiting for #%d to read merged; %s", fleetv1alpha1.ShortSHA(rb.DryRevision), st.Branch, ref.Number, st.Message)
		}
		return nil
	case err != nil:
		return outcome.WithReason(fleetv1alpha1.CommitFailedReason, fmt.Errorf("writing %s: %w", headBranch, err))
	}
	if ref != nil && ref.HeadCommit == res.Commit {
		st.Message = fmt.Sprintf("rollback to %s awaiting approval #%d; %s", fleetv1alpha1.ShortSHA(rb.DryRevision), ref.Number, st.Message)
		return nil
	}

	// Open or update the pull request.
	before, err := r.Writer.ReadTree(ctx, p.url, st.Branch, p.auth, hydrate.ClustersDir)
	if err != nil {
		return outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading %s: %w", st.Branch, err))
	}
	after := map[string][]byte{}
	for path, data := range files {
		if strings.HasPrefix(path, hydrate.ClustersDir) {
			after[path] = data
		}
	}
	title := fmt.Sprintf("gitfleet: roll back %s to %s", st.Name, fleetv1alpha1.ShortSHA(rb.DryRevision))
	body := r.rollbackBody(p, st, promo, res.Commit, diffTrees(before, after))
	pr, created, err := p.openOrUpdatePullRequest(ctx, gitsource.NewPullRequest{Title: title, Body: body, Head: headBranch, Base: st.Branch,
		Labels: append([]string{fleetv1alpha1.RollbackPullRequestLabel}, p.pipe.Spec.PullRequestLabels...)}, "rollback pull request")
	if err != nil {
		return err
	}
	if created {
		r.event(p.pipe, corev1.EventTypeNormal, "RollbackProposed", "%s: rollback to %s proposed in #%d %s", st.Name, fleetv1alpha1.ShortSHA(rb.DryRevision), pr.Number, pr.URL)
	}
	obs := p.observe(promo)
	obs.Proposed = pr.Number
	r.advance(p, promo, obs)
	promo.Status.PullRequest = &fleetv1alpha1.PullRequestRef{Number: int32(pr.Number), URL: pr.URL, HeadBranch: headBranch, HeadCommit: res.Commit}
	p.dirty[promo.Name] = true
	st.Promotion = promo.Name
	st.Message = fmt.Sprintf("rollback to %s awaiting approval #%d; %s", fleetv1alpha1.ShortSHA(rb.DryRevision), pr.Number, st.Message)
	return nil
}

// rollbackStage returns the status of the stage a rollback is for, or why the stage cannot
// be rolled back.
func (p *pipelinePass) rollbackStage(promo *fleetv1alpha1.Promotion) (*fleetv1alpha1.StageStatus, string) {
	idx := -1
	for i, s := range p.pipe.Spec.Stages {
		if s.Name == promo.Spec.Stage {
			idx = i
		}
	}
	switch {
	case idx < 0:
		return nil, fmt.Sprintf("pipeline %s has no stage %s", p.pipe.Name, promo.Spec.Stage)
	case idx == 0:
		return nil, fmt.Sprintf("stage %s is rendered from the head of the fleet config repo: revert the change there (git revert) instead; a rollback of its branch would be overwritten by the next render", promo.Spec.Stage)
	case p.url == "":
		return nil, "no Placement uses pipeline " + p.pipe.Name + ": there is no repository to roll back"
	case p.forge == nil:
		return nil, "a rollback is proposed as a pull request, but the GitSource of the stage's branches has no forge"
	}
	return &p.pipe.Status.Stages[idx], ""
}

// followRollback reads a rollback's recorded pull request (nil when none is recorded);
// done is true once it was merged (the Promotion is Merged) or closed (Rejected).
func (r *PipelineReconciler) followRollback(ctx context.Context, p *pipelinePass, st *fleetv1alpha1.StageStatus, promo *fleetv1alpha1.Promotion) (*prObservation, bool, error) {
	ref := promo.Status.PullRequest
	if ref == nil {
		return nil, false, nil
	}
	_, forged, err := p.readPullRequest(ctx, ref, "rollback pull request")
	if err != nil || !forged.Closed {
		return forged, false, err
	}
	obs := p.observe(promo)
	obs.PullRequest = forged
	if forged.Merged {
		if head, err := r.lsRemote(ctx, p, st.Branch); err == nil {
			obs.Head = head
		}
	}
	if d := r.advance(p, promo, obs); d.Phase == fleetv1alpha1.PromotionMerged {
		rb := promo.Status.Rollback
		st.Message = fmt.Sprintf("rolled back to %s by #%d; %s", fleetv1alpha1.ShortSHA(rb.DryRevision), forged.Number, st.Message)
		ctrl.LoggerFrom(ctx).Info("rolled back", "stage", st.Name, "revision", rb.DryRevision, "pullRequest", forged.Number)
	}
	return forged, true, nil
}

// resolveRollback finds the commit of the stage's branch that `to` names: a commit whose
// SHA starts with it, else the newest commit of the branch's mainline whose gitfleet.json
// names a dry revision starting with it, and the files of that commit. msg explains a
// request that cannot be met.
func (r *PipelineReconciler) resolveRollback(ctx context.Context, p *pipelinePass, st *fleetv1alpha1.StageStatus, to string) (res *fleetv1alpha1.RollbackStatus, files map[string][]byte, msg string, err error) {
	hist, err := gitsource.LoadHistory(ctx, p.url, st.Branch, p.auth, 0)
	if errors.Is(err, gitsource.ErrBranchNotFound) {
		return nil, nil, fmt.Sprintf("stage %s has no branch %s yet: nothing to roll back", st.Name, st.Branch), nil
	}
	if err != nil {
		return nil, nil, "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	revisionOf := func(sha string) string {
		files, err := hist.Files(sha, hydrate.MetadataFile)
		if err != nil {
			return ""
		}
		meta, err := parseMetadata(files[hydrate.MetadataFile])
		if err != nil {
			return ""
		}
		return meta.Source.Commit
	}
	var target string
	switch matches := hist.Lookup(to); {
	case len(matches) > 1:
		return nil, nil, fmt.Sprintf("%s names %d commits of %s: give more characters", to, len(matches), st.Branch), nil
	case len(matches) == 1:
		target = matches[0].SHA
	case strings.HasPrefix(revisionOf(hist.Head), to):
		return nil, nil, fmt.Sprintf("%s already holds dry revision %s: nothing to roll back", st.Branch, fleetv1alpha1.ShortSHA(revisionOf(hist.Head))), nil
	default:
		for _, c := range hist.Commits {
			if c.Mainline && c.SHA != hist.Head && strings.HasPrefix(revisionOf(c.SHA), to) {
				target = c.SHA
				break
			}
		}
	}
	if target == "" {
		scope := fmt.Sprintf("the last %d commits of %s", gitsource.DefaultHistoryDepth, st.Branch)
		if !hist.Truncated {
			scope = "the history of " + st.Branch
		}
		return nil, nil, fmt.Sprintf("%s is neither a commit in %s nor a dry revision one of them was rendered from", to, scope), nil
	}
	dry := revisionOf(target)
	if dry == "" {
		return nil, nil, fmt.Sprintf("commit %s of %s has no readable %s: it is not a render of gitfleet and cannot be restored", fleetv1alpha1.ShortSHA(target), st.Branch, hydrate.MetadataFile), nil
	}
	headTree, err1 := hist.Tree(hist.Head)
	targetTree, err2 := hist.Tree(target)
	if err1 == nil && err2 == nil && headTree == targetTree {
		return nil, nil, fmt.Sprintf("%s already holds the tree of %s (dry revision %s): nothing to roll back", st.Branch, fleetv1alpha1.ShortSHA(target), fleetv1alpha1.ShortSHA(dry)), nil
	}
	// What the branch holds now (the pipeline's status may not have seen a merge yet).
	held := revisionOf(hist.Head)
	if held == "" {
		held = st.CurrentRevision
	}
	files, err = hist.Files(target, "")
	if err != nil {
		return nil, nil, "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	return &fleetv1alpha1.RollbackStatus{RestoredCommit: target, DryRevision: dry, RolledBackRevision: held}, files, "", nil
}

// rollbackFiles returns the whole tree to restore: from the rollback branch when it already
// carries it (a later pass), else read from the stage branch's history; nil when the
// commit is no longer in that history.
func (r *PipelineReconciler) rollbackFiles(ctx context.Context, p *pipelinePass, branch, headBranch string, rb *fleetv1alpha1.RollbackStatus) (map[string][]byte, error) {
	files, err := r.Writer.ReadTree(ctx, p.url, headBranch, p.auth, "")
	switch {
	case err == nil:
		if meta, merr := parseMetadata(files[hydrate.MetadataFile]); merr == nil && meta.Source.Commit == rb.DryRevision {
			return files, nil
		}
	case !errors.Is(err, gitsource.ErrBranchNotFound):
		return nil, outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading %s: %w", headBranch, err))
	}
	hist, err := gitsource.LoadHistory(ctx, p.url, branch, p.auth, 0)
	if err != nil {
		return nil, outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	if len(hist.Lookup(rb.RestoredCommit)) == 0 {
		return nil, nil
	}
	files, err = hist.Files(rb.RestoredCommit, "")
	if err != nil {
		return nil, outcome.WithReason(fleetv1alpha1.FetchFailedReason, err)
	}
	return files, nil
}

// rollbackBody tells what a rollback restores, why, and what it changes per cluster.
func (r *PipelineReconciler) rollbackBody(p *pipelinePass, st *fleetv1alpha1.StageStatus, promo *fleetv1alpha1.Promotion, head string, changes []clusterChange) string {
	rb := promo.Status.Rollback
	sourceURL := ""
	if p.source != nil {
		sourceURL = gitsource.RedactURL(p.source.Spec.URL)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Rolls stage **%s** back to dry revision %s: restores the rendered tree of `%s` on `%s`", st.Name, commitLink(sourceURL, rb.DryRevision), fleetv1alpha1.ShortSHA(rb.RestoredCommit), st.Branch)
	if rb.RolledBackRevision != "" {
		fmt.Fprintf(&b, " (the stage holds %s)", commitLink(sourceURL, rb.RolledBackRevision))
	}
	b.WriteString(".\n\n")
	if reason := promo.Spec.Rollback.Reason; reason != "" {
		fmt.Fprintf(&b, "Reason: %s\n\n", outcome.Truncate(reason, 1024))
	}
	b.WriteString("Merging this pull request is the approval; closing it drops the rollback. Once merged, the pipeline does not propose ")
	if rb.RolledBackRevision != "" {
		fmt.Fprintf(&b, "%s ", fleetv1alpha1.ShortSHA(rb.RolledBackRevision))
	} else {
		b.WriteString("the rolled-back revision ")
	}
	fmt.Fprintf(&b, "to %s again, nor %s to the stages after it; a newer revision is promoted as usual.\n\n", st.Name, fleetv1alpha1.ShortSHA(rb.DryRevision))
	if r.Snapshots != nil && p.source != nil && !r.Snapshots.Has(p.source.Namespace, p.source.Name, rb.DryRevision) {
		fmt.Fprintf(&b, "> **Note:** the hub no longer stores dry revision %s; it fetches it again from the last %d commits of `%s` when it must render the stage (a cluster joins it). If it is older than that, the stage keeps this tree as is until a newer revision is promoted, and a cluster joining the stage gets nothing.\n\n",
			fleetv1alpha1.ShortSHA(rb.DryRevision), gitsource.DefaultHistoryDepth, p.source.Spec.Branch)
	}
	writeChanges(&b, changes)
	fmt.Fprintf(&b, "\n<sub>gitfleet: head %s of `%s`, Promotion `%s`.</sub>\n", fleetv1alpha1.ShortSHA(head), fleetv1alpha1.RollbackBranch(st.Name), promo.Name)
	return b.String()
}

// heldBack says why rev, which passed the gates of stage, is not promoted into it; ""
// when nothing holds it back. Its pull request was closed unmerged (rejected), a rollback
// of the stage is open, or a merged rollback took rev out of the stage.
func (p *pipelinePass) heldBack(stage, rev string) string {
	if old := p.promotion(stage, rev); old != nil && old.Status.Phase == fleetv1alpha1.PromotionRejected {
		return "was rejected; waiting for a newer revision"
	}
	if rb := p.rollingBack(stage); rb != nil {
		return "waits: rollback " + rb.Name + " is in progress"
	}
	if rb := p.rolledBack(stage, rev); rb != nil {
		return "was rolled back (" + rb.Name + "); waiting for a newer revision"
	}
	return ""
}

// rolledBack returns the merged rollback of stage that rolled rev back, nil if none.
func (p *pipelinePass) rolledBack(stage, rev string) *fleetv1alpha1.Promotion {
	for _, pr := range p.promotions {
		if pr.Spec.Rollback != nil && pr.Spec.Stage == stage && pr.Status.Phase == fleetv1alpha1.PromotionMerged &&
			pr.Status.Rollback != nil && pr.Status.Rollback.RolledBackRevision == rev {
			return pr
		}
	}
	return nil
}

// rollingBack returns the unfinished rollback of stage, nil if none: while one is
// proposed, no revision is promoted into the stage (but by gitfleet promote --skip-gates).
func (p *pipelinePass) rollingBack(stage string) *fleetv1alpha1.Promotion {
	for _, pr := range p.promotions {
		if pr.Spec.Rollback != nil && pr.Spec.Stage == stage && !pr.Status.Phase.Finished() {
			return pr
		}
	}
	return nil
}

// rolledBackTo returns the dry revision a stage was rolled back to when the newest change
// that reached it is a merged rollback, "" otherwise. Such a revision is not proposed to
// the next stages: it is older than what they may hold.
func (p *pipelinePass) rolledBackTo(stage string) string {
	var newest *fleetv1alpha1.Promotion
	for _, pr := range p.promotions {
		if pr.Spec.Stage != stage || pr.Status.Phase != fleetv1alpha1.PromotionMerged || pr.Status.CompletionTime == nil {
			continue
		}
		if newest == nil || pr.Status.CompletionTime.After(newest.Status.CompletionTime.Time) {
			newest = pr
		}
	}
	if newest == nil || newest.Spec.Rollback == nil || newest.Status.Rollback == nil {
		return ""
	}
	return newest.Status.Rollback.DryRevision
}

// promotionRevisions are the dry revisions the pipeline's Promotions name: their snapshots
// are kept, so that a rollback to one of them can be rendered again.
func (p *pipelinePass) promotionRevisions() []string {
	set := map[string]bool{}
	for _, pr := range p.promotions {
		if len(pr.Spec.DryRevision) == 40 {
			set[pr.Spec.DryRevision] = true
		}
		if pr.Status.Rollback != nil && pr.Status.Rollback.DryRevision != "" {
			set[pr.Status.Rollback.DryRevision] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

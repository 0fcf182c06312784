package hydrate

import (
	"sort"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// BranchRevision says at which dry revision one environment branch is rendered.
type BranchRevision struct {
	// Revision is the source commit to render; empty when the branch waits for its first
	// promotion and must not be written.
	Revision string
	// Pipeline and Stage name the stage that decided it; empty for env/default.
	Pipeline, Stage string
	// First is true for the first stage of a pipeline (and env/default): it follows the
	// source head.
	First bool
	// Base, for the branch of an approval pull request (gitfleet/promote/<stage>), is the
	// stage's branch it is built on and proposed into; the branch holds the stage's render
	// at Revision.
	Base string
	// Moving is true when Revision is the stage's targetRevision: the branch is to move to
	// it. Otherwise a later stage's branch is only rendered again at the revision it holds
	// (a merge or a rollback may have moved it before the pipeline's status says so).
	Moving bool
}

// StageRevisions returns, for every stage branch of the pipelines, the dry revision it is
// rendered at: the first stage of a pipeline follows head; a later stage is rendered at
// its status.targetRevision if set, else its currentRevision, else not at all (Revision
// empty: nothing was promoted into it yet). A PullRequest stage's branch stays at its
// currentRevision, and its targetRevision goes to gitfleet/promote/<stage>. A branch that is the first stage of any
// pipeline follows head; otherwise the first pipeline by name that lists it decides.
// env/default always follows head.
func StageRevisions(pipelines []fleetv1alpha1.Pipeline, head string) map[string]BranchRevision {
	sorted := make([]*fleetv1alpha1.Pipeline, 0, len(pipelines))
	for i := range pipelines {
		sorted = append(sorted, &pipelines[i])
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	out := map[string]BranchRevision{DefaultBranch: {Revision: head, Stage: DefaultStage, First: true}}
	for _, p := range sorted {
		for i, s := range p.Spec.Stages {
			branch := s.StageBranch()
			if cur, ok := out[branch]; ok && (cur.First || i > 0) {
				continue
			}
			if i == 0 {
				out[branch] = BranchRevision{Revision: head, Pipeline: p.Name, Stage: s.Name, First: true}
				continue
			}
			if s.Promotion != fleetv1alpha1.PromotionPullRequest {
				current, target := stageRevisions(p, s.Name)
				out[branch] = BranchRevision{Revision: StageRevision(p, s.Name), Pipeline: p.Name, Stage: s.Name, Moving: target != "" && target != current}
				continue
			}
			// The stage's branch holds what was approved; the revision moving in waits in
			// the pull request's branch until it is merged.
			current, target := stageRevisions(p, s.Name)
			out[branch] = BranchRevision{Revision: current, Pipeline: p.Name, Stage: s.Name}
			if target != "" && target != current {
				out[fleetv1alpha1.PromoteBranch(s.Name)] = BranchRevision{Revision: target, Pipeline: p.Name, Stage: s.Name, Base: branch}
			}
		}
	}
	return out
}

// StageRevision is the revision a later stage is rendered at: its targetRevision, else
// its currentRevision, else "".
func StageRevision(p *fleetv1alpha1.Pipeline, stage string) string {
	current, target := stageRevisions(p, stage)
	if target != "" {
		return target
	}
	return current
}

func stageRevisions(p *fleetv1alpha1.Pipeline, stage string) (current, target string) {
	for _, st := range p.Status.Stages {
		if st.Name == stage {
			return st.CurrentRevision, st.TargetRevision
		}
	}
	return "", ""
}

// PinnedRevisions are the dry revisions any pipeline's status refers to (current and
// target of every stage): their snapshots must stay on disk.
func PinnedRevisions(pipelines []fleetv1alpha1.Pipeline) []string {
	set := map[string]bool{}
	for _, p := range pipelines {
		for _, st := range p.Status.Stages {
			for _, r := range []string{st.CurrentRevision, st.TargetRevision} {
				if r != "" {
					set[r] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

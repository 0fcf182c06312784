package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// Writing the environment branches: one commit per branch and pass, each stage at the
// revision its pipeline says.

// branchCommit is the outcome of writing one branch.
type branchCommit struct {
	commit string
	err    error
	// committed is true when this pass pushed a new commit.
	committed bool
	// pending names the stage when the branch waits for its first promotion and was not
	// written.
	pending string
}

// writeBranches writes every branch of the plan, plus empty trees for known branches that
// no longer hold anything of this source (their last placement or cluster left). The
// first stage of a pipeline (and env/default) is written at the source head; a later stage
// at the revision its pipeline's status names (see hydrate.StageRevisions), rendered from
// that revision's snapshot, and not at all before its first promotion.
func (r *HydrationReconciler) writeBranches(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, plan *hydrate.Plan) map[string]branchCommit {
	stages := hydrate.StageRevisions(f.Pipelines, f.SourceCommit)
	for _, name := range knownBranches(f) {
		if _, ok := plan.Branches[name]; !ok {
			plan.Branches[name] = &hydrate.Branch{Name: name, Stage: stageName(f, name), Files: map[string][]byte{}}
		}
	}
	names := map[string]bool{}
	for name := range plan.Branches {
		names[name] = true
	}
	for name, st := range stages {
		if st.Base != "" {
			names[name] = true
		}
	}
	plans := map[string]*revisionPlan{f.SourceCommit: {fleet: f, plan: plan}}
	out := map[string]branchCommit{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		rev := f.SourceCommit
		st, ok := stages[name]
		if ok {
			rev = st.Revision
		}
		if rev == "" {
			out[name] = branchCommit{pending: stages[name].Stage}
			continue
		}
		rp := plans[rev]
		if rp == nil {
			rp = r.planAt(ctx, src, f, rev)
			plans[rev] = rp
		}
		if rp.err != nil {
			out[name] = branchCommit{err: rp.err}
			continue
		}
		// An approval pull request's branch holds the render of the stage's own branch.
		content := name
		if st.Base != "" {
			content = st.Base
		}
		b := rp.plan.Branches[content]
		if b == nil {
			b = &hydrate.Branch{Name: content, Stage: stageName(f, content), Files: map[string][]byte{}}
		}
		// A later stage's own branch moves to another revision only when the pipeline moves
		// it (Moving); else it is rendered again only at the revision it holds.
		guard := ok && !st.First && st.Base == "" && !st.Moving
		sha, committed, err := r.writeBranch(ctx, src, rp.fleet, b, name, st.Base, guard)
		out[name] = branchCommit{commit: sha, err: err, committed: committed}
	}
	return out
}

// writeBranch commits one branch. A branch with nothing of this source is only written
// when it exists (to clear what left); it is never created empty.
//
// With base set, b is written to branch (an approval pull request's branch), rebuilt on
// base's head at every pass, so a pull request whose base moved (someone pushed to the
// stage's branch) is rebuilt rather than left in conflict. A missing base is created first
// with a README only (a pull request needs a base branch).
func (r *HydrationReconciler) writeBranch(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, b *hydrate.Branch, branch, base string, onlyAtHeldRevision bool) (string, bool, error) {
	start := r.Clock.Now()
	url, auth, err := r.target(ctx, src, f, b)
	if err != nil {
		return "", false, err
	}
	if base != "" {
		if err := r.ensureBase(ctx, url, auth, b); err != nil {
			return "", false, err
		}
	} else if len(b.Pairs) == 0 {
		if _, err := gitsource.LsRemote(ctx, url, b.Name, auth); err != nil {
			if errors.Is(err, gitsource.ErrBranchNotFound) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("checking branch %s: %w", b.Name, err)
		}
	}
	source := hydrate.SourceRef{Repository: f.SourceURL, Branch: f.SourceBranch, Commit: f.SourceCommit}
	msg := commitMessage(f, b)
	if base != "" {
		msg = strings.Replace(msg, "gitfleet: render", "gitfleet: propose", 1)
	}
	skipped := ""
	res, err := r.Writer.Write(ctx, gitsource.WriteRequest{
		URL: url, Auth: auth, Branch: branch, BaseBranch: base, ResetToBase: base != "", Scope: hydrate.Scope,
		Update: func(current map[string][]byte) (map[string][]byte, error) {
			if onlyAtHeldRevision {
				if meta, err := parseMetadata(current[hydrate.MetadataFile]); err == nil && meta.Source.Commit != f.SourceCommit {
					// The branch holds another revision than the pipeline's status says
					// (an approval or rollback pull request was just merged): leave it; the
					// pipeline sees the new head and hydration follows.
					skipped = meta.Source.Commit
					return current, nil
				}
			}
			return b.Desired(current, source, r.Versions), nil
		},
		Message:  msg,
		Trailers: gitsource.StageTrailers(f.SourceCommit, b.Stage),
		Author:   r.Committer,
	})
	if err != nil {
		return "", false, fmt.Errorf("writing %s: %w", branch, err)
	}
	if skipped != "" {
		ctrl.LoggerFrom(ctx).V(1).Info("left a stage branch at the revision it holds", "branch", branch, "holds", skipped, "status", f.SourceCommit)
	}
	r.Metrics.observeCommit(branch, r.Clock.Now().Sub(start), res.Committed, res.Attempts-1)
	if res.Committed {
		ctrl.LoggerFrom(ctx).Info("committed environment branch", "branch", branch, "commit", res.Commit, "source", f.SourceCommit, "attempts", res.Attempts)
		if r.Recorder != nil {
			r.Recorder.Eventf(src, nil, corev1.EventTypeNormal, "Committed", "Hydrate", "%s: %s (from %s)", branch, fleetv1alpha1.ShortSHA(res.Commit), fleetv1alpha1.ShortSHA(f.SourceCommit))
		}
	}
	return res.Commit, res.Committed, nil
}

// ensureBase creates a stage's branch, with its README only, when it does not exist yet:
// the first approval pull request into a stage needs a base.
func (r *HydrationReconciler) ensureBase(ctx context.Context, url string, auth *gitsource.Auth, b *hydrate.Branch) error {
	if _, err := gitsource.LsRemote(ctx, url, b.Name, auth); err == nil {
		return nil
	} else if !errors.Is(err, gitsource.ErrBranchNotFound) {
		return fmt.Errorf("checking branch %s: %w", b.Name, err)
	}
	_, err := r.Writer.Write(ctx, gitsource.WriteRequest{
		URL: url, Auth: auth, Branch: b.Name, Scope: []string{hydrate.ReadmeFile},
		Files:   map[string][]byte{hydrate.ReadmeFile: []byte(fmt.Sprintf("# %s\n\nThis branch is written by gitfleet: it receives stage `%s` through approval pull requests.\n", b.Name, b.Stage))},
		Message: fmt.Sprintf("gitfleet: create %s for stage %s\n\nThe stage is promoted by approval pull requests; this is their base.", b.Name, b.Stage),
		Author:  r.Committer,
	})
	if err != nil {
		return fmt.Errorf("creating %s: %w", b.Name, err)
	}
	return nil
}

// target is the repository the branch goes to: the first of its pipelines with a
// targetRef, or the source itself.
func (r *HydrationReconciler) target(ctx context.Context, src *fleetv1alpha1.GitSource, f *hydrate.Fleet, b *hydrate.Branch) (string, *gitsource.Auth, error) {
	t := src
	for _, name := range b.Pipelines {
		for i := range f.Pipelines {
			p := &f.Pipelines[i]
			if p.Name != name || p.Spec.TargetRef == nil || p.Spec.TargetRef.Name == src.Name {
				continue
			}
			t = &fleetv1alpha1.GitSource{}
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: p.Spec.TargetRef.Name}, t); err != nil {
				return "", nil, fmt.Errorf("pipeline %s: target GitSource %q: %w", p.Name, p.Spec.TargetRef.Name, err)
			}
		}
	}
	if t.Spec.SecretRef == nil {
		return t.Spec.URL, nil, nil
	}
	sec := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: t.Spec.SecretRef.Name}, sec); err != nil {
		return "", nil, fmt.Errorf("reading credentials Secret %q of GitSource %s: %w", t.Spec.SecretRef.Name, t.Name, err)
	}
	auth, err := gitsource.AuthFromSecret(sec)
	return t.Spec.URL, auth, err
}

func commitMessage(f *hydrate.Fleet, b *hydrate.Branch) string {
	clusters := map[string]bool{}
	placements := map[string]bool{}
	for _, p := range b.Pairs {
		clusters[p.Cluster] = true
		placements[p.Placement] = true
	}
	msg := fmt.Sprintf("gitfleet: render %s for stage %s\n\n%d clusters, %d placements, from %s@%s.",
		fleetv1alpha1.ShortSHA(f.SourceCommit), b.Stage, len(clusters), len(placements), f.SourceBranch, f.SourceCommit)
	if len(b.Failed) > 0 {
		msg += fmt.Sprintf("\n%d cluster/placement folders kept at their last good render (see gitfleet.json stale).", len(b.Failed))
	}
	return msg
}

// knownBranches are the branches this source may have written: every stage branch of
// every pipeline, and env/default.
func knownBranches(f *hydrate.Fleet) []string {
	set := map[string]bool{hydrate.DefaultBranch: true}
	for _, p := range f.Pipelines {
		for _, s := range p.Spec.Stages {
			set[s.StageBranch()] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func stageName(f *hydrate.Fleet, branch string) string {
	for _, p := range f.Pipelines {
		for _, s := range p.Spec.Stages {
			if s.StageBranch() == branch {
				return s.Name
			}
		}
	}
	return hydrate.DefaultStage
}

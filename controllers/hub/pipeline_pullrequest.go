package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// forgeFor returns the Forge of a GitSource, nil for forge type none. The token is read
// from the forge's Secret (key token) and never logged.
func (r *PipelineReconciler) forgeFor(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error) {
	if r.NewForge != nil && src.Spec.Forge != nil && src.Spec.Forge.Type != fleetv1alpha1.ForgeNone {
		return r.NewForge(ctx, src)
	}
	return ForgeForSource(ctx, r.Client, src)
}

// ForgeForSource returns the Forge of a GitSource (spec.forge, with the token of its
// Secret), nil for forge type none. The hub and the gitfleet CLI share it; opts configure
// the client (e.g. gitsource.WithRetryPolicy).
func ForgeForSource(ctx context.Context, c client.Reader, src *fleetv1alpha1.GitSource, opts ...gitsource.ForgeOption) (gitsource.Forge, error) {
	f := src.Spec.Forge
	if f == nil || f.Type == "" || f.Type == fleetv1alpha1.ForgeNone {
		return nil, nil
	}
	var token string
	if f.SecretRef != nil {
		sec := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: f.SecretRef.Name}, sec); err != nil {
			return nil, outcome.WithReason(fleetv1alpha1.AuthenticationFailedReason, fmt.Errorf("reading forge Secret %q of GitSource %s: %w", f.SecretRef.Name, src.Name, err))
		}
		token = string(sec.Data[gitsource.ForgeTokenKey])
	}
	forge, err := gitsource.ForgeForSource(src, token, opts...)
	if err != nil {
		return nil, outcome.Stalling(fleetv1alpha1.DependencyNotReadyReason, err)
	}
	return forge, nil
}

// forgeError marks a forge failure. A rate limit the forge client did not wait out
// (gitsource.ErrRateLimited) is a waiting error, Ready=False ForgeRateLimited, retried
// once the limit resets (see gitsource.RateLimitDelay); anything else is retried with
// backoff, Ready=False ForgeUnavailable.
func forgeError(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	delay, limited := gitsource.RateLimitDelay(err, time.Now())
	if !limited {
		return outcome.WithReason(fleetv1alpha1.ForgeUnavailableReason, err)
	}
	// The message says when the limit resets, also when the forge gave a duration.
	var apiErr *gitsource.APIError
	if errors.As(err, &apiErr) && !apiErr.ResetAt.IsZero() {
		if at := apiErr.ResetAt.UTC().Format("15:04:05Z"); apiErr.RetryAfter != at {
			err = fmt.Errorf("%w (resets at %s)", err, at)
		}
	}
	return outcome.Waiting(fleetv1alpha1.ForgeRateLimitedReason, delay, err)
}

// rehydrate asks hydration to run for the pipeline's source now.
func (r *PipelineReconciler) rehydrate(p *pipelinePass, why string) {
	if r.HydrationEvents == nil || p.source == nil {
		return
	}
	select {
	case r.HydrationEvents <- event.GenericEvent{Object: p.source}:
		ctrl.Log.WithName("pipeline").V(1).Info("rebuilding approval pull request branches", "pipeline", p.pipe.Name, "reason", why)
	default: // hydration is busy; it runs again soon anyway
	}
}

// pullRequestText is the title and body of a stage's approval pull request at head.
func (r *PipelineReconciler) pullRequestText(ctx context.Context, p *pipelinePass, i int, head string) (string, string, error) {
	st, prev := p.pipe.Status.Stages[i], p.pipe.Status.Stages[i-1]
	before, err := r.Writer.ReadTree(ctx, p.url, st.Branch, p.auth, hydrate.ClustersDir)
	if err != nil && !errors.Is(err, gitsource.ErrBranchNotFound) {
		return "", "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading %s: %w", st.Branch, err))
	}
	after, err := r.Writer.ReadTree(ctx, p.url, fleetv1alpha1.PromoteBranch(st.Name), p.auth, hydrate.ClustersDir)
	if err != nil {
		return "", "", outcome.WithReason(fleetv1alpha1.FetchFailedReason, fmt.Errorf("reading %s: %w", fleetv1alpha1.PromoteBranch(st.Name), err))
	}
	var gates []string
	if promo := p.promotion(st.Name, st.TargetRevision); promo != nil {
		for _, g := range promo.Status.Gates {
			gates = append(gates, fmt.Sprintf("%s: %s", g.Name, g.Message))
		}
	}
	sourceURL := ""
	if p.source != nil {
		sourceURL = gitsource.RedactURL(p.source.Spec.URL)
	}
	body := prBody(prContext{Stage: st.Name, FromStage: prev.Name, Revision: st.TargetRevision, SourceURL: sourceURL,
		PreviousStage: prev.Message, Gates: gates}, diffTrees(before, after))
	body += fmt.Sprintf("\n<sub>gitfleet: head %s of `%s`.</sub>\n", fleetv1alpha1.ShortSHA(head), fleetv1alpha1.PromoteBranch(st.Name))
	return prTitle(st.Name, st.TargetRevision), body, nil
}

// postStageStatuses posts gitfleet/stage/<stage> on the dry commits of the fleet config
// repo, so that the author of a change sees it travel: on the revision a stage holds, its
// health ("dev: 3/3 clusters healthy", "staging: 1 cluster failed: eu-2"), and on the
// revision moving in, where it stands ("prod: awaiting approval #12"). A status is posted
// only when it changed.
func (r *PipelineReconciler) postStageStatuses(ctx context.Context, p *pipelinePass) error {
	if p.dryForge == nil {
		return nil
	}
	for _, st := range p.pipe.Status.Stages {
		type post struct {
			sha   string
			state gitsource.CommitState
			desc  string
		}
		var posts []post
		if st.CurrentRevision != "" {
			state := gitsource.StatePending
			switch h := p.health[st.Name]; {
			case h.AllHealthy():
				state = gitsource.StateSuccess
			case len(h.Failed) > 0:
				state = gitsource.StateFailure
			}
			posts = append(posts, post{st.CurrentRevision, state, st.Name + ": " + p.health[st.Name].Message()})
		}
		if st.TargetRevision != "" && st.TargetRevision != st.CurrentRevision {
			posts = append(posts, post{st.TargetRevision, gitsource.StatePending, st.Name + ": " + st.Message})
		}
		for _, ps := range posts {
			key := p.pipe.Namespace + "/" + p.pipe.Name + "/" + st.Name + "/" + ps.sha
			val := string(ps.state) + "|" + ps.desc
			if old, ok := r.posted.Load(key); ok && old == val {
				continue
			}
			if err := p.dryForge.SetStatus(ctx, ps.sha, gitsource.CommitStatus{Context: fleetv1alpha1.StageStatusContextPrefix + st.Name, State: ps.state, Description: outcome.Truncate(ps.desc, 140)}); err != nil {
				return forgeError("posting "+fleetv1alpha1.StageStatusContextPrefix+st.Name, err)
			}
			r.posted.Store(key, val)
		}
	}
	return nil
}

func (r *PipelineReconciler) event(obj *fleetv1alpha1.Pipeline, typ, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Promote", format, args...)
	}
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
)

// Condition reasons of the agent besides those of api/v1alpha1.
const (
	// PathNotFoundReason: the commit has no folder at the ClusterSync's path.
	PathNotFoundReason = "PathNotFound"
	// InvalidManifestReason: a file of the folder could not be decoded.
	InvalidManifestReason = "InvalidManifest"
)

func (r *Reconciler) newPass(_ context.Context, cs *v1alpha1.ClusterSync) *pass {
	st := r.state(cs)
	end := outcome.Begin(r.Client, cs)
	return &pass{cs: cs, orig: end.Original().(*v1alpha1.ClusterSync), end: end, st: st, now: r.Clock.Now(), suspend: cs.Spec.Suspend}
}

func syncInterval(cs *v1alpha1.ClusterSync) time.Duration {
	if d := cs.Spec.Interval.Duration; d > 0 {
		return d
	}
	return DefaultInterval
}

func syncTimeout(cs *v1alpha1.ClusterSync) time.Duration {
	if cs.Spec.Timeout != nil && cs.Spec.Timeout.Duration > 0 {
		return cs.Spec.Timeout.Duration
	}
	return DefaultTimeout
}

// reconcileSource fetches the branch when a fetch is due (first pass, new generation,
// reconcile request, or interval elapsed) and reads the cluster's folder of the commit.
// A failure is recorded, not returned: the last applied state is kept and still
// watched for drift.
func (r *Reconciler) reconcileSource(ctx context.Context, p *pass) error {
	st, cs := p.st, p.cs
	if err := r.loadInventory(ctx, p); err != nil {
		return err
	}
	if p.suspend {
		return nil
	}
	interval := syncInterval(cs)
	requested := cs.Annotations[v1alpha1.ReconcileRequestAnnotation]
	elapsed := p.now.Sub(st.lastFetch)
	due := st.objects == nil || st.fetchedGen != cs.Generation || requested != st.requestedAt || elapsed >= interval
	if !due {
		p.after(interval - elapsed)
		return nil
	}
	p.after(interval)
	st.lastFetch, st.requestedAt = p.now, requested

	auth, err := r.gitAuth(ctx, cs)
	if err != nil {
		p.sourceFailed(err)
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, syncTimeout(cs))
	defer cancel()

	// A cheap look at the branch head first: nothing to fetch when it did not move.
	if st.objects != nil && st.commit != "" && st.fetchedGen == cs.Generation {
		if sha, err := gitsource.LsRemote(fctx, cs.Spec.URL, cs.Spec.Branch, auth); err == nil && sha == st.commit {
			p.fetched = true
			st.fetchErr = nil
			return nil
		}
	}
	co, err := gitsource.Fetch(fctx, gitsource.FetchOptions{URL: cs.Spec.URL, Branch: cs.Spec.Branch, Auth: auth, Dir: st.dir})
	if err != nil {
		reason := v1alpha1.FetchFailedReason
		if errors.Is(err, gitsource.ErrAuthentication) {
			reason = v1alpha1.AuthenticationFailedReason
		}
		p.sourceFailed(outcome.Waiting(reason, interval, fmt.Errorf("fetching branch %s of %s: %w", cs.Spec.Branch, gitsource.RedactURL(cs.Spec.URL), err)))
		return nil
	}
	set, err := manifest.Load(co.Dir, cs.SyncPath())
	if errors.Is(err, manifest.ErrPathNotFound) && cs.Spec.Path == "" && manifest.ReadInfo(co.Dir).Left(cs.Spec.ClusterName) {
		// The hub's gitfleet.json no longer lists this cluster: it left the stage or the
		// fleet. Git now holds nothing for it, so what gitfleet applied is pruned under the
		// usual rules. (A folder missing without that statement stays an error: a mistake
		// must never empty a cluster.)
		ctrl.LoggerFrom(ctx).Info("the branch no longer holds this cluster (not listed in gitfleet.json): pruning what gitfleet applied", "commit", v1alpha1.ShortSHA(co.Commit))
		set, err = &manifest.Set{Files: map[manifest.Key]string{}}, nil
	}
	if err != nil {
		reason := v1alpha1.FetchFailedReason
		if errors.Is(err, manifest.ErrPathNotFound) {
			reason = PathNotFoundReason
		}
		p.sourceFailed(outcome.Waiting(reason, interval, fmt.Errorf("commit %s: %w", v1alpha1.ShortSHA(co.Commit), err)))
		st.commit = co.Commit
		return nil
	}
	info := manifest.ReadInfo(co.Dir)
	st.commit, st.revision, st.sourceRevision = co.Commit, co.Revision, info.Source.Commit
	st.objects, st.fetchedGen, st.fetchErr = set, cs.Generation, nil
	p.fetched = true
	ctrl.LoggerFrom(ctx).V(1).Info("fetched", "revision", co.Revision, "objects", len(set.Objects), "invalid", len(set.Errors))
	return nil
}

// sourceFailed records a fetch or load failure, an error of one of outcome's kinds.
func (p *pass) sourceFailed(err error) {
	p.sourceErr = err
	p.st.fetchErr = err
}

// after asks for the next pass within d.
func (p *pass) after(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if p.requeue == 0 || d < p.requeue {
		p.requeue = d
	}
}

// gitAuth reads the Git credentials Secret, if any. A Secret that is missing is waited
// for (DependencyNotReady, retried at the interval); one that exists but is unusable
// stalls the source (AuthenticationFailed, Stalled=True; still retried at the interval,
// as the agent does not watch Secrets).
func (r *Reconciler) gitAuth(ctx context.Context, cs *v1alpha1.ClusterSync) (*gitsource.Auth, error) {
	if cs.Spec.SecretRef == nil {
		return nil, nil
	}
	secret, err := r.secret(ctx, cs.Namespace, cs.Spec.SecretRef.Name)
	if err != nil {
		return nil, outcome.Waiting(v1alpha1.DependencyNotReadyReason, syncInterval(cs), err)
	}
	auth, err := gitsource.AuthFromSecret(secret)
	if err != nil {
		return nil, outcome.Stalling(v1alpha1.AuthenticationFailedReason, fmt.Errorf("credentials in Secret %s: %w", cs.Spec.SecretRef.Name, err))
	}
	return auth, nil
}

// secret reads a Secret without caching Secrets in the agent.
func (r *Reconciler) secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("no Secret %s/%s", namespace, name)
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	return s, nil
}

// oneLine flattens a message for conditions and commit statuses.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package hub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// GitSourceReconciler fetches a GitSource's branch, stores the revision as a snapshot for
// the renderers, and applies the gitfleet objects of its fleetPath to the hub.
type GitSourceReconciler struct {
	Client    client.Client
	Snapshots *Snapshots
	// CacheDir holds one clone per source, reused across fetches.
	CacheDir string
	Clock    clock.PassiveClock
	Recorder events.EventRecorder
	Metrics  *Metrics
}

var _ reconcile.Reconciler = (*GitSourceReconciler)(nil)

// SetupWithManager registers the reconciler: it runs on spec changes, on the
// reconcile.fluxcd.io/requestedAt annotation (webhooks set it) and every spec.interval.
func (r *GitSourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&fleetv1alpha1.GitSource{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("gitsource").
		Complete(r)
}

// gitSourcePass is what one reconcile of a GitSource learns, step by step.
type gitSourcePass struct {
	src *fleetv1alpha1.GitSource
	// checkout is the fetched branch; dir the snapshot of its revision.
	checkout *gitsource.Checkout
	dir      string
}

// Reconcile reads as the steps of a pass; the deferred end summarises the conditions
// and patches the status once.
func (r *GitSourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	src := &fleetv1alpha1.GitSource{}
	if err := r.Client.Get(ctx, req.NamespacedName, src); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !src.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, src)
	}
	if err := finalizer.Ensure(ctx, r.Client, src); err != nil {
		return ctrl.Result{}, err
	}
	if src.Spec.Suspend {
		ctrl.LoggerFrom(ctx).V(1).Info("suspended")
		return ctrl.Result{}, nil
	}
	start := r.Clock.Now()
	end := outcome.Begin(r.Client, src)
	var err error
	defer func() {
		if v, ok := src.GetAnnotations()[fleetv1alpha1.ReconcileRequestAnnotation]; ok {
			src.Status.LastHandledReconcileAt = v
		}
		res, retErr = end.Finish(ctx, err, outcome.Summary{
			ReadyMessage:       "stored revision " + src.Status.Revision,
			ObservedGeneration: &src.Status.ObservedGeneration,
			RequeueAfter:       jitter(src.FetchInterval()),
			Observe:            func(err error) { r.Metrics.observeReconcile("gitsource", start, err) },
		})
	}()

	outcome.MarkReconciling(src, "fetching "+src.Spec.Branch)
	p := &gitSourcePass{src: src}
	for _, step := range []func(context.Context, *gitSourcePass) error{
		r.fetch,          // the branch into the source's clone folder
		r.storeSnapshot,  // the revision's files for the renderers; status.revision
		r.reconcileFleet, // spec.fleetPath's objects applied to the hub, removed ones pruned
	} {
		if err = step(ctx, p); err != nil {
			return
		}
	}
	return
}

// fetch gets the branch into the source's clone folder.
func (r *GitSourceReconciler) fetch(ctx context.Context, p *gitSourcePass) error {
	src := p.src
	auth, err := r.auth(ctx, src)
	if err != nil {
		outcome.SetCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionFalse, fleetv1alpha1.AuthenticationFailedReason, err.Error())
		return outcome.Waiting(fleetv1alpha1.AuthenticationFailedReason, src.FetchInterval(), err)
	}
	timeout := time.Minute
	if src.Spec.Timeout != nil {
		timeout = src.Spec.Timeout.Duration
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := r.Clock.Now()
	co, err := gitsource.Fetch(fctx, gitsource.FetchOptions{
		URL: src.Spec.URL, Branch: src.Spec.Branch, Auth: auth,
		Dir: filepath.Join(r.CacheDir, src.Namespace, src.Name),
	})
	r.Metrics.observeFetch(start, err)
	if err != nil {
		reason := fleetv1alpha1.FetchFailedReason
		if errors.Is(err, gitsource.ErrAuthentication) {
			reason = fleetv1alpha1.AuthenticationFailedReason
		}
		outcome.SetCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionFalse, reason, err.Error())
		r.event(src, corev1.EventTypeWarning, reason, err.Error())
		// Retried at the interval: a flaky network or fixed credentials recover by themselves.
		return outcome.Waiting(reason, src.FetchInterval(), err)
	}
	outcome.SetCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "fetched "+co.Revision)
	p.checkout = co
	return nil
}

// storeSnapshot stores the fetched revision's files for the renderers and records the
// revision in the status.
func (r *GitSourceReconciler) storeSnapshot(ctx context.Context, p *gitSourcePass) error {
	src, co := p.src, p.checkout
	dir, err := r.Snapshots.Store(src.Namespace, src.Name, co.Commit, co.Dir)
	if err != nil {
		return err
	}
	p.dir = dir
	if src.Status.Revision != co.Revision {
		ctrl.LoggerFrom(ctx).Info("fetched new revision", "revision", co.Revision)
		r.event(src, corev1.EventTypeNormal, "NewRevision", "fetched "+co.Revision)
	}
	src.Status.Revision = co.Revision
	now := metav1.NewTime(r.Clock.Now())
	src.Status.LastFetchTime = &now
	return nil
}

// auth reads the credentials Secret, if any. Its values never reach a log or condition.
func (r *GitSourceReconciler) auth(ctx context.Context, src *fleetv1alpha1.GitSource) (*gitsource.Auth, error) {
	if src.Spec.SecretRef == nil {
		return nil, nil
	}
	sec := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: src.Spec.SecretRef.Name}, sec); err != nil {
		return nil, fmt.Errorf("reading credentials Secret %q: %w", src.Spec.SecretRef.Name, err)
	}
	return gitsource.AuthFromSecret(sec)
}

// reconcileFleet applies spec.fleetPath's objects and prunes the ones removed from Git.
func (r *GitSourceReconciler) reconcileFleet(ctx context.Context, p *gitSourcePass) error {
	src, dir := p.src, p.dir
	if src.Spec.FleetPath == "" && len(src.Status.FleetInventory) == 0 {
		return nil
	}
	var objs []hydrate.FleetObject
	var readErr error
	if src.Spec.FleetPath != "" {
		objs, readErr = hydrate.ReadFleetObjects(dir, src.Spec.FleetPath, src.Namespace)
		if readErr != nil && objs == nil {
			outcome.SetCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionFalse, fleetv1alpha1.InvalidFleetObjectReason, readErr.Error())
			// Git content errors are fixed by a new commit: keep polling at the interval.
			return outcome.Waiting(fleetv1alpha1.InvalidFleetObjectReason, src.FetchInterval(), readErr)
		}
	}
	inv, err := applyFleet(ctx, r.Client, src, objs, readErr)
	src.Status.FleetInventory = inv
	if err != nil {
		outcome.SetCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionFalse, fleetv1alpha1.InvalidFleetObjectReason, err.Error())
		r.event(src, corev1.EventTypeWarning, fleetv1alpha1.InvalidFleetObjectReason, err.Error())
		return outcome.Waiting(fleetv1alpha1.InvalidFleetObjectReason, src.FetchInterval(), err)
	}
	outcome.SetCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason,
		fmt.Sprintf("applied %d objects from %s", len(inv), src.Spec.FleetPath))
	return nil
}

func (r *GitSourceReconciler) event(obj *fleetv1alpha1.GitSource, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Reconcile", "%s", outcome.Truncate(msg, outcome.MaxMessage))
	}
}

// jitter spreads periodic requeues by up to 10% so sources do not fetch in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(time.Now().UnixNano()%int64(d/10+1))
}

package hub

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"github.com/gitfleet/gitfleet/controllers/hub/hydrate"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
	"github.com/gitfleet/gitfleet/gitsource"
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

// Reconcile reads as the steps of a pass; the deferred function summarises the
// conditions and patches the status once.
func (r *GitSourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
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
		log.V(1).Info("suspended")
		return ctrl.Result{}, nil
	}
	base := src.DeepCopy()
	start := r.Clock.Now()
	var checkout *gitsource.Checkout
	var err error
	defer func() {
		readyMsg := "stored revision " + src.Status.Revision
		finishConditions(src, err, readyMsg)
		if err == nil {
			src.Status.ObservedGeneration = src.Generation
		}
		if v, ok := src.GetAnnotations()[fleetv1alpha1.ReconcileRequestAnnotation]; ok {
			src.Status.LastHandledReconcileAt = v
		}
		if perr := r.Client.Status().Patch(ctx, src, client.MergeFrom(base)); perr != nil && !apierrors.IsNotFound(perr) {
			retErr = errors.Join(retErr, fmt.Errorf("patching status: %w", perr))
		}
		r.Metrics.observeReconcile("gitsource", start, err)
		res, retErr = result(errors.Join(err, retErr), jitter(src.FetchInterval()))
	}()

	markReconciling(src, "fetching "+src.Spec.Branch)
	if checkout, err = r.fetch(ctx, src); err != nil {
		return
	}
	dir, serr := r.Snapshots.Store(src.Namespace, src.Name, checkout.Commit, checkout.Dir)
	if serr != nil {
		err = serr
		return
	}
	if src.Status.Revision != checkout.Revision {
		log.Info("fetched new revision", "revision", checkout.Revision)
		r.event(src, corev1.EventTypeNormal, "NewRevision", "fetched "+checkout.Revision)
	}
	src.Status.Revision = checkout.Revision
	now := metav1.NewTime(r.Clock.Now())
	src.Status.LastFetchTime = &now
	err = r.reconcileFleet(ctx, src, dir)
	return
}

// fetch gets the branch into the source's clone folder.
func (r *GitSourceReconciler) fetch(ctx context.Context, src *fleetv1alpha1.GitSource) (*gitsource.Checkout, error) {
	auth, err := r.auth(ctx, src)
	if err != nil {
		setCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionFalse, fleetv1alpha1.AuthenticationFailedReason, err.Error())
		return nil, waiting(fleetv1alpha1.AuthenticationFailedReason, src.FetchInterval(), err)
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
		setCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionFalse, reason, err.Error())
		r.event(src, corev1.EventTypeWarning, reason, err.Error())
		// Retried at the interval: a flaky network or fixed credentials recover by themselves.
		return nil, waiting(reason, src.FetchInterval(), err)
	}
	setCondition(src, fleetv1alpha1.FetchedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, "fetched "+co.Revision)
	return co, nil
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
func (r *GitSourceReconciler) reconcileFleet(ctx context.Context, src *fleetv1alpha1.GitSource, dir string) error {
	if src.Spec.FleetPath == "" && len(src.Status.FleetInventory) == 0 {
		return nil
	}
	var objs []hydrate.FleetObject
	var readErr error
	if src.Spec.FleetPath != "" {
		objs, readErr = hydrate.ReadFleetObjects(dir, src.Spec.FleetPath, src.Namespace)
		if readErr != nil && objs == nil {
			setCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionFalse, fleetv1alpha1.InvalidFleetObjectReason, readErr.Error())
			// Git content errors are fixed by a new commit: keep polling at the interval.
			return waiting(fleetv1alpha1.InvalidFleetObjectReason, src.FetchInterval(), readErr)
		}
	}
	inv, err := applyFleet(ctx, r.Client, src, objs, readErr)
	src.Status.FleetInventory = inv
	if err != nil {
		setCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionFalse, fleetv1alpha1.InvalidFleetObjectReason, err.Error())
		r.event(src, corev1.EventTypeWarning, fleetv1alpha1.InvalidFleetObjectReason, err.Error())
		return waiting(fleetv1alpha1.InvalidFleetObjectReason, src.FetchInterval(), err)
	}
	setCondition(src, fleetv1alpha1.FleetAppliedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason,
		fmt.Sprintf("applied %d objects from %s", len(inv), src.Spec.FleetPath))
	return nil
}

func (r *GitSourceReconciler) event(obj *fleetv1alpha1.GitSource, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Reconcile", "%s", truncate(msg, 1024))
	}
}

// jitter spreads periodic requeues by up to 10% so sources do not fetch in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(time.Now().UnixNano()%int64(d/10+1))
}

// Package finalizer is the deletion path shared by the hub's and the agent's reconcilers:
// the objects whose deletion must clean up (GitSource, Pipeline, ClusterSync) carry
// v1alpha1.Finalizer from their first reconcile (Ensure); once deleted, their reconciler
// cleans up and removes the finalizer only when that succeeded (Remove). A clean-up that
// fails says so on the object (ReportFailed: Ready=False CleanupFailed, with how to force
// the deletion) and is retried.
package finalizer

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Ensure adds v1alpha1.Finalizer to obj unless it is there: a patch of its metadata, with
// optimistic locking so that other finalizers added meanwhile are kept.
func Ensure(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, v1alpha1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding finalizer %s: %w", v1alpha1.Finalizer, err)
	}
	return nil
}

// Remove removes v1alpha1.Finalizer from obj once its clean-up is done; the API server
// then deletes it. An object already gone is not an error.
func Remove(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, v1alpha1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing finalizer %s: %w", v1alpha1.Finalizer, err)
	}
	return nil
}

// ForceDeleteHint tells people how to delete an object whose clean-up cannot succeed:
// remove the finalizer by hand, which skips the clean-up.
func ForceDeleteHint(kind string, obj client.Object) string {
	return fmt.Sprintf("to delete it without this clean-up, remove the finalizer: kubectl -n %s patch %s %s --type=json -p '[{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}]'",
		obj.GetNamespace(), kind, obj.GetName())
}

// Object is an API object with status conditions.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// ReportFailed records on an object being deleted that its clean-up failed: Ready=False
// CleanupFailed with the error (which must hold no secret) and how to force the deletion.
// The object may be gone already.
func ReportFailed(ctx context.Context, c client.Client, obj Object, kind string, cleanupErr error) error {
	base := obj.DeepCopyObject().(client.Object)
	why := cleanupErr.Error()
	if len(why) > 2048 {
		why = why[:2045] + "..."
	}
	msg := fmt.Sprintf("deleting: %s (retried); %s", why, ForceDeleteHint(kind, obj))
	conds := obj.GetConditions()
	apimeta.SetStatusCondition(&conds, metav1.Condition{Type: v1alpha1.ReadyCondition, Status: metav1.ConditionFalse,
		Reason: v1alpha1.CleanupFailedReason, Message: msg, ObservedGeneration: obj.GetGeneration()})
	obj.SetConditions(conds)
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching status of %s %s: %w", kind, obj.GetName(), err)
	}
	return nil
}

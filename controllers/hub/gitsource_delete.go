package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
)

// finalize runs while a GitSource is being deleted: it releases the source's revision
// snapshots and its clone, then removes the finalizer. Hydration and previews stop for a
// source being deleted, and the Pipelines rendering it stop promoting (SourceDeleting);
// the env branches it wrote stay in Git, and so do the objects applied from its
// fleetPath (labelled fleetv1alpha1.FleetSourceLabel=<name>).
func (r *GitSourceReconciler) finalize(ctx context.Context, src *fleetv1alpha1.GitSource) (ctrl.Result, error) {
	if err := r.releaseStorage(src); err != nil {
		r.event(src, corev1.EventTypeWarning, fleetv1alpha1.CleanupFailedReason, err.Error())
		return ctrl.Result{}, errors.Join(err, finalizer.ReportFailed(ctx, r.Client, src, "gitsource", err))
	}
	ctrl.LoggerFrom(ctx).Info("released the revision snapshots and the clone of a deleted GitSource")
	return ctrl.Result{}, finalizer.Remove(ctx, r.Client, src)
}

// releaseStorage deletes the source's snapshot folders (every revision, pinned or not)
// and its clone.
func (r *GitSourceReconciler) releaseStorage(src *fleetv1alpha1.GitSource) error {
	var errs []error
	if r.Snapshots != nil {
		errs = append(errs, r.Snapshots.Release(src.Namespace, src.Name))
	}
	if r.CacheDir != "" {
		if err := os.RemoveAll(filepath.Join(r.CacheDir, src.Namespace, src.Name)); err != nil {
			errs = append(errs, fmt.Errorf("deleting the clone of GitSource %s/%s: %w", src.Namespace, src.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Release deletes every stored revision of a source (a deleted GitSource): its folder
// <root>/<namespace>/<name>.
func (s *Snapshots) Release(namespace, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(s.Root, namespace, name)); err != nil {
		return fmt.Errorf("deleting the revision snapshots of GitSource %s/%s: %w", namespace, name, err)
	}
	return nil
}

// forget drops the render memo of a source that is gone or being deleted.
func (r *HydrationReconciler) forget(src types.NamespacedName) {
	r.memosMu.Lock()
	defer r.memosMu.Unlock()
	delete(r.memos, src)
}

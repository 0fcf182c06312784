package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
)

// finalize runs while a ClusterSync is being deleted. It stops the sync's watches and
// reports, then, when the ClusterSync prunes on deletion (spec.deletionPolicy, see
// v1alpha1.ClusterSync.PrunesOnDeletion), deletes the objects of its inventory with the
// prune rules (fleet.gitfleet.dev/prune=disabled, applyPolicy.pruneNamespaces and
// pruneCRDs are honoured; adopted objects are released, not deleted); otherwise the
// objects stay, labelled as they are. It removes the sync's checkout and the finalizer
// last. An object that cannot be deleted is reported (Ready=False CleanupFailed) and the
// deletion retried.
func (r *Reconciler) finalize(ctx context.Context, cs *v1alpha1.ClusterSync) (ctrl.Result, error) {
	nn := types.NamespacedName{Namespace: cs.Namespace, Name: cs.Name}
	r.forget(nn)
	if err := r.deleteInventory(ctx, cs); err != nil {
		r.event(cs, "Warning", v1alpha1.CleanupFailedReason, "Delete", "%s", err.Error())
		return ctrl.Result{}, errors.Join(err, finalizer.ReportFailed(ctx, r.Client, cs, "clustersync", err))
	}
	if err := os.RemoveAll(filepath.Join(r.Options.WorkDir, nn.Namespace, nn.Name)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "removing the checkout of a deleted ClusterSync")
	}
	return ctrl.Result{}, finalizer.Remove(ctx, r.Client, cs)
}

// deleteInventory deletes the inventory's objects when the ClusterSync prunes on
// deletion.
func (r *Reconciler) deleteInventory(ctx context.Context, cs *v1alpha1.ClusterSync) error {
	if !cs.PrunesOnDeletion() {
		ctrl.LoggerFrom(ctx).Info("deleted; the applied objects stay", "deletionPolicy", cs.Spec.DeletionPolicy, "suspended", cs.Spec.Suspend)
		return nil
	}
	refs, err := r.readInventory(ctx, cs)
	if err != nil || len(refs) == 0 {
		return err
	}
	pol := cs.Spec.ApplyPolicy
	results := r.applier.Prune(ctx, refs, apply.PruneOptions{
		Owner: ownerOf(OwnerLabelValue(types.NamespacedName{Namespace: cs.Namespace, Name: cs.Name})), Namespaces: pol.PruneNamespaces, CRDs: pol.PruneCRDs,
	})
	var pruned, failed []string
	for _, res := range results {
		switch res.Action {
		case v1alpha1.ActionPruned:
			pruned = append(pruned, res.Key.String())
		case v1alpha1.ActionFailed:
			failed = append(failed, res.Key.String()+": "+res.Message)
		}
	}
	if len(pruned) > 0 {
		r.event(cs, "Normal", "Pruned", "Delete", "deleted %d applied objects with the ClusterSync: %s", len(pruned), firstN(pruned, 5))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of the applied objects could not be deleted: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

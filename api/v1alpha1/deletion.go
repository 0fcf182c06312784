package v1alpha1

// Finalizer is the finalizer gitfleet puts on the objects whose deletion must clean up
// first: GitSource (the hub releases its revision snapshots and its clone), Pipeline (the
// hub closes its open approval and rollback pull requests, with a comment saying why) and
// ClusterSync (the agent prunes or orphans what it applied, per spec.deletionPolicy). It is
// added on the object's first reconcile and removed only once the clean-up succeeded; a
// clean-up that fails is retried and reported as Ready=False with reason
// CleanupFailedReason. To delete an object whose clean-up cannot succeed (e.g. its
// controller is gone for good), remove the finalizer by hand:
//
//	kubectl patch KIND NAME --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
//
// which skips the clean-up (docs/operations.md, "Deleting objects").
const Finalizer = "fleet.gitfleet.dev/finalizer"

// Condition reasons of an object being deleted.
const (
	// SourceDeletingReason (Pipeline, Ready=False): the GitSource of the pipeline is being
	// deleted; the pipeline is stopped (nothing is promoted) until the GitSource is back.
	SourceDeletingReason = "SourceDeleting"
	// CleanupFailedReason (Ready=False): the clean-up of an object being deleted failed;
	// the message says what failed and how to proceed. It is retried with backoff; the
	// finalizer stays until it succeeds.
	CleanupFailedReason = "CleanupFailed"
)

// DeletionPolicy says what the agent does with the objects a ClusterSync applied when
// the ClusterSync is deleted (as Flux's Kustomization spec.deletionPolicy).
// +kubebuilder:validation:Enum=MirrorPrune;Delete;Orphan
type DeletionPolicy string

// The deletion policies.
const (
	// DeletionMirrorPrune deletes the inventory's objects when applyPolicy.prune is true
	// (its default) and leaves them when it is false.
	DeletionMirrorPrune DeletionPolicy = "MirrorPrune"
	// DeletionDelete deletes the inventory's objects whatever applyPolicy.prune says.
	DeletionDelete DeletionPolicy = "Delete"
	// DeletionOrphan leaves the inventory's objects in the cluster, with their labels.
	DeletionOrphan DeletionPolicy = "Orphan"
)

// PrunesOnDeletion reports whether deleting the ClusterSync deletes the objects it
// applied: deletionPolicy Delete, or MirrorPrune (the default) with applyPolicy.prune
// true (its default). A suspended ClusterSync never does (its objects are left alone, as
// while it is suspended).
func (in *ClusterSync) PrunesOnDeletion() bool {
	if in.Spec.Suspend {
		return false
	}
	switch in.Spec.DeletionPolicy {
	case DeletionDelete:
		return true
	case DeletionOrphan:
		return false
	default:
		return in.Spec.ApplyPolicy.Prune == nil || *in.Spec.ApplyPolicy.Prune
	}
}

package apply

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// PruneOptions tunes Prune.
type PruneOptions struct {
	// Owner says which live objects are gitfleet's: only those are deleted.
	Owner Owner
	// Namespaces allows deleting Namespaces.
	Namespaces bool
	// CRDs allows deleting CustomResourceDefinitions.
	CRDs bool
}

// Prune deletes the objects of refs (which left Git) that are still the owner's, in the
// reverse of the apply order. It never deletes an object that lacks the owner's label,
// that gitfleet adopted (those are released: gitfleet's labels are removed), that is
// annotated fleet.gitfleet.dev/prune=disabled, or a Namespace or CRD unless opts allows
// it. It returns one Result per object it acted on or refused to delete: Pruned, or
// Skipped with the reason, or Failed. Objects already gone are left out.
func (a *Applier) Prune(ctx context.Context, refs []v1alpha1.ObjectReference, opts PruneOptions) []Result {
	byPhase := map[manifest.Phase][]v1alpha1.ObjectReference{}
	for _, ref := range refs {
		gk := manifest.KeyOfRef(ref).GroupKind()
		byPhase[manifest.PhaseOf(gk, ref.Namespace != "")] = append(byPhase[manifest.PhaseOf(gk, ref.Namespace != "")], ref)
	}
	var out []Result
	for _, phase := range manifest.PruneOrder() {
		list := byPhase[phase]
		results := make([]*Result, len(list))
		a.forEach(len(list), func(i int) { results[i] = a.pruneOne(ctx, list[i], opts) })
		for _, r := range results {
			if r != nil {
				r.Phase = phase
				out = append(out, *r)
			}
		}
	}
	return out
}

func (a *Applier) pruneOne(ctx context.Context, ref v1alpha1.ObjectReference, opts PruneOptions) *Result {
	key := manifest.KeyOfRef(ref)
	res := &Result{Key: key, Ref: ref, Prune: true}
	m, err := a.Mapper.RESTMapping(key.GroupKind(), ref.Version)
	if err != nil {
		m, err = a.Mapper.RESTMapping(key.GroupKind())
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil // the kind is no longer served, so the object is gone
		}
		res.fail(fmt.Errorf("mapping %s for pruning: %w", key, err))
		return res
	}
	res.GVR = m.Resource
	ri := a.Metadata.Resource(m.Resource).Namespace(ref.Namespace)
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		res.fail(fmt.Errorf("reading %s for pruning: %w", key, describeError(err)))
		return res
	}
	if live.DeletionTimestamp != nil {
		return nil
	}
	switch {
	case !opts.Owner.Owns(live.Labels):
		return nil // no longer gitfleet's: someone else took it
	case live.Annotations[v1alpha1.PruneAnnotation] == "disabled":
		res.Action, res.Message = v1alpha1.ActionSkipped, "left Git; kept ("+v1alpha1.PruneAnnotation+"=disabled)"
		return res
	case manifest.IsNamespace(key.GroupKind()) && !opts.Namespaces:
		res.Action, res.Message = v1alpha1.ActionSkipped, "left Git; Namespaces are not pruned (applyPolicy.pruneNamespaces is false)"
		return res
	case manifest.IsCRD(key.GroupKind()) && !opts.CRDs:
		res.Action, res.Message = v1alpha1.ActionSkipped, "left Git; CustomResourceDefinitions are not pruned (applyPolicy.pruneCRDs is false)"
		return res
	case live.Annotations[AdoptedAnnotation] == "true":
		if err := a.release(ctx, ri, live, opts.Owner); err != nil {
			res.fail(err)
			return res
		}
		res.Action, res.Message = v1alpha1.ActionSkipped, "left Git; released, not deleted (gitfleet did not create it)"
		return res
	}
	uid := live.UID
	err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: ptrTo(metav1.DeletePropagationBackground),
	})
	if err != nil && !apierrors.IsNotFound(err) {
		res.fail(fmt.Errorf("deleting: %w", describeError(err)))
		return res
	}
	res.Action, res.Message = v1alpha1.ActionPruned, "left Git; deleted"
	return res
}

type metadataResource interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*metav1.PartialObjectMetadata, error)
}

// release removes gitfleet's labels and AdoptedAnnotation from an adopted object.
func (a *Applier) release(ctx context.Context, ri metadataResource, live *metav1.PartialObjectMetadata, owner Owner) error {
	labels := map[string]any{}
	for k := range owner.Labels {
		labels[k] = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      labels,
		"annotations": map[string]any{AdoptedAnnotation: nil},
	}})
	if _, err := ri.Patch(ctx, live.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("releasing: %w", describeError(err))
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

package agent

import (
	"context"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// reconcilePrune deletes, after a full apply, the objects that left Git: those of the
// inventory and those carrying the ClusterSync's label in the watched kinds (objects
// applied by an interrupted pass that never reached the inventory). Nothing is pruned
// when a file of the commit could not be read, since its objects cannot be told apart
// from removed ones.
func (r *Reconciler) reconcilePrune(ctx context.Context, p *pass) error {
	if !p.applied {
		return nil
	}
	st, pol := p.st, p.cs.Spec.ApplyPolicy
	st.pruneComplete = true
	if len(st.objects.Errors) > 0 {
		p.pruneSkipped = "not pruning: some files of the commit could not be read"
		return nil
	}
	desired := map[manifest.Key]bool{}
	for _, res := range p.applyResults {
		desired[res.Key] = true
	}
	for k := range desiredByKey(st.objects) {
		desired[k] = true
	}
	candidates := map[manifest.Key]v1alpha1.ObjectReference{}
	for k, ref := range st.inventory {
		if !desired[k] {
			candidates[k] = ref
		}
	}
	for k, gvr := range st.watches.keys() {
		if _, ok := candidates[k]; !ok && !desired[k] {
			candidates[k] = v1alpha1.ObjectReference{Group: k.Group, Version: gvr.Version, Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	if pol.Prune != nil && !*pol.Prune {
		p.pruneSkipped = "pruning is disabled (applyPolicy.prune is false)"
		return nil
	}
	refs := make([]v1alpha1.ObjectReference, 0, len(candidates))
	for _, ref := range candidates {
		refs = append(refs, ref)
	}
	manifest.SortRefs(refs)
	p.pruneResults = r.applier.Prune(ctx, refs, apply.PruneOptions{
		Owner: st.owner(), Namespaces: pol.PruneNamespaces, CRDs: pol.PruneCRDs,
	})
	var pruned, failed []string
	for _, res := range p.pruneResults {
		st.results[res.Key] = res
		switch res.Action {
		case v1alpha1.ActionPruned:
			pruned = append(pruned, res.Key.String())
		case v1alpha1.ActionFailed:
			st.pruneComplete = false
			failed = append(failed, res.Key.String()+": "+res.Message)
			if isTransient(res.Err) && p.transient == nil {
				p.transient = res.Err
			}
		}
	}
	observePrune(st.nn, len(pruned))
	if len(pruned) > 0 {
		r.event(p.cs, "Normal", "Pruned", "Prune", "deleted %d objects that left Git: %s", len(pruned), firstN(pruned, 5))
	}
	if len(failed) > 0 {
		r.event(p.cs, "Warning", v1alpha1.PruneFailedReason, "Prune", "%d objects could not be deleted: %s", len(failed), firstN(failed, 5))
	}
	return nil
}

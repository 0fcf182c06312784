package hub

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/hydrate"
)

// HubFieldManager is the server-side apply field manager of everything the hub writes.
const HubFieldManager = "gitfleet-hub"

// applyFleet server-side applies the fleet objects and prunes those of the previous
// inventory that left Git. It returns the new inventory. When any object fails, nothing
// is pruned (the last good state is kept) and the error names each failure.
func applyFleet(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource, objs []hydrate.FleetObject, readErr error) ([]fleetv1alpha1.ObjectReference, error) {
	var errs []error
	if readErr != nil {
		errs = append(errs, readErr)
	}
	inventory := make([]fleetv1alpha1.ObjectReference, 0, len(objs))
	for _, fo := range objs {
		o := fo.Object
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[fleetv1alpha1.FleetSourceLabel] = src.Name
		o.SetLabels(labels)
		// Status is the hub's and the agents' to write, never Git's.
		unstructured.RemoveNestedField(o.Object, "status")
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), &client.ApplyOptions{FieldManager: HubFieldManager, Force: ptr.To(true)})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %q: %w", fo.File, o.GetKind(), o.GetName(), err))
			continue
		}
		inventory = append(inventory, refOf(o))
	}
	if len(errs) > 0 {
		// Keep what was applied before as well, so that a later good pass prunes it.
		return mergeInventory(src.Status.FleetInventory, inventory), errors.Join(errs...)
	}
	keep := map[fleetv1alpha1.ObjectReference]bool{}
	for _, r := range inventory {
		keep[r] = true
	}
	for _, old := range src.Status.FleetInventory {
		if keep[old] {
			continue
		}
		if err := deleteFleetObject(ctx, c, src, old); err != nil {
			errs = append(errs, err)
			inventory = append(inventory, old)
		}
	}
	return inventory, errors.Join(errs...)
}

// deleteFleetObject deletes an object that left Git, if it still carries this source's
// label (someone may have taken it over by hand).
func deleteFleetObject(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource, ref fleetv1alpha1.ObjectReference) error {
	o := &unstructured.Unstructured{}
	o.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
	err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, o)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pruning %s %q: %w", ref.Kind, ref.Name, err)
	}
	if o.GetLabels()[fleetv1alpha1.FleetSourceLabel] != src.Name {
		return nil
	}
	if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("pruning %s %q: %w", ref.Kind, ref.Name, err)
	}
	return nil
}

func refOf(o *unstructured.Unstructured) fleetv1alpha1.ObjectReference {
	gvk := o.GroupVersionKind()
	return fleetv1alpha1.ObjectReference{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

func mergeInventory(a, b []fleetv1alpha1.ObjectReference) []fleetv1alpha1.ObjectReference {
	seen := map[fleetv1alpha1.ObjectReference]bool{}
	var out []fleetv1alpha1.ObjectReference
	for _, list := range [][]fleetv1alpha1.ObjectReference{a, b} {
		for _, r := range list {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+"/"+out[i].Name < out[j].Kind+"/"+out[j].Name })
	return out
}

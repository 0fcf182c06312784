package agent

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// MaxInlineInventory is the largest inventory kept in the ClusterSync status; a larger
// one goes to a ConfigMap.
const MaxInlineInventory = 1000

// InventoryConfigMapKey is the ConfigMap key holding a large inventory, one entry a line:
// group/version/kind/namespace/name (empty group and namespace stay empty).
const InventoryConfigMapKey = "inventory"

// InventoryConfigMapName names the ConfigMap of a ClusterSync's large inventory.
func InventoryConfigMapName(cs *v1alpha1.ClusterSync) string {
	name := cs.Name + "-inventory"
	if len(name) > 253 {
		name = cs.Name[:243] + "-inventory"
	}
	return name
}

// EncodeInventory writes entries one a line (see InventoryConfigMapKey), sorted.
func EncodeInventory(refs []v1alpha1.ObjectReference) string {
	sorted := append([]v1alpha1.ObjectReference(nil), refs...)
	manifest.SortRefs(sorted)
	var b strings.Builder
	for _, r := range sorted {
		fmt.Fprintf(&b, "%s/%s/%s/%s/%s\n", r.Group, r.Version, r.Kind, r.Namespace, r.Name)
	}
	return b.String()
}

// DecodeInventory reads what EncodeInventory wrote.
func DecodeInventory(s string) ([]v1alpha1.ObjectReference, error) {
	var refs []v1alpha1.ObjectReference
	for i, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		f := strings.Split(line, "/")
		if len(f) != 5 || f[2] == "" || f[4] == "" {
			return nil, fmt.Errorf("inventory line %d: %q is not group/version/kind/namespace/name", i+1, line)
		}
		refs = append(refs, v1alpha1.ObjectReference{Group: f[0], Version: f[1], Kind: f[2], Namespace: f[3], Name: f[4]})
	}
	return refs, nil
}

// loadInventory reads the inventory from the status (or its ConfigMap) on the first
// pass after a start.
func (r *Reconciler) loadInventory(ctx context.Context, p *pass) error {
	st := p.st
	if st.inventoryLoaded {
		return nil
	}
	refs, err := r.readInventory(ctx, p.cs)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		st.inventory[manifest.KeyOfRef(ref)] = ref
	}
	st.inventoryLoaded = true
	return nil
}

// readInventory returns the inventory recorded in a ClusterSync's status (or its
// ConfigMap).
func (r *Reconciler) readInventory(ctx context.Context, cs *v1alpha1.ClusterSync) ([]v1alpha1.ObjectReference, error) {
	inv := cs.Status.Inventory
	switch {
	case inv == nil:
		return nil, nil
	case inv.ConfigMapRef != nil:
		cm := &corev1.ConfigMap{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: inv.ConfigMapRef.Name}, cm)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading the inventory ConfigMap %s: %w", inv.ConfigMapRef.Name, err)
		}
		refs, err := DecodeInventory(cm.Data[InventoryConfigMapKey])
		if err != nil {
			return nil, fmt.Errorf("reading the inventory ConfigMap %s: %w", inv.ConfigMapRef.Name, err)
		}
		return refs, nil
	default:
		return inv.Entries, nil
	}
}

// reconcileInventory computes the inventory after a full apply: the objects applied,
// those still in Git that failed this time but were applied before, those that could
// not be pruned, and, when the commit could not be read in full, every earlier entry.
// A large inventory is written to a ConfigMap.
func (r *Reconciler) reconcileInventory(ctx context.Context, p *pass) error {
	if !p.applied {
		return nil
	}
	st := p.st
	next := map[manifest.Key]v1alpha1.ObjectReference{}
	for _, res := range p.applyResults {
		switch {
		case res.Succeeded():
			next[res.Key] = res.Ref
		case res.Action == v1alpha1.ActionFailed:
			// Kept when applied before, or when the failed request may have created it;
			// an entry recorded by recordIntent for an object refused for good goes.
			if old, ok := st.inventory[res.Key]; ok && (!p.intended[res.Key] || isTransient(res.Err)) {
				next[res.Key] = old
			}
		}
	}
	for _, res := range p.pruneResults {
		if res.Action == v1alpha1.ActionFailed {
			next[res.Key] = res.Ref
		}
	}
	if len(st.objects.Errors) > 0 {
		for k, ref := range st.inventory {
			if _, ok := next[k]; !ok {
				next[k] = ref
			}
		}
	}
	st.inventory = next
	return r.writeInventory(ctx, p)
}

// recordIntent returns the apply hook (apply.Options.Intend) that adds the objects
// about to be applied to the inventory and stores it before the first of them is
// applied. An agent killed in the middle of an apply then finds, after its restart,
// every object it may have created in the inventory, whatever its kind, and prunes
// those that left Git. Nothing is written when every object is in the inventory
// already (an update of known objects costs no extra request).
func (r *Reconciler) recordIntent(p *pass) func(ctx context.Context, refs []v1alpha1.ObjectReference) error {
	return func(ctx context.Context, refs []v1alpha1.ObjectReference) error {
		st := p.st
		added := false
		for _, ref := range refs {
			k := manifest.KeyOfRef(ref)
			if _, ok := st.inventory[k]; ok {
				continue
			}
			st.inventory[k] = ref
			if p.intended == nil {
				p.intended = map[manifest.Key]bool{}
			}
			p.intended[k] = true
			added = true
		}
		if !added {
			return nil
		}
		return r.storeInventory(ctx, p)
	}
}

// storeInventory writes the inventory (status, or its ConfigMap) to the API server now,
// rather than with the status at the end of the pass.
func (r *Reconciler) storeInventory(ctx context.Context, p *pass) error {
	base := p.cs.DeepCopy()
	if err := r.writeInventory(ctx, p); err != nil {
		return err
	}
	cs := p.cs.DeepCopy()
	if err := r.Client.Status().Patch(ctx, cs, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("storing the inventory: %w", err)
	}
	// Later patches are computed against what is stored now.
	p.orig.Status.Inventory = cs.Status.Inventory.DeepCopy()
	p.orig.ResourceVersion = cs.ResourceVersion
	p.cs.ResourceVersion = cs.ResourceVersion
	return nil
}

// inventoryRefs returns the inventory sorted.
func (st *syncState) inventoryRefs() []v1alpha1.ObjectReference {
	refs := make([]v1alpha1.ObjectReference, 0, len(st.inventory))
	for _, ref := range st.inventory {
		refs = append(refs, ref)
	}
	manifest.SortRefs(refs)
	return refs
}

// writeInventory puts the inventory in the status, or in the ConfigMap when large.
func (r *Reconciler) writeInventory(ctx context.Context, p *pass) error {
	refs := p.st.inventoryRefs()
	cs := p.cs
	name := InventoryConfigMapName(cs)
	if len(refs) <= MaxInlineInventory {
		if old := cs.Status.Inventory; old != nil && old.ConfigMapRef != nil {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cs.Namespace, Name: old.ConfigMapRef.Name}}
			if err := r.Client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting the inventory ConfigMap %s: %w", cm.Name, err)
			}
		}
		cs.Status.Inventory = &v1alpha1.Inventory{Count: int32(len(refs)), Entries: refs}
		if len(refs) == 0 {
			cs.Status.Inventory.Entries = nil
		}
		return nil
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cs.Namespace, Name: name,
			Labels: map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterSync", Name: cs.Name, UID: cs.UID,
			}},
		},
		Data: map[string]string{InventoryConfigMapKey: EncodeInventory(refs)},
	}
	old := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cm), old)
	if err != nil || !reflect.DeepEqual(old.Data, cm.Data) { // skip an unchanged ConfigMap
		if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(toUnstructured(cm)),
			client.FieldOwner(apply.FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("writing the inventory ConfigMap %s: %w", name, err)
		}
	}
	cs.Status.Inventory = &v1alpha1.Inventory{Count: int32(len(refs)), ConfigMapRef: &v1alpha1.LocalObjectReference{Name: name}}
	return nil
}

func toUnstructured(obj any) *unstructured.Unstructured {
	m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	return &unstructured.Unstructured{Object: m}
}

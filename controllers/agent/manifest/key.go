// Package manifest reads what an environment branch holds for one cluster: the objects
// under the cluster's folder (one YAML or JSON document stream a file) and the branch's
// gitfleet.json, and orders the objects for applying.
package manifest

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Key identifies an object independently of its API version: two versions of one kind
// name the same object.
type Key struct {
	// Group of the kind; empty for the core group.
	Group string
	// Kind of the object.
	Kind string
	// Namespace; empty for cluster-scoped objects.
	Namespace string
	// Name of the object.
	Name string
}

// KeyOf returns the key of obj.
func KeyOf(obj *unstructured.Unstructured) Key {
	gvk := obj.GroupVersionKind()
	return Key{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// KeyOfRef returns the key of an inventory entry.
func KeyOfRef(ref v1alpha1.ObjectReference) Key {
	return Key{Group: ref.Group, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
}

// GroupKind returns the key's group and kind.
func (k Key) GroupKind() schema.GroupKind { return schema.GroupKind{Group: k.Group, Kind: k.Kind} }

// String names the object for people: "Deployment apps web/frontend",
// "Namespace web", "Widget example.com web/w1".
func (k Key) String() string {
	name := k.Name
	if k.Namespace != "" {
		name = k.Namespace + "/" + k.Name
	}
	if k.Group == "" {
		return k.Kind + " " + name
	}
	return fmt.Sprintf("%s.%s %s", k.Kind, k.Group, name)
}

// Less orders keys by group, kind, namespace and name.
func (k Key) Less(o Key) bool {
	switch {
	case k.Group != o.Group:
		return k.Group < o.Group
	case k.Kind != o.Kind:
		return k.Kind < o.Kind
	case k.Namespace != o.Namespace:
		return k.Namespace < o.Namespace
	default:
		return k.Name < o.Name
	}
}

// RefOf returns the inventory entry of obj.
func RefOf(obj *unstructured.Unstructured) v1alpha1.ObjectReference {
	gvk := obj.GroupVersionKind()
	return v1alpha1.ObjectReference{
		Group:     gvk.Group,
		Version:   gvk.Version,
		Kind:      gvk.Kind,
		Namespace: obj.GetNamespace(),
		Name:      obj.GetName(),
	}
}

// RefString names an inventory entry for people, as Key.String does.
func RefString(ref v1alpha1.ObjectReference) string { return KeyOfRef(ref).String() }

// SortRefs sorts inventory entries by group, kind, namespace and name, so that the
// inventory written to the status is stable.
func SortRefs(refs []v1alpha1.ObjectReference) {
	sort.Slice(refs, func(i, j int) bool { return KeyOfRef(refs[i]).Less(KeyOfRef(refs[j])) })
}

package manifest

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Phase is a step of the apply order. Objects of one phase may be applied concurrently;
// a phase starts when the previous one is done.
type Phase int

// The phases, in apply order.
const (
	// PhaseCRDs applies CustomResourceDefinitions and waits until they are Established,
	// so that the custom resources of the same commit can be applied.
	PhaseCRDs Phase = iota
	// PhaseNamespaces applies Namespaces.
	PhaseNamespaces
	// PhaseClusterScoped applies the other cluster-scoped objects (RBAC, storage and
	// priority classes, cluster-scoped custom resources).
	PhaseClusterScoped
	// PhaseNamespaced applies namespaced objects.
	PhaseNamespaced
	// PhaseAdmission applies admission webhooks, admission policies and API services
	// last, so that they cannot reject the objects they guard while those are applied.
	PhaseAdmission
	// NumPhases is the number of phases.
	NumPhases
)

// String names the phase.
func (p Phase) String() string {
	switch p {
	case PhaseCRDs:
		return "CustomResourceDefinitions"
	case PhaseNamespaces:
		return "Namespaces"
	case PhaseClusterScoped:
		return "cluster-scoped objects"
	case PhaseNamespaced:
		return "namespaced objects"
	case PhaseAdmission:
		return "admission webhooks and policies"
	}
	return "unknown phase"
}

// The kinds whose phase does not depend on their scope.
var (
	crdKind       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	namespaceKind = schema.GroupKind{Kind: "Namespace"}
)

// IsCRD reports whether gk is CustomResourceDefinition.
func IsCRD(gk schema.GroupKind) bool { return gk == crdKind }

// IsNamespace reports whether gk is Namespace.
func IsNamespace(gk schema.GroupKind) bool { return gk == namespaceKind }

// FixedPhase returns the phase of kinds whose phase does not depend on their scope, and
// false for the others.
func FixedPhase(gk schema.GroupKind) (Phase, bool) {
	switch {
	case gk == crdKind:
		return PhaseCRDs, true
	case gk == namespaceKind:
		return PhaseNamespaces, true
	case v1alpha1.IsAdmissionKind(gk):
		return PhaseAdmission, true
	}
	return 0, false
}

// PhaseOf returns obj's phase, given whether its kind is namespaced.
func PhaseOf(gk schema.GroupKind, namespaced bool) Phase {
	if p, ok := FixedPhase(gk); ok {
		return p
	}
	if namespaced {
		return PhaseNamespaced
	}
	return PhaseClusterScoped
}

// SplitFixed splits objs into the objects of each fixed phase (CRDs, Namespaces,
// admission) and the others, whose phase depends on a scope that may only be known once
// the CRDs are applied. Order is kept.
func SplitFixed(objs []*unstructured.Unstructured) (fixed [NumPhases][]*unstructured.Unstructured, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if p, ok := FixedPhase(o.GroupVersionKind().GroupKind()); ok {
			fixed[p] = append(fixed[p], o)
			continue
		}
		rest = append(rest, o)
	}
	return fixed, rest
}

// PruneOrder returns the order in which objects of the given phases are deleted: the
// reverse of the apply order (admission first, CRDs last).
func PruneOrder() []Phase {
	return []Phase{PhaseAdmission, PhaseNamespaced, PhaseClusterScoped, PhaseNamespaces, PhaseCRDs}
}

// Package v1alpha1 holds gitfleet's API, group fleet.gitfleet.dev, version v1alpha1.
//
// Hub kinds (namespaced, in the hub's fleet namespace): GitSource, MemberCluster,
// Placement, Override, Pipeline and Promotion. Member kind: ClusterSync.
//
// +kubebuilder:object:generate=true
// +groupName=fleet.gitfleet.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every gitfleet kind.
	GroupVersion = schema.GroupVersion{Group: "fleet.gitfleet.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the gitfleet kinds with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // kubebuilder's builder; apimachinery's runtime.SchemeBuilder changes every types file: a follow-up

	// AddToScheme adds the gitfleet kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

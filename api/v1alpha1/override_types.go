package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OverrideSpec applies rules to every placement it selects, after the placement's own
// inline overrides. Several Overrides apply in order of name.
type OverrideSpec struct {
	// placementSelector picks placements by their labels; empty selects every placement.
	// +required
	PlacementSelector metav1.LabelSelector `json:"placementSelector"`
	// rules in order; same format as inline overrides.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Rules []OverrideRule `json:"rules"`
}

// OverrideStatus reports where the override applies.
type OverrideStatus struct {
	// conditions are Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation last evaluated.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// matchedPlacements are the names of the placements selected (first 100).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	MatchedPlacements []string `json:"matchedPlacements,omitempty"`
	// matchedCount is the number of placements selected.
	// +optional
	MatchedCount int32 `json:"matchedCount,omitempty"`
}

// Override holds fleet-wide override rules, e.g. "every app in region eu pulls images
// from the eu mirror".
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ov,categories=gitfleet
// +kubebuilder:printcolumn:name="Placements",type=integer,JSONPath=`.status.matchedCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Override struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the override.
	// +required
	Spec OverrideSpec `json:"spec"`
	// status of the override.
	// +optional
	Status OverrideStatus `json:"status,omitempty"`
}

// OverrideList is a list of Overrides.
// +kubebuilder:object:root=true
type OverrideList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Override `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Override{}, &OverrideList{})
}

// GetConditions returns the status conditions.
func (in *Override) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Override) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Well-known property names. Static properties come from spec.properties, reported ones
// from the agent (status.properties and status.resources).
const (
	// NodeCountProperty is the number of nodes.
	NodeCountProperty = "kubernetes-fleet.io/node-count"
	// KubernetesVersionProperty is the API server's version, e.g. 1.37.0.
	KubernetesVersionProperty = "k8s.io/kubernetes-version"
	// AllocatableCPUProperty and the others below are derived from status.resources.
	AllocatableCPUProperty    = "resources.kubernetes-fleet.io/allocatable-cpu"
	AllocatableMemoryProperty = "resources.kubernetes-fleet.io/allocatable-memory"
	AvailableCPUProperty      = "resources.kubernetes-fleet.io/available-cpu"
	AvailableMemoryProperty   = "resources.kubernetes-fleet.io/available-memory"
	// PerCPUCoreCostProperty is a static cost property set by the fleet admin.
	PerCPUCoreCostProperty = "cost.gitfleet.dev/per-cpu-core"
)

// ClusterState says whether a cluster takes part in the fleet.
// +kubebuilder:validation:Enum=Join;Leave
type ClusterState string

// The cluster states.
const (
	// ClusterJoin makes the cluster eligible for placements.
	ClusterJoin ClusterState = "Join"
	// ClusterLeave removes the cluster from every placement; its folder leaves the branches.
	ClusterLeave ClusterState = "Leave"
)

// ClusterProperty is a named value: a Kubernetes quantity or a version.
type ClusterProperty struct {
	// name of the property, e.g. cost.gitfleet.dev/per-cpu-core.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Name string `json:"name"`
	// value of the property, e.g. 0.023, 16Gi or 1.37.0.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Value string `json:"value"`
}

// MemberClusterSpec is what the fleet admin declares about a cluster. Its labels (in
// metadata) are what placements and pipeline stages select on.
type MemberClusterSpec struct {
	// state is Join (default) or Leave.
	// +optional
	// +kubebuilder:default=Join
	State ClusterState `json:"state,omitempty"`
	// taints keep placements that do not tolerate them off the cluster.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Taints []Taint `json:"taints,omitempty"`
	// properties are static properties, e.g. cost, used by property selectors and sorters.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Properties []ClusterProperty `json:"properties,omitempty"`
	// heartbeatGracePeriod is how long the cluster stays eligible without a heartbeat
	// from its agent. Zero disables the check (clusters without an agent reporting to the
	// hub).
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	HeartbeatGracePeriod *metav1.Duration `json:"heartbeatGracePeriod,omitempty"`
	// kubernetesVersion (when set) is used for Helm's .Capabilities until the agent
	// reports the real one.
	// +optional
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// ClusterResources is what the agent reports of the cluster's capacity.
type ClusterResources struct {
	// nodeCount is the number of nodes.
	// +optional
	NodeCount int32 `json:"nodeCount,omitempty"`
	// allocatable is the sum of the nodes' allocatable CPU and memory.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// available is allocatable minus the requests of running pods.
	// +optional
	Available corev1.ResourceList `json:"available,omitempty"`
}

// PlacementApplySummary is the agent's report for one placement on this cluster.
type PlacementApplySummary struct {
	// placement name.
	// +required
	Placement string `json:"placement"`
	// objects applied for the placement.
	// +optional
	Objects int32 `json:"objects,omitempty"`
	// failed objects.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// healthy is true when every object of the placement is ready.
	// +optional
	Healthy bool `json:"healthy,omitempty"`
	// drifted objects.
	// +optional
	Drifted int32 `json:"drifted,omitempty"`
}

// MemberClusterStatus is written by the hub (Joined) and by the cluster's agent.
type MemberClusterStatus struct {
	// conditions are Ready, Joined, Healthy, Drifted.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the last pass.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// lastHeartbeatTime is when the agent last reported.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`
	// kubernetesVersion reported by the agent, e.g. 1.37.0.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// apiVersions served by the cluster (group/version and group/version/Kind), used for
	// Helm's .Capabilities.APIVersions.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4096
	APIVersions []string `json:"apiVersions,omitempty"`
	// resources reported by the agent.
	// +optional
	Resources *ClusterResources `json:"resources,omitempty"`
	// properties reported by the agent; they override static ones of the same name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Properties []ClusterProperty `json:"properties,omitempty"`
	// branch the agent follows and appliedCommit, the env-branch commit it last applied.
	// +optional
	Branch string `json:"branch,omitempty"`
	// appliedCommit is the env-branch commit the agent last applied.
	// +optional
	AppliedCommit string `json:"appliedCommit,omitempty"`
	// appliedSourceRevision is the dry revision that commit carries.
	// +optional
	AppliedSourceRevision string `json:"appliedSourceRevision,omitempty"`
	// placements summarises what was applied per placement.
	// +optional
	// +listType=map
	// +listMapKey=placement
	// +kubebuilder:validation:MaxItems=1000
	Placements []PlacementApplySummary `json:"placements,omitempty"`
	// driftedObjects is the number of live objects that differ from Git.
	// +optional
	DriftedObjects int32 `json:"driftedObjects,omitempty"`
}

// MemberCluster is one cluster of the fleet, as the hub sees it. The hub never connects
// to it; its agent reports here when it has a hub kubeconfig.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mc,categories=gitfleet
// +kubebuilder:printcolumn:name="Joined",type=string,JSONPath=`.status.conditions[?(@.type=="Joined")].status`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].status`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.resources.nodeCount`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.appliedCommit`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MemberCluster struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the cluster.
	// +optional
	Spec MemberClusterSpec `json:"spec,omitempty"`
	// status of the cluster.
	// +optional
	Status MemberClusterStatus `json:"status,omitempty"`
}

// MemberClusterList is a list of MemberClusters.
// +kubebuilder:object:root=true
type MemberClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MemberCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MemberCluster{}, &MemberClusterList{})
}

// GetConditions returns the status conditions.
func (in *MemberCluster) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *MemberCluster) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// HeartbeatGrace is spec.heartbeatGracePeriod; 0 (no heartbeat check) when it is unset,
// which only happens to objects the API server did not default (built in memory, e.g.
// read from fleet files by gitfleet render): the server sets 5m.
func (s *MemberClusterSpec) HeartbeatGrace() time.Duration {
	if s.HeartbeatGracePeriod == nil {
		return 0
	}
	return s.HeartbeatGracePeriod.Duration
}

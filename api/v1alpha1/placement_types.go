package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HelmSource renders a Helm chart, from a folder of the source repository or from a chart
// repository (HTTP or OCI) at a pinned version.
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.repoURL)",message="helm needs exactly one of path (a chart in the repository) and repoURL (a chart repository)"
// +kubebuilder:validation:XValidation:rule="!has(self.repoURL) || (has(self.chart) && has(self.version))",message="helm.chart and helm.version are required with helm.repoURL"
type HelmSource struct {
	// path of the chart folder in the source repository.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="path must be a relative path inside the repository"
	Path string `json:"path,omitempty"`
	// repoURL of a chart repository: https://... or oci://...
	// +optional
	// +kubebuilder:validation:Pattern=`^(https?|oci)://`
	// +kubebuilder:validation:MaxLength=2048
	RepoURL string `json:"repoURL,omitempty"`
	// chart name in the chart repository.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Chart string `json:"chart,omitempty"`
	// version of the chart, pinned (an exact version, not a range).
	// +optional
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`
	Version string `json:"version,omitempty"`
	// releaseName defaults to the placement's name.
	// +optional
	// +kubebuilder:validation:MaxLength=53
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ReleaseName string `json:"releaseName,omitempty"`
	// valuesFiles are paths in the repository (relative to the chart for path charts, to
	// the repository root otherwise), merged in order over the chart's defaults.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=1024
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// values merged over valuesFiles.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Values *apiextensionsv1.JSON `json:"values,omitempty"`
	// skipCRDs leaves the chart's crds/ folder out of the output.
	// +optional
	SkipCRDs bool `json:"skipCRDs,omitempty"`
}

// KustomizeSource renders a kustomization folder of the source repository with krusty.
// Remote bases and paths escaping the repository are refused.
type KustomizeSource struct {
	// path of the folder holding kustomization.yaml.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="path must be a relative path inside the repository"
	Path string `json:"path"`
}

// DirectorySource takes plain YAML and JSON manifests from a folder.
type DirectorySource struct {
	// path of the folder.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="path must be a relative path inside the repository"
	Path string `json:"path"`
	// recurse into sub-folders.
	// +optional
	Recurse bool `json:"recurse,omitempty"`
}

// PlacementType is the scheduling policy.
// +kubebuilder:validation:Enum=PickAll;PickN;PickFixed
type PlacementType string

// The placement types.
const (
	// PickAll selects every eligible cluster that matches the required affinity.
	PickAll PlacementType = "PickAll"
	// PickN selects numberOfClusters clusters, best scored first.
	PickN PlacementType = "PickN"
	// PickFixed selects the clusters named in clusterNames.
	PickFixed PlacementType = "PickFixed"
)

// Affinity constrains and ranks clusters.
type Affinity struct {
	// clusterAffinity by labels and properties.
	// +optional
	ClusterAffinity *ClusterAffinity `json:"clusterAffinity,omitempty"`
}

// ClusterAffinity has required terms (ORed) and weighted preferences.
type ClusterAffinity struct {
	// required terms: a cluster must match at least one.
	// +optional
	Required *ClusterSelector `json:"required,omitempty"`
	// preferred terms add their weight to the score of every cluster they match (or a
	// share of it, for property sorters).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Preferred []PreferredClusterSelector `json:"preferred,omitempty"`
}

// ClusterSelector is an OR of terms.
type ClusterSelector struct {
	// clusterSelectorTerms are ORed.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.propertySorter))",message="propertySorter is only allowed in preferred terms"
	ClusterSelectorTerms []ClusterSelectorTerm `json:"clusterSelectorTerms"`
}

// PreferredClusterSelector is a weighted preference.
type PreferredClusterSelector struct {
	// weight from -100 (avoid) to 100 (prefer).
	// +required
	// +kubebuilder:validation:Minimum=-100
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`
	// preference is the term that earns the weight.
	// +required
	Preference ClusterSelectorTerm `json:"preference"`
}

// UnsatisfiableConstraintAction says what a topology spread does when it cannot hold.
// +kubebuilder:validation:Enum=DoNotSchedule;ScheduleAnyway
type UnsatisfiableConstraintAction string

// The actions.
const (
	// DoNotSchedule never exceeds maxSkew, even if fewer clusters get picked.
	DoNotSchedule UnsatisfiableConstraintAction = "DoNotSchedule"
	// ScheduleAnyway prefers clusters that keep the skew low, without refusing any.
	ScheduleAnyway UnsatisfiableConstraintAction = "ScheduleAnyway"
)

// TopologySpreadConstraint spreads a PickN placement over the values of a cluster label.
type TopologySpreadConstraint struct {
	// maxSkew is the largest allowed difference between the number of picked clusters in
	// any two topology domains.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	MaxSkew int32 `json:"maxSkew,omitempty"`
	// topologyKey is the cluster label whose values are the domains, e.g. region.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	TopologyKey string `json:"topologyKey"`
	// whenUnsatisfiable is DoNotSchedule (default) or ScheduleAnyway.
	// +optional
	// +kubebuilder:default=DoNotSchedule
	WhenUnsatisfiable UnsatisfiableConstraintAction `json:"whenUnsatisfiable,omitempty"`
}

// ReplicaDivisionType says how replicas are divided.
// +kubebuilder:validation:Enum=StaticWeight;AvailableCapacity
type ReplicaDivisionType string

// The division types.
const (
	// StaticWeight divides by the weights of staticWeights (clusters not listed weigh 1).
	StaticWeight ReplicaDivisionType = "StaticWeight"
	// AvailableCapacity divides in proportion to each cluster's available resource.
	AvailableCapacity ReplicaDivisionType = "AvailableCapacity"
)

// ClusterWeight gives the clusters matching a selector a weight.
type ClusterWeight struct {
	// clusterSelector picks the clusters; the first matching entry wins.
	// +required
	ClusterSelector metav1.LabelSelector `json:"clusterSelector"`
	// weight of each matching cluster.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Weight int32 `json:"weight"`
}

// ReplicaDivision divides a total number of replicas over the selected clusters. Each
// cluster's share is available to overrides as ${CLUSTER_REPLICAS}; the shares are
// deterministic and sum to total.
// +kubebuilder:validation:XValidation:rule="self.type == 'StaticWeight' || !has(self.staticWeights)",message="staticWeights is only allowed with type StaticWeight"
type ReplicaDivision struct {
	// total number of replicas.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Total int32 `json:"total"`
	// type is StaticWeight (default) or AvailableCapacity.
	// +optional
	// +kubebuilder:default=StaticWeight
	Type ReplicaDivisionType `json:"type,omitempty"`
	// staticWeights are the weights, for StaticWeight.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	StaticWeights []ClusterWeight `json:"staticWeights,omitempty"`
	// resource compared with AvailableCapacity: cpu (default) or memory.
	// +optional
	// +kubebuilder:default=cpu
	// +kubebuilder:validation:Enum=cpu;memory
	Resource string `json:"resource,omitempty"`
}

// PlacementPolicy decides which clusters get the placement.
// +kubebuilder:validation:XValidation:rule="self.placementType == 'PickN' ? has(self.numberOfClusters) : !has(self.numberOfClusters)",message="numberOfClusters is required with placementType PickN and not allowed with PickAll or PickFixed"
// +kubebuilder:validation:XValidation:rule="self.placementType == 'PickFixed' ? has(self.clusterNames) && size(self.clusterNames) > 0 : !has(self.clusterNames)",message="clusterNames is required with placementType PickFixed and not allowed otherwise"
// +kubebuilder:validation:XValidation:rule="self.placementType != 'PickFixed' || (!has(self.affinity) && !has(self.topologySpreadConstraints) && !has(self.tolerations))",message="PickFixed takes no affinity, topologySpreadConstraints or tolerations: it places on the named clusters"
// +kubebuilder:validation:XValidation:rule="self.placementType == 'PickN' || !has(self.topologySpreadConstraints)",message="topologySpreadConstraints are only allowed with placementType PickN"
type PlacementPolicy struct {
	// placementType is PickAll (default), PickN or PickFixed. Immutable.
	// +optional
	// +kubebuilder:default=PickAll
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="placementType is immutable; create a new Placement to change it"
	PlacementType PlacementType `json:"placementType,omitempty"`
	// numberOfClusters to pick, with PickN.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	NumberOfClusters *int32 `json:"numberOfClusters,omitempty"`
	// clusterNames to place on, with PickFixed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=253
	ClusterNames []string `json:"clusterNames,omitempty"`
	// affinity by labels and properties.
	// +optional
	Affinity *Affinity `json:"affinity,omitempty"`
	// topologySpreadConstraints apply with PickN.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// tolerations let the placement onto tainted clusters.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []Toleration `json:"tolerations,omitempty"`
	// replicas (when set) divides a total over the selected clusters, as
	// ${CLUSTER_REPLICAS} for overrides.
	// +optional
	Replicas *ReplicaDivision `json:"replicas,omitempty"`
}

// PlacementSpec says what to deploy and where.
// +kubebuilder:validation:XValidation:rule="[has(self.helm), has(self.kustomize), has(self.directory)].exists_one(x, x)",message="exactly one of helm, kustomize and directory must be set"
type PlacementSpec struct {
	// sourceRef names the GitSource (same namespace) holding the content.
	// +required
	SourceRef LocalObjectReference `json:"sourceRef"`
	// helm renders a chart.
	// +optional
	Helm *HelmSource `json:"helm,omitempty"`
	// kustomize renders a kustomization.
	// +optional
	Kustomize *KustomizeSource `json:"kustomize,omitempty"`
	// directory takes plain manifests.
	// +optional
	Directory *DirectorySource `json:"directory,omitempty"`
	// targetNamespace is set on every namespaced object that has none (and is the Helm
	// release namespace). Defaults to "default" for Helm.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	TargetNamespace string `json:"targetNamespace,omitempty"`
	// policy picks the clusters. Defaults to PickAll.
	// +optional
	// +kubebuilder:default={placementType: PickAll}
	Policy *PlacementPolicy `json:"policy,omitempty"`
	// overrides change what selected clusters get, in order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Overrides []OverrideRule `json:"overrides,omitempty"`
	// pipelineRef names the Pipeline (same namespace) whose stages carry this placement.
	// Without one the placement goes to the single stage "default", branch env/default.
	// +optional
	PipelineRef *LocalObjectReference `json:"pipelineRef,omitempty"`
	// allowSecrets lets Secrets with plaintext data be committed to the environment
	// branches. Off by default: such a Secret fails the render.
	// +optional
	AllowSecrets bool `json:"allowSecrets,omitempty"`
	// suspend stops rendering; the branches keep what they have.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ClusterDecision is the scheduler's verdict on one cluster.
type ClusterDecision struct {
	// clusterName of the cluster.
	// +required
	ClusterName string `json:"clusterName"`
	// selected is true when the placement goes to the cluster.
	// +required
	Selected bool `json:"selected"`
	// score of a selected cluster (affinity, plus stickiness and spread penalties).
	// +optional
	Score *ClusterScore `json:"score,omitempty"`
	// replicas is the cluster's share when policy.replicas is set.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// reason for the decision, readable by people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// ClusterScore is the score a cluster got. Scores compare lexicographically: topology
// spread, then affinity, then stickiness; ties break by cluster name.
type ClusterScore struct {
	// topologySpread score (higher is better; 0 when no spread constraint).
	// +optional
	TopologySpread int32 `json:"topologySpread,omitempty"`
	// affinity score (sum of preferred weights).
	// +optional
	Affinity int32 `json:"affinity,omitempty"`
	// stickiness is 1 when the cluster was already picked.
	// +optional
	Stickiness int32 `json:"stickiness,omitempty"`
}

// ClusterPlacementStatus is the state of the placement on one cluster, in pipeline order.
type ClusterPlacementStatus struct {
	// conditions are Scheduled, Rendered, Committed, Applied, Available, Drifted.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// clusterName of the cluster.
	// +required
	ClusterName string `json:"clusterName"`
	// stage the cluster belongs to.
	// +optional
	Stage string `json:"stage,omitempty"`
	// renderedCommit is the env-branch commit holding this cluster's files.
	// +optional
	RenderedCommit string `json:"renderedCommit,omitempty"`
}

// PlacementStatus is the scheduling and delivery state of a placement.
type PlacementStatus struct {
	// conditions are Ready (every selected cluster rendered and committed), Scheduled,
	// Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the last fully successful pass.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// observedSourceRevision is the dry revision last rendered.
	// +optional
	ObservedSourceRevision string `json:"observedSourceRevision,omitempty"`
	// summary for people, e.g. "5/5 committed".
	// +optional
	Summary string `json:"summary,omitempty"`
	// schedulingPolicyHash identifies the policy the decisions were made for: when the
	// policy changes, PickN re-plans instead of keeping its clusters.
	// +optional
	SchedulingPolicyHash string `json:"schedulingPolicyHash,omitempty"`
	// selectedClusters is the number of clusters selected.
	// +optional
	SelectedClusters int32 `json:"selectedClusters,omitempty"`
	// decisions for the selected clusters, and for up to 20 clusters not selected, each
	// with its reason.
	// +optional
	// +listType=map
	// +listMapKey=clusterName
	// +kubebuilder:validation:MaxItems=10020
	Decisions []ClusterDecision `json:"decisions,omitempty"`
	// clusters holds per-cluster conditions for each selected cluster.
	// +optional
	// +listType=map
	// +listMapKey=clusterName
	// +kubebuilder:validation:MaxItems=10000
	Clusters []ClusterPlacementStatus `json:"clusters,omitempty"`
}

// Placement says what to deploy (a Helm chart, a kustomization or plain manifests from a
// GitSource) and on which member clusters.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pl,categories=gitfleet
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.policy.placementType`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Clusters",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Status",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.helm) || has(self.spec.helm.releaseName) || size(self.metadata.name) <= 53",message="the Placement's name is longer than 53 characters, the most a Helm release name may have: set spec.helm.releaseName"
type Placement struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the placement.
	// +required
	Spec PlacementSpec `json:"spec"`
	// status of the placement.
	// +optional
	Status PlacementStatus `json:"status,omitempty"`
}

// PlacementList is a list of Placements.
// +kubebuilder:object:root=true
type PlacementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Placement `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Placement{}, &PlacementList{})
}

// GetConditions returns the status conditions.
func (in *Placement) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Placement) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// EffectivePolicy returns the policy with defaults filled in, for code that runs without
// the API server's defaulting (the CLI renders checkouts directly).
func (in *Placement) EffectivePolicy() PlacementPolicy {
	if in.Spec.Policy == nil {
		return PlacementPolicy{PlacementType: PickAll}
	}
	p := *in.Spec.Policy
	if p.PlacementType == "" {
		p.PlacementType = PickAll
	}
	return p
}

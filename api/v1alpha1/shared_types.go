package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeyReference names a key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key in the Secret's data.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// ObjectReference identifies a Kubernetes object applied from Git.
type ObjectReference struct {
	// group of the object's kind; empty for the core group.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
	// version of the object's kind.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Version string `json:"version,omitempty"`
	// kind of the object.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// namespace of the object; empty for cluster-scoped objects.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ForgeType names a code forge.
// +kubebuilder:validation:Enum=github;gitea;none
type ForgeType string

// The forges gitfleet talks to.
const (
	ForgeGitHub ForgeType = "github"
	ForgeGitea  ForgeType = "gitea"
	ForgeNone   ForgeType = "none"
)

// ForgeSpec says where commit statuses and pull requests go.
// +kubebuilder:validation:XValidation:rule="self.type == 'none' || has(self.secretRef)",message="forge.secretRef is required unless forge.type is none"
// +kubebuilder:validation:XValidation:rule="self.type != 'gitea' || has(self.apiURL)",message="forge.apiURL is required for gitea (e.g. https://gitea.example.com/api/v1/)"
type ForgeSpec struct {
	// type of the forge: github, gitea or none (no statuses, no pull requests).
	// +optional
	// +kubebuilder:default=none
	Type ForgeType `json:"type,omitempty"`
	// apiURL is the forge's API base URL, e.g. https://github.example.com/api/v3/ for
	// GitHub Enterprise or https://gitea.example.com/api/v1/ for Gitea. Defaults to
	// https://api.github.com/ for github; required for gitea.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://`
	// +kubebuilder:validation:MaxLength=2048
	APIURL string `json:"apiURL,omitempty"`
	// repository is owner/name on the forge. Defaults to the path of the Git URL.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:MaxLength=256
	Repository string `json:"repository,omitempty"`
	// secretRef names a Secret whose key `token` holds the API token.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
	// targetURL (when set) is linked from every commit status gitfleet posts.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://`
	// +kubebuilder:validation:MaxLength=2048
	TargetURL string `json:"targetURL,omitempty"`
}

// ClusterSelectorTerm selects clusters by labels AND properties.
type ClusterSelectorTerm struct {
	// labelSelector selects clusters by their labels.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// propertySelector selects clusters by their properties.
	// +optional
	PropertySelector *PropertySelector `json:"propertySelector,omitempty"`
	// propertySorter (only in preferred terms) scores clusters linearly between the
	// smallest and largest value of a property among the candidates.
	// +optional
	PropertySorter *PropertySorter `json:"propertySorter,omitempty"`
}

// PropertySelector is an AND of property requirements.
type PropertySelector struct {
	// matchExpressions must all hold.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	MatchExpressions []PropertySelectorRequirement `json:"matchExpressions"`
}

// PropertySelectorOperator compares a cluster property with a value.
// +kubebuilder:validation:Enum=Gt;Ge;Eq;Ne;Lt;Le
type PropertySelectorOperator string

// The property selector operators.
const (
	PropertyGt PropertySelectorOperator = "Gt"
	PropertyGe PropertySelectorOperator = "Ge"
	PropertyEq PropertySelectorOperator = "Eq"
	PropertyNe PropertySelectorOperator = "Ne"
	PropertyLt PropertySelectorOperator = "Lt"
	PropertyLe PropertySelectorOperator = "Le"
)

// PropertySelectorRequirement compares one property with one value. Values are
// Kubernetes quantities (e.g. 4, 500m, 16Gi) or, for kubernetes-version, versions like
// 1.37.0. A cluster that lacks the property does not match.
type PropertySelectorRequirement struct {
	// name of the property, e.g. kubernetes-fleet.io/node-count or
	// cost.gitfleet.dev/per-cpu-core.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Name string `json:"name"`
	// operator is one of Gt, Ge, Eq, Ne, Lt, Le.
	// +required
	Operator PropertySelectorOperator `json:"operator"`
	// values holds exactly one value to compare with.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:items:MaxLength=63
	Values []string `json:"values"`
}

// PropertySortOrder orders clusters by a property.
// +kubebuilder:validation:Enum=Ascending;Descending
type PropertySortOrder string

// The sort orders.
const (
	// Ascending prefers clusters with smaller values.
	Ascending PropertySortOrder = "Ascending"
	// Descending prefers clusters with larger values.
	Descending PropertySortOrder = "Descending"
)

// PropertySorter scores clusters by a property, scaled linearly between the smallest and
// largest value seen; a cluster without the property scores lowest.
type PropertySorter struct {
	// name of the property.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Name string `json:"name"`
	// sortOrder is Ascending (prefer small values) or Descending (large ones).
	// +required
	SortOrder PropertySortOrder `json:"sortOrder"`
}

// TaintEffect is the effect of a taint. Only NoSchedule exists today.
// +kubebuilder:validation:Enum=NoSchedule
type TaintEffect string

// TaintEffectNoSchedule keeps placements that do not tolerate the taint off the cluster.
const TaintEffectNoSchedule TaintEffect = "NoSchedule"

// Taint keeps placements off a cluster unless they tolerate it.
type Taint struct {
	// key of the taint.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Key string `json:"key"`
	// value of the taint.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Value string `json:"value,omitempty"`
	// effect of the taint: NoSchedule.
	// +optional
	// +kubebuilder:default=NoSchedule
	Effect TaintEffect `json:"effect,omitempty"`
}

// TolerationOperator compares a toleration with a taint.
// +kubebuilder:validation:Enum=Equal;Exists
type TolerationOperator string

// The toleration operators.
const (
	TolerationEqual  TolerationOperator = "Equal"
	TolerationExists TolerationOperator = "Exists"
)

// Toleration lets a placement onto clusters with a matching taint.
// +kubebuilder:validation:XValidation:rule="self.operator != 'Exists' || !has(self.value) || size(self.value) == 0",message="a toleration with operator Exists takes no value"
type Toleration struct {
	// key of the taint to tolerate; empty with operator Exists tolerates every taint.
	// +optional
	// +kubebuilder:validation:MaxLength=316
	Key string `json:"key,omitempty"`
	// operator is Equal (key and value match) or Exists (key matches).
	// +optional
	// +kubebuilder:default=Equal
	Operator TolerationOperator `json:"operator,omitempty"`
	// value of the taint, with operator Equal.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Value string `json:"value,omitempty"`
	// effect to tolerate; empty tolerates every effect.
	// +optional
	Effect TaintEffect `json:"effect,omitempty"`
}

// ResourceSelector targets rendered objects for a JSON patch or a delete.
type ResourceSelector struct {
	// group of the kind; empty for the core group.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
	// version of the kind; empty matches every version.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Version string `json:"version,omitempty"`
	// kind to target.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// namespace to target; empty matches every namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// name to target; empty matches every name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// labelSelector further restricts the targets by their labels.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// JSONPatchOp is an RFC 6902 operation.
// +kubebuilder:validation:Enum=add;remove;replace;move;copy;test
type JSONPatchOp string

// JSONPatchOperation is one RFC 6902 operation. String values may use the variables
// ${CLUSTER_NAME}, ${CLUSTER_LABEL[key]}, ${CLUSTER_PROPERTY[name]} and ${CLUSTER_REPLICAS}.
// +kubebuilder:validation:XValidation:rule="!(self.op in ['move', 'copy']) || has(self.from)",message="from is required for move and copy"
type JSONPatchOperation struct {
	// op is add, remove, replace, move, copy or test.
	// +required
	Op JSONPatchOp `json:"op"`
	// path is a JSON pointer, e.g. /spec/replicas.
	// +required
	// +kubebuilder:validation:Pattern=`^(/.*)?$`
	// +kubebuilder:validation:MaxLength=1024
	Path string `json:"path"`
	// from is the source pointer of move and copy.
	// +optional
	// +kubebuilder:validation:Pattern=`^(/.*)?$`
	// +kubebuilder:validation:MaxLength=1024
	From string `json:"from,omitempty"`
	// value for add, replace and test (required there; checked when rendering, because
	// a value of any JSON type is invisible to the API server's CEL rules).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Value *apiextensionsv1.JSON `json:"value,omitempty"`
}

// OverrideRule changes what one placement renders for the clusters it selects. Exactly one
// of helmValues, jsonPatch and delete is set. Rules apply in order: all helmValues before
// rendering, then JSON patches and deletes on the rendered objects.
// +kubebuilder:validation:XValidation:rule="[has(self.helmValues), has(self.jsonPatch), has(self.delete) && self.delete].exists_one(x, x)",message="exactly one of helmValues, jsonPatch and delete must be set"
// +kubebuilder:validation:XValidation:rule="has(self.helmValues) ? !has(self.target) : has(self.target)",message="target is required with jsonPatch and delete, and not allowed with helmValues"
type OverrideRule struct {
	// name of the rule, used in error messages.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// clusterSelector picks the clusters the rule applies to; empty means every cluster.
	// +optional
	ClusterSelector *metav1.LabelSelector `json:"clusterSelector,omitempty"`
	// helmValues are merged over the placement's values before rendering (Helm only).
	// String values may use the cluster variables.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	HelmValues *apiextensionsv1.JSON `json:"helmValues,omitempty"`
	// target selects the rendered objects a jsonPatch or delete applies to.
	// +optional
	Target *ResourceSelector `json:"target,omitempty"`
	// jsonPatch is applied to every targeted object.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	JSONPatch []JSONPatchOperation `json:"jsonPatch,omitempty"`
	// delete removes every targeted object from the output.
	// +optional
	Delete bool `json:"delete,omitempty"`
}

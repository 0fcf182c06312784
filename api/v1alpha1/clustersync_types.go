package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConflictPolicy says what the agent does when another field manager owns a field that
// Git sets.
// +kubebuilder:validation:Enum=Force;Report
type ConflictPolicy string

// The conflict policies.
const (
	// ConflictForce takes the field over (server-side apply with force).
	ConflictForce ConflictPolicy = "Force"
	// ConflictReport leaves the object and reports the conflict.
	ConflictReport ConflictPolicy = "Report"
)

// TakeoverPolicy says what the agent does with an object that exists and was not created
// by gitfleet.
// +kubebuilder:validation:Enum=Always;IfNoDiff;Never
type TakeoverPolicy string

// The takeover policies.
const (
	// TakeoverAlways applies over the existing object.
	TakeoverAlways TakeoverPolicy = "Always"
	// TakeoverIfNoDiff takes over only when the object already matches Git, and otherwise
	// reports the difference.
	TakeoverIfNoDiff TakeoverPolicy = "IfNoDiff"
	// TakeoverNever reports the object and leaves it alone.
	TakeoverNever TakeoverPolicy = "Never"
)

// DriftPolicy says what the agent does when a live object differs from Git.
// +kubebuilder:validation:Enum=Correct;Report
type DriftPolicy string

// The drift policies.
const (
	// DriftCorrect re-applies Git.
	DriftCorrect DriftPolicy = "Correct"
	// DriftReport reports and leaves the object.
	DriftReport DriftPolicy = "Report"
)

// ApplyPolicy tunes how the agent applies, prunes and watches.
type ApplyPolicy struct {
	// conflicts with other field managers: Force (default) or Report.
	// +optional
	// +kubebuilder:default=Force
	Conflicts ConflictPolicy `json:"conflicts,omitempty"`
	// takeover of objects that exist but were not created by gitfleet: Always, IfNoDiff
	// (default) or Never.
	// +optional
	// +kubebuilder:default=IfNoDiff
	Takeover TakeoverPolicy `json:"takeover,omitempty"`
	// drift is Correct (default) or Report.
	// +optional
	// +kubebuilder:default=Correct
	Drift DriftPolicy `json:"drift,omitempty"`
	// prune deletes objects that left Git (default true). Objects annotated
	// fleet.gitfleet.dev/prune=disabled are kept.
	// +optional
	// +kubebuilder:default=true
	Prune *bool `json:"prune,omitempty"`
	// pruneNamespaces allows deleting Namespaces that left Git (default false).
	// +optional
	PruneNamespaces bool `json:"pruneNamespaces,omitempty"`
	// pruneCRDs allows deleting CustomResourceDefinitions that left Git (default false).
	// +optional
	PruneCRDs bool `json:"pruneCRDs,omitempty"`
	// healthTimeout is how long objects may take to become ready before Healthy turns
	// False naming them.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	HealthTimeout *metav1.Duration `json:"healthTimeout,omitempty"`
}

// HubSpec connects the agent to the hub API, one way, to report its MemberCluster status.
type HubSpec struct {
	// kubeconfigSecretRef names a Secret whose key `kubeconfig` reaches the hub.
	// +required
	KubeconfigSecretRef LocalObjectReference `json:"kubeconfigSecretRef"`
	// namespace of the MemberCluster on the hub.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
}

// ClusterSyncSpec says which branch and folder the agent applies.
type ClusterSyncSpec struct {
	// clusterName is this cluster's name in the fleet (its MemberCluster and its folder).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClusterName string `json:"clusterName"`
	// url of the repository holding the environment branches.
	// +required
	// +kubebuilder:validation:Pattern=`^((https?|ssh|file)://|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)`
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`
	// branch to apply, e.g. env/prod.
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._/-]*$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..') && !self.contains('//') && !self.contains('/.') && !self.endsWith('/') && !self.endsWith('.') && !self.endsWith('.lock')",message="branch must be a valid git branch name (no '..', '//', '/.', and no trailing '/', '.' or '.lock')"
	Branch string `json:"branch"`
	// path in the branch; defaults to clusters/<clusterName>/.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="path must be a relative path inside the repository"
	Path string `json:"path,omitempty"`
	// interval between fetches.
	// +optional
	// +kubebuilder:default="15s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval,omitempty"`
	// timeout of one fetch and apply.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// secretRef names a Secret with Git credentials (as GitSource's).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
	// forge gets the commit statuses gitfleet/cluster/<clusterName>.
	// +optional
	Forge *ForgeSpec `json:"forge,omitempty"`
	// applyPolicy tunes applying, pruning, takeover and drift.
	// +optional
	// +kubebuilder:default={}
	ApplyPolicy ApplyPolicy `json:"applyPolicy,omitzero"`
	// deletionPolicy says what happens to the applied objects when the ClusterSync is
	// deleted: MirrorPrune (default) deletes them when applyPolicy.prune is true and leaves
	// them when it is false; Delete deletes them; Orphan leaves them. Deleting follows the
	// prune rules (fleet.gitfleet.dev/prune=disabled, pruneNamespaces, pruneCRDs; adopted
	// objects are released, not deleted). A suspended ClusterSync leaves its objects.
	// +optional
	// +kubebuilder:default=MirrorPrune
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// hub (when set) gets heartbeats and this cluster's MemberCluster status.
	// +optional
	Hub *HubSpec `json:"hub,omitempty"`
	// suspend stops applying; drift is still reported.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ObjectAction is what the agent did with an object.
// +kubebuilder:validation:Enum=Created;Configured;Unchanged;Pruned;Failed;Skipped
type ObjectAction string

// The object actions.
const (
	ActionCreated    ObjectAction = "Created"
	ActionConfigured ObjectAction = "Configured"
	ActionUnchanged  ObjectAction = "Unchanged"
	ActionPruned     ObjectAction = "Pruned"
	ActionFailed     ObjectAction = "Failed"
	ActionSkipped    ObjectAction = "Skipped"
)

// ObjectResult is the outcome for one object of the last apply.
type ObjectResult struct {
	// object applied.
	// +required
	Object ObjectReference `json:"object"`
	// action taken.
	// +required
	Action ObjectAction `json:"action"`
	// message from the API server or the health check.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`
}

// DriftEntry is one field that differs between the cluster and Git.
type DriftEntry struct {
	// object that drifted.
	// +required
	Object ObjectReference `json:"object"`
	// path of the field, e.g. .spec.replicas.
	// +required
	Path string `json:"path"`
	// valueInCluster as JSON; empty when the field is missing in the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ValueInCluster string `json:"valueInCluster,omitempty"`
	// valueInGit as JSON.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ValueInGit string `json:"valueInGit,omitempty"`
}

// Inventory lists what gitfleet applied, for pruning.
type Inventory struct {
	// count of objects.
	// +optional
	Count int32 `json:"count,omitempty"`
	// entries lists the objects, when they fit in the status (up to 1000).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Entries []ObjectReference `json:"entries,omitempty"`
	// configMapRef names the ConfigMap holding the entries when there are more.
	// +optional
	ConfigMapRef *LocalObjectReference `json:"configMapRef,omitempty"`
}

// ClusterSyncStatus is what the agent last did.
type ClusterSyncStatus struct {
	// conditions are Ready, Applied, Healthy, Drifted, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the last fully successful pass.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// appliedCommit is the env-branch commit last applied in full.
	// +optional
	AppliedCommit string `json:"appliedCommit,omitempty"`
	// appliedSourceRevision is the dry revision that commit carries.
	// +optional
	AppliedSourceRevision string `json:"appliedSourceRevision,omitempty"`
	// lastAttemptedCommit is the commit of the last attempt, failed or not.
	// +optional
	LastAttemptedCommit string `json:"lastAttemptedCommit,omitempty"`
	// lastAppliedTime is when appliedCommit was applied.
	// +optional
	LastAppliedTime *metav1.Time `json:"lastAppliedTime,omitempty"`
	// inventory of applied objects.
	// +optional
	Inventory *Inventory `json:"inventory,omitempty"`
	// summary for people, e.g. "42/42 applied, healthy".
	// +optional
	Summary string `json:"summary,omitempty"`
	// objects with a noteworthy result (failed, pruned, changed), first 100.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Objects []ObjectResult `json:"objects,omitempty"`
	// drift found, first 100 entries.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Drift []DriftEntry `json:"drift,omitempty"`
	// driftedObjects is the number of objects that differ from Git.
	// +optional
	DriftedObjects int32 `json:"driftedObjects,omitempty"`
	// lastHandledReconcileAt is the last reconcile.fluxcd.io/requestedAt value handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ClusterSync lives in a member cluster and drives its agent: which branch and folder to
// apply, how, and where to report.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=csync,categories=gitfleet
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Summary",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Commit",type=string,JSONPath=`.status.appliedCommit`
// +kubebuilder:printcolumn:name="Drifted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Drifted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterSync struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the sync.
	// +required
	Spec ClusterSyncSpec `json:"spec"`
	// status of the sync.
	// +optional
	Status ClusterSyncStatus `json:"status,omitempty"`
}

// ClusterSyncList is a list of ClusterSyncs.
// +kubebuilder:object:root=true
type ClusterSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSync `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterSync{}, &ClusterSyncList{})
}

// GetConditions returns the status conditions.
func (in *ClusterSync) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *ClusterSync) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SyncPath returns the folder applied, clusters/<clusterName>/ by default.
func (in *ClusterSync) SyncPath() string {
	if in.Spec.Path != "" {
		return in.Spec.Path
	}
	return "clusters/" + in.Spec.ClusterName + "/"
}

package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultGitSourceInterval is spec.interval's default.
const DefaultGitSourceInterval = time.Minute

// GitSourceSpec says which repository and branch the hub follows.
// +kubebuilder:validation:XValidation:rule="!has(self.previewPullRequests) || !self.previewPullRequests || (has(self.forge) && has(self.forge.type) && self.forge.type != 'none')",message="previewPullRequests needs a forge (forge.type github or gitea)"
type GitSourceSpec struct {
	// url of the repository: https://, http:// or ssh:// (or scp-like git@host:path).
	// +required
	// +kubebuilder:validation:Pattern=`^((https?|ssh)://|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)`
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`
	// branch to follow.
	// +optional
	// +kubebuilder:default=main
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._/-]*$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..') && !self.contains('//') && !self.contains('/.') && !self.endsWith('/') && !self.endsWith('.') && !self.endsWith('.lock')",message="branch must be a valid git branch name (no '..', '//', '/.', and no trailing '/', '.' or '.lock')"
	Branch string `json:"branch,omitempty"`
	// interval between fetches. Webhooks and the reconcile.fluxcd.io/requestedAt
	// annotation trigger a fetch at once.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval,omitempty"`
	// timeout of one fetch.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// secretRef names a Secret with credentials: `username` and `password`, or
	// `bearerToken` (HTTPS); `identity` (a private key) and `known_hosts` (SSH).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
	// forge says where statuses and pull requests for this repository go.
	// +optional
	Forge *ForgeSpec `json:"forge,omitempty"`
	// previewPullRequests makes the hub render every open pull request into branch with
	// the fleet as it is now, and report what merging it would change in each cluster: a
	// commit status gitfleet/render on the pull request's head and a comment with the
	// per-cluster diff. Needs a forge.
	// +optional
	PreviewPullRequests bool `json:"previewPullRequests,omitempty"`
	// webhookSecretRef names a Secret whose key `token` is the HMAC secret of push
	// webhooks; a request with a bad or missing signature is refused.
	// +optional
	WebhookSecretRef *LocalObjectReference `json:"webhookSecretRef,omitempty"`
	// fleetPath (when set) is a folder of the repository whose gitfleet objects
	// (Placements, Overrides, Pipelines, MemberClusters) are applied to the hub in this
	// namespace and pruned when removed from Git.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="fleetPath must be a relative path inside the repository"
	FleetPath string `json:"fleetPath,omitempty"`
	// suspend stops fetching.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// GitSourceStatus is what the hub last fetched.
type GitSourceStatus struct {
	// conditions are Ready, Fetched, FleetApplied, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the last fully successful pass.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// revision fetched, as <branch>@sha1:<sha>.
	// +optional
	Revision string `json:"revision,omitempty"`
	// lastFetchTime is when the last fetch succeeded.
	// +optional
	LastFetchTime *metav1.Time `json:"lastFetchTime,omitempty"`
	// fleetInventory lists the objects applied from fleetPath, for pruning.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10000
	FleetInventory []ObjectReference `json:"fleetInventory,omitempty"`
	// lastHandledReconcileAt is the last reconcile.fluxcd.io/requestedAt value handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// GitSource is a repository the hub follows: the fleet config repo, whose apps it renders
// and whose fleetPath objects it applies.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gs,categories=gitfleet
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Status",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitSource struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the source.
	// +required
	Spec GitSourceSpec `json:"spec"`
	// status of the source.
	// +optional
	Status GitSourceStatus `json:"status,omitempty"`
}

// GitSourceList is a list of GitSources.
// +kubebuilder:object:root=true
type GitSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitSource `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GitSource{}, &GitSourceList{})
}

// GetConditions returns the status conditions.
func (in *GitSource) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *GitSource) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// FetchInterval is spec.interval, or DefaultGitSourceInterval when it is zero: a Go client
// that leaves the field out sends 0s, which the API server's default does not replace.
func (in *GitSource) FetchInterval() time.Duration {
	if in.Spec.Interval.Duration <= 0 {
		return DefaultGitSourceInterval
	}
	return in.Spec.Interval.Duration
}

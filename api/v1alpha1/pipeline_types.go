package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PromotionMode says how a stage receives a new revision.
// +kubebuilder:validation:Enum=Auto;PullRequest
type PromotionMode string

// The promotion modes.
const (
	// PromotionAuto pushes to the stage's branch once the gates pass.
	PromotionAuto PromotionMode = "Auto"
	// PromotionPullRequest opens an approval pull request into the stage's branch; merging
	// it is the approval.
	PromotionPullRequest PromotionMode = "PullRequest"
)

// TimeWindow is a recurring window in UTC when promotions may happen.
type TimeWindow struct {
	// schedule is a five-field cron expression (UTC) for when the window opens,
	// e.g. "0 9 * * 1-5".
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^\S+( \S+){4}$`
	Schedule string `json:"schedule"`
	// duration the window stays open.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Duration metav1.Duration `json:"duration"`
}

// StageGates must all pass before a revision enters the stage.
type StageGates struct {
	// previousStageHealthy requires every selected cluster of the previous stage to report
	// success for the env commit carrying the revision. Default true; ignored for the
	// first stage.
	// +optional
	// +kubebuilder:default=true
	PreviousStageHealthy *bool `json:"previousStageHealthy,omitempty"`
	// soakDuration is how long the previous stage must have been healthy.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	SoakDuration *metav1.Duration `json:"soakDuration,omitempty"`
	// windows (when set) only let promotions happen while one is open.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Windows []TimeWindow `json:"windows,omitempty"`
}

// Stage is one environment of a pipeline.
type Stage struct {
	// name of the stage, e.g. dev.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// clusterSelector picks the member clusters of the stage by label.
	// +required
	ClusterSelector metav1.LabelSelector `json:"clusterSelector"`
	// branch holding the stage's rendered manifests; defaults to env/<name>.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._/-]*$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..') && !self.contains('//') && !self.contains('/.') && !self.endsWith('/') && !self.endsWith('.') && !self.endsWith('.lock')",message="branch must be a valid git branch name (no '..', '//', '/.', and no trailing '/', '.' or '.lock')"
	Branch string `json:"branch,omitempty"`
	// promotion is Auto (default) or PullRequest.
	// +optional
	// +kubebuilder:default=Auto
	Promotion PromotionMode `json:"promotion,omitempty"`
	// gates that must pass before a revision enters this stage.
	// +optional
	// +kubebuilder:default={}
	Gates *StageGates `json:"gates,omitempty"`
}

// PipelineSpec is an ordered list of stages.
type PipelineSpec struct {
	// stages in promotion order.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.exists_one(t, t.name == s.name))",message="stage names must be unique within a pipeline"
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.exists_one(t, (has(t.branch) ? t.branch : 'env/' + t.name) == (has(s.branch) ? s.branch : 'env/' + s.name)))",message="stage branches (branch, or env/<name> by default) must be unique within a pipeline"
	Stages []Stage `json:"stages"`
	// targetRef names the GitSource the env branches are pushed to; defaults to each
	// placement's own source (the fleet config repo).
	// +optional
	TargetRef *LocalObjectReference `json:"targetRef,omitempty"`
	// pullRequestLabels are added to approval pull requests.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=50
	PullRequestLabels []string `json:"pullRequestLabels,omitempty"`
	// promotionHistoryLimit is how many finished Promotions to keep per stage.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	PromotionHistoryLimit int32 `json:"promotionHistoryLimit,omitempty"`
}

// StageStatus is where one stage stands.
type StageStatus struct {
	// name of the stage.
	// +required
	Name string `json:"name"`
	// branch of the stage.
	// +optional
	Branch string `json:"branch,omitempty"`
	// currentRevision is the dry revision the stage's branch holds.
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// targetRevision is the dry revision moving into the stage, when one is.
	// +optional
	TargetRevision string `json:"targetRevision,omitempty"`
	// renderedCommit is the head of the stage's branch.
	// +optional
	RenderedCommit string `json:"renderedCommit,omitempty"`
	// clusters in the stage, and how many report healthy for the current revision.
	// +optional
	Clusters int32 `json:"clusters,omitempty"`
	// healthyClusters reporting success for renderedCommit.
	// +optional
	HealthyClusters int32 `json:"healthyClusters,omitempty"`
	// healthySince is when every cluster first reported success for the current revision.
	// +optional
	HealthySince *metav1.Time `json:"healthySince,omitempty"`
	// promotion names the Promotion in progress or last finished.
	// +optional
	Promotion string `json:"promotion,omitempty"`
	// message for people, e.g. "3/3 clusters healthy" or "awaiting approval #12".
	// +optional
	Message string `json:"message,omitempty"`
}

// PipelineStatus is where each stage stands.
type PipelineStatus struct {
	// conditions are Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the last fully successful pass.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// stages in order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Stages []StageStatus `json:"stages,omitempty"`
	// summary for people, e.g. "dev@1a2b3c4 staging@1a2b3c4 prod@0f9e8d7".
	// +optional
	Summary string `json:"summary,omitempty"`
}

// Pipeline is an ordered list of stages (dev → staging → prod) that placements move
// through, each stage a set of clusters and an environment branch.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pipe,categories=gitfleet
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Stages",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Pipeline struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the pipeline.
	// +required
	Spec PipelineSpec `json:"spec"`
	// status of the pipeline.
	// +optional
	Status PipelineStatus `json:"status,omitempty"`
}

// PipelineList is a list of Pipelines.
// +kubebuilder:object:root=true
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Pipeline `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Pipeline{}, &PipelineList{})
}

// GetConditions returns the status conditions.
func (in *Pipeline) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Pipeline) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// StageBranch returns the stage's branch, env/<name> by default.
func (s Stage) StageBranch() string {
	if s.Branch != "" {
		return s.Branch
	}
	return EnvBranchPrefix + s.Name
}

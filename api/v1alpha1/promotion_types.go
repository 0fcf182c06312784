package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PromotionPhase is where a promotion attempt stands.
// +kubebuilder:validation:Enum=Pending;Open;Merged;Superseded;Rejected;Failed
type PromotionPhase string

// The promotion phases.
const (
	// PromotionPending: gates not passed yet.
	PromotionPending PromotionPhase = "Pending"
	// PromotionOpen: the approval pull request is open.
	PromotionOpen PromotionPhase = "Open"
	// PromotionMerged: the revision is in the stage's branch (pushed, or PR merged).
	PromotionMerged PromotionPhase = "Merged"
	// PromotionSuperseded: a newer revision that passed the gates replaced it.
	PromotionSuperseded PromotionPhase = "Superseded"
	// PromotionRejected: the approval pull request was closed without merging.
	PromotionRejected PromotionPhase = "Rejected"
	// PromotionFailed: the promotion cannot complete (see conditions).
	PromotionFailed PromotionPhase = "Failed"
)

// Finished reports whether a phase is final: Merged, Superseded, Rejected or Failed.
func (p PromotionPhase) Finished() bool {
	switch p {
	case PromotionMerged, PromotionSuperseded, PromotionRejected, PromotionFailed:
		return true
	}
	return false
}

// PromotionSpec asks to move a dry revision into a stage. The hub creates one per attempt;
// `gitfleet promote` creates one by hand, and `gitfleet rollback` one with rollback set.
// +kubebuilder:validation:XValidation:rule="!has(self.skipGates) || !self.skipGates || (has(self.skipGatesReason) && size(self.skipGatesReason) > 0)",message="skipGatesReason is required when skipGates is true"
// +kubebuilder:validation:XValidation:rule="has(self.dryRevision) != has(self.rollback)",message="set exactly one of dryRevision (a promotion) and rollback (the revision is that of the restored commit)"
// +kubebuilder:validation:XValidation:rule="!has(self.rollback) || !has(self.skipGates) || !self.skipGates",message="a rollback has no gates to skip"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Promotion's spec is immutable; create a new one"
type PromotionSpec struct {
	// pipelineRef names the Pipeline.
	// +required
	PipelineRef LocalObjectReference `json:"pipelineRef"`
	// stage to promote into.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Stage string `json:"stage"`
	// fromStage is the previous stage; empty for the first one.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	FromStage string `json:"fromStage,omitempty"`
	// dryRevision is the fleet config repo commit (sha) to promote; empty for a rollback.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	DryRevision string `json:"dryRevision,omitempty"`
	// skipGates promotes without waiting for the gates; skipGatesReason is recorded.
	// +optional
	SkipGates bool `json:"skipGates,omitempty"`
	// skipGatesReason says why the gates were skipped.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	SkipGatesReason string `json:"skipGatesReason,omitempty"`
	// rollback (when set) makes this a rollback of the stage: the hub opens a pull request
	// into the stage's branch that restores the rendered tree of an earlier commit of it.
	// +optional
	Rollback *RollbackSpec `json:"rollback,omitempty"`
}

// RollbackSpec says which earlier state of a stage's branch to restore.
type RollbackSpec struct {
	// to is an earlier commit of the stage's branch (a SHA or a unique prefix of at least 7
	// characters), or a dry revision (fleet config repo commit) the branch held: its newest
	// commit that carries that revision is restored.
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	To string `json:"to"`
	// reason is recorded in the pull request and on the Promotion.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// RollbackStatus is what a rollback resolved and restores.
type RollbackStatus struct {
	// restoredCommit is the earlier commit of the stage's branch whose tree is restored.
	// +required
	RestoredCommit string `json:"restoredCommit"`
	// dryRevision is the fleet config repo commit that restoredCommit was rendered from.
	// +optional
	DryRevision string `json:"dryRevision,omitempty"`
	// rolledBackRevision is the dry revision the stage held when the rollback was
	// resolved: once the rollback is merged, the pipeline does not propose it again for
	// this stage (a newer revision is proposed as usual).
	// +optional
	RolledBackRevision string `json:"rolledBackRevision,omitempty"`
}

// GateResult is the outcome of one gate.
type GateResult struct {
	// name of the gate: previous-stage, soak, window.
	// +required
	Name string `json:"name"`
	// passed is true once the gate holds.
	// +required
	Passed bool `json:"passed"`
	// message for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// lastTransitionTime is when passed last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// PullRequestRef points at an approval pull request.
type PullRequestRef struct {
	// number of the pull request.
	// +required
	Number int32 `json:"number"`
	// url of the pull request for people.
	// +optional
	URL string `json:"url,omitempty"`
	// headBranch of the pull request: gitfleet/promote/<stage>, or gitfleet/rollback/<stage>.
	// +optional
	HeadBranch string `json:"headBranch,omitempty"`
	// headCommit is the commit the pull request carries.
	// +optional
	HeadCommit string `json:"headCommit,omitempty"`
}

// PromotionStatus is the story of one attempt.
type PromotionStatus struct {
	// conditions are Ready, GatesPassed.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// phase is Pending, Open, Merged, Superseded, Rejected or Failed.
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
	// renderedCommit is the env-branch commit that carries the revision.
	// +optional
	RenderedCommit string `json:"renderedCommit,omitempty"`
	// pullRequest is the pull request, for PullRequest stages and rollbacks.
	// +optional
	PullRequest *PullRequestRef `json:"pullRequest,omitempty"`
	// rollback is what a rollback restores.
	// +optional
	Rollback *RollbackStatus `json:"rollback,omitempty"`
	// gates and their results.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Gates []GateResult `json:"gates,omitempty"`
	// supersededBy names the Promotion that replaced this one.
	// +optional
	SupersededBy string `json:"supersededBy,omitempty"`
	// startTime and completionTime of the attempt.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when the attempt reached a final phase.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// Promotion is one attempt to move a dry revision into a stage; `kubectl get promotions`
// tells the story of a release.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=promo,categories=gitfleet
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.spec.stage`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.spec.dryRevision`
// +kubebuilder:printcolumn:name="Rollback-To",type=string,JSONPath=`.status.rollback.dryRevision`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="PR",type=string,JSONPath=`.status.pullRequest.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Promotion struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the promotion.
	// +required
	Spec PromotionSpec `json:"spec"`
	// status of the promotion.
	// +optional
	Status PromotionStatus `json:"status,omitempty"`
}

// PromotionList is a list of Promotions.
// +kubebuilder:object:root=true
type PromotionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Promotion `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Promotion{}, &PromotionList{})
}

// GetConditions returns the status conditions.
func (in *Promotion) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Promotion) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

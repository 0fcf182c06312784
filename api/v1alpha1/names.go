package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Names gitfleet gives to what it creates outside its own objects' specs: labels, Git
// branches, Promotion names and commit-status contexts. The hub, the agent and the
// gitfleet CLI all read them from here, so that what one writes the others find.

// Labels the hub puts on the objects it creates or applies.
const (
	// PipelineLabel names the Pipeline of a Promotion (the hub's, and the gitfleet CLI's).
	PipelineLabel = "fleet.gitfleet.dev/pipeline"
	// StageLabel names the stage of a Promotion.
	StageLabel = "fleet.gitfleet.dev/stage"
	// FleetSourceLabel marks the objects the hub applied from a GitSource's
	// spec.fleetPath, with the GitSource's name: only they are pruned when they leave it.
	FleetSourceLabel = "fleet.gitfleet.dev/gitsource"
	// PromotionPullRequestLabel is the forge label put on every approval pull request,
	// besides Pipeline spec.pullRequestLabels.
	PromotionPullRequestLabel = "gitfleet/promotion"
	// RollbackPullRequestLabel is the forge label put on every rollback pull request,
	// besides Pipeline spec.pullRequestLabels.
	RollbackPullRequestLabel = "gitfleet/rollback"
)

// EnvBranchPrefix + <stage> is the default environment branch of a stage (see
// Stage.StageBranch), and env/default the branch of placements without a pipeline.
const EnvBranchPrefix = "env/"

// PromoteBranch is the branch of a stage's approval pull request,
// gitfleet/promote/<stage>: hydration renders the stage's target revision there, and the
// pull request merges it into the stage's branch.
func PromoteBranch(stage string) string { return "gitfleet/promote/" + stage }

// RollbackBranch is the branch of a stage's rollback pull request,
// gitfleet/rollback/<stage>.
func RollbackBranch(stage string) string { return "gitfleet/rollback/" + stage }

// PromotionName is the name of the attempt to move rev into a stage of a pipeline:
// <pipeline>-<stage>-<first 12 characters of rev>. The hub names its Promotions so, and
// `gitfleet promote` names the ones it records the same way.
func PromotionName(pipeline, stage, rev string) string {
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return pipeline + "-" + stage + "-" + rev
}

// Commit-status contexts gitfleet posts on the forge.
const (
	// ClusterStatusContextPrefix + <cluster> (see ClusterStatusContext) is the status an
	// agent posts on the env-branch commit it applied; the hub's previousStageHealthy gate
	// reads it.
	ClusterStatusContextPrefix = "gitfleet/cluster/"
	// StageStatusContextPrefix + <stage> (see StageStatusContext) is the status the hub
	// posts on dry commits of the fleet config repo ("3/3 clusters healthy").
	StageStatusContextPrefix = "gitfleet/stage/"
	// GatePreviousStageStatusContext is the status the hub sets on the head of an
	// approval pull request once the previous stage is healthy on its revision.
	GatePreviousStageStatusContext = "gitfleet/gate/previous-stage"
	// RenderStatusContext is the status the hub posts on the head of a pull request into a
	// GitSource's branch: what merging it would change, per cluster.
	RenderStatusContext = "gitfleet/render"
)

// ClusterStatusContext is the commit-status context of a member cluster's agent,
// gitfleet/cluster/<cluster>.
func ClusterStatusContext(cluster string) string { return ClusterStatusContextPrefix + cluster }

// StageStatusContext is the commit-status context of a stage on dry commits,
// gitfleet/stage/<stage>.
func StageStatusContext(stage string) string { return StageStatusContextPrefix + stage }

// admissionKinds change how the API server admits or serves other objects.
var admissionKinds = map[schema.GroupKind]bool{
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
}

// IsAdmissionKind reports whether gk changes how the API server admits or serves other
// objects: admission webhooks and policies (and their bindings), and APIService. All are
// cluster scoped (the renderer knows them so), and the agent applies them last, so that a
// webhook whose service is applied with it does not block that service.
func IsAdmissionKind(gk schema.GroupKind) bool { return admissionKinds[gk] }

// RequestReconcile sets ReconcileRequestAnnotation on obj to now, as `flux reconcile`
// does; patching obj with it asks its controller for a pass at once.
func RequestReconcile(obj metav1.Object, now time.Time) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[ReconcileRequestAnnotation] = now.UTC().Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
}

// PipelineSourceName is the GitSource whose placements use the pipeline named pipeline
// (the source of the first such placement by name decides), "" when none of placements
// uses it. It is the pipeline's dry repository, and its env branches' repository unless
// spec.targetRef names another.
func PipelineSourceName(pipeline string, placements []Placement) string {
	var first *Placement
	for i := range placements {
		p := &placements[i]
		if p.Spec.PipelineRef != nil && p.Spec.PipelineRef.Name == pipeline && (first == nil || p.Name < first.Name) {
			first = p
		}
	}
	if first == nil {
		return ""
	}
	return first.Spec.SourceRef.Name
}

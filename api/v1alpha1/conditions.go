package v1alpha1

import "github.com/fluxcd/pkg/apis/meta"

// Condition types. Ready, Reconciling, Stalled and Healthy are fluxcd/pkg/apis/meta's
// (kstatus-compatible): Ready is always present; Reconciling and Stalled are only present
// while True. The others are gitfleet's own; all have positive polarity (True is good)
// except Drifted, Reconciling and Stalled (True is abnormal).
const (
	// ReadyCondition summarises the object: True when the last pass fully succeeded.
	ReadyCondition = meta.ReadyCondition
	// ReconcilingCondition is True while a pass is in progress.
	ReconcilingCondition = meta.ReconcilingCondition
	// StalledCondition is True when progress needs a change of the spec.
	StalledCondition = meta.StalledCondition
	// HealthyCondition is True when every applied object is ready (ClusterSync) or the
	// agent reports its cluster healthy (MemberCluster).
	HealthyCondition = meta.HealthyCondition

	// FetchedCondition (GitSource) is True when the last fetch succeeded.
	FetchedCondition = "Fetched"
	// FleetAppliedCondition (GitSource) is True when the objects under spec.fleetPath were
	// applied to the hub and the removed ones pruned.
	FleetAppliedCondition = "FleetApplied"

	// JoinedCondition (MemberCluster) is True while the cluster is a member of the fleet and
	// its agent has sent a heartbeat within the grace period.
	JoinedCondition = "Joined"

	// ScheduledCondition (Placement, per cluster) is True when the cluster was selected.
	ScheduledCondition = "Scheduled"
	// RenderedCondition (Placement, per cluster) is True when the manifests rendered.
	RenderedCondition = "Rendered"
	// CommittedCondition (Placement, per cluster) is True when the rendered manifests are in
	// the environment branch.
	CommittedCondition = "Committed"
	// AppliedCondition (ClusterSync; Placement per cluster) is True when every object of
	// the commit was applied.
	AppliedCondition = "Applied"
	// AvailableCondition (Placement, per cluster) is True when the agent reports every
	// object healthy.
	AvailableCondition = "Available"
	// DriftedCondition (ClusterSync; Placement per cluster) is True when live objects
	// differ from Git. Negative polarity.
	DriftedCondition = "Drifted"
	// GatesPassedCondition (Promotion) is True when every gate of the target stage passed.
	GatesPassedCondition = "GatesPassed"
)

// Condition reasons. Succeeded, Failed, Progressing, DependencyNotReady and friends are
// fluxcd/pkg/apis/meta's; these are gitfleet's own.
const (
	// SucceededReason signals a pass that completed.
	SucceededReason = meta.SucceededReason
	// FailedReason is a generic failure.
	FailedReason = meta.FailedReason
	// ProgressingReason signals work in progress.
	ProgressingReason = meta.ProgressingReason
	// SuspendedReason signals spec.suspend.
	SuspendedReason = meta.SuspendedReason
	// DependencyNotReadyReason signals a referenced object that is missing or not ready.
	DependencyNotReadyReason = meta.DependencyNotReadyReason

	// FetchFailedReason: the repository could not be fetched (unreachable, bad credentials,
	// missing branch).
	FetchFailedReason = "FetchFailed"
	// AuthenticationFailedReason: credentials were refused or the Secret is incomplete.
	AuthenticationFailedReason = "AuthenticationFailed"
	// InvalidFleetObjectReason: an object under spec.fleetPath could not be decoded or was
	// refused by the hub API.
	InvalidFleetObjectReason = "InvalidFleetObject"

	// HeartbeatMissingReason: the agent has not reported within the grace period.
	HeartbeatMissingReason = "HeartbeatMissing"
	// LeftReason: the cluster's spec.state is Leave.
	LeftReason = "Left"
	// AgentReportedReason: a condition copied from what the agent reported.
	AgentReportedReason = "AgentReported"

	// ScheduleSucceededReason: the cluster was selected.
	ScheduleSucceededReason = "ScheduleSucceeded"
	// NotEnoughClustersReason: PickN found fewer feasible clusters than numberOfClusters,
	// or PickFixed named a cluster that cannot be picked.
	NotEnoughClustersReason = "NotEnoughClusters"
	// RenderFailedReason: Helm, Kustomize or directory rendering failed.
	RenderFailedReason = "RenderFailed"
	// OverrideFailedReason: an override rule failed for this cluster (missing path,
	// unknown variable); the message names the rule.
	OverrideFailedReason = "OverrideFailed"
	// SecretRefusedReason: the rendered output holds a Secret with plaintext data and the
	// placement does not set allowSecrets.
	SecretRefusedReason = "SecretRefused"
	// CommitFailedReason: the environment branch could not be written or pushed.
	CommitFailedReason = "CommitFailed"

	// GatesPendingReason: a gate has not passed yet (waiting, not failed).
	GatesPendingReason = "GatesPending"
	// AwaitingApprovalReason: the approval pull request is open.
	AwaitingApprovalReason = "AwaitingApproval"
	// RejectedReason: the approval pull request was closed without merging.
	RejectedReason = "Rejected"
	// RolledBackReason (event): a rollback pull request was merged; the stage holds the
	// restored tree again.
	RolledBackReason = "RolledBack"
	// RollbackFailedReason (event, Warning): a rollback cannot be carried out.
	RollbackFailedReason = "RollbackFailed"
	// ForgeUnavailableReason: the forge API failed; the step is retried with backoff.
	ForgeUnavailableReason = "ForgeUnavailable"
	// ForgeRateLimitedReason: the forge's API rate limit was exceeded; the step is retried
	// once the limit resets (as the forge said; within an hour), not with backoff.
	ForgeRateLimitedReason = "ForgeRateLimited"

	// ApplyFailedReason: at least one object was refused by the API server.
	ApplyFailedReason = "ApplyFailed"
	// PruneFailedReason: an object that left Git could not be deleted.
	PruneFailedReason = meta.PruneFailedReason
	// HealthCheckFailedReason: objects did not become ready within the health timeout.
	HealthCheckFailedReason = meta.HealthCheckFailedReason
	// DriftDetectedReason: live objects differ from Git.
	DriftDetectedReason = "DriftDetected"
	// DriftCorrectedReason: drift was found and re-applied.
	DriftCorrectedReason = "DriftCorrected"
	// NoDriftReason: live objects match Git.
	NoDriftReason = "NoDrift"
	// TakeoverRefusedReason: an object that exists and was not created by gitfleet was
	// not taken over, per the takeover policy.
	TakeoverRefusedReason = "TakeoverRefused"
)

// Annotations and labels gitfleet reads or writes.
const (
	// ReconcileRequestAnnotation forces a reconcile when its value changes (Flux's).
	ReconcileRequestAnnotation = meta.ReconcileRequestAnnotation

	// ManagedByLabel marks every object the agent applied: app.kubernetes.io/managed-by=gitfleet.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is ManagedByLabel's value.
	ManagedByValue = "gitfleet"
	// ClusterSyncLabel names the ClusterSync (namespace.name) that owns an applied object.
	ClusterSyncLabel = "fleet.gitfleet.dev/cluster-sync"

	// PlacementAnnotation is the provenance annotation naming the placement of an object.
	PlacementAnnotation = "fleet.gitfleet.dev/placement"
	// SourceRevisionAnnotation is the provenance annotation naming the dry revision.
	SourceRevisionAnnotation = "fleet.gitfleet.dev/source-revision"
	// PruneAnnotation set to "disabled" keeps an object when it leaves Git.
	PruneAnnotation = "fleet.gitfleet.dev/prune"
	// DriftIgnoreFieldsAnnotation lists JSON paths (comma separated) not compared for drift.
	DriftIgnoreFieldsAnnotation = "fleet.gitfleet.dev/drift-ignore-fields"
	// DriftSkipAnnotation set to "true" skips the object in drift detection.
	DriftSkipAnnotation = "fleet.gitfleet.dev/drift-skip"
	// SkipGatesReasonAnnotation records why a promotion skipped its gates.
	SkipGatesReasonAnnotation = "fleet.gitfleet.dev/skip-gates-reason"
)

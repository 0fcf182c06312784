// Package agent holds the member agent's reconciler: it pulls a ClusterSync's environment
// branch, applies it (server-side apply, prune, health), watches for drift and reports as
// commit statuses and CRD status.
//
// The agent applies whatever its branch holds, so its RBAC on the member cluster is broad
// by design (scope it down in config/agent for clusters that only take some kinds):
//
// +kubebuilder:rbac:groups=fleet.gitfleet.dev,resources=clustersyncs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fleet.gitfleet.dev,resources=clustersyncs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
package agent

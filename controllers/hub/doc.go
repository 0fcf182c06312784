// Package hub holds the hub's reconcilers: GitSource (fetch, fleet objects), MemberCluster
// (joined and heartbeat), Placement (schedule, render, override, commit), Pipeline and
// Promotion (gates, approval pull requests).
//
// The hub's RBAC is declared here, once for every reconciler of the package:
//
// +kubebuilder:rbac:groups=fleet.gitfleet.dev,resources=gitsources;memberclusters;placements;overrides;pipelines;promotions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=fleet.gitfleet.dev,resources=gitsources/status;memberclusters/status;placements/status;overrides/status;pipelines/status;promotions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=fleet.gitfleet.dev,resources=gitsources/finalizers;pipelines/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
package hub

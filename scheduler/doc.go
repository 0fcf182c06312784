// Package scheduler decides which member clusters a Placement goes to.
//
// It is pure Go and needs no API server: Schedule takes the placement's policy, the
// MemberClusters (or a prepared Fleet snapshot), the placement's current decisions and
// the time, and returns the new decisions, how many clusters are missing for PickN and
// PickFixed, and each selected cluster's share of the replicas. The Placement
// controller calls it on every reconcile; the same input always gives the same output.
//
// A cycle runs the plugins of a profile (package profile; the framework is in package
// framework): eligibility, taints and tolerations, required affinity and topology
// spread labels filter the candidates; preferred affinity and stickiness score the
// feasible ones; PickN then picks one cluster at a time, consulting topology spread.
// Scores compare lexicographically: topology spread, then affinity, then stickiness,
// and ties break by cluster name.
//
// Policies:
//
//   - PickAll selects every feasible cluster.
//   - PickN selects numberOfClusters feasible clusters. While the policy is unchanged
//     (Input.PreviousPolicyHash is empty or equals the policy's hash) it keeps the
//     clusters the current decisions selected as long as they stay feasible, and picks
//     the best-scored replacements for those that became infeasible: no churn when a
//     better cluster appears or a property changes. When the policy changed it re-plans
//     from scratch, with stickiness only breaking ties.
//   - PickFixed selects the named clusters that are feasible; a named cluster that does
//     not exist or is not feasible (not eligible, or tainted: PickFixed takes no
//     tolerations) is reported in a not-selected decision and counted as missing.
//
// See docs/scheduling.md for the user-facing description.
package scheduler

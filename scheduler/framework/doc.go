// Package framework is the scheduler's plugin framework: the extension points, the
// status every plugin returns, the per-cycle state and the profile that runs them.
//
// A scheduling cycle places one Placement. It runs, in order:
//
//  1. PreFilter, once: a plugin compiles the policy into cycle state, rejects an
//     invalid policy (Error), or says it has nothing to check this cycle (Skip, and
//     its Filter is not called).
//  2. Filter, once per candidate cluster: Success keeps the cluster feasible,
//     Unschedulable (with a reason for people) drops it. The first plugin that drops a
//     cluster gives its reason; later ones are not called for it.
//  3. PreScore, once, with the feasible clusters (e.g. the range of a sorted property).
//     Skip means its Score is not called.
//  4. Score, once per feasible cluster: a partial ClusterScore; the partial scores of
//     all plugins are added up.
//  5. Pick, for PickN only: clusters are picked one at a time. Before each pick every
//     PickPlugin assesses the remaining candidates given the picks so far (Success with
//     a score component, or Unschedulable for "not now"); after each pick it is told
//     through Picked. Fits checks a whole set of picks at once (used to keep the
//     current picks).
//
// Scores compare lexicographically: topology spread, then affinity, then stickiness,
// and ties break by cluster name, so the same input always gives the same answer.
//
// A nil *Status means Success. Plugins never panic on bad input: an invalid policy is an
// Error from PreFilter that wraps ErrInvalidPolicy, and a cluster whose data cannot be
// used (an unparsable property) is Unschedulable with a reason.
package framework

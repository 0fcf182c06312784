package framework

// Plugin is a named scheduler plugin. A plugin implements one or more of the extension
// point interfaces below; a Profile calls it at each of them.
type Plugin interface {
	// Name identifies the plugin in reasons and errors, e.g. "ClusterAffinity".
	Name() string
}

// PreFilterPlugin runs once per cycle, before any Filter.
//
// Status contract: Success (nil) to have Filter called for every candidate; Skip when
// the policy gives the plugin nothing to check (its Filter is not called this cycle);
// Error, wrapping ErrInvalidPolicy, when the policy cannot be used.
type PreFilterPlugin interface {
	Plugin
	PreFilter(state *CycleState) *Status
}

// FilterPlugin decides whether a cluster can take the placement.
//
// Status contract: Success (nil) when it can; Unschedulable with a reason for people
// when it cannot (bad cluster data, such as an unparsable property, is Unschedulable,
// never Error); Error only for a bug, which stops the cycle. Unless
// CycleState.Explain is true the reason may be generic (and the status shared); with
// Explain it says in detail why, and the code must be the same. Filter must not change
// the cycle state.
type FilterPlugin interface {
	Plugin
	Filter(state *CycleState, cluster *ClusterInfo) *Status
}

// PreScorePlugin runs once per cycle with the feasible clusters, before any Score.
//
// Status contract: Success (nil) to have Score called; Skip when there is nothing to
// score (Score is not called this cycle); Error stops the cycle.
type PreScorePlugin interface {
	Plugin
	PreScore(state *CycleState, feasible []*ClusterInfo) *Status
}

// ScorePlugin scores one feasible cluster. The partial scores of all plugins are added.
//
// Status contract: Success (nil) with the partial score; Error stops the cycle. A
// ScorePlugin never drops a cluster (that is Filter's job). Score must not change the
// cycle state.
type ScorePlugin interface {
	Plugin
	Score(state *CycleState, cluster *ClusterInfo) (ClusterScore, *Status)
}

// PickPlugin takes part in PickN's selection, which picks one cluster at a time. Its
// verdicts depend on the clusters picked so far, e.g. for topology spread.
//
// Status contract:
//   - PrePick runs once with the feasible clusters: Success (nil), Skip (the plugin is
//     not consulted this cycle) or Error (stops the cycle).
//   - Assess says whether the cluster may be picked next: Success with a score ≤ 0
//     (0: no penalty; it becomes ClusterScore.TopologySpread), or Unschedulable with a
//     reason when picking it now would break a hard constraint. Assess must not change
//     the cycle state and must return the same answer until the next Picked.
//   - Fits says whether the clusters, all picked together (and nothing else yet), keep
//     the plugin's hard constraints: Success (nil) or Unschedulable with a reason. The
//     scheduler uses it to keep the current picks as a whole, whatever order they were
//     picked in. It must not change the cycle state.
//   - Picked records that the cluster was picked.
type PickPlugin interface {
	Plugin
	PrePick(state *CycleState, feasible []*ClusterInfo) *Status
	Assess(state *CycleState, cluster *ClusterInfo) (int32, *Status)
	Fits(state *CycleState, clusters []*ClusterInfo) *Status
	Picked(state *CycleState, cluster *ClusterInfo)
}

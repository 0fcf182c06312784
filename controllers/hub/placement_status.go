package hub

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

// patchPlacementStatus writes one placement's decisions and per-cluster conditions.
func (r *HydrationReconciler) patchPlacementStatus(ctx context.Context, f *hydrate.Fleet, pp *hydrate.PlacementPlan, commits map[string]branchCommit) error {
	p := &fleetv1alpha1.Placement{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(pp.Placement), p); err != nil {
		return client.IgnoreNotFound(err)
	}
	clusters := map[string]*fleetv1alpha1.MemberCluster{}
	for i := range f.Clusters {
		clusters[f.Clusters[i].Name] = &f.Clusters[i]
	}
	_, err := outcome.Begin(r.Client, p).Finish(ctx, nil, outcome.Summary{Conditions: func() {
		PlacementStatus(p, pp, commits, clusters, f.Revision(), r.Clock.Now())
	}})
	return err
}

// PlacementStatus computes a placement's status from a hydration plan, the commits of its
// branches and the agents' reports on the MemberClusters. It is pure, for table tests.
func PlacementStatus(p *fleetv1alpha1.Placement, pp *hydrate.PlacementPlan, commits map[string]branchCommit,
	clusters map[string]*fleetv1alpha1.MemberCluster, revision string, now time.Time) {
	st := &p.Status
	if p.Spec.Suspend {
		outcome.SetCondition(p, fleetv1alpha1.ReadyCondition, metav1.ConditionFalse, fleetv1alpha1.SuspendedReason, "suspended: branches keep their current content")
		return
	}
	if pp.Err != nil {
		outcome.Finish(p, outcome.Stalling(fleetv1alpha1.DependencyNotReadyReason, pp.Err), "")
		return
	}
	st.Decisions = pp.Schedule.Decisions
	st.SchedulingPolicyHash = pp.Schedule.PolicyHash
	old := map[string]fleetv1alpha1.ClusterPlacementStatus{}
	for _, c := range st.Clusters {
		old[c.ClusterName] = c
	}
	st.Clusters = nil
	var selected, committed, applied, available, drifted int
	var failures []string
	for _, name := range slices.Sorted(maps.Keys(pp.Clusters)) {
		cp := pp.Clusters[name]
		selected++
		cs := old[name]
		cs.ClusterName, cs.Stage = name, cp.Stage
		conds := cs.Conditions
		set := func(typ string, s metav1.ConditionStatus, reason, msg string) {
			apimeta.SetStatusCondition(&conds, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: outcome.Truncate(msg, 512), ObservedGeneration: p.Generation, LastTransitionTime: metav1.NewTime(now)})
		}
		set(fleetv1alpha1.ScheduledCondition, metav1.ConditionTrue, fleetv1alpha1.ScheduleSucceededReason, decisionReason(pp, name))
		switch {
		case cp.Branch == "":
			set(fleetv1alpha1.RenderedCondition, metav1.ConditionFalse, fleetv1alpha1.DependencyNotReadyReason, "no stage of the pipeline selects this cluster")
			apimeta.RemoveStatusCondition(&conds, fleetv1alpha1.CommittedCondition)
			failures = append(failures, name+": no stage selects it")
		case cp.Err != nil:
			reason := render.Reason(cp.Err)
			set(fleetv1alpha1.RenderedCondition, metav1.ConditionFalse, reason, cp.Err.Error())
			failures = append(failures, name+": "+cp.Err.Error())
		default:
			set(fleetv1alpha1.RenderedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, fmt.Sprintf("%d objects at %s", len(cp.Objects), revision))
		}
		if cp.Branch != "" {
			c := commits[cp.Branch]
			switch {
			case c.pending != "":
				set(fleetv1alpha1.CommittedCondition, metav1.ConditionFalse, fleetv1alpha1.GatesPendingReason,
					fmt.Sprintf("stage %s has no promoted revision yet: %s is written once the stage's gates pass", c.pending, cp.Branch))
			case c.err != nil:
				set(fleetv1alpha1.CommittedCondition, metav1.ConditionFalse, fleetv1alpha1.CommitFailedReason, c.err.Error())
				failures = append(failures, name+": "+c.err.Error())
			case cp.Err != nil:
				set(fleetv1alpha1.CommittedCondition, metav1.ConditionFalse, render.Reason(cp.Err), "the branch keeps the last good files until a render succeeds")
				cs.RenderedCommit = c.commit
			default:
				set(fleetv1alpha1.CommittedCondition, metav1.ConditionTrue, fleetv1alpha1.SucceededReason, cp.Branch+"@"+fleetv1alpha1.ShortSHA(c.commit))
				cs.RenderedCommit = c.commit
				committed++
			}
		}
		a, av, d := agentConditions(set, clusters[name], p.Name, cs.RenderedCommit)
		applied, available, drifted = applied+a, available+av, drifted+d
		cs.Conditions = conds
		st.Clusters = append(st.Clusters, cs)
	}
	st.SelectedClusters = int32(selected)
	st.ObservedSourceRevision = revision
	st.Summary = fmt.Sprintf("%d/%d committed", committed, selected)
	if applied > 0 || available > 0 {
		st.Summary += fmt.Sprintf(", %d applied, %d available", applied, available)
	}
	if drifted > 0 {
		st.Summary += fmt.Sprintf(", %d drifted", drifted)
	}
	if pp.Schedule.Missing > 0 {
		st.Summary += fmt.Sprintf(" (%d missing)", pp.Schedule.Missing)
	}

	var err error
	switch {
	case len(failures) > 0:
		sort.Strings(failures)
		err = outcome.WithReason(firstReason(pp), fmt.Errorf("%d of %d clusters failed: %s", len(failures), selected, strings.Join(failures, "; ")))
	case pp.Schedule.Missing > 0:
		err = outcome.WithReason(fleetv1alpha1.NotEnoughClustersReason, fmt.Errorf("%s", pp.Schedule.Message))
	}
	scheduled := metav1.ConditionTrue
	schedMsg := fmt.Sprintf("%d clusters selected", selected)
	if pp.Schedule.Missing > 0 {
		scheduled, schedMsg = metav1.ConditionFalse, pp.Schedule.Message
	}
	outcome.SetCondition(p, fleetv1alpha1.ScheduledCondition, scheduled, map[bool]string{true: fleetv1alpha1.ScheduleSucceededReason, false: fleetv1alpha1.NotEnoughClustersReason}[scheduled == metav1.ConditionTrue], schedMsg)
	outcome.Finish(p, err, st.Summary+" at "+revision)
	if err == nil {
		st.ObservedGeneration = p.Generation
	}
}

// agentConditions derives Applied, Available and Drifted for one cluster from what its
// agent reported on the MemberCluster, when the agent has applied the commit holding this
// render. It returns 1s for the counters of the summary.
func agentConditions(set func(string, metav1.ConditionStatus, string, string), mc *fleetv1alpha1.MemberCluster, placement, commit string) (applied, available, drifted int) {
	if mc == nil || commit == "" || mc.Status.AppliedCommit == "" {
		return 0, 0, 0
	}
	if mc.Status.AppliedCommit != commit {
		set(fleetv1alpha1.AppliedCondition, metav1.ConditionFalse, fleetv1alpha1.ProgressingReason, "agent is at "+fleetv1alpha1.ShortSHA(mc.Status.AppliedCommit)+", waiting for "+fleetv1alpha1.ShortSHA(commit))
		return 0, 0, 0
	}
	var sum *fleetv1alpha1.PlacementApplySummary
	for i := range mc.Status.Placements {
		if mc.Status.Placements[i].Placement == placement {
			sum = &mc.Status.Placements[i]
		}
	}
	if sum == nil {
		set(fleetv1alpha1.AppliedCondition, metav1.ConditionTrue, fleetv1alpha1.AgentReportedReason, "applied "+fleetv1alpha1.ShortSHA(commit))
		return 1, 0, 0
	}
	if sum.Failed > 0 {
		set(fleetv1alpha1.AppliedCondition, metav1.ConditionFalse, fleetv1alpha1.ApplyFailedReason, fmt.Sprintf("%d of %d objects failed to apply", sum.Failed, sum.Objects))
	} else {
		set(fleetv1alpha1.AppliedCondition, metav1.ConditionTrue, fleetv1alpha1.AgentReportedReason, fmt.Sprintf("%d objects applied at %s", sum.Objects, fleetv1alpha1.ShortSHA(commit)))
		applied = 1
	}
	if sum.Healthy {
		set(fleetv1alpha1.AvailableCondition, metav1.ConditionTrue, fleetv1alpha1.AgentReportedReason, "every object is ready")
		available = 1
	} else {
		set(fleetv1alpha1.AvailableCondition, metav1.ConditionFalse, fleetv1alpha1.HealthCheckFailedReason, "objects not ready yet (see the cluster's ClusterSync)")
	}
	if sum.Drifted > 0 {
		set(fleetv1alpha1.DriftedCondition, metav1.ConditionTrue, fleetv1alpha1.DriftDetectedReason, fmt.Sprintf("%d objects differ from Git", sum.Drifted))
		drifted = 1
	} else {
		set(fleetv1alpha1.DriftedCondition, metav1.ConditionFalse, fleetv1alpha1.NoDriftReason, "live objects match Git")
	}
	return applied, available, drifted
}

func decisionReason(pp *hydrate.PlacementPlan, cluster string) string {
	for _, d := range pp.Schedule.Decisions {
		if d.ClusterName == cluster {
			return d.Reason
		}
	}
	return "selected"
}

func firstReason(pp *hydrate.PlacementPlan) string {
	for _, name := range slices.Sorted(maps.Keys(pp.Clusters)) {
		if err := pp.Clusters[name].Err; err != nil {
			return render.Reason(err)
		}
	}
	return fleetv1alpha1.CommitFailedReason
}

// patchOverrideStatus records which placements each Override selects.
func (r *HydrationReconciler) patchOverrideStatus(ctx context.Context, f *hydrate.Fleet) error {
	var all fleetv1alpha1.PlacementList
	if len(f.Overrides) == 0 {
		return nil
	}
	if err := r.Client.List(ctx, &all, client.InNamespace(f.Overrides[0].Namespace)); err != nil {
		return err
	}
	for i := range f.Overrides {
		o := &f.Overrides[i]
		var names []string
		for j := range all.Items {
			for _, m := range hydrate.MatchingOverrides(&all.Items[j], []fleetv1alpha1.Override{*o}) {
				if m.Name == o.Name {
					names = append(names, all.Items[j].Name)
				}
			}
		}
		sort.Strings(names)
		end := outcome.Begin(r.Client, o)
		o.Status.MatchedCount = int32(len(names))
		o.Status.MatchedPlacements = names[:min(len(names), 100)]
		if _, err := end.Finish(ctx, nil, outcome.Summary{
			ReadyMessage: fmt.Sprintf("selects %d placements", len(names)), ObservedGeneration: &o.Status.ObservedGeneration,
		}); err != nil {
			return err
		}
	}
	return nil
}

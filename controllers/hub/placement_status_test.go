package hub

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
	"github.com/gitfleet/gitfleet/scheduler"
)

// placementView is what TestPlacementStatus compares: conditions as "Status/Reason".
type placementView struct {
	Conditions         map[string]string
	Clusters           map[string]map[string]string
	RenderedCommits    map[string]string
	Summary            string
	ObservedGeneration int64
}

func viewOf(p *fleetv1alpha1.Placement) placementView {
	conds := func(cs []metav1.Condition) map[string]string {
		out := map[string]string{}
		for _, c := range cs {
			out[c.Type] = string(c.Status) + "/" + c.Reason
		}
		return out
	}
	v := placementView{Conditions: conds(p.Status.Conditions), Summary: p.Status.Summary, ObservedGeneration: p.Status.ObservedGeneration}
	for _, c := range p.Status.Clusters {
		if v.Clusters == nil {
			v.Clusters, v.RenderedCommits = map[string]map[string]string{}, map[string]string{}
		}
		v.Clusters[c.ClusterName] = conds(c.Conditions)
		if c.RenderedCommit != "" {
			v.RenderedCommits[c.ClusterName] = c.RenderedCommit
		}
	}
	return v
}

// TestPlacementStatus: a placement's status follows from the hydration plan, the commits
// of its branches and what the agents reported: Ready is True only when every selected
// cluster is rendered and committed (or waits for its stage's first promotion) and the
// scheduler found every cluster wanted; per-cluster conditions say which step failed.
func TestPlacementStatus(t *testing.T) {
	const (
		gen = 3
		rev = "main@sha1:0123456789abcdef"
		c1  = "1111111111111111111111111111111111111111"
		c2  = "2222222222222222222222222222222222222222"
	)
	ok := func(stage, branch string) *hydrate.ClusterPlan {
		return &hydrate.ClusterPlan{Stage: stage, Branch: branch, Objects: make([]render.Object, 2)}
	}
	plan := func(clusters map[string]*hydrate.ClusterPlan, mods ...func(*hydrate.PlacementPlan)) *hydrate.PlacementPlan {
		pp := &hydrate.PlacementPlan{Clusters: clusters, Schedule: scheduler.Result{PolicyHash: "h"}}
		for name := range clusters {
			pp.Schedule.Decisions = append(pp.Schedule.Decisions, fleetv1alpha1.ClusterDecision{ClusterName: name, Selected: true, Reason: "picked"})
		}
		for _, m := range mods {
			m(pp)
		}
		return pp
	}
	committed := map[string]branchCommit{"env/dev": {commit: c1}, "env/prod": {commit: c2}}
	agent := func(commit string, sum *fleetv1alpha1.PlacementApplySummary) *fleetv1alpha1.MemberCluster {
		mc := &fleetv1alpha1.MemberCluster{}
		mc.Status.AppliedCommit = commit
		if sum != nil {
			mc.Status.Placements = []fleetv1alpha1.PlacementApplySummary{*sum}
		}
		return mc
	}
	scheduled := "True/" + fleetv1alpha1.ScheduleSucceededReason
	for name, tc := range map[string]struct {
		suspend  bool
		pp       *hydrate.PlacementPlan
		commits  map[string]branchCommit
		clusters map[string]*fleetv1alpha1.MemberCluster
		want     placementView
	}{
		"suspended": {
			suspend: true, pp: plan(map[string]*hydrate.ClusterPlan{"a": ok("dev", "env/dev")}), commits: committed,
			want: placementView{Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "False/" + fleetv1alpha1.SuspendedReason}},
		},
		"placement-wide problem stalls": {
			pp: plan(nil, func(pp *hydrate.PlacementPlan) { pp.Err = errors.New(`pipeline "web" not found`) }),
			want: placementView{Conditions: map[string]string{
				fleetv1alpha1.ReadyCondition:   "False/" + fleetv1alpha1.DependencyNotReadyReason,
				fleetv1alpha1.StalledCondition: "True/" + fleetv1alpha1.DependencyNotReadyReason,
			}},
		},
		"committed, applied and available": {
			pp:      plan(map[string]*hydrate.ClusterPlan{"a": ok("dev", "env/dev"), "b": ok("prod", "env/prod")}),
			commits: committed,
			clusters: map[string]*fleetv1alpha1.MemberCluster{
				"a": agent(c1, &fleetv1alpha1.PlacementApplySummary{Placement: "web", Objects: 2, Healthy: true}),
				"b": agent(c2, &fleetv1alpha1.PlacementApplySummary{Placement: "web", Objects: 2, Healthy: true, Drifted: 1}),
			},
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "True/" + fleetv1alpha1.SucceededReason, fleetv1alpha1.ScheduledCondition: scheduled},
				Clusters: map[string]map[string]string{
					"a": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded", fleetv1alpha1.CommittedCondition: "True/Succeeded",
						fleetv1alpha1.AppliedCondition: "True/" + fleetv1alpha1.AgentReportedReason, fleetv1alpha1.AvailableCondition: "True/" + fleetv1alpha1.AgentReportedReason,
						fleetv1alpha1.DriftedCondition: "False/" + fleetv1alpha1.NoDriftReason},
					"b": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded", fleetv1alpha1.CommittedCondition: "True/Succeeded",
						fleetv1alpha1.AppliedCondition: "True/" + fleetv1alpha1.AgentReportedReason, fleetv1alpha1.AvailableCondition: "True/" + fleetv1alpha1.AgentReportedReason,
						fleetv1alpha1.DriftedCondition: "True/" + fleetv1alpha1.DriftDetectedReason},
				},
				RenderedCommits:    map[string]string{"a": c1, "b": c2},
				Summary:            "2/2 committed, 2 applied, 2 available, 1 drifted",
				ObservedGeneration: gen,
			},
		},
		"agent still at an older commit": {
			pp:       plan(map[string]*hydrate.ClusterPlan{"a": ok("dev", "env/dev")}),
			commits:  committed,
			clusters: map[string]*fleetv1alpha1.MemberCluster{"a": agent(c2, nil)},
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "True/" + fleetv1alpha1.SucceededReason, fleetv1alpha1.ScheduledCondition: scheduled},
				Clusters: map[string]map[string]string{"a": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded",
					fleetv1alpha1.CommittedCondition: "True/Succeeded", fleetv1alpha1.AppliedCondition: "False/" + fleetv1alpha1.ProgressingReason}},
				RenderedCommits:    map[string]string{"a": c1},
				Summary:            "1/1 committed",
				ObservedGeneration: gen,
			},
		},
		"a render fails: the branch keeps the last good files": {
			pp: plan(map[string]*hydrate.ClusterPlan{
				"a": ok("dev", "env/dev"),
				"b": {Stage: "dev", Branch: "env/dev", Err: fmt.Errorf("override web-x: %w", render.ErrOverride)},
			}),
			commits: committed,
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "False/" + fleetv1alpha1.OverrideFailedReason, fleetv1alpha1.ScheduledCondition: scheduled},
				Clusters: map[string]map[string]string{
					"a": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded", fleetv1alpha1.CommittedCondition: "True/Succeeded"},
					"b": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "False/" + fleetv1alpha1.OverrideFailedReason,
						fleetv1alpha1.CommittedCondition: "False/" + fleetv1alpha1.OverrideFailedReason},
				},
				RenderedCommits: map[string]string{"a": c1, "b": c1},
				Summary:         "1/2 committed",
			},
		},
		"a branch cannot be written": {
			pp:      plan(map[string]*hydrate.ClusterPlan{"a": ok("dev", "env/dev")}),
			commits: map[string]branchCommit{"env/dev": {err: errors.New("writing env/dev: push rejected")}},
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "False/" + fleetv1alpha1.CommitFailedReason, fleetv1alpha1.ScheduledCondition: scheduled},
				Clusters: map[string]map[string]string{"a": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded",
					fleetv1alpha1.CommittedCondition: "False/" + fleetv1alpha1.CommitFailedReason}},
				Summary: "0/1 committed",
			},
		},
		"a later stage before its first promotion": {
			pp:      plan(map[string]*hydrate.ClusterPlan{"b": ok("prod", "env/prod")}),
			commits: map[string]branchCommit{"env/prod": {pending: "prod"}},
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "True/" + fleetv1alpha1.SucceededReason, fleetv1alpha1.ScheduledCondition: scheduled},
				Clusters: map[string]map[string]string{"b": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded",
					fleetv1alpha1.CommittedCondition: "False/" + fleetv1alpha1.GatesPendingReason}},
				Summary:            "0/1 committed",
				ObservedGeneration: gen,
			},
		},
		"not enough clusters": {
			pp: plan(map[string]*hydrate.ClusterPlan{"a": ok("dev", "env/dev")}, func(pp *hydrate.PlacementPlan) {
				pp.Schedule.Missing, pp.Schedule.Message = 1, "2 clusters wanted, 1 eligible"
			}),
			commits: committed,
			want: placementView{
				Conditions: map[string]string{fleetv1alpha1.ReadyCondition: "False/" + fleetv1alpha1.NotEnoughClustersReason,
					fleetv1alpha1.ScheduledCondition: "False/" + fleetv1alpha1.NotEnoughClustersReason},
				Clusters: map[string]map[string]string{"a": {fleetv1alpha1.ScheduledCondition: scheduled, fleetv1alpha1.RenderedCondition: "True/Succeeded",
					fleetv1alpha1.CommittedCondition: "True/Succeeded"}},
				RenderedCommits: map[string]string{"a": c1},
				Summary:         "1/1 committed (1 missing)",
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := &fleetv1alpha1.Placement{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "fleet", Generation: gen}}
			p.Spec.Suspend = tc.suspend
			PlacementStatus(p, tc.pp, tc.commits, tc.clusters, rev, testNow)
			if d := cmp.Diff(tc.want, viewOf(p), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("PlacementStatus() (-want +got):\n%s", d)
			}
		})
	}
}

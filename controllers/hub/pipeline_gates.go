package hub

import (
	"fmt"
	"sort"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/robfig/cron/v3"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
)

// The gates a later stage's revision must pass, as named in Promotion status.
const (
	GatePreviousStage = "previous-stage"
	GateSoak          = "soak"
	GateWindow        = "window"
)

// stageHealth is what the clusters of a stage report for its branch head.
type stageHealth struct {
	// Total clusters in the stage, Healthy ones (applied the head and Healthy=True).
	Total, Healthy int32
	// Failed clusters applied the head and report Healthy=False; Pending ones have not
	// applied it yet. Both sorted.
	Failed, Pending []string
}

// AllHealthy is true when the stage has clusters and every one is healthy.
func (h stageHealth) AllHealthy() bool { return h.Total > 0 && h.Healthy == h.Total }

// Message is the stage's health for people: "3/3 clusters healthy",
// "1 cluster failed: eu-2", "1/3 clusters healthy, 2 pending".
func (h stageHealth) Message() string {
	switch {
	case h.Total == 0:
		return "no clusters"
	case len(h.Failed) > 0:
		return fmt.Sprintf("%d %s failed: %s", len(h.Failed), fleetv1alpha1.Plural(len(h.Failed), "cluster", "clusters"), strings.Join(h.Failed, ", "))
	case len(h.Pending) > 0:
		return fmt.Sprintf("%d/%d clusters healthy, %d pending", h.Healthy, h.Total, len(h.Pending))
	default:
		return fmt.Sprintf("%d/%d clusters healthy", h.Healthy, h.Total)
	}
}

// clusterHealth summarises the MemberClusters of a stage against the commit at the head
// of its branch, from two reports of each agent: its MemberCluster (appliedCommit is the
// head and Healthy) and, when the forge is known, its commit status
// gitfleet/cluster/<name> on the head (statuses: context → state; nil without a forge). A
// failure in either report makes the cluster failed; else success in either makes it
// healthy; else it is pending. Clusters that left are not counted.
func clusterHealth(clusters []*fleetv1alpha1.MemberCluster, head string, statuses map[string]gitsource.CommitState) stageHealth {
	var h stageHealth
	for _, mc := range clusters {
		if mc.Spec.State == fleetv1alpha1.ClusterLeave || !mc.DeletionTimestamp.IsZero() {
			continue
		}
		h.Total++
		var crd metav1.ConditionStatus
		if healthy := apimeta.FindStatusCondition(mc.Status.Conditions, fleetv1alpha1.HealthyCondition); healthy != nil && head != "" && mc.Status.AppliedCommit == head {
			crd = healthy.Status
		}
		st := statuses[fleetv1alpha1.ClusterStatusContextPrefix+mc.Name]
		switch {
		case head == "":
			h.Pending = append(h.Pending, mc.Name)
		case crd == metav1.ConditionFalse || st == gitsource.StateFailure || st == gitsource.StateError:
			h.Failed = append(h.Failed, mc.Name)
		case crd == metav1.ConditionTrue || st == gitsource.StateSuccess:
			h.Healthy++
		default:
			h.Pending = append(h.Pending, mc.Name)
		}
	}
	sort.Strings(h.Failed)
	sort.Strings(h.Pending)
	return h
}

// nextHealthySince is when the stage became healthy for its current head: kept from the
// last pass while the head is the same and the stage stays healthy, now (rounded up to a
// second) when it just became healthy, nil when it is not.
func nextHealthySince(old fleetv1alpha1.StageStatus, head string, h stageHealth, now time.Time) *metav1.Time {
	if !h.AllHealthy() {
		return nil
	}
	if old.HealthySince != nil && old.RenderedCommit == head {
		return old.HealthySince
	}
	// Status keeps whole seconds: round up, so that a soak is never cut short.
	t := metav1.NewTime(ceilSecond(now))
	return &t
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// gateOutcome is the evaluation of a stage's gates for one candidate revision.
type gateOutcome struct {
	Results []fleetv1alpha1.GateResult
	// Passed is true when every gate passed.
	Passed bool
	// RetryAfter, when not zero, is when a gate that has not passed may pass by the clock
	// alone (soak elapsed, window opens).
	RetryAfter time.Duration
}

// Waiting lists the gates that have not passed, with their messages.
func (g gateOutcome) Waiting() string {
	var out []string
	for _, r := range g.Results {
		if !r.Passed {
			out = append(out, r.Name+": "+r.Message)
		}
	}
	return strings.Join(out, "; ")
}

// evaluateGates evaluates stage's gates for the revision the previous stage holds, given
// the previous stage's status (its health is for its branch head, which carries that
// revision). It is pure: the clock is an argument.
func evaluateGates(stage fleetv1alpha1.Stage, prev fleetv1alpha1.StageStatus, now time.Time) gateOutcome {
	gates := stage.Gates
	if gates == nil {
		gates = &fleetv1alpha1.StageGates{}
	}
	out := gateOutcome{Passed: true}
	add := func(name string, passed bool, msg string) {
		out.Results = append(out.Results, fleetv1alpha1.GateResult{Name: name, Passed: passed, Message: msg})
		out.Passed = out.Passed && passed
	}
	healthy := prev.HealthySince != nil
	if gates.PreviousStageHealthy == nil || *gates.PreviousStageHealthy {
		msg := fmt.Sprintf("%s: %d/%d clusters healthy", prev.Name, prev.HealthyClusters, prev.Clusters)
		if prev.Message != "" {
			msg = prev.Name + ": " + prev.Message
		}
		add(GatePreviousStage, healthy, msg)
	}
	if gates.SoakDuration != nil && gates.SoakDuration.Duration > 0 {
		soak := gates.SoakDuration.Duration
		switch {
		case !healthy:
			add(GateSoak, false, fmt.Sprintf("%s soak starts once %s is healthy", soak, prev.Name))
		case now.Sub(prev.HealthySince.Time) >= soak:
			add(GateSoak, true, fmt.Sprintf("%s healthy for %s (soak %s)", prev.Name, now.Sub(prev.HealthySince.Time).Round(time.Second), soak))
		default:
			left := prev.HealthySince.Add(soak).Sub(now)
			add(GateSoak, false, fmt.Sprintf("%s of %s soak left", left.Round(time.Second), soak))
			out.RetryAfter = minPositive(out.RetryAfter, left)
		}
	}
	if len(gates.Windows) > 0 {
		open, next, err := windowOpen(gates.Windows, now)
		switch {
		case err != nil:
			add(GateWindow, false, err.Error())
		case open:
			add(GateWindow, true, "a promotion window is open")
		default:
			add(GateWindow, false, "next window opens at "+next.UTC().Format(time.RFC3339))
			out.RetryAfter = minPositive(out.RetryAfter, next.Sub(now))
		}
	}
	return out
}

// windowOpen reports whether now (UTC) falls in one of the windows: a window is open from
// each time its cron schedule fires, for its duration. When none is open, next is the
// earliest time one opens.
func windowOpen(windows []fleetv1alpha1.TimeWindow, now time.Time) (open bool, next time.Time, err error) {
	now = now.UTC()
	for _, w := range windows {
		sched, err := cron.ParseStandard(w.Schedule)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("window schedule %q: %w", w.Schedule, err)
		}
		// The last activation at or before now is the first one after now - duration.
		if start := sched.Next(now.Add(-w.Duration.Duration)); !start.After(now) {
			return true, time.Time{}, nil
		}
		if n := sched.Next(now); next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return false, next, nil
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	default:
		return min(a, b)
	}
}

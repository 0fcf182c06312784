package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

// TestRandomisedInvariants schedules random policies on random fleets (fixed seed) and
// checks the scheduler's promises against a simple oracle written from the API's
// definitions, not from the scheduler's code.
func TestRandomisedInvariants(t *testing.T) {
	g := fx.NewRandom(20260314)
	shuffle := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		size := 1 + g.R.IntN(60)
		clusters := g.Fleet(size)
		p := g.Policy(size)
		current := randomCurrent(g.R, clusters)
		name := fmt.Sprintf("case %d (%d clusters, %s)", i, size, p.PlacementType)

		res, err := scheduler.Schedule(scheduler.Input{Policy: p, Clusters: clusters, Current: current, Now: fx.Now})
		if err != nil {
			t.Fatalf("%s: Schedule() = %v", name, err)
		}
		checkInvariants(t, name, p, clusters, current, res)

		// The same input gives the same output, whatever the order of the clusters.
		shuffled := slices.Clone(clusters)
		shuffle.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		again, err := scheduler.Schedule(scheduler.Input{Policy: p, Clusters: shuffled, Current: current, Now: fx.Now})
		if err != nil {
			t.Fatalf("%s: Schedule(shuffled) = %v", name, err)
		}
		if diff := cmp.Diff(res, again); diff != "" {
			t.Fatalf("%s: same input, different output (-first +shuffled):\n%s", name, diff)
		}

		// Re-running with the previous decisions and no change keeps the selection, and
		// from then on returns the decisions unchanged.
		in := scheduler.Input{Policy: p, Clusters: clusters, Current: res.Decisions, PreviousPolicyHash: res.PolicyHash, Now: fx.Now}
		second, err := scheduler.Schedule(in)
		if err != nil {
			t.Fatalf("%s: second Schedule() = %v", name, err)
		}
		if diff := cmp.Diff(res.Selected, second.Selected); diff != "" {
			t.Fatalf("%s: re-run changed the selection (-first +second):\n%s", name, diff)
		}
		in.Current = second.Decisions
		third, err := scheduler.Schedule(in)
		if err != nil {
			t.Fatalf("%s: third Schedule() = %v", name, err)
		}
		if diff := cmp.Diff(second, third); diff != "" {
			t.Fatalf("%s: re-run changed the result (-second +third):\n%s", name, diff)
		}
	}
}

// randomCurrent selects a random handful of clusters (and a name not in the fleet).
func randomCurrent(r *rand.Rand, clusters []v1alpha1.MemberCluster) []v1alpha1.ClusterDecision {
	var out []v1alpha1.ClusterDecision
	for _, mc := range clusters {
		if r.IntN(5) == 0 {
			out = append(out, v1alpha1.ClusterDecision{ClusterName: mc.Name, Selected: true})
		}
	}
	if r.IntN(4) == 0 {
		out = append(out, v1alpha1.ClusterDecision{ClusterName: "vanished", Selected: true})
	}
	return out
}

func checkInvariants(t *testing.T, name string, p v1alpha1.PlacementPolicy, clusters []v1alpha1.MemberCluster, current []v1alpha1.ClusterDecision, res scheduler.Result) {
	selectedBefore := map[string]bool{}
	for _, d := range current {
		if d.Selected {
			selectedBefore[d.ClusterName] = true
		}
	}
	t.Helper()
	byName := map[string]*v1alpha1.MemberCluster{}
	for i := range clusters {
		byName[clusters[i].Name] = &clusters[i]
	}
	var feasible []string
	for _, mc := range clusters {
		if oracleFeasible(p, &mc, selectedBefore[mc.Name]) {
			feasible = append(feasible, mc.Name)
		}
	}
	slices.Sort(feasible)

	// Nothing picked is ineligible, violates a required term or an untolerated taint.
	for _, n := range res.Selected {
		mc := byName[n]
		if mc == nil || !oracleFeasible(p, mc, selectedBefore[n]) {
			t.Fatalf("%s: selected %s, which is not feasible (eligible, tolerated, matching)", name, n)
		}
	}
	switch p.PlacementType {
	case v1alpha1.PickAll:
		if diff := cmp.Diff(feasible, res.Selected); len(feasible) > 0 && diff != "" {
			t.Fatalf("%s: PickAll selected (-feasible +selected):\n%s", name, diff)
		}
	case v1alpha1.PickFixed:
		named := slices.Compact(slices.Sorted(slices.Values(p.ClusterNames)))
		var want []string
		for _, n := range named {
			if slices.Contains(feasible, n) {
				want = append(want, n)
			}
		}
		if diff := cmp.Diff(want, res.Selected); len(want) > 0 && diff != "" {
			t.Fatalf("%s: PickFixed selected (-want +got):\n%s", name, diff)
		}
		if int(res.Missing) != len(named)-len(want) {
			t.Fatalf("%s: PickFixed Missing = %d, want %d", name, res.Missing, len(named)-len(want))
		}
	case v1alpha1.PickN:
		n := int(*p.NumberOfClusters)
		if len(res.Selected) > n {
			t.Fatalf("%s: PickN %d selected %d clusters", name, n, len(res.Selected))
		}
		if int(res.Missing) != n-len(res.Selected) {
			t.Fatalf("%s: Missing = %d, want %d", name, res.Missing, n-len(res.Selected))
		}
		if !hasHardSpread(p) && len(res.Selected) != min(n, len(feasible)) {
			t.Fatalf("%s: PickN %d selected %d of %d feasible clusters", name, n, len(res.Selected), len(feasible))
		}
		checkSkew(t, name, p, byName, feasible, res.Selected)
	}

	// Decisions: each selected cluster once, at most MaxNotSelected others, no cluster twice.
	seen := map[string]bool{}
	notSelected := 0
	for _, d := range res.Decisions {
		if seen[d.ClusterName] {
			t.Fatalf("%s: cluster %s has two decisions", name, d.ClusterName)
		}
		seen[d.ClusterName] = true
		if !d.Selected {
			notSelected++
			if d.Reason == "" {
				t.Fatalf("%s: not-selected decision for %s has no reason", name, d.ClusterName)
			}
		}
	}
	if len(res.Decisions)-notSelected != len(res.Selected) || notSelected > scheduler.MaxNotSelected {
		t.Fatalf("%s: %d decisions, %d not selected, %d selected", name, len(res.Decisions), notSelected, len(res.Selected))
	}

	// Replica shares sum exactly to the total.
	if p.Replicas != nil && len(res.Selected) > 0 {
		var sum int32
		for _, n := range res.Selected {
			sum += res.Replicas[n]
		}
		if sum != p.Replicas.Total || len(res.Replicas) != len(res.Selected) {
			t.Fatalf("%s: replicas %v sum to %d, want %d over %d clusters", name, res.Replicas, sum, p.Replicas.Total, len(res.Selected))
		}
	}
}

func hasHardSpread(p v1alpha1.PlacementPolicy) bool {
	for _, c := range p.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != v1alpha1.ScheduleAnyway {
			return true
		}
	}
	return false
}

// checkSkew checks that no DoNotSchedule constraint's skew exceeds maxSkew: over the
// domains of the feasible clusters, picks in the fullest minus picks in the emptiest.
func checkSkew(t *testing.T, name string, p v1alpha1.PlacementPolicy, byName map[string]*v1alpha1.MemberCluster, feasible, selected []string) {
	t.Helper()
	for _, c := range p.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == v1alpha1.ScheduleAnyway {
			continue
		}
		counts := map[string]int{}
		for _, n := range feasible {
			counts[byName[n].Labels[c.TopologyKey]] = 0
		}
		for _, n := range selected {
			counts[byName[n].Labels[c.TopologyKey]]++
		}
		lo, hi := -1, 0
		for _, v := range counts {
			if lo < 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
		if hi-lo > int(max(c.MaxSkew, 1)) {
			t.Fatalf("%s: skew over %s is %d (%v), above maxSkew %d", name, c.TopologyKey, hi-lo, counts, c.MaxSkew)
		}
	}
}

// oracleFeasible says whether the cluster can take the placement, from the API's
// definitions, for the values fixtures.Random generates. PickAll keeps a cluster it
// selected before although its heartbeat lapsed or it reports unhealthy.
func oracleFeasible(p v1alpha1.PlacementPolicy, mc *v1alpha1.MemberCluster, selectedBefore bool) bool {
	if mc.DeletionTimestamp != nil || mc.Spec.State == v1alpha1.ClusterLeave {
		return false
	}
	kept := p.PlacementType == v1alpha1.PickAll && selectedBefore
	if grace := mc.Spec.HeartbeatGrace(); grace > 0 {
		if hb := mc.Status.LastHeartbeatTime; !kept && (hb == nil || fx.Now.Sub(hb.Time) > grace) {
			return false
		}
	}
	for _, c := range mc.Status.Conditions {
		if c.Type == v1alpha1.HealthyCondition && c.Status == metav1.ConditionFalse && !kept {
			return false
		}
	}
	for _, taint := range mc.Spec.Taints {
		tolerated := false
		for _, tol := range p.Tolerations {
			if tol.Key == taint.Key && (tol.Operator == v1alpha1.TolerationExists || tol.Value == taint.Value) {
				tolerated = true
			}
		}
		if !tolerated {
			return false
		}
	}
	if p.PlacementType == v1alpha1.PickN {
		for _, c := range p.TopologySpreadConstraints {
			if _, ok := mc.Labels[c.TopologyKey]; !ok && c.WhenUnsatisfiable != v1alpha1.ScheduleAnyway {
				return false
			}
		}
	}
	if p.Affinity == nil || p.Affinity.ClusterAffinity == nil || p.Affinity.ClusterAffinity.Required == nil {
		return true
	}
	for _, term := range p.Affinity.ClusterAffinity.Required.ClusterSelectorTerms {
		if oracleMatches(term, mc) {
			return true
		}
	}
	return false
}

func oracleMatches(term v1alpha1.ClusterSelectorTerm, mc *v1alpha1.MemberCluster) bool {
	if ls := term.LabelSelector; ls != nil {
		for _, e := range ls.MatchExpressions { // fixtures.Random writes "env In (...)" only
			if !slices.Contains(e.Values, mc.Labels[e.Key]) {
				return false
			}
		}
	}
	if ps := term.PropertySelector; ps != nil {
		for _, e := range ps.MatchExpressions {
			have, ok := oracleProperty(mc, e.Name)
			want, _ := strconv.Atoi(e.Values[0])
			if !ok || !oracleCompare(have, e.Operator, want) {
				return false
			}
		}
	}
	return true
}

func oracleProperty(mc *v1alpha1.MemberCluster, name string) (int, bool) {
	switch name {
	case v1alpha1.NodeCountProperty:
		if mc.Status.Resources == nil {
			return 0, false
		}
		return int(mc.Status.Resources.NodeCount), true
	default:
		for _, p := range mc.Spec.Properties {
			if p.Name == name {
				v, err := strconv.Atoi(p.Value)
				return v, err == nil
			}
		}
		return 0, false
	}
}

func oracleCompare(have int, op v1alpha1.PropertySelectorOperator, want int) bool {
	switch op {
	case v1alpha1.PropertyGt:
		return have > want
	case v1alpha1.PropertyGe:
		return have >= want
	case v1alpha1.PropertyEq:
		return have == want
	case v1alpha1.PropertyNe:
		return have != want
	case v1alpha1.PropertyLt:
		return have < want
	default:
		return have <= want
	}
}

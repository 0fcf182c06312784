package framework

import (
	"time"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// StateKey names a plugin's data in the cycle state; use the plugin's name.
type StateKey string

// CycleState is what one scheduling cycle knows: the policy, the time, the fleet, the
// current decisions, and data plugins compute in PreFilter, PreScore and PrePick for
// their later calls. It lives for one cycle and is not safe for concurrent use.
type CycleState struct {
	now      time.Time
	policy   *v1alpha1.PlacementPolicy
	fleet    *Fleet
	selected map[string]bool
	data     map[StateKey]any
	explain  bool

	// The plugins that did not say Skip, set by the Profile's runners.
	filters []FilterPlugin
	scores  []ScorePlugin
	picks   []PickPlugin
}

// NewCycleState returns the state for a cycle placing policy on fleet at now;
// currentlySelected holds the names of the clusters the current decisions selected.
func NewCycleState(now time.Time, policy *v1alpha1.PlacementPolicy, fleet *Fleet, currentlySelected map[string]bool) *CycleState {
	return &CycleState{
		now:      now,
		policy:   policy,
		fleet:    fleet,
		selected: currentlySelected,
		data:     map[StateKey]any{},
	}
}

// Now returns the time of the cycle.
func (s *CycleState) Now() time.Time { return s.now }

// Policy returns the policy being placed; plugins must not modify it.
func (s *CycleState) Policy() *v1alpha1.PlacementPolicy { return s.policy }

// Fleet returns the fleet snapshot.
func (s *CycleState) Fleet() *Fleet { return s.fleet }

// CurrentlySelected reports whether the current decisions select the cluster.
func (s *CycleState) CurrentlySelected(name string) bool { return s.selected[name] }

// Explain reports whether a Filter call should say in detail why it drops a cluster.
// Outside of explanations a Filter may return a generic, shared reason, so that
// dropping thousands of clusters allocates nothing; the scheduler asks again, with
// Explain true, for the few clusters whose reason it reports.
func (s *CycleState) Explain() bool { return s.explain }

// Write stores a plugin's data.
func (s *CycleState) Write(key StateKey, v any) { s.data[key] = v }

// Read returns a plugin's data.
func (s *CycleState) Read(key StateKey) (any, bool) {
	v, ok := s.data[key]
	return v, ok
}

// ReadAs returns a plugin's data as a T; false when it is missing or of another type.
func ReadAs[T any](s *CycleState, key StateKey) (T, bool) {
	v, ok := s.data[key].(T)
	return v, ok
}

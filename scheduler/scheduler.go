package scheduler

import (
	"time"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	"github.com/gitfleet/gitfleet/scheduler/profile"
)

// MaxNotSelected is how many not-selected clusters get a decision with a reason
// (status.decisions holds up to 20 besides the selected ones).
const MaxNotSelected = 20

// MaxReasonLength is the longest decision reason, as the API allows; longer reasons are
// cut.
const MaxReasonLength = 1024

// ErrInvalidPolicy is wrapped by Schedule's error when the policy cannot be used (the
// user must fix the Placement: the controller reports it as stalled, without retrying).
var ErrInvalidPolicy = framework.ErrInvalidPolicy

// Fleet is a prepared, immutable snapshot of the member clusters (see NewFleet).
type Fleet = framework.Fleet

// NewFleet prepares a snapshot of the clusters (labels, taints, parsed properties),
// to be shared by the Schedule calls of many placements, also concurrently. It keeps
// pointers into the slice, which must not change while the snapshot is in use.
func NewFleet(clusters []v1alpha1.MemberCluster) *Fleet { return framework.NewFleet(clusters) }

// Input is what Schedule needs to place one Placement.
type Input struct {
	// Policy is the placement's policy, usually Placement.EffectivePolicy(); an empty
	// placementType means PickAll.
	Policy v1alpha1.PlacementPolicy
	// Clusters are the fleet's MemberClusters. Ignored when Fleet is set.
	Clusters []v1alpha1.MemberCluster
	// Fleet is a snapshot from NewFleet, shared between placements; optional.
	Fleet *Fleet
	// Current are the placement's decisions from its status; the selected ones are kept
	// by PickN and score stickiness.
	Current []v1alpha1.ClusterDecision
	// PreviousPolicyHash is Result.PolicyHash of the run that made Current, as stored
	// in the placement's status.schedulingPolicyHash. When it is set and differs from
	// the policy's hash, the policy changed and PickN re-plans instead of keeping its
	// current clusters. Empty means unknown: treated as unchanged.
	PreviousPolicyHash string
	// Now is the time heartbeats are compared with; zero means time.Now().
	Now time.Time
}

// Result is the outcome of Schedule.
type Result struct {
	// Decisions are the selected clusters (sorted by name), with score, reason and
	// replicas, followed by up to MaxNotSelected clusters not selected, with the
	// reason: first those the current decisions selected, then by name. For PickFixed
	// only the named clusters are reported.
	Decisions []v1alpha1.ClusterDecision
	// Selected are the names of the selected clusters, sorted.
	Selected []string
	// Replicas is each selected cluster's share of policy.replicas.total; nil without
	// policy.replicas.
	Replicas map[string]int32
	// Wanted is numberOfClusters for PickN, the number of distinct names for PickFixed,
	// and the number selected for PickAll.
	Wanted int32
	// Missing is Wanted minus the number selected: the clusters PickN or PickFixed
	// could not get.
	Missing int32
	// NotSelected is the number of clusters considered and not selected, including
	// those beyond the MaxNotSelected that got a decision.
	NotSelected int
	// Reason is the Scheduled condition's reason: ScheduleSucceeded, or
	// NotEnoughClusters when Missing > 0.
	Reason string
	// Message summarises the result for the Scheduled condition.
	Message string
	// PolicyHash identifies the policy's scheduling-relevant fields (see PolicyHash);
	// store it in status.schedulingPolicyHash and pass it back as
	// Input.PreviousPolicyHash.
	PolicyHash string
}

// Scheduler runs scheduling cycles with a profile. It is safe for concurrent use.
type Scheduler struct {
	profile *framework.Profile
}

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithProfile replaces the default profile (profile.Default()).
func WithProfile(p *framework.Profile) Option {
	return func(s *Scheduler) { s.profile = p }
}

// New returns a Scheduler with the default profile unless an option replaces it.
func New(opts ...Option) *Scheduler {
	s := &Scheduler{profile: profile.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

var defaultScheduler = New()

// Schedule places one placement with the default profile; see Scheduler.Schedule.
func Schedule(in Input) (Result, error) { return defaultScheduler.Schedule(in) }

// Schedule places one placement. It fails only for a policy it cannot use, with an
// error wrapping ErrInvalidPolicy; bad cluster data never fails it (such a cluster is
// not selected, with a reason).
func (s *Scheduler) Schedule(in Input) (Result, error) {
	policy, err := normalizePolicy(in.Policy)
	if err != nil {
		return Result{}, err
	}
	fleet := in.Fleet
	if fleet == nil {
		fleet = framework.NewFleet(in.Clusters)
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	hash := PolicyHash(policy)
	current := selectedNames(in.Current)
	c := &cycle{
		profile: s.profile,
		policy:  &policy,
		fleet:   fleet,
		current: current,
		keep:    in.PreviousPolicyHash == "" || in.PreviousPolicyHash == hash,
		state:   framework.NewCycleState(now, &policy, fleet, current),
	}
	if err := c.run(); err != nil {
		return Result{}, err
	}
	res, err := c.result()
	if err != nil {
		return Result{}, err
	}
	res.PolicyHash = hash
	return res, nil
}

func selectedNames(decisions []v1alpha1.ClusterDecision) map[string]bool {
	out := make(map[string]bool, len(decisions))
	for _, d := range decisions {
		if d.Selected {
			out[d.ClusterName] = true
		}
	}
	return out
}

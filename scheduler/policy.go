package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/replicas"
)

// normalizePolicy returns a copy of the policy with the API's defaults filled in and
// clusterNames sorted without duplicates, or an error wrapping ErrInvalidPolicy for what
// the scheduler itself cannot use (the plugins check the rest).
func normalizePolicy(in v1alpha1.PlacementPolicy) (v1alpha1.PlacementPolicy, error) {
	p := in
	switch p.PlacementType {
	case "":
		p.PlacementType = v1alpha1.PickAll
	case v1alpha1.PickAll, v1alpha1.PickFixed:
	case v1alpha1.PickN:
		switch {
		case p.NumberOfClusters == nil:
			return p, fmt.Errorf("%w: policy.numberOfClusters is required with placementType PickN", ErrInvalidPolicy)
		case *p.NumberOfClusters < 0:
			return p, fmt.Errorf("%w: policy.numberOfClusters %d is negative", ErrInvalidPolicy, *p.NumberOfClusters)
		}
	default:
		return p, fmt.Errorf("%w: policy.placementType %q is not PickAll, PickN or PickFixed", ErrInvalidPolicy, p.PlacementType)
	}
	if len(p.ClusterNames) > 0 {
		names := slices.Clone(p.ClusterNames)
		slices.Sort(names)
		p.ClusterNames = slices.Compact(names)
	}
	if len(p.TopologySpreadConstraints) > 0 {
		tscs := slices.Clone(p.TopologySpreadConstraints)
		for i := range tscs {
			if tscs[i].MaxSkew == 0 {
				tscs[i].MaxSkew = 1
			}
			if tscs[i].WhenUnsatisfiable == "" {
				tscs[i].WhenUnsatisfiable = v1alpha1.DoNotSchedule
			}
		}
		p.TopologySpreadConstraints = tscs
	}
	if p.Replicas != nil {
		if err := replicas.Validate(p.Replicas); err != nil {
			return p, fmt.Errorf("%w: policy.replicas: %w", ErrInvalidPolicy, err)
		}
	}
	return p, nil
}

// PolicyHash returns a short hash of the fields of the policy that decide which
// clusters are picked: everything but replicas, after filling in defaults. Two policies
// with the same hash pick the same clusters from the same fleet.
//
// The Placement controller stores the hash of the policy its decisions were made with
// (Result.PolicyHash) in status.schedulingPolicyHash and passes it back as
// Input.PreviousPolicyHash, so that a changed policy makes PickN re-plan.
func PolicyHash(policy v1alpha1.PlacementPolicy) string {
	p, err := normalizePolicy(policy)
	if err != nil {
		p = policy // an invalid policy still gets a stable hash
	}
	p.Replicas = nil
	// The policy holds only strings, numbers, slices, maps and pointers to those, which
	// encoding/json always encodes, with sorted map keys.
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Package profile assembles the scheduler's default plugins.
package profile

import (
	"github.com/gitfleet/gitfleet/scheduler/framework"
	"github.com/gitfleet/gitfleet/scheduler/plugins/clusteraffinity"
	"github.com/gitfleet/gitfleet/scheduler/plugins/clustereligibility"
	"github.com/gitfleet/gitfleet/scheduler/plugins/stickiness"
	"github.com/gitfleet/gitfleet/scheduler/plugins/tainttoleration"
	"github.com/gitfleet/gitfleet/scheduler/plugins/topologyspread"
)

// DefaultName is the default profile's name.
const DefaultName = "default"

// Default returns the default profile. Filters run in this order, and the first that
// drops a cluster gives the reason: ClusterEligibility, TaintToleration,
// ClusterAffinity, TopologySpread. ClusterAffinity and Stickiness score;
// TopologySpread takes part in PickN's picks.
func Default() *framework.Profile {
	return framework.NewProfile(DefaultName,
		clustereligibility.New(),
		tainttoleration.New(),
		clusteraffinity.New(),
		topologyspread.New(),
		stickiness.New(),
	)
}

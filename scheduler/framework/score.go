package framework

import "github.com/gitfleet/gitfleet/api/v1alpha1"

// ClusterScore is a cluster's score in a cycle. Higher is better in every component.
type ClusterScore struct {
	// TopologySpread is 0, or negative when picking the cluster makes a ScheduleAnyway
	// spread constraint exceed its maxSkew.
	TopologySpread int32
	// Affinity is the sum of the preferred terms' weights (or shares of them).
	Affinity int32
	// Stickiness is 1 when the cluster was selected by the current decisions.
	Stickiness int32
}

// Add returns the component-wise sum of s and o.
func (s ClusterScore) Add(o ClusterScore) ClusterScore {
	return ClusterScore{
		TopologySpread: s.TopologySpread + o.TopologySpread,
		Affinity:       s.Affinity + o.Affinity,
		Stickiness:     s.Stickiness + o.Stickiness,
	}
}

// Compare compares lexicographically (topology spread, then affinity, then
// stickiness) and returns -1, 0 or 1 as s is worse than, equal to or better than o.
func (s ClusterScore) Compare(o ClusterScore) int {
	for _, d := range [...][2]int32{
		{s.TopologySpread, o.TopologySpread},
		{s.Affinity, o.Affinity},
		{s.Stickiness, o.Stickiness},
	} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// API returns the score as the API's ClusterScore.
func (s ClusterScore) API() *v1alpha1.ClusterScore {
	return &v1alpha1.ClusterScore{
		TopologySpread: s.TopologySpread,
		Affinity:       s.Affinity,
		Stickiness:     s.Stickiness,
	}
}

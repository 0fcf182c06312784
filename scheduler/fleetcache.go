package scheduler

import (
	"crypto/sha256"
	"sync"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// FleetCache keeps the last Fleet it built and returns it again while the clusters are
// unchanged: the same names with the same resourceVersions, in the same order.
// Clusters without a resourceVersion (not read from an API server) are never cached.
// The zero value is ready to use, and it is safe for concurrent use.
//
// The Placement controller lists the MemberClusters on every reconcile; with a
// FleetCache the snapshot is prepared once per change of the fleet rather than once
// per placement.
type FleetCache struct {
	mu    sync.Mutex
	key   [sha256.Size]byte
	fleet *Fleet
}

// Fleet returns a snapshot of the clusters, reusing the previous one when the clusters
// are unchanged. The slice must not be modified while the snapshot is in use.
func (c *FleetCache) Fleet(clusters []v1alpha1.MemberCluster) *Fleet {
	key, ok := fleetKey(clusters)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok && c.fleet != nil && key == c.key {
		return c.fleet
	}
	f := NewFleet(clusters)
	if ok {
		c.key, c.fleet = key, f
	}
	return f
}

func fleetKey(clusters []v1alpha1.MemberCluster) ([sha256.Size]byte, bool) {
	h := sha256.New()
	for i := range clusters {
		mc := &clusters[i]
		if mc.ResourceVersion == "" {
			return [sha256.Size]byte{}, false
		}
		h.Write([]byte(mc.Name))
		h.Write([]byte{0})
		h.Write([]byte(mc.ResourceVersion))
		h.Write([]byte{0})
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, true
}

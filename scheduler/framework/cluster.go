package framework

import (
	"sort"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/property"
)

// ClusterInfo is the scheduler's read-only view of one MemberCluster, prepared once per
// fleet snapshot and shared by every cycle that uses the snapshot.
type ClusterInfo struct {
	// Name of the cluster.
	Name string
	// Index of the cluster in Fleet.Clusters, for plugins that keep per-cluster data in
	// slices.
	Index int
	// Labels of the cluster.
	Labels labels.Set
	// Taints of the cluster, with the effect defaulted to NoSchedule.
	Taints []v1alpha1.Taint
	// Properties are the cluster's effective properties (property.FromMemberCluster).
	Properties property.Set
	// Cluster is the MemberCluster itself; do not modify it.
	Cluster *v1alpha1.MemberCluster
}

// NewClusterInfo prepares the view of one cluster.
func NewClusterInfo(mc *v1alpha1.MemberCluster) *ClusterInfo {
	return &ClusterInfo{
		Name:       mc.Name,
		Labels:     labels.Set(mc.Labels),
		Taints:     defaultTaints(mc.Spec.Taints),
		Properties: property.FromMemberCluster(mc),
		Cluster:    mc,
	}
}

func defaultTaints(taints []v1alpha1.Taint) []v1alpha1.Taint {
	for i := range taints {
		if taints[i].Effect == "" {
			out := make([]v1alpha1.Taint, len(taints))
			copy(out, taints)
			for j := range out {
				if out[j].Effect == "" {
					out[j].Effect = v1alpha1.TaintEffectNoSchedule
				}
			}
			return out
		}
	}
	return taints
}

// Fleet is an immutable snapshot of the member clusters, sorted by name. Build it once
// (NewFleet) and share it between the cycles of many placements, also concurrently.
type Fleet struct {
	clusters []*ClusterInfo
	byName   map[string]*ClusterInfo
}

// NewFleet prepares a snapshot of the clusters. It keeps pointers into the slice, which
// must not be modified while the snapshot is in use. Of several clusters with the same
// name only the first is kept.
func NewFleet(clusters []v1alpha1.MemberCluster) *Fleet {
	f := &Fleet{
		clusters: make([]*ClusterInfo, 0, len(clusters)),
		byName:   make(map[string]*ClusterInfo, len(clusters)),
	}
	for i := range clusters {
		mc := &clusters[i]
		if _, dup := f.byName[mc.Name]; dup {
			continue
		}
		ci := NewClusterInfo(mc)
		f.byName[ci.Name] = ci
		f.clusters = append(f.clusters, ci)
	}
	sort.Slice(f.clusters, func(i, j int) bool { return f.clusters[i].Name < f.clusters[j].Name })
	for i, ci := range f.clusters {
		ci.Index = i
	}
	return f
}

// Clusters returns the clusters sorted by name; do not modify the slice.
func (f *Fleet) Clusters() []*ClusterInfo { return f.clusters }

// Len returns the number of clusters.
func (f *Fleet) Len() int { return len(f.clusters) }

// Get returns the named cluster.
func (f *Fleet) Get(name string) (*ClusterInfo, bool) {
	ci, ok := f.byName[name]
	return ci, ok
}

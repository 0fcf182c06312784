package property

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Set holds a cluster's properties by name. A value that failed to parse is kept as an
// Invalid Value, so that a selector on it can say why it does not match.
type Set map[string]Value

// Get returns the named property and whether the cluster has it (valid or not).
func (s Set) Get(name string) (Value, bool) {
	v, ok := s[name]
	return v, ok
}

// Strings returns the properties as text, e.g. for ${CLUSTER_PROPERTY[name]}.
func (s Set) Strings() map[string]string {
	out := make(map[string]string, len(s))
	for name, v := range s {
		out[name] = v.String()
	}
	return out
}

// Names returns the property names, sorted.
func (s Set) Names() []string {
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// FromMemberCluster collects a cluster's effective properties. Later sources override
// earlier ones of the same name:
//
//  1. spec.properties (static, set by the fleet admin);
//  2. status.resources (reported by the agent): kubernetes-fleet.io/node-count (unless
//     0, which the API cannot tell from unreported) and
//     resources.kubernetes-fleet.io/{allocatable,available}-{cpu,memory};
//  3. k8s.io/kubernetes-version: status.kubernetesVersion, or spec.kubernetesVersion
//     until the agent reports one;
//  4. status.properties (reported by the agent).
//
// This is the order the renderer uses for ${CLUSTER_PROPERTY[name]}, so that selectors
// and overrides see the same values. Values that do not parse are kept as Invalid.
func FromMemberCluster(mc *v1alpha1.MemberCluster) Set {
	s := make(Set, len(mc.Spec.Properties)+len(mc.Status.Properties)+6)
	for _, p := range mc.Spec.Properties {
		s.add(p.Name, p.Value)
	}
	if r := mc.Status.Resources; r != nil {
		if r.NodeCount != 0 {
			s[v1alpha1.NodeCountProperty] = FromQuantity(*resource.NewQuantity(int64(r.NodeCount), resource.DecimalSI))
		}
		s.addResource(v1alpha1.AllocatableCPUProperty, r.Allocatable, corev1.ResourceCPU)
		s.addResource(v1alpha1.AllocatableMemoryProperty, r.Allocatable, corev1.ResourceMemory)
		s.addResource(v1alpha1.AvailableCPUProperty, r.Available, corev1.ResourceCPU)
		s.addResource(v1alpha1.AvailableMemoryProperty, r.Available, corev1.ResourceMemory)
	}
	if v := mc.Status.KubernetesVersion; v != "" {
		s.add(v1alpha1.KubernetesVersionProperty, v)
	} else if v := mc.Spec.KubernetesVersion; v != "" {
		s.add(v1alpha1.KubernetesVersionProperty, v)
	}
	for _, p := range mc.Status.Properties {
		s.add(p.Name, p.Value)
	}
	return s
}

func (s Set) add(name, raw string) {
	v, _ := Parse(name, raw) // an Invalid value keeps its error for the reason
	s[name] = v
}

func (s Set) addResource(name string, list corev1.ResourceList, res corev1.ResourceName) {
	if q, ok := list[res]; ok {
		s[name] = FromQuantity(q)
	}
}

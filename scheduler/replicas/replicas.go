// Package replicas divides a placement's total replicas over its selected clusters, by
// static weights or by available capacity, deterministically and exactly.
package replicas

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// ErrInvalid is wrapped by every error about an unusable ReplicaDivision.
var ErrInvalid = errors.New("invalid replica division")

// Divide returns each cluster's share of div.Total. The shares sum to div.Total exactly
// (when there is at least one cluster) and depend only on the clusters' names, labels
// and available resources, never on their order:
//
//   - StaticWeight (the default): a cluster weighs the weight of the first
//     staticWeights entry whose clusterSelector matches its labels, or 1 when none does.
//   - AvailableCapacity: a cluster weighs its status.resources.available CPU (in
//     millicores, the default) or memory (in bytes); 0 when it reports none.
//
// When every cluster weighs 0, all weigh the same. The shares are the largest-remainder
// apportionment of the weights (see LargestRemainder).
func Divide(div *v1alpha1.ReplicaDivision, clusters []*v1alpha1.MemberCluster) (map[string]int32, error) {
	weights, err := Weights(div, clusters)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(clusters))
	for i, mc := range clusters {
		names[i] = mc.Name
	}
	shares := LargestRemainder(uint64(div.Total), weights, names)
	out := make(map[string]int32, len(clusters))
	for i, name := range names {
		out[name] = int32(shares[i])
	}
	return out, nil
}

// Validate checks a division: a total of 0 to 1,000,000, a known type and resource, and
// valid selectors and weights (0 to 10000) in staticWeights.
func Validate(div *v1alpha1.ReplicaDivision) error {
	_, err := compile(div)
	return err
}

type weightRule struct {
	sel    labels.Selector
	weight int32
}

func compile(div *v1alpha1.ReplicaDivision) ([]weightRule, error) {
	if div.Total < 0 || div.Total > 1000000 {
		return nil, fmt.Errorf("%w: total %d is outside 0..1000000", ErrInvalid, div.Total)
	}
	switch div.Resource {
	case "", string(corev1.ResourceCPU), string(corev1.ResourceMemory):
	default:
		return nil, fmt.Errorf("%w: resource %q is not cpu or memory", ErrInvalid, div.Resource)
	}
	switch div.Type {
	case "", v1alpha1.StaticWeight:
	case v1alpha1.AvailableCapacity:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: unknown type %q (want StaticWeight or AvailableCapacity)", ErrInvalid, div.Type)
	}
	rules := make([]weightRule, 0, len(div.StaticWeights))
	for i, w := range div.StaticWeights {
		if w.Weight < 0 || w.Weight > 10000 {
			return nil, fmt.Errorf("%w: staticWeights[%d].weight %d is outside 0..10000", ErrInvalid, i, w.Weight)
		}
		sel, err := metav1.LabelSelectorAsSelector(&w.ClusterSelector)
		if err != nil {
			return nil, fmt.Errorf("%w: staticWeights[%d].clusterSelector: %w", ErrInvalid, i, err)
		}
		rules = append(rules, weightRule{sel: sel, weight: w.Weight})
	}
	return rules, nil
}

// Weights returns each cluster's weight under the division, in the clusters' order.
func Weights(div *v1alpha1.ReplicaDivision, clusters []*v1alpha1.MemberCluster) ([]uint64, error) {
	rules, err := compile(div)
	if err != nil {
		return nil, err
	}
	weights := make([]uint64, len(clusters))
	for i, mc := range clusters {
		if div.Type == v1alpha1.AvailableCapacity {
			weights[i] = capacity(mc, corev1.ResourceName(div.Resource))
			continue
		}
		weights[i] = 1
		for _, r := range rules {
			if r.sel.Matches(labels.Set(mc.Labels)) {
				weights[i] = uint64(r.weight)
				break
			}
		}
	}
	return weights, nil
}

func capacity(mc *v1alpha1.MemberCluster, res corev1.ResourceName) uint64 {
	if res == "" {
		res = corev1.ResourceCPU
	}
	r := mc.Status.Resources
	if r == nil {
		return 0
	}
	q, ok := r.Available[res]
	if !ok {
		return 0
	}
	var v int64
	if res == corev1.ResourceCPU {
		v = q.MilliValue()
	} else {
		v = q.Value()
	}
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// LargestRemainder apportions total over the weights: each gets the floor of its exact
// share total*w/sum, and what is left goes one by one to the largest remainders, ties
// broken by name. The result sums to total (when there is at least one weight). Zero
// weights everywhere count as equal weights. The arithmetic is exact.
func LargestRemainder(total uint64, weights []uint64, names []string) []uint64 {
	n := len(weights)
	out := make([]uint64, n)
	if n == 0 {
		return out
	}
	w := make([]uint64, n)
	copy(w, weights)
	sum := sumOrShift(w)
	if sum == 0 {
		for i := range w {
			w[i] = 1
		}
		sum = uint64(n)
	}
	rem := make([]uint64, n)
	var given uint64
	for i, wi := range w {
		hi, lo := bits.Mul64(total, wi)
		// hi < sum because wi <= sum and total < 2^64, so Div64 cannot overflow.
		out[i], rem[i] = bits.Div64(hi, lo, sum)
		given += out[i]
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if rem[i] != rem[j] {
			return rem[i] > rem[j]
		}
		return names[i] < names[j]
	})
	for k := 0; given < total && k < n; k++ {
		out[order[k]]++
		given++
	}
	return out
}

// sumOrShift returns the sum of the weights, halving them all until it fits in 64 bits.
func sumOrShift(w []uint64) uint64 {
	for {
		var sum uint64
		overflow := false
		for _, x := range w {
			var carry uint64
			sum, carry = bits.Add64(sum, x, 0)
			if carry != 0 {
				overflow = true
				break
			}
		}
		if !overflow {
			return sum
		}
		for i := range w {
			w[i] >>= 1
		}
	}
}

package replicas_test

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/replicas"
)

func TestLargestRemainder(t *testing.T) {
	cases := map[string]struct {
		total   uint64
		weights []uint64
		names   []string
		want    []uint64
	}{
		"exact":                {6, []uint64{1, 2}, []string{"a", "b"}, []uint64{2, 4}},
		"remainders by size":   {10, []uint64{1, 1, 1}, []string{"a", "b", "c"}, []uint64{4, 3, 3}},
		"ties by name":         {1, []uint64{1, 1, 1}, []string{"c", "a", "b"}, []uint64{0, 1, 0}},
		"largest remainder":    {7, []uint64{5, 3, 2}, []string{"a", "b", "c"}, []uint64{4, 2, 1}},
		"zero weight gets 0":   {5, []uint64{0, 1, 1}, []string{"a", "b", "c"}, []uint64{0, 3, 2}},
		"all zero: equal":      {5, []uint64{0, 0}, []string{"b", "a"}, []uint64{2, 3}},
		"zero total":           {0, []uint64{4, 5}, []string{"a", "b"}, []uint64{0, 0}},
		"no clusters":          {9, nil, nil, []uint64{}},
		"huge weights":         {1000000, []uint64{math.MaxUint64, math.MaxUint64, math.MaxUint64 / 2}, []string{"a", "b", "c"}, []uint64{400000, 400000, 200000}},
		"huge total, tiny one": {1000000, []uint64{1 << 62, 1}, []string{"a", "b"}, []uint64{1000000, 0}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := replicas.LargestRemainder(tc.total, tc.weights, tc.names)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("LargestRemainder(%d, %v) (-want +got):\n%s", tc.total, tc.weights, diff)
			}
		})
	}
}

func TestDivide(t *testing.T) {
	clusters := []v1alpha1.MemberCluster{
		fx.Cluster("a", fx.Labels("tier", "gold"), fx.Resources(1, "", "2", "", "1Gi")),
		fx.Cluster("b", fx.Labels("tier", "silver"), fx.Resources(1, "", "500m", "", "3Gi")),
		fx.Cluster("c", fx.Resources(1, "", "-1", "", "")),
		fx.Cluster("d"),
	}
	ptrs := []*v1alpha1.MemberCluster{&clusters[0], &clusters[1], &clusters[2], &clusters[3]}
	weight := func(tier string, w int32) v1alpha1.ClusterWeight {
		return v1alpha1.ClusterWeight{ClusterSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": tier}}, Weight: w}
	}
	cases := map[string]struct {
		div  v1alpha1.ReplicaDivision
		want map[string]int32
	}{
		"default is equal static weights": {v1alpha1.ReplicaDivision{Total: 9}, map[string]int32{"a": 3, "b": 2, "c": 2, "d": 2}},
		"static weights": {
			v1alpha1.ReplicaDivision{Total: 10, StaticWeights: []v1alpha1.ClusterWeight{weight("gold", 6), weight("silver", 2)}},
			map[string]int32{"a": 6, "b": 2, "c": 1, "d": 1},
		},
		"cpu capacity, negative counts as 0": {
			v1alpha1.ReplicaDivision{Total: 5, Type: v1alpha1.AvailableCapacity},
			map[string]int32{"a": 4, "b": 1, "c": 0, "d": 0},
		},
		"memory capacity": {
			v1alpha1.ReplicaDivision{Total: 4, Type: v1alpha1.AvailableCapacity, Resource: "memory"},
			map[string]int32{"a": 1, "b": 3, "c": 0, "d": 0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := replicas.Divide(&tc.div, ptrs)
			if err != nil {
				t.Fatalf("Divide() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Divide() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bad := v1alpha1.ClusterWeight{ClusterSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Sort of"}}}}
	cases := map[string]v1alpha1.ReplicaDivision{
		"negative total":  {Total: -1},
		"huge total":      {Total: 1000001},
		"unknown type":    {Total: 1, Type: "Even"},
		"unknown res":     {Total: 1, Resource: "gpu"},
		"negative weight": {Total: 1, StaticWeights: []v1alpha1.ClusterWeight{{Weight: -1}}},
		"bad selector":    {Total: 1, StaticWeights: []v1alpha1.ClusterWeight{bad}},
	}
	for name, div := range cases {
		if err := replicas.Validate(&div); !errors.Is(err, replicas.ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", name, err)
		}
		if _, err := replicas.Divide(&div, nil); err == nil {
			t.Errorf("%s: Divide() succeeded", name)
		}
	}
	if err := replicas.Validate(&v1alpha1.ReplicaDivision{Total: 3, Type: v1alpha1.AvailableCapacity, Resource: "memory"}); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
}

package framework_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

func TestStatus(t *testing.T) {
	var nilStatus *framework.Status
	if !nilStatus.IsSuccess() || nilStatus.Code() != framework.Success || nilStatus.Message() != "" || nilStatus.Err() != nil || nilStatus.Reasons() != nil {
		t.Errorf("nil status is not a plain Success")
	}
	st := framework.NewStatus(framework.Unschedulable, "a", "b")
	if st.IsSuccess() || st.Message() != "a; b" || st.Err() != nil || st.Code().String() != "Unschedulable" {
		t.Errorf("NewStatus(Unschedulable, a, b) = %s %q %v", st.Code(), st.Message(), st.Err())
	}
	if !framework.NewStatus(framework.Skip).IsSkip() {
		t.Errorf("Skip status is not IsSkip")
	}
	cause := errors.New("boom")
	if err := framework.AsStatus(cause).Err(); !errors.Is(err, cause) {
		t.Errorf("AsStatus(boom).Err() = %v, want boom", err)
	}
	if framework.AsStatus(nil) != nil {
		t.Errorf("AsStatus(nil) != nil")
	}
	if err := framework.NewStatus(framework.Error, "bad").Err(); err == nil || err.Error() != "bad" {
		t.Errorf("Error status without cause: Err() = %v, want bad", err)
	}
	for c, want := range map[framework.Code]string{framework.Success: "Success", framework.Skip: "Skip", framework.Error: "Error", 42: "Unknown"} {
		if c.String() != want {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), want)
		}
	}
}

func TestClusterScore(t *testing.T) {
	cases := []struct {
		a, b framework.ClusterScore
		want int
	}{
		{framework.ClusterScore{}, framework.ClusterScore{}, 0},
		{framework.ClusterScore{TopologySpread: 0, Affinity: -100}, framework.ClusterScore{TopologySpread: -1, Affinity: 100}, 1},
		{framework.ClusterScore{Affinity: 5, Stickiness: 0}, framework.ClusterScore{Affinity: 5, Stickiness: 1}, -1},
		{framework.ClusterScore{Affinity: 6}, framework.ClusterScore{Affinity: 5, Stickiness: 1}, 1},
	}
	for _, tc := range cases {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%+v.Compare(%+v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	sum := framework.ClusterScore{TopologySpread: -1, Affinity: 2, Stickiness: 1}.Add(framework.ClusterScore{Affinity: 3})
	if diff := cmp.Diff(&v1alpha1.ClusterScore{TopologySpread: -1, Affinity: 5, Stickiness: 1}, sum.API()); diff != "" {
		t.Errorf("Add().API() (-want +got):\n%s", diff)
	}
}

func TestFleet(t *testing.T) {
	f := framework.NewFleet([]v1alpha1.MemberCluster{
		fx.Cluster("b", fx.Labels("n", "1")),
		fx.Cluster("a", func(mc *v1alpha1.MemberCluster) { mc.Spec.Taints = []v1alpha1.Taint{{Key: "k"}} }),
		fx.Cluster("b", fx.Labels("n", "2")),
	})
	var got []string
	for i, ci := range f.Clusters() {
		got = append(got, ci.Name)
		if ci.Index != i {
			t.Errorf("cluster %s has Index %d, want %d", ci.Name, ci.Index, i)
		}
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" || f.Len() != 2 {
		t.Errorf("Clusters() (-want +got):\n%s", diff)
	}
	if b, ok := f.Get("b"); !ok || b.Labels["n"] != "1" {
		t.Errorf("Get(b) = %+v, %v; want the first b", b, ok)
	}
	if _, ok := f.Get("z"); ok {
		t.Errorf("Get(z) found a cluster")
	}
	a, _ := f.Get("a")
	if a.Taints[0].Effect != v1alpha1.TaintEffectNoSchedule || a.Cluster.Spec.Taints[0].Effect != "" {
		t.Errorf("taint effect not defaulted on a copy: view %q, cluster %q", a.Taints[0].Effect, a.Cluster.Spec.Taints[0].Effect)
	}
}

func TestCycleState(t *testing.T) {
	p := fx.PickAll()
	now := time.Unix(100, 0)
	f := framework.NewFleet(nil)
	s := framework.NewCycleState(now, &p, f, map[string]bool{"a": true})
	if !s.Now().Equal(now) || s.Policy() != &p || s.Fleet() != f || !s.CurrentlySelected("a") || s.CurrentlySelected("b") {
		t.Errorf("CycleState accessors do not return what NewCycleState got")
	}
	s.Write("k", 42)
	if v, ok := framework.ReadAs[int](s, "k"); !ok || v != 42 {
		t.Errorf("ReadAs[int](k) = %v, %v; want 42", v, ok)
	}
	if _, ok := framework.ReadAs[string](s, "k"); ok {
		t.Errorf("ReadAs[string](k) succeeded on an int")
	}
	if v, ok := s.Read("missing"); ok || v != nil {
		t.Errorf("Read(missing) = %v, %v", v, ok)
	}
}

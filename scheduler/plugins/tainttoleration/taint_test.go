package tainttoleration_test

import (
	"errors"
	"testing"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/plugins/tainttoleration"
)

func TestTolerates(t *testing.T) {
	taint := v1alpha1.Taint{Key: "dedicated", Value: "gpu", Effect: v1alpha1.TaintEffectNoSchedule}
	noEffect := v1alpha1.Taint{Key: "dedicated", Value: "gpu"}
	cases := map[string]struct {
		tol   v1alpha1.Toleration
		taint v1alpha1.Taint
		want  bool
	}{
		"equal key and value":           {v1alpha1.Toleration{Key: "dedicated", Operator: v1alpha1.TolerationEqual, Value: "gpu"}, taint, true},
		"default operator is Equal":     {v1alpha1.Toleration{Key: "dedicated", Value: "gpu"}, taint, true},
		"other value":                   {v1alpha1.Toleration{Key: "dedicated", Value: "cpu"}, taint, false},
		"other key":                     {v1alpha1.Toleration{Key: "team", Value: "gpu"}, taint, false},
		"exists on the key":             {v1alpha1.Toleration{Key: "dedicated", Operator: v1alpha1.TolerationExists}, taint, true},
		"exists on another key":         {v1alpha1.Toleration{Key: "team", Operator: v1alpha1.TolerationExists}, taint, false},
		"exists with empty key":         {v1alpha1.Toleration{Operator: v1alpha1.TolerationExists}, taint, true},
		"equal with empty key":          {v1alpha1.Toleration{Value: "gpu"}, taint, false},
		"matching effect":               {v1alpha1.Toleration{Key: "dedicated", Value: "gpu", Effect: v1alpha1.TaintEffectNoSchedule}, taint, true},
		"other effect":                  {v1alpha1.Toleration{Key: "dedicated", Value: "gpu", Effect: "NoExecute"}, taint, false},
		"taint effect defaults":         {v1alpha1.Toleration{Key: "dedicated", Value: "gpu", Effect: v1alpha1.TaintEffectNoSchedule}, noEffect, true},
		"unknown operator matches none": {v1alpha1.Toleration{Key: "dedicated", Operator: "Like", Value: "gpu"}, taint, false},
	}
	for name, tc := range cases {
		if got := tainttoleration.Tolerates(tc.tol, tc.taint); got != tc.want {
			t.Errorf("%s: Tolerates(%+v, %+v) = %v, want %v", name, tc.tol, tc.taint, got, tc.want)
		}
	}
	if s := tainttoleration.TaintString(v1alpha1.Taint{Key: "k"}); s != "k:NoSchedule" {
		t.Errorf("TaintString(k) = %q", s)
	}
}

func TestFilter(t *testing.T) {
	cases := map[string]struct {
		tolerations []v1alpha1.Toleration
		taints      []fx.Option
		want        string
	}{
		"no taints":            {nil, nil, ""},
		"untolerated taint":    {nil, []fx.Option{fx.Taint("dedicated", "gpu")}, "cluster has taint dedicated=gpu:NoSchedule, which the placement does not tolerate"},
		"tolerated taint":      {[]v1alpha1.Toleration{{Key: "dedicated", Value: "gpu"}}, []fx.Option{fx.Taint("dedicated", "gpu")}, ""},
		"one of two tolerated": {[]v1alpha1.Toleration{{Key: "dedicated", Value: "gpu"}}, []fx.Option{fx.Taint("dedicated", "gpu"), fx.Taint("zone", "")}, "cluster has taint zone:NoSchedule, which the placement does not tolerate"},
		"tolerate everything":  {[]v1alpha1.Toleration{{Operator: v1alpha1.TolerationExists}}, []fx.Option{fx.Taint("a", "1"), fx.Taint("b", "")}, ""},
	}
	p := tainttoleration.New()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pol := fx.PickAll()
			pol.Tolerations = tc.tolerations
			state, fleet := fx.Cycle(pol, nil, fx.Cluster("c", tc.taints...))
			if st := p.PreFilter(state); !st.IsSuccess() {
				t.Fatalf("PreFilter() = %s %q", st.Code(), st.Message())
			}
			fast, st := fx.Filter(state, p, fx.Info(fleet, "c"))
			if (tc.want == "" && !st.IsSuccess()) || (tc.want != "" && st.Message() != tc.want) {
				t.Errorf("Filter() explained = %s %q, want %q", st.Code(), st.Message(), tc.want)
			}
			generic := "cluster has a NoSchedule taint that the placement does not tolerate"
			if fast.Code() != st.Code() || (tc.want != "" && fast.Message() != generic) {
				t.Errorf("Filter() = %s %q, want %s %q", fast.Code(), fast.Message(), st.Code(), generic)
			}
		})
	}
}

func TestPreFilterRejectsInvalidTolerations(t *testing.T) {
	for name, tol := range map[string]v1alpha1.Toleration{
		"unknown operator":  {Key: "a", Operator: "Like"},
		"exists with value": {Key: "a", Operator: v1alpha1.TolerationExists, Value: "b"},
		"unknown effect":    {Key: "a", Effect: "NoExecute"},
	} {
		pol := fx.PickAll()
		pol.Tolerations = []v1alpha1.Toleration{tol}
		state, _ := fx.Cycle(pol, nil)
		st := tainttoleration.New().PreFilter(state)
		if st.Code() != framework.Error || !errors.Is(st.Err(), framework.ErrInvalidPolicy) {
			t.Errorf("%s: PreFilter() = %s %v, want an ErrInvalidPolicy", name, st.Code(), st.Err())
		}
	}
}

package clustereligibility_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/scheduler/framework"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/plugins/clustereligibility"
)

func TestFilter(t *testing.T) {
	cases := map[string]struct {
		opts []fx.Option
		want string // "" for eligible; otherwise a part of the reason
	}{
		"joined, no heartbeat check":    {nil, ""},
		"leaving":                       {[]fx.Option{fx.Leaving()}, "cluster is leaving the fleet (spec.state is Leave)"},
		"being deleted":                 {[]fx.Option{fx.Deleting(), fx.Leaving()}, "cluster is being deleted"},
		"never sent a heartbeat":        {[]fx.Option{fx.Grace(time.Minute)}, "no heartbeat yet: the agent has not reported and heartbeatGracePeriod is 1m0s"},
		"heartbeat within grace":        {[]fx.Option{fx.Grace(time.Minute), fx.HeartbeatAgo(time.Minute)}, ""},
		"heartbeat older than grace":    {[]fx.Option{fx.Grace(time.Minute), fx.HeartbeatAgo(time.Minute + time.Second)}, "no heartbeat since 2026-03-14T15:08:25Z, longer than heartbeatGracePeriod 1m0s"},
		"heartbeat from the future":     {[]fx.Option{fx.Grace(time.Minute), fx.HeartbeatAgo(-time.Hour)}, ""},
		"old heartbeat, check disabled": {[]fx.Option{fx.HeartbeatAgo(1000 * time.Hour)}, ""},
		"negative grace disables":       {[]fx.Option{fx.Grace(-time.Minute)}, ""},
		"healthy":                       {[]fx.Option{fx.Healthy(metav1.ConditionTrue, "Ok", "")}, ""},
		"health unknown":                {[]fx.Option{fx.Healthy(metav1.ConditionUnknown, "Pending", "")}, ""},
		"unhealthy":                     {[]fx.Option{fx.Healthy(metav1.ConditionFalse, "", "")}, "cluster is unhealthy: Healthy is False"},
		"unhealthy with reason":         {[]fx.Option{fx.Healthy(metav1.ConditionFalse, "NodesDown", "")}, "Healthy is False (NodesDown)"},
		"unhealthy with message":        {[]fx.Option{fx.Healthy(metav1.ConditionFalse, "NodesDown", "2 nodes")}, "Healthy is False (NodesDown: 2 nodes)"},
		"long message is cut":           {[]fx.Option{fx.Healthy(metav1.ConditionFalse, "R", strings.Repeat("x", 300))}, strings.Repeat("x", 200) + "...)"},
	}
	generic := map[string]string{
		"never sent a heartbeat":     "no heartbeat yet, and heartbeatGracePeriod is above 0s",
		"heartbeat older than grace": "no heartbeat within heartbeatGracePeriod",
		"unhealthy with message":     "cluster is unhealthy: Healthy is False",
	}
	p := clustereligibility.New()
	if p.Name() != clustereligibility.Name {
		t.Errorf("Name() = %q", p.Name())
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			state, fleet := fx.Cycle(fx.PickAll(), nil, fx.Cluster("c", tc.opts...))
			fast, st := fx.Filter(state, p, fx.Info(fleet, "c"))
			if fast.Code() != st.Code() {
				t.Errorf("Filter() = %s, explained %s; want the same code", fast.Code(), st.Code())
			}
			switch {
			case tc.want == "" && !st.IsSuccess():
				t.Errorf("Filter() = %s %q, want Success", st.Code(), st.Message())
			case tc.want != "" && (st.Code() != framework.Unschedulable || !strings.Contains(st.Message(), tc.want)):
				t.Errorf("Filter() explained = %s %q, want Unschedulable containing %q", st.Code(), st.Message(), tc.want)
			}
			if want, ok := generic[name]; ok && fast.Message() != want {
				t.Errorf("Filter() = %q, want the generic %q", fast.Message(), want)
			}
		})
	}
}

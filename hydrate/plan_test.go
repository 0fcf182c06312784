package hydrate

import (
	"errors"
	"fmt"
	"testing"
)

func TestPlanFailures(t *testing.T) {
	p := &Plan{Placements: map[string]*PlacementPlan{
		"web": {Clusters: map[string]*ClusterPlan{"eu-1": {Err: errors.New("bad template")}, "us-1": {}}},
		"api": {Err: errors.New("pipeline missing")},
		"ok":  {Clusters: map[string]*ClusterPlan{"eu-1": {}}},
	}}
	got := p.Failures()
	want := []string{"api: pipeline missing", "web on eu-1: bad template"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Failures() = %q, want %q", got, want)
	}
}

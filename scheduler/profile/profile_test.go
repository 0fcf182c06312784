package profile_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitfleet/gitfleet/scheduler/profile"
)

func TestDefault(t *testing.T) {
	p := profile.Default()
	var got []string
	for _, pl := range p.Plugins() {
		got = append(got, pl.Name())
	}
	want := []string{"ClusterEligibility", "TaintToleration", "ClusterAffinity", "TopologySpread", "Stickiness"}
	if diff := cmp.Diff(want, got); diff != "" || p.Name() != profile.DefaultName {
		t.Errorf("Default() %q plugins (-want +got):\n%s", p.Name(), diff)
	}
}

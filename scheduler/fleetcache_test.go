package scheduler_test

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

func TestFleetCache(t *testing.T) {
	withRV := func(rv string) fx.Option {
		return func(mc *v1alpha1.MemberCluster) { mc.ResourceVersion = rv }
	}
	var c scheduler.FleetCache
	first := c.Fleet([]v1alpha1.MemberCluster{fx.Cluster("a", withRV("1")), fx.Cluster("b", withRV("7"))})
	if again := c.Fleet([]v1alpha1.MemberCluster{fx.Cluster("a", withRV("1")), fx.Cluster("b", withRV("7"))}); again != first {
		t.Errorf("Fleet() with unchanged clusters built a new snapshot")
	}
	changed := c.Fleet([]v1alpha1.MemberCluster{fx.Cluster("a", withRV("2")), fx.Cluster("b", withRV("7"))})
	if changed == first {
		t.Errorf("Fleet() after a resourceVersion change returned the old snapshot")
	}
	if c.Fleet([]v1alpha1.MemberCluster{fx.Cluster("a", withRV("2"))}) == changed {
		t.Errorf("Fleet() after a cluster left returned the old snapshot")
	}
	noRV := []v1alpha1.MemberCluster{fx.Cluster("a")}
	if x, y := c.Fleet(noRV), c.Fleet(noRV); x == y || x.Len() != 1 {
		t.Errorf("Fleet() cached clusters without a resourceVersion")
	}
}

func TestConcurrentSchedulesShareAFleet(t *testing.T) {
	g := fx.NewRandom(11)
	fleet := scheduler.NewFleet(g.Fleet(80))
	policies := make([]v1alpha1.PlacementPolicy, 40)
	want := make([]scheduler.Result, len(policies))
	for i := range policies {
		policies[i] = g.Policy(80)
		want[i], _ = scheduler.Schedule(scheduler.Input{Policy: policies[i], Fleet: fleet, Now: fx.Now})
	}
	s := scheduler.New()
	errs := make(chan string, 4*len(policies))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range policies {
				got, _ := s.Schedule(scheduler.Input{Policy: p, Fleet: fleet, Now: fx.Now})
				if diff := cmp.Diff(want[i], got); diff != "" {
					errs <- diff
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for diff := range errs {
		t.Errorf("concurrent Schedule differs from serial (-serial +concurrent):\n%s", diff)
	}
}

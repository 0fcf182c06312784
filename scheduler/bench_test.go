package scheduler_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
)

// benchPlacements is the number of distinct placements a benchmark cycles through.
const benchPlacements = 1000

// benchPolicies returns the benchmark's placements: PickN 10, a required term (env in
// two of three values, and at least 2 available cores), three preferred terms (a
// region label, cost ascending, available CPU descending) and a DoNotSchedule spread
// over regions.
func benchPolicies(regions int) []v1alpha1.PlacementPolicy {
	out := make([]v1alpha1.PlacementPolicy, benchPlacements)
	for i := range out {
		required := v1alpha1.ClusterSelectorTerm{
			LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{fx.Envs[i%3], fx.Envs[(i+1)%3]},
			}}},
			PropertySelector: fx.PropertyTerm(v1alpha1.AvailableCPUProperty, v1alpha1.PropertyGe, "2").PropertySelector,
		}
		p := fx.Required(fx.PickN(10), required)
		p = fx.Preferred(p, 40, fx.LabelTerm("region", fmt.Sprintf("r%d", i%regions)))
		p = fx.Preferred(p, 30, fx.SorterTerm(v1alpha1.PerCPUCoreCostProperty, v1alpha1.Ascending))
		p = fx.Preferred(p, 20, fx.SorterTerm(v1alpha1.AvailableCPUProperty, v1alpha1.Descending))
		out[i] = fx.Spread(p, "region", 1, v1alpha1.DoNotSchedule)
	}
	return out
}

func benchFleet(n int) []v1alpha1.MemberCluster {
	g := fx.NewRandom(1)
	g.Regions = 10
	return g.Fleet(n)
}

// BenchmarkSchedulePickN schedules 1000 PickN placements, one per op, over a fleet
// snapshot shared by all of them (as the controller does): "replan" from no decisions,
// "steady" with the decisions of the previous run (the usual reconcile).
func BenchmarkSchedulePickN(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			fleet := scheduler.NewFleet(benchFleet(n))
			policies := benchPolicies(10)
			previous := make([]scheduler.Result, len(policies))
			for i, p := range policies {
				res, err := scheduler.Schedule(scheduler.Input{Policy: p, Fleet: fleet, Now: fx.Now})
				if err != nil || len(res.Selected) != 10 {
					b.Fatalf("placement %d: selected %d, error %v", i, len(res.Selected), err)
				}
				previous[i] = res
			}
			for _, mode := range []string{"replan", "steady"} {
				b.Run(mode, func(b *testing.B) {
					peak := newPeakHeap()
					b.ReportAllocs()
					cpu0 := processCPU()
					i := 0
					for b.Loop() {
						k := i % len(policies)
						in := scheduler.Input{Policy: policies[k], Fleet: fleet, Now: fx.Now}
						if mode == "steady" {
							in.Current, in.PreviousPolicyHash = previous[k].Decisions, previous[k].PolicyHash
						}
						if _, err := scheduler.Schedule(in); err != nil {
							b.Fatal(err)
						}
						if i%50 == 0 {
							peak.sample()
						}
						i++
					}
					reportPerPlacement(b, cpu0)
					peak.report(b)
				})
			}
		})
	}
}

// BenchmarkSchedulePickNColdFleet is BenchmarkSchedulePickN's replan with
// Input.Clusters: every call prepares its own fleet snapshot.
func BenchmarkSchedulePickNColdFleet(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			clusters := benchFleet(n)
			policies := benchPolicies(10)
			peak := newPeakHeap()
			b.ReportAllocs()
			cpu0 := processCPU()
			i := 0
			for b.Loop() {
				if _, err := scheduler.Schedule(scheduler.Input{Policy: policies[i%len(policies)], Clusters: clusters, Now: fx.Now}); err != nil {
					b.Fatal(err)
				}
				if i%50 == 0 {
					peak.sample()
				}
				i++
			}
			reportPerPlacement(b, cpu0)
			peak.report(b)
		})
	}
}

// BenchmarkNewFleet prepares a fleet snapshot and reports the heap it retains.
func BenchmarkNewFleet(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			clusters := benchFleet(n)
			b.ReportAllocs()
			for b.Loop() {
				scheduler.NewFleet(clusters)
			}
			b.StopTimer()
			before := liveHeap()
			fleet := scheduler.NewFleet(clusters)
			b.ReportMetric(float64(liveHeap()-before)/(1<<20), "retained-MB")
			runtime.KeepAlive(fleet)
		})
	}
}

// reportPerPlacement reports the wall time per placement and, where /proc says, the
// CPU time the process spent per placement since cpu0 (less sensitive to other work on
// a shared machine; it includes the garbage collector's threads).
func reportPerPlacement(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/placement")
	if cpu1 := processCPU(); cpu0 > 0 && cpu1 > cpu0 {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/placement")
	}
}

// processCPU returns the user and system CPU time of the process from /proc/self/stat
// (Linux, in clock ticks of 10ms), or 0 when it cannot be read.
func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// peakHeap samples the bytes of live and not yet collected heap objects
// (runtime/metrics, without stopping the world) and keeps the largest sample.
type peakHeap struct {
	s   []metrics.Sample
	max uint64
}

func newPeakHeap() *peakHeap {
	return &peakHeap{s: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

func (p *peakHeap) sample() {
	metrics.Read(p.s)
	if p.s[0].Value.Kind() == metrics.KindUint64 {
		p.max = max(p.max, p.s[0].Value.Uint64())
	}
}

func (p *peakHeap) report(b *testing.B) {
	p.sample()
	b.ReportMetric(float64(p.max)/(1<<20), "peak-heap-MB")
}

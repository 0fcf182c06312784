// Command promotion measures promotion latency with webhooks (issue 6's figures) on the
// demo fleet run for real: a hub and three member API servers, Gitea holding the fleet
// config repo and delivering its webhooks to the hub, gitfleet-hub and one gitfleet-agent
// per member as separate processes from bin/ (make build).
//
// It runs the demo's release story once (dev, staging, prod's approval pull request merged,
// drift), so that every stage holds a revision and no pull request is open, then N times
// pushes a change of podinfo's image tag to main (every cluster of every stage renders
// podinfo, so every env commit changes) and times, from the push's completion (the merge):
//
//  1. dev applied: env/dev holds a commit rendered from the change, every cluster in it
//     posted gitfleet/cluster/<name> = success on it, its ClusterSync applied that commit
//     and is Ready, and its Deployments are rolled out (status of their new generation);
//  2. staging applied: the same for env/staging (automatic once dev is healthy);
//  3. prod pull request: the approval pull request into env/prod is open (the first round
//     opens it, later rounds update it) and proposes the change (title, and gitfleet.json
//     of its head on Gitea).
//
// A round ends when all three are seen, so the next starts with the pipeline at rest.
// Checks run every -poll against git (ls-remote), Gitea's API and the member API servers.
//
//	go run ./test/bench/promotion [-bin bin] [-changes 3] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gitfleet/gitfleet/test/binaries"
	"github.com/gitfleet/gitfleet/test/demo"
)

// target is issue 6's target for the first figure.
const target = 15 * time.Second

// The three figures, in order: the names of demo's milestones.
var figures = []struct{ milestone, title string }{
	{"dev applied", "dev applied"},
	{"staging applied", "staging applied"},
	{"prod pull request", "prod PR open/updated"},
}

type options struct {
	bin      string
	changes  int
	verbose  bool
	timeout  time.Duration
	poll     time.Duration
	settle   time.Duration
	keepLogs bool
	trace    bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "folder with gitfleet, gitfleet-hub and gitfleet-agent (make build)")
	flag.IntVar(&o.changes, "changes", 3, "fleet changes to push and time, one after the other")
	flag.BoolVar(&o.verbose, "v", false, "show the demo's own output (otherwise it goes to demo.log in the log folder)")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long one change may take to reach all three milestones")
	flag.DurationVar(&o.poll, "poll", 150*time.Millisecond, "how often the milestones are checked")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "pause after the story and between changes")
	flag.BoolVar(&o.keepLogs, "keep-logs", false, "keep the log folder (hub, agents, Gitea) also on success")
	flag.BoolVar(&o.trace, "trace", false, "print every new thing a milestone's check sees, with the time since the merge")
	flag.Parse()
	if o.changes < 1 {
		fmt.Fprintln(os.Stderr, "error: -changes must be at least 1")
		os.Exit(2)
	}
	os.Exit(run(o))
}

// run returns the exit code; it stops everything it started on every path. SIGINT and
// SIGTERM cancel the run (the demo's processes sit in their own process groups, so they
// never see the terminal's Ctrl-C: Stop ends them).
func run(o options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(format string, args ...any) int {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "interrupted")
			return 130
		}
		fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
		return 1
	}

	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return fail("%v", err)
	}
	logDir, err := os.MkdirTemp("", "gitfleet-bench-promotion-")
	if err != nil {
		return fail("%v", err)
	}
	chatter := io.Writer(os.Stdout)
	if !o.verbose {
		f, err := os.Create(filepath.Join(logDir, "demo.log"))
		if err != nil {
			return fail("%v", err)
		}
		defer func() { _ = f.Close() }() // chatter: a log nobody waits for
		chatter = f
	}
	ok := false
	defer func() {
		if ok && !o.keepLogs {
			_ = os.RemoveAll(logDir)
			return
		}
		fmt.Printf("logs of the demo, hub, agents and Gitea: %s\n", logDir)
	}()

	fmt.Printf("promotion latency with webhooks: %d changes; %s; load average %s\n", o.changes, time.Now().Format(time.RFC3339), loadAverage())
	fmt.Printf("==> preparing kube-apiserver and etcd (built once, then cached)\n")
	if _, err := binaries.EnvtestAssets(ctx, chatter); err != nil {
		return fail("%v", err)
	}
	fmt.Printf("==> starting the demo: 4 API servers, Gitea, gitfleet-hub, 3 gitfleet-agents (demo output: %s)\n", describe(o.verbose, logDir))
	start := time.Now()
	d, err := demo.Start(ctx, demo.Options{BinDir: bin, Out: chatter, Forge: "gitea", LogDir: logDir})
	defer func() {
		if d != nil {
			fmt.Println("==> stopping the demo")
			d.Stop()
		}
	}()
	if err != nil {
		return fail("starting the demo: %v", err)
	}
	fmt.Printf("  up in %s\n", since(start))

	fmt.Println("==> running the release story once (dev, staging, prod pull request merged, drift) so that every stage holds a revision")
	start = time.Now()
	if err := d.RunStory(ctx); err != nil {
		return fail("the story failed (its output: %s): %v", describe(o.verbose, logDir), err)
	}
	fmt.Printf("  done in %s\n", since(start))

	var rounds []map[string]time.Duration
	var revisions []string
	for i := 1; i <= o.changes; i++ {
		if err := sleep(ctx, o.settle); err != nil {
			return fail("%v", err)
		}
		tag := fmt.Sprintf("6.7.%d", i)
		p, err := d.PushRelease(ctx, tag)
		if err != nil {
			return fail("round %d: pushing the change: %v", i, err)
		}
		fmt.Printf("==> round %d/%d: merged podinfo %s as %s (load average %s)\n", i, o.changes, tag, p.Revision[:7], loadAverage())
		milestones := []demo.Milestone{p.Applied("dev"), p.Applied("staging"), p.PullRequest("prod")}
		if o.trace {
			for i := range milestones {
				milestones[i] = traced(milestones[i], p.Merged)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, o.timeout)
		took, err := p.Wait(wctx, o.poll, milestones, func(m demo.Milestone, took time.Duration, detail string) {
			fmt.Printf("  %-18s %7s  %s\n", m.Name, seconds(took), detail)
		})
		cancel()
		if err != nil {
			return fail("round %d timed out: %v", i, err)
		}
		rounds = append(rounds, took)
		revisions = append(revisions, p.Revision[:7])
	}

	printTable(os.Stdout, rounds, revisions, o.poll)
	fmt.Printf("load average at the end: %s\n", loadAverage())
	ok = true
	return 0
}

// traced prints what m's check sees whenever it changes.
func traced(m demo.Milestone, merged time.Time) demo.Milestone {
	check, last := m.Check, ""
	m.Check = func(ctx context.Context) (bool, string) {
		ok, detail := check(ctx)
		if detail != last {
			fmt.Printf("    %7s  %s: %s\n", seconds(time.Since(merged)), m.Name, detail)
			last = detail
		}
		return ok, detail
	}
	return m
}

func printTable(w io.Writer, rounds []map[string]time.Duration, revisions []string, poll time.Duration) {
	fmt.Fprintf(w, "\nmerge → milestone, with webhooks (seconds; milestones checked every %s)\n\n", poll)
	fmt.Fprintf(w, "%-8s %-9s", "round", "revision")
	for _, f := range figures {
		fmt.Fprintf(w, " %20s", f.title)
	}
	fmt.Fprintln(w)
	for i, r := range rounds {
		fmt.Fprintf(w, "%-8d %-9s", i+1, revisions[i])
		for _, f := range figures {
			fmt.Fprintf(w, " %20s", seconds(r[f.milestone]))
		}
		fmt.Fprintln(w)
	}
	for _, stat := range []struct {
		name string
		f    func([]time.Duration) time.Duration
	}{{"median", median}, {"max", maxOf}} {
		fmt.Fprintf(w, "%-8s %-9s", stat.name, "")
		for _, f := range figures {
			fmt.Fprintf(w, " %20s", seconds(stat.f(column(rounds, f.milestone))))
		}
		fmt.Fprintln(w)
	}
	dev := column(rounds, figures[0].milestone)
	worst := maxOf(dev)
	verdict := "MET"
	if worst > target {
		verdict = "NOT MET"
	}
	fmt.Fprintf(w, "\ntarget (1) merge → dev applied with success ≤ %s: %s (max %s, median %s over %d rounds)\n",
		seconds(target), verdict, seconds(worst), seconds(median(dev)), len(dev))
}

func column(rounds []map[string]time.Duration, milestone string) []time.Duration {
	out := make([]time.Duration, 0, len(rounds))
	for _, r := range rounds {
		out = append(out, r[milestone])
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func describe(verbose bool, logDir string) string {
	if verbose {
		return "shown"
	}
	return filepath.Join(logDir, "demo.log")
}

// loadAverage is the 1, 5 and 15 minute load average (Linux), or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return errors.New("interrupted")
	case <-time.After(d):
		return nil
	}
}

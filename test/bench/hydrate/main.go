// Command hydrate measures the hub's hydration at fleet scale (issue 4's benchmark):
// a generated fleet config repo of N clusters × P placements (half Helm, half Kustomize,
// per-cluster overrides) rendered into three stage branches of a local git server, then a
// one-cluster override change to a pushed commit, and the same work done by a shell loop of
// `helm template` / `kubectl kustomize` per cluster plus `git commit`, on a sample of
// clusters (the loop is too slow to run for every cluster; its figure is extrapolated).
//
//	go run ./test/bench/hydrate [-clusters 1000] [-placements 10] [-cli-sample 20]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
	"github.com/gitfleet/gitfleet/test/binaries"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

var cpuProfile string

func main() {
	clusters := flag.Int("clusters", 1000, "member clusters")
	placements := flag.Int("placements", 10, "placements (half Helm, half Kustomize)")
	sample := flag.Int("cli-sample", 20, "clusters the helm/kubectl/git shell loop renders (0 skips it)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the one-cluster change to this file")
	flag.Parse()
	if err := run(*clusters, *placements, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(nClusters, nPlacements, sample int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "gitfleet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fleetDir := filepath.Join(work, "fleet")
	if err := generateFleet(fleetDir, nClusters, nPlacements, ""); err != nil {
		return err
	}
	gs, err := gitserver.Start(gitserver.Options{AutoCreate: true})
	if err != nil {
		return err
	}
	defer gs.Stop()
	if err := gs.InitRepo("env", map[string]string{"README.md": "environment branches\n"}, "main"); err != nil {
		return err
	}
	url := gs.RepoURL("env")
	writer := gitsource.NewWriter()
	renderer := render.New(render.Options{})
	fmt.Printf("fleet: %d clusters × %d placements (%d Helm, %d Kustomize), 3 stages; GOMAXPROCS=%d\n",
		nClusters, nPlacements, (nPlacements+1)/2, nPlacements/2, runtime.GOMAXPROCS(0))

	// Full hydration: schedule, render, write three branches.
	start := time.Now()
	plan, renderDur, err := hydrateOnce(ctx, fleetDir, "1111111111111111111111111111111111111111", renderer)
	if err != nil {
		return err
	}
	files, bytes, err := writeAll(ctx, writer, url, plan, "1111111111111111111111111111111111111111")
	if err != nil {
		return err
	}
	full := time.Since(start)
	st := renderer.Cache().Stats()
	fmt.Printf("full hydration: %s (schedule+render %s, commit+push %s); %d files, %.1f MiB in 3 branches; cache %d hits / %d misses\n",
		full.Round(time.Millisecond), renderDur.Round(time.Millisecond), (full - renderDur).Round(time.Millisecond), files, float64(bytes)/(1<<20), st.Hits, st.Misses)

	_, firstMisses := memo.Stats()
	// One cluster's override changes: warm renderer and writer, as in a running hub.
	if err := generateFleet(fleetDir, nClusters, nPlacements, "cluster-0007"); err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }() // after StopCPUProfile, which flushes
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	plan, renderDur, err = hydrateOnce(ctx, fleetDir, "2222222222222222222222222222222222222222", renderer)
	if err != nil {
		return err
	}
	if _, _, err := writeAll(ctx, writer, url, plan, "2222222222222222222222222222222222222222"); err != nil {
		return err
	}
	one := time.Since(start)
	hits, misses := memo.Stats()
	fmt.Printf("one-cluster override change to pushed commits: %s (schedule+render %s, commit+push %s); pairs rendered again: %d of %d\n",
		one.Round(time.Millisecond), renderDur.Round(time.Millisecond), (one - renderDur).Round(time.Millisecond), misses-firstMisses, hits+misses-firstMisses)
	fmt.Printf("peak RSS: %d MiB\n", peakRSS()/1024)

	if sample > 0 {
		perCluster, err := cliLoop(ctx, work, fleetDir, nPlacements, sample)
		if err != nil {
			return err
		}
		est := perCluster * time.Duration(nClusters)
		fmt.Printf("shell loop (helm template / kubectl kustomize per cluster + git commit): %s per cluster on %d clusters, so about %s for %d clusters: %.0f× slower than gitfleet's full hydration\n",
			perCluster.Round(time.Millisecond), sample, est.Round(time.Second), nClusters, est.Seconds()/full.Seconds())
	}
	return nil
}

// memo is the hub's per-source render memo, kept between passes as the controller does.
var memo = hydrate.NewMemo()

func hydrateOnce(ctx context.Context, dir, sha string, r *render.Renderer) (*hydrate.Plan, time.Duration, error) {
	start := time.Now()
	f, err := hydrate.LoadFleetDir(dir, "fleet")
	if err != nil {
		return nil, 0, err
	}
	f.SourceURL, f.SourceBranch, f.SourceCommit, f.Now, f.Memo = "bench", "main", sha, time.Now(), memo
	plan := hydrate.Hydrate(ctx, f, r)
	for name, pp := range plan.Placements {
		if pp.Err != nil {
			return nil, 0, fmt.Errorf("placement %s: %w", name, pp.Err)
		}
		for c, cp := range pp.Clusters {
			if cp.Err != nil {
				return nil, 0, fmt.Errorf("placement %s on %s: %w", name, c, cp.Err)
			}
		}
	}
	return plan, time.Since(start), nil
}

func writeAll(ctx context.Context, w *gitsource.Writer, url string, plan *hydrate.Plan, sha string) (int, int64, error) {
	var files int
	var size int64
	names := make([]string, 0, len(plan.Branches))
	for n := range plan.Branches {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		b := plan.Branches[name]
		var n int
		var sz int64
		_, err := w.Write(ctx, gitsource.WriteRequest{URL: url, Branch: name, Scope: hydrate.Scope,
			Update: func(cur map[string][]byte) (map[string][]byte, error) {
				out := b.Desired(cur, hydrate.SourceRef{Repository: "bench", Branch: "main", Commit: sha}, hydrate.ToolVersions())
				n, sz = len(out), 0
				for _, d := range out {
					sz += int64(len(d))
				}
				return out, nil
			},
			Message: "bench " + sha[:7], Trailers: gitsource.StageTrailers(sha, b.Stage)})
		if err != nil {
			return 0, 0, fmt.Errorf("writing %s: %w", name, err)
		}
		files += n
		size += sz
	}
	return files, size, nil
}

// cliLoop renders `sample` clusters the way a shell script would: helm template and
// kubectl kustomize once per cluster and placement, files written, then git add/commit.
// It returns the time per cluster.
func cliLoop(ctx context.Context, work, fleetDir string, nPlacements, sample int) (time.Duration, error) {
	helm, err := binaries.Helm.Path(ctx, os.Stderr)
	if err != nil {
		return 0, err
	}
	out := filepath.Join(work, "cli")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	if err := exec.Command("git", "-C", out, "init", "-q").Run(); err != nil {
		return 0, err
	}
	start := time.Now()
	for c := 0; c < sample; c++ {
		cluster := fmt.Sprintf("cluster-%04d", c)
		for p := 0; p < nPlacements; p++ {
			var cmd *exec.Cmd
			if p%2 == 0 {
				cmd = exec.Command(helm, "template", fmt.Sprintf("app-%d", p), filepath.Join(fleetDir, "apps", fmt.Sprintf("chart-%d", p)),
					"--namespace", "apps", "--set", "clusterName="+cluster)
			} else {
				cmd = exec.Command("kubectl", "kustomize", filepath.Join(fleetDir, "apps", fmt.Sprintf("kust-%d", p)))
			}
			data, err := cmd.Output()
			if err != nil {
				return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
			}
			target := filepath.Join(out, "clusters", cluster, fmt.Sprintf("app-%d.yaml", p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return 0, err
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				return 0, err
			}
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.email=b@example.com", "-c", "user.name=bench", "commit", "-qm", "render"}} {
		if err := exec.Command("git", append([]string{"-C", out}, args...)...).Run(); err != nil {
			return 0, fmt.Errorf("git %v: %w", args, err)
		}
	}
	return time.Since(start) / time.Duration(sample), nil
}

func peakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

func init() {
	register("render", "render a fleet config checkout locally, as the hub would", runRender)
}

func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gitfleet render DIR (--cluster NAME | --all) [--out DIR] [--fleet-path fleet]\n\n"+
			"Schedules and renders the placements of a fleet config checkout with the hub's own code.\n"+
			"--cluster prints one cluster's objects as YAML; --all prints a summary; --out writes the\n"+
			"environment branches' trees (DIR/env/<stage>/...) exactly as the hub commits them.\n"+
			"Every cluster is taken as joined and healthy (there are no agents here).")
		fs.PrintDefaults()
	}
	cluster := fs.String("cluster", "", "render for this cluster only and print its objects")
	all := fs.Bool("all", false, "render for every cluster")
	out := fs.String("out", "", "write each environment branch's tree under this folder")
	fleetPath := fs.String("fleet-path", "fleet", "folder of the checkout holding Placements, Pipelines, Overrides and MemberClusters")
	dir, rest := splitPositional(args)
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" || (*cluster == "" && !*all) {
		fs.Usage()
		return 2
	}
	plan, f, err := renderDir(ctx, dir, *fleetPath)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	failed := reportErrors(stderr, plan, *cluster)
	switch {
	case *out != "":
		if err := writeBranches(*out, plan, f, *cluster); err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return 1
		}
		fmt.Fprintf(stderr, "wrote %d branches to %s\n", len(plan.Branches), *out)
	case *cluster != "":
		if !printCluster(stdout, plan, *cluster) {
			fmt.Fprintf(stderr, "error: no placement selects cluster %q\n", *cluster)
			return 1
		}
	default:
		printSummary(stdout, plan)
	}
	if failed {
		return 1
	}
	return 0
}

// splitPositional lets the checkout folder come before the flags (gitfleet render . --all).
func splitPositional(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// renderDir loads a checkout and hydrates it.
func renderDir(ctx context.Context, dir, fleetPath string) (*hydrate.Plan, *hydrate.Fleet, error) {
	f, err := hydrate.LoadFleetDir(dir, fleetPath)
	if err != nil {
		return nil, nil, err
	}
	f.SourceBranch, f.SourceCommit = headOf(dir)
	f.Now = time.Now()
	return hydrate.Hydrate(ctx, f, newRenderer()), f, nil
}

func newRenderer() *render.Renderer { return render.New(render.Options{}) }

// headOf names the checkout's branch and commit, or "local" outside a git repository.
func headOf(dir string) (string, string) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "local", "0000000000000000000000000000000000000000"
	}
	head, err := repo.Head()
	if err != nil {
		return "local", "0000000000000000000000000000000000000000"
	}
	branch := "HEAD"
	if head.Name().IsBranch() {
		branch = head.Name().Short()
	}
	return branch, head.Hash().String()
}

// reportErrors prints every placement and cluster error (of one cluster, when given) and
// says whether there were any.
func reportErrors(w io.Writer, plan *hydrate.Plan, onlyCluster string) bool {
	failed := false
	for _, name := range slices.Sorted(maps.Keys(plan.Placements)) {
		pp := plan.Placements[name]
		if pp.Err != nil {
			errorLines(w, fmt.Sprintf("placement %s: ", name), pp.Err)
			failed = true
			continue
		}
		if pp.Schedule.Missing > 0 {
			fmt.Fprintf(w, "placement %s: %s\n", name, pp.Schedule.Message)
		}
		for _, c := range slices.Sorted(maps.Keys(pp.Clusters)) {
			cp := pp.Clusters[c]
			if onlyCluster != "" && c != onlyCluster {
				continue
			}
			if cp.Branch == "" {
				fmt.Fprintf(w, "placement %s on %s: no stage of the pipeline selects the cluster\n", name, c)
			}
			if cp.Err != nil {
				errorLines(w, fmt.Sprintf("placement %s on %s: ", name, c), cp.Err)
				failed = true
			}
		}
	}
	return failed
}

func writeBranches(out string, plan *hydrate.Plan, f *hydrate.Fleet, onlyCluster string) error {
	source := hydrate.SourceRef{Repository: "local", Branch: f.SourceBranch, Commit: f.SourceCommit}
	for _, name := range slices.Sorted(maps.Keys(plan.Branches)) {
		files := plan.Branches[name].Desired(nil, source, hydrate.ToolVersions())
		for p, data := range files {
			if onlyCluster != "" && strings.HasPrefix(p, hydrate.ClustersDir) && !strings.HasPrefix(p, render.ClusterDir(onlyCluster)+"/") {
				continue
			}
			target := filepath.Join(out, filepath.FromSlash(name), filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func printCluster(w io.Writer, plan *hydrate.Plan, cluster string) bool {
	found := false
	for _, name := range slices.Sorted(maps.Keys(plan.Placements)) {
		cp := plan.Placements[name].Clusters[cluster]
		if cp == nil {
			continue
		}
		found = true
		for _, o := range cp.Objects {
			fmt.Fprintf(w, "---\n# %s (placement %s, stage %s)\n%s", o.FilePath(cluster, name), name, cp.Stage, o.YAML)
		}
	}
	return found
}

func printSummary(w io.Writer, plan *hydrate.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLACEMENT\tCLUSTER\tSTAGE\tBRANCH\tOBJECTS\tRESULT")
	for _, name := range slices.Sorted(maps.Keys(plan.Placements)) {
		pp := plan.Placements[name]
		for _, c := range slices.Sorted(maps.Keys(pp.Clusters)) {
			cp := pp.Clusters[c]
			result := "ok"
			if cp.Err != nil {
				result = "failed"
			} else if cp.Branch == "" {
				result = "no stage"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", name, c, cp.Stage, cp.Branch, len(cp.Objects), result)
		}
	}
	_ = tw.Flush()
}

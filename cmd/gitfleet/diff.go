package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/gitfleet/gitfleet/hydrate"
)

func init() {
	register("diff", "show which clusters and objects a change of the fleet config repo touches", runDiff)
}

// maxDiffLines bounds the diff shown for one object.
const maxDiffLines = 60

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gitfleet diff --base REV --head REV [--repo DIR] [--format text|markdown] [--exit-code]\n\n"+
			"Renders the fleet config repo at two revisions with the hub's code and lists, per environment\n"+
			"branch and cluster, the objects added, changed and removed. --format markdown suits a\n"+
			"pull-request comment.")
		fs.PrintDefaults()
	}
	base := fs.String("base", "", "the revision before the change (branch, tag or commit)")
	head := fs.String("head", "HEAD", "the revision with the change")
	repoDir := fs.String("repo", ".", "a checkout of the fleet config repo")
	fleetPath := fs.String("fleet-path", "fleet", "folder holding Placements, Pipelines, Overrides and MemberClusters")
	format := fs.String("format", "text", "text or markdown")
	exitCode := fs.Bool("exit-code", false, "exit 1 when the change touches any cluster (like git diff --exit-code)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *base == "" || (*format != "text" && *format != "markdown") {
		fs.Usage()
		return 2
	}
	before, err := renderRevision(ctx, *repoDir, *base, *fleetPath)
	if err != nil {
		fmt.Fprintf(stderr, "error: rendering %s: %v\n", *base, err)
		return 1
	}
	after, err := renderRevision(ctx, *repoDir, *head, *fleetPath)
	if err != nil {
		fmt.Fprintf(stderr, "error: rendering %s: %v\n", *head, err)
		return 1
	}
	changes := compareTrees(before, after)
	if *format == "markdown" {
		writeMarkdown(stdout, *base, *head, changes)
	} else {
		writeText(stdout, changes)
	}
	if *exitCode && len(changes) > 0 {
		return 1
	}
	return 0
}

// renderRevision exports a revision of the repository and renders every branch's files
// under clusters/ (keyed "<branch>\x00<path>").
func renderRevision(ctx context.Context, repoDir, rev, fleetPath string) (map[string][]byte, error) {
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", repoDir, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", rev, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "gitfleet-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := exportCommit(commit, tmp); err != nil {
		return nil, err
	}
	f, err := hydrate.LoadFleetDir(tmp, fleetPath)
	if err != nil {
		return nil, err
	}
	plan, _, err := renderLoaded(ctx, f, rev, hash.String())
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	src := hydrate.SourceRef{Repository: "local", Branch: rev, Commit: "<commit>"}
	for name, b := range plan.Branches {
		for p, data := range b.Desired(nil, src, hydrate.ToolVersions()) {
			if strings.HasPrefix(p, hydrate.ClustersDir) {
				out[name+"\x00"+p] = normaliseRevision(data)
			}
		}
	}
	failures := plan.Failures()
	if len(failures) > 0 {
		return nil, fmt.Errorf("%d renders failed: %s", len(failures), strings.Join(failures, "; "))
	}
	return out, nil
}

func renderLoaded(ctx context.Context, f *hydrate.Fleet, branch, commit string) (*hydrate.Plan, *hydrate.Fleet, error) {
	f.SourceBranch, f.SourceCommit = branch, commit
	plan := hydrate.Hydrate(ctx, f, newRenderer())
	return plan, f, nil
}

// normaliseRevision hides the provenance annotation's revision, which differs between any
// two revisions and is not a change of the object.
func normaliseRevision(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, "fleet.gitfleet.dev/source-revision:") {
			lines[i] = l[:strings.Index(l, ":")+1] + " <revision>"
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// exportCommit writes a commit's tree into dir, keeping symbolic links as links.
func exportCommit(c *object.Commit, dir string) error {
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	return tree.Files().ForEach(func(f *object.File) error {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		if f.Mode == filemode.Symlink {
			return os.Symlink(content, target)
		}
		return os.WriteFile(target, []byte(content), 0o644)
	})
}

// change is one object that differs.
type change struct {
	branch, cluster, placement, file string
	kind                             string // added, changed, removed
	diff                             string
}

func compareTrees(before, after map[string][]byte) []change {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []change
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		b, inB := before[k]
		a, inA := after[k]
		if inA && inB && string(a) == string(b) {
			continue
		}
		branch, p, _ := strings.Cut(k, "\x00")
		parts := strings.SplitN(strings.TrimPrefix(p, hydrate.ClustersDir), "/", 3)
		c := change{branch: branch, cluster: parts[0], file: p}
		if len(parts) > 1 {
			c.placement = parts[1]
		}
		switch {
		case !inB:
			c.kind = "added"
		case !inA:
			c.kind = "removed"
		default:
			c.kind = "changed"
			c.diff = lineDiff(string(b), string(a))
		}
		out = append(out, c)
	}
	return out
}

// lineDiff returns the changed lines of two texts, prefixed - and +, cut at maxDiffLines.
func lineDiff(a, b string) string {
	dmp := diffmatchpatch.New()
	ca, cb, lines := dmp.DiffLinesToChars(a, b)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines)
	var s strings.Builder
	n := 0
	for _, d := range diffs {
		prefix := map[diffmatchpatch.Operation]string{diffmatchpatch.DiffDelete: "-", diffmatchpatch.DiffInsert: "+"}[d.Type]
		if prefix == "" {
			continue
		}
		for _, l := range strings.Split(strings.TrimSuffix(d.Text, "\n"), "\n") {
			if n == maxDiffLines {
				s.WriteString("... (diff cut)\n")
				return s.String()
			}
			s.WriteString(prefix + l + "\n")
			n++
		}
	}
	return s.String()
}

func writeText(w io.Writer, changes []change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no cluster is affected")
		return
	}
	last := ""
	for _, c := range changes {
		if g := c.branch + " " + c.cluster; g != last {
			fmt.Fprintf(w, "%s: cluster %s\n", c.branch, c.cluster)
			last = g
		}
		fmt.Fprintf(w, "  %-8s %s\n", c.kind, path.Join(c.placement, strings.Join(strings.SplitN(c.file, "/", 4)[3:], "")))
		for _, l := range strings.Split(strings.TrimSuffix(c.diff, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	fmt.Fprintf(w, "%s\n", summaryLine(changes))
}

func writeMarkdown(w io.Writer, base, head string, changes []change) {
	fmt.Fprintf(w, "### gitfleet: rendered changes `%s` → `%s`\n\n", base, head)
	if len(changes) == 0 {
		fmt.Fprintln(w, "No cluster is affected.")
		return
	}
	fmt.Fprintf(w, "%s\n\n| branch | cluster | added | changed | removed |\n|---|---|---|---|---|\n", summaryLine(changes))
	type counts struct{ added, changed, removed int }
	groups := map[string]*counts{}
	var order []string
	for _, c := range changes {
		g := c.branch + "|" + c.cluster
		if groups[g] == nil {
			groups[g] = &counts{}
			order = append(order, g)
		}
		switch c.kind {
		case "added":
			groups[g].added++
		case "changed":
			groups[g].changed++
		default:
			groups[g].removed++
		}
	}
	for _, g := range order {
		b, cl, _ := strings.Cut(g, "|")
		fmt.Fprintf(w, "| `%s` | %s | %d | %d | %d |\n", b, cl, groups[g].added, groups[g].changed, groups[g].removed)
	}
	fmt.Fprintln(w)
	for _, g := range order {
		b, cl, _ := strings.Cut(g, "|")
		fmt.Fprintf(w, "<details><summary><code>%s</code> %s</summary>\n\n```diff\n", b, cl)
		for _, c := range changes {
			if c.branch != b || c.cluster != cl {
				continue
			}
			fmt.Fprintf(w, "# %s %s\n%s", c.kind, c.file, c.diff)
		}
		fmt.Fprintln(w, "```\n</details>")
	}
}

func summaryLine(changes []change) string {
	clusters := map[string]bool{}
	for _, c := range changes {
		clusters[c.branch+"/"+c.cluster] = true
	}
	return fmt.Sprintf("%d objects differ on %d clusters", len(changes), len(clusters))
}

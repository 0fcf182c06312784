package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// pages are the docs the checker reads.
func pages(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, glob := range []string{"README.md", "docs/*.md", "docs/api/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, glob))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) < 10 {
		t.Fatalf("found %d pages under %s, want the docs", len(files), root)
	}
	return files
}

func vocab(t *testing.T) *vocabulary {
	t.Helper()
	v, err := loadVocabulary(root)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDocsNameWhatExists fails when a page names a gitfleet command or flag, a condition
// type, a reason or an API field that the code does not have.
func TestDocsNameWhatExists(t *testing.T) {
	v := vocab(t)
	for _, file := range pages(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		for _, f := range checkPage(string(data), v) {
			t.Errorf("%s:%s", rel, f)
		}
	}
}

// TestDocsREADMEListsEveryCommand fails when a command is missing from the command table
// of docs/README.md.
func TestDocsREADMEListsEveryCommand(t *testing.T) {
	v := vocab(t)
	data, err := os.ReadFile(filepath.Join(root, "docs", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for cmd := range v.commands {
		if !strings.Contains(string(data), "| `gitfleet "+cmd) {
			t.Errorf("docs/README.md: the command table has no row for gitfleet %s", cmd)
		}
	}
}

// TestVocabulary checks the vocabulary against names known to exist, and known not to:
// a loader that found nothing would let every page pass.
func TestVocabulary(t *testing.T) {
	v := vocab(t)
	for _, c := range []string{"render", "diff", "status", "promote", "approve", "rollback", "version"} {
		if v.commands[c] == nil {
			t.Errorf("commands: no %q in docs/cli.md", c)
		}
	}
	for cmd, flag := range map[string]string{"render": "cluster", "rollback": "to", "status": "o", "promote": "skip-gates"} {
		if !v.commands[cmd][flag] {
			t.Errorf("flags of %s = %v, want -%s among them", cmd, v.commands[cmd], flag)
		}
	}
	for prog, flag := range map[string]string{"gitfleet-hub": "data-dir", "gitfleet-agent": "hub-heartbeat-interval"} {
		for _, f := range []string{flag, "leader-elect", "zap-log-level", "kubeconfig"} {
			if !v.programs[prog][f] {
				t.Errorf("flags of %s = %v, want --%s among them", prog, v.programs[prog], f)
			}
		}
	}
	for _, c := range []string{"Ready", "Stalled", "Healthy", "Joined", "Committed", "Drifted", "GatesPassed"} {
		if !v.conditions[c] {
			t.Errorf("conditions: no %q", c)
		}
	}
	// Declared in api/v1alpha1 but set by no code.
	if v.conditions["Promoted"] {
		t.Errorf("conditions: Promoted counted, but no code sets it")
	}
	for _, r := range []string{"Succeeded", "DependencyNotReady", "FetchFailed", "PathNotFound", "Merged", "ForgeRateLimited"} {
		if !v.reasons[r] {
			t.Errorf("reasons: no %q", r)
		}
	}
	for _, e := range []string{"RollbackFailed", "HubReportFailed", "Committed", "ApplyFailed"} {
		if !v.events[e] {
			t.Errorf("events: no %q", e)
		}
	}
	for kind, path := range map[string]string{"Pipeline": "status.stages.targetRevision", "ClusterSync": "spec.hub.kubeconfigSecretRef.name", "Placement": "spec.helm.values.anything"} {
		if fs := v.kinds[kind]; fs == nil || !fs.has(path) {
			t.Errorf("fields of %s: no %s", kind, path)
		}
	}
}

// TestCheckerCatches runs the checker on a page full of mistakes (testdata/wrong.md): each
// must be found, on its line.
func TestCheckerCatches(t *testing.T) {
	v := vocab(t)
	data, err := os.ReadFile("testdata/wrong.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range checkPage(string(data), v) {
		got = append(got, f.String())
	}
	want := []string{
		`line 5: command "gitfleet promot": gitfleet has no such command (see docs/cli.md)`,
		`line 7: flag "--revison": gitfleet promote has no flag -revison (see docs/cli.md)`,
		`line 10: command "gitfleet rollbak": gitfleet has no such command (see docs/cli.md)`,
		`line 11: flag "--force": gitfleet approve has no flag -force (see docs/cli.md)`,
		`line 14: flag "--wait": gitfleet promote has no flag -wait (see docs/cli.md)`,
		`line 16: condition "Promoted": no code sets a condition of this type`,
		`line 17: reason "GateFailed": no code sets this reason`,
		`line 18: condition "Synced": no code sets a condition of this type`,
		`line 18: reason "Bogus": no code sets this reason`,
		`line 19: event "Exploded": no code records an event with this reason`,
		`line 21: field "spec.stages[].promotionMode": no kind has a field spec.stages[].promotionMode (see docs/api/reference.md)`,
		`line 22: field "Pipeline.spec.fleetPath": Pipeline has no field spec.fleetPath (see docs/api/reference.md)`,
		`line 27: condition "Promoted": no code sets a condition of this type`,
		`line 28: condition "Teleported": no code sets a condition of this type`,
		`line 30: flag "--skp-gates": gitfleet promote has no flag -skp-gates (see docs/cli.md)`,
		`line 36: flag "--hub-heartbeat": gitfleet-agent has no flag -hub-heartbeat (see cmd/gitfleet-agent)`,
		`line 39: flag "--watch-namespace": gitfleet-hub has no flag -watch-namespace (see cmd/gitfleet-hub)`,
		`line 43: flag "--data-directory": gitfleet-hub has no flag -data-directory (see cmd/gitfleet-hub)`,
		`line 28: reason "Teleported": no code sets this reason`,
	}
	if d := DiffLines(want, got); d != "" {
		t.Errorf("checkPage(testdata/wrong.md): (-want +got)\n%s", d)
	}
}

// TestCheckerPasses runs the checker on a page of correct names written in every way the
// docs write them (testdata/right.md): nothing may be reported.
func TestCheckerPasses(t *testing.T) {
	v := vocab(t)
	data, err := os.ReadFile("testdata/right.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range checkPage(string(data), v) {
		t.Errorf("checkPage(testdata/right.md): %s", f)
	}
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading  = regexp.MustCompile(`^#{1,6}\s+(.*)$`)
	slugRemove = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// slug is GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes.
func slug(heading string) string {
	return strings.ReplaceAll(slugRemove.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

// anchors returns the anchors of a markdown file's headings (outside code blocks), with
// GitHub's -1, -2 suffixes for repeated headings.
func anchors(data string) map[string]bool {
	out, seen, fence := map[string]bool{}, map[string]int{}, false
	for _, line := range strings.Split(data, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") {
			fence = !fence
		}
		m := mdHeading.FindStringSubmatch(line)
		if fence || m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// TestDocsLinks fails when a page links to a file of the repository that does not exist,
// or to a heading that its page does not have.
func TestDocsLinks(t *testing.T) {
	for _, file := range pages(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		fence := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fence = !fence
			}
			if fence {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(span.ReplaceAllString(line, "``"), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				}
				st, err := os.Stat(dest)
				if err != nil {
					t.Errorf("%s:%d: link %s: %s does not exist", rel, i+1, target, path)
					continue
				}
				if anchor == "" || st.IsDir() || !strings.HasSuffix(dest, ".md") {
					continue
				}
				body, err := os.ReadFile(dest)
				if err != nil {
					t.Fatal(err)
				}
				if !anchors(string(body))[anchor] {
					t.Errorf("%s:%d: link %s: %s has no heading with the anchor #%s", rel, i+1, target, path, anchor)
				}
			}
		}
	}
}

// TestSlug checks the anchors made of headings against ones GitHub makes.
func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"2.4 Each member cluster":                 "24-each-member-cluster",
		"Agent (`controllers/agent/metrics.go`)":  "agent-controllersagentmetricsgo",
		"Ranking, stickiness and stability":       "ranking-stickiness-and-stability",
		"Hub: hydration at fleet scale (issue 4)": "hub-hydration-at-fleet-scale-issue-4",
		"Preview pull requests before merging":    "preview-pull-requests-before-merging",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
	got := anchors("# A\n## B\n```\n# not a heading\n```\n## B\n")
	for _, a := range []string{"a", "b", "b-1"} {
		if !got[a] {
			t.Errorf("anchors(...) = %v, want %q among them", got, a)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("anchors(...) = %v: a comment in a code block is no heading", got)
	}
}

// repoPath is a span that names a file or folder of the repository: a path whose first
// folder is one at the repository's root ("controllers/agent/report.go", "config/hub").
var repoPath = regexp.MustCompile("`((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.*-]*)`")

// TestDocsPaths fails when a page names a file or folder of the repository that does not
// exist (globs such as config/*/leader_election_role.yaml must match something).
func TestDocsPaths(t *testing.T) {
	top := map[string]bool{}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	// Folders the repository ignores (bin/: what make builds) are not its files: a page may
	// name them (bin/bench/) whether or not they were built here.
	ignored := map[string]bool{}
	if gi, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, l := range strings.Split(string(gi), "\n") {
			ignored[strings.Trim(strings.TrimSpace(l), "/")] = true
		}
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !ignored[e.Name()] {
			top[e.Name()] = true
		}
	}
	for _, file := range pages(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range repoPath.FindAllStringSubmatch(line, -1) {
				p := strings.TrimSuffix(m[1], "...") // a Go package pattern: scheduler/plugins/...
				if !top[strings.SplitN(p, "/", 2)[0]] {
					continue
				}
				matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(p, "/"))))
				if err != nil || len(matches) == 0 {
					t.Errorf("%s:%d: %s does not exist in the repository", rel, i+1, p)
				}
			}
		}
	}
}

package hub

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/hydrate"
)

// Limits of an approval pull request's body: GitHub refuses bodies over 65536 characters.
const (
	maxBodyChars     = 60000
	maxDiffLines     = 200
	maxClustersShown = 50
)

// clusterChange is what a promotion changes in one cluster's folder.
type clusterChange struct {
	Cluster                 string
	Added, Changed, Removed []string // file paths below clusters/<cluster>/, sorted
	Diff                    []string // unified-style lines, truncated
	DiffTruncated           bool
}

// diffTrees compares two trees of an env branch (path → content) cluster by cluster.
func diffTrees(before, after map[string][]byte) []clusterChange {
	byCluster := map[string]*clusterChange{}
	get := func(p string) (*clusterChange, string) {
		rest := strings.TrimPrefix(p, hydrate.ClustersDir)
		c, file, _ := strings.Cut(rest, "/")
		cc := byCluster[c]
		if cc == nil {
			cc = &clusterChange{Cluster: c}
			byCluster[c] = cc
		}
		return cc, file
	}
	for _, p := range slices.Sorted(maps.Keys(after)) {
		if !strings.HasPrefix(p, hydrate.ClustersDir) {
			continue
		}
		old, ok := before[p]
		switch {
		case !ok:
			cc, f := get(p)
			cc.Added = append(cc.Added, f)
			cc.appendDiff(p, nil, after[p])
		case string(old) != string(after[p]):
			cc, f := get(p)
			cc.Changed = append(cc.Changed, f)
			cc.appendDiff(p, old, after[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[p]; !ok && strings.HasPrefix(p, hydrate.ClustersDir) {
			cc, f := get(p)
			cc.Removed = append(cc.Removed, f)
			cc.appendDiff(p, before[p], nil)
		}
	}
	out := make([]clusterChange, 0, len(byCluster))
	for _, c := range slices.Sorted(maps.Keys(byCluster)) {
		out = append(out, *byCluster[c])
	}
	return out
}

// appendDiff adds a line diff of one file, up to maxDiffLines per cluster.
func (c *clusterChange) appendDiff(path string, before, after []byte) {
	if c.DiffTruncated {
		return
	}
	lines := append([]string{"--- a/" + path, "+++ b/" + path}, lineDiff(splitLines(before), splitLines(after))...)
	if len(c.Diff)+len(lines) > maxDiffLines {
		lines = lines[:max(0, maxDiffLines-len(c.Diff))]
		c.DiffTruncated = true
	}
	c.Diff = append(c.Diff, lines...)
}

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// lineDiff returns the lines of b and a with "-", "+" or " " prefixes, by longest common
// subsequence; large files fall back to all-removed/all-added.
func lineDiff(a, b []string) []string {
	if len(a)*len(b) > 4_000_000 {
		var out []string
		for _, l := range a {
			out = append(out, "-"+l)
		}
		for _, l := range b {
			out = append(out, "+"+l)
		}
		return out
	}
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, " "+a[i])
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "-"+a[i])
			i++
		default:
			out = append(out, "+"+b[j])
			j++
		}
	}
	return out
}

// prTitle names the stage and the dry commit.
func prTitle(stage, revision string) string {
	return fmt.Sprintf("gitfleet: promote %s to %s", fleetv1alpha1.ShortSHA(revision), stage)
}

// prContext is what an approval pull request's body tells besides the changes.
type prContext struct {
	Stage, FromStage, Revision string
	// SourceURL of the fleet config repo (credentials redacted); a commit link is made
	// for http(s) URLs.
	SourceURL string
	// PreviousStage is the previous stage's result, e.g. "3/3 clusters healthy".
	PreviousStage string
	// Gates that passed, one line each.
	Gates []string
}

// prBody summarises a promotion per cluster: objects added, changed and removed, with a
// collapsed diff each, truncated to stay within the forge's limits.
func prBody(c prContext, changes []clusterChange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Promotes dry revision %s into stage **%s**", commitLink(c.SourceURL, c.Revision), c.Stage)
	if c.FromStage != "" {
		fmt.Fprintf(&b, " from **%s** (%s)", c.FromStage, c.PreviousStage)
	}
	b.WriteString(".\n\nMerging this pull request is the approval; closing it rejects this revision (it is not proposed again until a newer one passes the gates).\n\n")
	if len(c.Gates) > 0 {
		b.WriteString("Gates:\n")
		for _, g := range c.Gates {
			fmt.Fprintf(&b, "- %s\n", g)
		}
		b.WriteString("\n")
	}
	writeChanges(&b, changes)
	return b.String()
}

// writeChanges writes the per-cluster table of changes and a collapsed diff per cluster,
// truncated to stay within the forge's limits on the body.
func writeChanges(b *strings.Builder, changes []clusterChange) {
	if len(changes) == 0 {
		b.WriteString("No cluster changes (only metadata).\n")
		return
	}
	b.WriteString("| cluster | added | changed | removed |\n|---|---|---|---|\n")
	for i, ch := range changes {
		if i == maxClustersShown {
			fmt.Fprintf(b, "| … %d more clusters | | | |\n", len(changes)-i)
			break
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d |\n", ch.Cluster, len(ch.Added), len(ch.Changed), len(ch.Removed))
	}
	b.WriteString("\n")
	for i, ch := range changes {
		if i == maxClustersShown {
			break
		}
		var sec strings.Builder
		fmt.Fprintf(&sec, "<details><summary>%s: %s</summary>\n\n", ch.Cluster, changeSummary(ch))
		sec.WriteString("```diff\n")
		for _, l := range ch.Diff {
			sec.WriteString(strings.ReplaceAll(l, "```", "` ` `"))
			sec.WriteString("\n")
		}
		if ch.DiffTruncated {
			sec.WriteString("… (diff truncated)\n")
		}
		sec.WriteString("```\n</details>\n\n")
		if b.Len()+sec.Len() > maxBodyChars {
			fmt.Fprintf(b, "… diffs of %d more clusters left out (the body is limited); compare the branches for the whole change.\n", len(changes)-i)
			break
		}
		b.WriteString(sec.String())
	}
}

func changeSummary(ch clusterChange) string {
	var parts []string
	for _, x := range []struct {
		n    int
		verb string
	}{{len(ch.Added), "added"}, {len(ch.Changed), "changed"}, {len(ch.Removed), "removed"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.verb))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// commitLink links a commit of an http(s) repository URL (GitHub and Gitea share the
// /commit/<sha> path), or names it.
func commitLink(repoURL, sha string) string {
	if strings.HasPrefix(repoURL, "http://") || strings.HasPrefix(repoURL, "https://") {
		return fmt.Sprintf("[%s](%s/commit/%s)", fleetv1alpha1.ShortSHA(sha), strings.TrimSuffix(strings.TrimSuffix(repoURL, "/"), ".git"), sha)
	}
	return "`" + fleetv1alpha1.ShortSHA(sha) + "`"
}

package hub

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffTrees(t *testing.T) {
	before := map[string][]byte{
		"clusters/a/app/ns/configmap-x.yaml": []byte("data:\n  k: v1\n"),
		"clusters/a/app/ns/configmap-y.yaml": []byte("gone\n"),
		"clusters/b/app/ns/configmap-x.yaml": []byte("same\n"),
		"gitfleet.json":                      []byte("{}"),
	}
	after := map[string][]byte{
		"clusters/a/app/ns/configmap-x.yaml": []byte("data:\n  k: v2\n"),
		"clusters/a/app/ns/configmap-z.yaml": []byte("new\n"),
		"clusters/b/app/ns/configmap-x.yaml": []byte("same\n"),
		"gitfleet.json":                      []byte("{\"x\":1}"),
	}
	got := diffTrees(before, after)
	want := []clusterChange{{
		Cluster: "a", Added: []string{"app/ns/configmap-z.yaml"}, Changed: []string{"app/ns/configmap-x.yaml"}, Removed: []string{"app/ns/configmap-y.yaml"},
		Diff: []string{
			"--- a/clusters/a/app/ns/configmap-x.yaml", "+++ b/clusters/a/app/ns/configmap-x.yaml", " data:", "-  k: v1", "+  k: v2",
			"--- a/clusters/a/app/ns/configmap-z.yaml", "+++ b/clusters/a/app/ns/configmap-z.yaml", "+new",
			"--- a/clusters/a/app/ns/configmap-y.yaml", "+++ b/clusters/a/app/ns/configmap-y.yaml", "-gone",
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diffTrees() (-want +got):\n%s", diff)
	}
}

func TestPRBodyIsTruncated(t *testing.T) {
	var changes []clusterChange
	after := map[string][]byte{}
	for c := 0; c < 80; c++ {
		for f := 0; f < 30; f++ {
			after[fmt.Sprintf("clusters/c%02d/app/ns/configmap-%d.yaml", c, f)] = []byte(strings.Repeat("line of yaml\n", 40))
		}
	}
	changes = diffTrees(nil, after)
	body := prBody(prContext{Stage: "prod", FromStage: "staging", Revision: "0123456789abcdef", SourceURL: "https://example.com/o/r.git", PreviousStage: "3/3 clusters healthy"}, changes)
	if len(body) > maxBodyChars+2000 {
		t.Errorf("prBody() is %d characters, want at most about %d", len(body), maxBodyChars)
	}
	for _, want := range []string{"[0123456](https://example.com/o/r/commit/0123456789abcdef)", "| c00 | 30 | 0 | 0 |", "… 30 more clusters", "(diff truncated)", "<details><summary>c00: 30 added</summary>"} {
		if !strings.Contains(body, want) {
			t.Errorf("prBody() lacks %q", want)
		}
	}
}

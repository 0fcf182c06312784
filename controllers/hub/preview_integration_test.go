//go:build integration

package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestPullRequestPreview opens pull requests to the fleet config repo on the strict GitHub
// API double: the hub renders their head and reports gitfleet/render and a comment with
// the per-cluster diff (webhook on open, the poll when the branch moves), reports a change
// that does not render as a failure, compares a pull request that is behind the branch with
// where it left it, ignores pull requests into other branches, and writes nothing to the
// environment branches.
func TestPullRequestPreview(t *testing.T) {
	h, gh, api := startHubOnGitHub(t, hub.Options{PreviewPoll: time.Second})
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		src := &fleetv1alpha1.GitSource{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
			return err
		}
		src.Spec.PreviewPullRequests = true
		return h.c.Update(ctx, src)
	})
	if err != nil {
		t.Fatal(err)
	}
	heads, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	base := heads["main"]
	h.waitStage(t, "dev", HaveField("CurrentRevision", base))
	envBefore, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	const suffix = "(vs main@"

	v2 := strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)
	head1, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "feature", From: "main", Files: map[string]string{"apps/hello/configmap.yaml": v2}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := api.CreatePullRequest(ctx, gitsource.NewPullRequest{Title: "hello v2", Head: "feature", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a pull request is rendered and its changes reported", func(t *testing.T) {
		opened := time.Now()
		st := waitRenderStatus(t, gh, head1, "success")
		t.Logf("pull request opened → gitfleet/render reported: %s", time.Since(opened).Round(10*time.Millisecond))
		if want := "3 clusters change (vs main@" + base[:7] + ")"; st.Description != want {
			t.Errorf("gitfleet/render = %q, want %q", st.Description, want)
		}
		comments := gh.Comments("fleet/config", pr.Number)
		if len(comments) != 1 {
			t.Fatalf("%d comments on #%d, want 1", len(comments), pr.Number)
		}
		for _, want := range []string{"<!-- gitfleet:render -->", "compared with `main`", "| dev-1 | 0 | 1 | 0 |", "| staging-1 | 0 | 1 | 0 |", "-  greeting: hello v1", "+  greeting: hello v2"} {
			if !strings.Contains(comments[0].Body, want) {
				t.Errorf("comment lacks %q:\n%s", want, comments[0].Body)
			}
		}
	})

	t.Run("a change that does not render is a failure, reported when the branch moves", func(t *testing.T) {
		head2, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "feature", Files: map[string]string{"apps/hello/configmap.yaml": "kind: ConfigMap\nmetadata: {name: [broken\n"}})
		if err != nil {
			t.Fatal(err)
		}
		st := waitRenderStatus(t, gh, head2, "failure")
		// hello fails on each of its three clusters.
		if !strings.HasPrefix(st.Description, "3 renders failed") || !strings.Contains(st.Description, suffix) {
			t.Errorf("gitfleet/render = %q, want 3 renders failed (vs main@…)", st.Description)
		}
		comments := gh.Comments("fleet/config", pr.Number)
		if len(comments) != 2 || !strings.Contains(comments[1].Body, "**3 renders failed**") || !strings.Contains(comments[1].Body, "- hello on dev-1: apps/hello/configmap.yaml: document 1: malformed YAML") {
			t.Errorf("comments = %d, the last:\n%s\nwant a second one naming the failed renders of hello", len(comments), comments[len(comments)-1].Body)
		}
		// The first head's report stays; nothing is posted twice for it.
		if sts := gh.Statuses("fleet/config", head1); countContext(sts, fleetv1alpha1.RenderStatusContext) != 2 {
			t.Errorf("%d gitfleet/render statuses on the first head, want 2 (pending, success)", countContext(sts, fleetv1alpha1.RenderStatusContext))
		}
	})

	t.Run("when the branch moves, open pull requests are rendered again, still compared with where they left it, without a new comment", func(t *testing.T) {
		head2, err := h.git.Head(ctx, "fleet", "feature")
		if err != nil {
			t.Fatal(err)
		}
		before := countContext(gh.Statuses("fleet/config", head2), fleetv1alpha1.RenderStatusContext)
		base2 := h.push(t, gitserver.Commit{Files: map[string]string{"NOTES.md": "unrelated\n"}})
		NewWithT(t).Eventually(func(g Gomega) {
			g.Expect(countContext(gh.Statuses("fleet/config", head2), fleetv1alpha1.RenderStatusContext)).To(BeNumerically(">=", before+2),
				"%s statuses on %s (%d before main moved to %s)", fleetv1alpha1.RenderStatusContext, head2[:7], before, base2[:7])
		}).WithTimeout(60 * time.Second).Should(Succeed())
		// The pull request left main at base: main's newer commits are not its changes.
		waitForgeStatus(t, gh, head2, fleetv1alpha1.RenderStatusContext, And(HaveField("State", "failure"), HaveField("Description", HaveSuffix("(vs main@"+base[:7]+")"))))
		if n := len(gh.Comments("fleet/config", pr.Number)); n != 2 {
			t.Errorf("%d comments after main moved, want still 2 (one per head commit)", n)
		}
		envBefore["env/dev"] = h.waitStage(t, "dev", HaveField("CurrentRevision", base2)).RenderedCommit
	})

	t.Run("a pull request behind the branch shows its own changes, not the branch's newer ones", func(t *testing.T) {
		// main changes hello too (v3); the pull request, branched before, sets v2.
		v3 := strings.Replace(v2, "hello v2", "hello v3", 1)
		base3 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": v3}})
		head3, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "feature", Files: map[string]string{"apps/hello/configmap.yaml": v2}})
		if err != nil {
			t.Fatal(err)
		}
		st := waitRenderStatus(t, gh, head3, "success")
		if want := "3 clusters change (vs main@" + base[:7] + ")"; st.Description != want {
			t.Errorf("gitfleet/render = %q, want %q (the merge base, not main@%s)", st.Description, want, base3[:7])
		}
		comments := gh.Comments("fleet/config", pr.Number)
		last := comments[len(comments)-1].Body
		for _, want := range []string{"where this pull request left it", "-  greeting: hello v1", "+  greeting: hello v2"} {
			if !strings.Contains(last, want) {
				t.Errorf("comment lacks %q:\n%s", want, last)
			}
		}
		if strings.Contains(last, "hello v3") {
			t.Errorf("comment shows main's newer hello v3 as a change of the pull request:\n%s", last)
		}
		envBefore["env/dev"] = h.waitStage(t, "dev", HaveField("CurrentRevision", base3)).RenderedCommit
	})

	t.Run("pull requests into other branches are not previewed, and nothing is written", func(t *testing.T) {
		other, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "docs", From: "main", Files: map[string]string{"README.md": "docs\n"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.CreatePullRequest(ctx, gitsource.NewPullRequest{Title: "docs", Head: "docs", Base: "env/dev"}); err != nil {
			t.Fatal(err)
		}
		// Three polls.
		NewWithT(t).Consistently(func() int { return countContext(gh.Statuses("fleet/config", other), fleetv1alpha1.RenderStatusContext) }).WithTimeout(3*time.Second).
			Should(BeZero(), "%s statuses on a pull request into env/dev", fleetv1alpha1.RenderStatusContext)
		after, err := h.git.Branches(ctx, "fleet")
		if err != nil {
			t.Fatal(err)
		}
		for b, sha := range envBefore {
			if strings.HasPrefix(b, "env/") && after[b] != sha {
				t.Errorf("%s moved from %s to %s while pull requests were previewed", b, sha[:7], after[b])
			}
		}
	})
}

func waitRenderStatus(t *testing.T, gh *forge.Server, sha, state string) forge.Status {
	t.Helper()
	return waitForgeStatus(t, gh, sha, fleetv1alpha1.RenderStatusContext, HaveField("State", state))
}

func countContext(sts []forge.Status, context string) int {
	n := 0
	for _, s := range sts {
		if s.Context == context {
			n++
		}
	}
	return n
}

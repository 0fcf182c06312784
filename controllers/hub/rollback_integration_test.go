//go:build integration

package hub_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// rollbackPipeline is dev (auto) → staging (auto, gated on dev healthy) → prod (pull
// request, gated on staging healthy).
const rollbackPipeline = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Pipeline
metadata:
  name: release
spec:
  pullRequestLabels: [release]
  stages:
  - name: dev
    clusterSelector:
      matchLabels: {stage: dev}
  - name: staging
    clusterSelector:
      matchLabels: {stage: staging}
    gates: {previousStageHealthy: true}
  - name: prod
    promotion: PullRequest
    clusterSelector:
      matchLabels: {stage: prod}
    gates: {previousStageHealthy: true}
`

// TestRollback rolls stages back with `gitfleet rollback`'s Promotions against the strict
// GitHub API double: a pull request restoring the rendered tree of an earlier commit (by
// env commit and by dry revision), merged; the rolled-back revision is not proposed
// again, the older one is not proposed downstream, and a newer revision flows as usual;
// requests that cannot be met fail with a clear message; the branches of merged pull
// requests are deleted.
func TestRollback(t *testing.T) {
	h, gh, api := startHubOnGitHub(t, hub.Options{PipelinePoll: time.Second})
	ctx := context.Background()
	hello := func(v string) string {
		return strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello "+v, 1)
	}
	const prodHello = "clusters/prod-1/hello/hello/configmap-hello.yaml"
	const stagingHello = "clusters/staging-1/hello/hello/configmap-hello.yaml"

	release := func(t *testing.T, rev string, pr int) { t.Helper(); h.release(t, api, rev, pr) }

	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": rollbackPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	release(t, rev1, 1)
	staging1 := h.waitStage(t, "staging", HaveField("CurrentRevision", rev1)).RenderedCommit

	t.Run("the branch of a merged approval pull request is deleted", func(t *testing.T) {
		h.waitNoBranch(t, "gitfleet/promote/prod")
	})

	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": hello("v2")}})
	release(t, rev2, 2)

	t.Run("an auto stage rolled back by env commit stays there, and is not proposed downstream", func(t *testing.T) {
		promo := h.requestRollback(t, "staging", staging1[:10], "v2 breaks staging")
		promo = h.waitRollbackOpen(t, promo.Name)
		if promo.Status.Rollback.RestoredCommit != staging1 || promo.Status.Rollback.DryRevision != rev1 || promo.Status.Rollback.RolledBackRevision != rev2 {
			t.Errorf("status.rollback = %+v, want %s restored (dry %s), rolled back from %s", promo.Status.Rollback, staging1[:7], rev1[:7], rev2[:7])
		}
		n := int(promo.Status.PullRequest.Number)
		pr, _ := gh.PullRequest("fleet/config", n)
		if want := "gitfleet: roll back staging to " + rev1[:7]; pr.Title != want {
			t.Errorf("title = %q, want %q", pr.Title, want)
		}
		if pr.Head != "gitfleet/rollback/staging" || pr.Base != "env/staging" {
			t.Errorf("pull request %s → %s, want gitfleet/rollback/staging → env/staging", pr.Head, pr.Base)
		}
		if fmt.Sprint(pr.Labels) != "[gitfleet/rollback release]" {
			t.Errorf("labels = %v, want [gitfleet/rollback release]", pr.Labels)
		}
		for _, want := range []string{"Reason: v2 breaks staging", "| staging-1 | 0 | 1 | 0 |", "-  greeting: hello v2", "+  greeting: hello v1", "does not propose " + rev2[:7] + " to staging again"} {
			if !strings.Contains(pr.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, pr.Body)
			}
		}
		if files := h.readBranch(t, "gitfleet/rollback/staging"); sourceCommit(t, files) != rev1 || !strings.Contains(files[stagingHello], "hello v1") {
			t.Errorf("gitfleet/rollback/staging holds %s with %q, want the render of %s", sourceCommit(t, files)[:7], files[stagingHello], rev1[:7])
		}
		if err := api.MergePullRequest(ctx, n, "", "roll back"); err != nil {
			t.Fatal(err)
		}
		h.waitPromotion(t, promo.Name, fleetv1alpha1.PromotionMerged)
		st := h.waitStage(t, "staging", HaveField("CurrentRevision", rev1))
		if got := h.readBranch(t, "env/staging")[stagingHello]; !strings.Contains(got, "hello v1") {
			t.Errorf("env/staging hello = %q after the rollback, want hello v1", got)
		}
		// staging is healthy on the rollback, dev on rev2: neither gate holds anything back.
		h.reportApplied(t, "staging-1", st.RenderedCommit, metav1.ConditionTrue)
		prs := len(gh.PullRequests("fleet/config"))
		NewWithT(t).Consistently(func(g Gomega) {
			g.Expect(h.stageOf(g, "staging")).To(HaveField("CurrentRevision", rev1), "staging after its rollback to %s", rev1[:7])
			g.Expect(h.stageOf(g, "prod")).To(And(HaveField("CurrentRevision", rev2), HaveField("TargetRevision", "")), "prod with a rolled-back staging")
			g.Expect(gh.PullRequests("fleet/config")).To(HaveLen(prs), "pull requests after the rollback (nothing proposed)")
		}).WithTimeout(4 * time.Second).Should(Succeed())
		staging := h.stage(t, "staging")
		if !strings.Contains(staging.Message, rev2[:7]+" was rolled back") {
			t.Errorf("staging message = %q, want it to say %s was rolled back", staging.Message, rev2[:7])
		}
		h.waitNoBranch(t, "gitfleet/rollback/staging")
	})

	t.Run("a pull request stage rolled back by dry revision", func(t *testing.T) {
		promo := h.requestRollback(t, "prod", rev1[:7], "")
		promo = h.waitRollbackOpen(t, promo.Name)
		if promo.Status.Rollback.DryRevision != rev1 || promo.Status.Rollback.RolledBackRevision != rev2 {
			t.Errorf("status.rollback = %+v, want dry %s rolled back from %s", promo.Status.Rollback, rev1[:7], rev2[:7])
		}
		if files := h.readBranch(t, "gitfleet/rollback/prod"); !strings.Contains(files[prodHello], "hello v1") || sourceCommit(t, files) != rev1 {
			t.Errorf("gitfleet/rollback/prod = %q at %s, want hello v1 at %s", files[prodHello], sourceCommit(t, files), rev1[:7])
		}
		if err := api.MergePullRequest(ctx, int(promo.Status.PullRequest.Number), promo.Status.PullRequest.HeadCommit, "roll back"); err != nil {
			t.Fatal(err)
		}
		h.waitPromotion(t, promo.Name, fleetv1alpha1.PromotionMerged)
		h.waitStage(t, "prod", HaveField("CurrentRevision", rev1))
		if got := h.readBranch(t, "env/prod")[prodHello]; !strings.Contains(got, "hello v1") {
			t.Errorf("env/prod hello = %q after the rollback, want hello v1", got)
		}
		h.waitNoBranch(t, "gitfleet/rollback/prod")
	})

	t.Run("requests that cannot be met fail with a clear message", func(t *testing.T) {
		for _, c := range []struct{ stage, to, want string }{
			{"dev", rev1[:7], "revert the change there (git revert)"},
			{"prod", "deadbeef", "deadbeef is neither a commit in the history of env/prod nor a dry revision"},
			{"prod", rev1[:7], "env/prod already holds dry revision " + rev1[:7]},
			{"qa", rev1[:7], "pipeline release has no stage qa"},
		} {
			promo := h.requestRollback(t, c.stage, c.to, "")
			h.waitPromotion(t, promo.Name, fleetv1alpha1.PromotionFailed)
			ready := apimeta.FindStatusCondition(h.promotion(t, promo.Name).Status.Conditions, fleetv1alpha1.ReadyCondition)
			if ready == nil || !strings.Contains(ready.Message, c.want) {
				t.Errorf("rollback of %s to %s: Ready = %+v, want a message with %q", c.stage, c.to, ready, c.want)
			}
		}
	})

	var forced *fleetv1alpha1.Promotion
	t.Run("gitfleet promote --skip-gates brings the rolled-back revision back by pull request", func(t *testing.T) {
		forced = &fleetv1alpha1.Promotion{
			ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, GenerateName: fleetv1alpha1.PromotionName("release", "prod", rev2) + "-"},
			Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: "release"}, Stage: "prod", FromStage: "staging",
				DryRevision: rev2, SkipGates: true, SkipGatesReason: "v2 fixed by a config change"},
		}
		if err := h.c.Create(ctx, forced); err != nil {
			t.Fatal(err)
		}
		if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
			t.Fatal(err)
		}
		h.waitPromotion(t, forced.Name, fleetv1alpha1.PromotionOpen)
		got := h.promotion(t, forced.Name)
		pr, _ := gh.PullRequest("fleet/config", int(got.Status.PullRequest.Number))
		if pr.State != "open" || !strings.Contains(pr.Title, rev2[:7]) || !strings.Contains(pr.Body, "+  greeting: hello v2") {
			t.Errorf("pull request #%d = %s %q, want open, carrying %s:\n%s", pr.Number, pr.State, pr.Title, rev2[:7], pr.Body)
		}
		if old := h.promotion(t, fleetv1alpha1.PromotionName("release", "prod", rev2)); old.Status.Phase != fleetv1alpha1.PromotionMerged || old.Status.PullRequest.Number != 2 {
			t.Errorf("the first attempt of %s = %s #%d, want it kept as Merged #2", rev2[:7], old.Status.Phase, old.Status.PullRequest.Number)
		}
	})

	t.Run("a newer revision is promoted as usual", func(t *testing.T) {
		rev3 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": hello("v3")}})
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev3))
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "staging", HaveField("CurrentRevision", rev3))
		h.playAgents(t, "staging", []string{"staging-1"}, "prod", And(HaveField("TargetRevision", rev3), HaveField("Message", ContainSubstring("awaiting approval"))))
		h.waitPromotion(t, forced.Name, fleetv1alpha1.PromotionSuperseded)
		if files := h.readBranch(t, "gitfleet/promote/prod"); !strings.Contains(files[prodHello], "hello v3") {
			t.Errorf("gitfleet/promote/prod hello = %q, want hello v3", files[prodHello])
		}
	})
}

// release takes rev through dev and staging to prod's approval pull request #pr (the
// rollbackPipeline), and merges it.
func (h *hubEnv) release(t *testing.T, api *gitsource.GitHub, rev string, pr int) {
	t.Helper()
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev))
	h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "staging", HaveField("CurrentRevision", rev))
	h.playAgents(t, "staging", []string{"staging-1"}, "prod", And(HaveField("TargetRevision", rev), HaveField("Message", ContainSubstring("awaiting approval #%d", pr))))
	if err := api.MergePullRequest(context.Background(), pr, "", "approved"); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", HaveField("CurrentRevision", rev))
}

// TestRollbackMergedBeforeTheForgeSaysSo: Gitea moves the stage's branch a moment before
// it reports the rollback pull request merged (and a merge may land in the middle of a
// pass). A pass in that moment must wait, not rebuild the rollback on the merged branch:
// that found nothing to roll back and failed the rollback (then the rolled-back revision
// was proposed again), or opened a second, empty rollback pull request (seen in the e2e).
func TestRollbackMergedBeforeTheForgeSaysSo(t *testing.T) {
	h, gh, api := startHubOnGitHub(t, hub.Options{PipelinePoll: time.Second})
	ctx := context.Background()
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": rollbackPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	h.release(t, api, rev1, 1)
	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
	h.release(t, api, rev2, 2)

	promo := h.waitRollbackOpen(t, h.requestRollback(t, "prod", rev1[:7], "").Name)
	n := int(promo.Status.PullRequest.Number)
	pr, _ := gh.PullRequest("fleet/config", n)
	// The merge lands in env/prod; the forge still shows the pull request open.
	dir := filepath.Join(h.git.Root(), "fleet")
	merged, err := gitMerge(dir, pr)
	if err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", HaveField("CurrentRevision", rev1))
	openIntoProd := func() []string {
		var out []string
		for _, p := range gh.PullRequests("fleet/config") {
			if p.State == "open" && p.Base == "env/prod" && p.Number != n {
				out = append(out, fmt.Sprintf("#%d %s", p.Number, p.Title))
			}
		}
		return out
	}
	NewWithT(t).Consistently(func(g Gomega) {
		got := &fleetv1alpha1.Promotion{}
		g.Expect(h.c.Get(ctx, client.ObjectKeyFromObject(promo), got)).To(Succeed())
		g.Expect(got.Status.Phase.Finished()).To(BeFalse(), "rollback %s is %s while its pull request reads open: %+v", promo.Name, got.Status.Phase, got.Status.Conditions)
		g.Expect(openIntoProd()).To(BeEmpty(), "pull requests into env/prod opened while the rollback was being merged")
	}).WithTimeout(5 * time.Second).Should(Succeed())
	// The forge reports the merge.
	gh.OnMerge(func(string, forge.PullRequest) (string, error) { return merged, nil })
	if err := api.MergePullRequest(ctx, n, "", "roll back"); err != nil {
		t.Fatal(err)
	}
	h.waitPromotion(t, promo.Name, fleetv1alpha1.PromotionMerged)
	NewWithT(t).Consistently(openIntoProd).WithTimeout(3*time.Second).Should(BeEmpty(), "the rolled-back %s proposed again", rev2[:7])
}

// requestRollback records a rollback as `gitfleet rollback STAGE --to TO` does.
func (h *hubEnv) requestRollback(t *testing.T, stage, to, reason string) *fleetv1alpha1.Promotion {
	t.Helper()
	promo := &fleetv1alpha1.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, GenerateName: "release-" + stage + "-rollback-",
			Labels: map[string]string{fleetv1alpha1.PipelineLabel: "release", fleetv1alpha1.StageLabel: stage}},
		Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: "release"}, Stage: stage,
			Rollback: &fleetv1alpha1.RollbackSpec{To: to, Reason: reason}},
	}
	if err := h.c.Create(context.Background(), promo); err != nil {
		t.Fatal(err)
	}
	if err := hub.RequestReconcile(context.Background(), h.c, h.pipeline(t, "release"), time.Now()); err != nil {
		t.Fatal(err)
	}
	return promo
}

// waitRollbackOpen waits for a rollback's pull request and returns the Promotion.
func (h *hubEnv) waitRollbackOpen(t *testing.T, name string) *fleetv1alpha1.Promotion {
	t.Helper()
	return h.waitPromotionTo(t, name, HaveField("Status", And(HaveField("Phase", fleetv1alpha1.PromotionOpen),
		HaveField("PullRequest", Not(BeNil())), HaveField("Rollback", Not(BeNil())))))
}

// waitNoBranch waits until the fleet repo has no branch named branch.
func (h *hubEnv) waitNoBranch(t *testing.T, branch string) {
	t.Helper()
	NewWithT(t).Eventually(func() (map[string]string, error) { return h.git.Branches(context.Background(), "fleet") }).
		Should(Not(HaveKey(branch)), "branches of the fleet repo")
}

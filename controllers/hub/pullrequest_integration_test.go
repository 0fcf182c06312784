//go:build integration

package hub_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// prPipeline is dev (auto) → prod (pull request, gated on dev healthy).
const prPipeline = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Pipeline
metadata:
  name: release
spec:
  pullRequestLabels: [release]
  promotionHistoryLimit: 2
  stages:
  - name: dev
    clusterSelector:
      matchLabels: {stage: dev}
  - name: prod
    promotion: PullRequest
    clusterSelector:
      matchLabels: {stage: prod}
`

const prodCluster = `
---
apiVersion: fleet.gitfleet.dev/v1alpha1
kind: MemberCluster
metadata:
  name: prod-1
  labels: {stage: prod}
spec:
  heartbeatGracePeriod: 0s
`

// TestPullRequestPromotion drives a PullRequest stage against the strict GitHub API
// double: the approval pull request (title, body, labels, gate status), the dry-commit
// statuses, merge, reject, and a newer revision superseding an open pull request only
// once it passed the same gates.
func TestPullRequestPromotion(t *testing.T) {
	// The poll is long: a merge, a close and the agents' reports arrive by webhook and watch.
	h, gh, api := startHubOnGitHub(t, hub.Options{PipelinePoll: 5 * time.Minute})
	ctx := context.Background()
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": prPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev1))

	var pr1 forge.PullRequest
	t.Run("the approval pull request opens once dev is healthy", func(t *testing.T) {
		if n := len(gh.PullRequests("fleet/config")); n != 0 {
			t.Fatalf("%d pull requests before dev is healthy, want 0", n)
		}
		start := time.Now()
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #1")))
		t.Logf("dev healthy → prod pull request open: %s", time.Since(start).Round(10*time.Millisecond))
		pr1, _ = gh.PullRequest("fleet/config", 1)
		if want := "gitfleet: promote " + rev1[:7] + " to prod"; pr1.Title != want {
			t.Errorf("title = %q, want %q", pr1.Title, want)
		}
		if pr1.Base != "env/prod" || pr1.Head != "gitfleet/promote/prod" {
			t.Errorf("pull request %s → %s, want gitfleet/promote/prod → env/prod", pr1.Head, pr1.Base)
		}
		for _, want := range []string{"| prod-1 | 1 | 0 | 0 |", "<details><summary>prod-1: 1 added</summary>", "+  greeting: hello v1", "from **dev** (2/2 clusters healthy)", "previous-stage: dev: 2/2 clusters healthy"} {
			if !strings.Contains(pr1.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, pr1.Body)
			}
		}
		if fmt.Sprint(pr1.Labels) != "[gitfleet/promotion release]" {
			t.Errorf("labels = %v, want [gitfleet/promotion release]", pr1.Labels)
		}
		if st, ok := gh.LatestStatus("fleet/config", pr1.HeadSHA, fleetv1alpha1.GatePreviousStageStatusContext); !ok || st.State != "success" {
			t.Errorf("%s on the pull request head = %+v (found %v), want success", fleetv1alpha1.GatePreviousStageStatusContext, st, ok)
		}
		h.waitStatus(t, gh, rev1, "gitfleet/stage/dev", "success", "dev: 2/2 clusters healthy")
		h.waitStatus(t, gh, rev1, "gitfleet/stage/prod", "pending", "prod: awaiting approval #1")
		promo := h.promotion(t, "release-prod-"+rev1[:12])
		if promo.Status.Phase != fleetv1alpha1.PromotionOpen || promo.Status.PullRequest == nil || promo.Status.PullRequest.Number != 1 {
			t.Errorf("Promotion = %+v, want Open with pull request #1", promo.Status)
		}
	})

	t.Run("merging applies the revision to env/prod", func(t *testing.T) {
		// The forge fails for a while: promotion waits, says why, and resumes.
		gh.InjectFault(forge.Fault{Method: "POST", PathPrefix: "/repos/fleet/config/statuses", Count: 1000, Status: 502})
		defer gh.ClearFaults()
		merged := time.Now()
		if err := api.MergePullRequest(ctx, 1, "", "approved"); err != nil {
			t.Fatal(err)
		}
		h.waitPipelineReady(t, "False", fleetv1alpha1.ForgeUnavailableReason)
		gh.ClearFaults()
		h.waitStage(t, "prod", And(HaveField("CurrentRevision", rev1), HaveField("TargetRevision", "")))
		t.Logf("merge → env/prod observed at the revision, through a forge outage: %s", time.Since(merged).Round(10*time.Millisecond))
		h.waitPipelineReady(t, "True", fleetv1alpha1.SucceededReason)
		if got := h.readBranch(t, "env/prod")["clusters/prod-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v1") {
			t.Errorf("env/prod hello = %q after the merge, want hello v1", got)
		}
		h.waitPromotion(t, "release-prod-"+rev1[:12], fleetv1alpha1.PromotionMerged)
	})

	t.Run("closing rejects the revision for good", func(t *testing.T) {
		rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev2))
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #2")))
		pr2, _ := gh.PullRequest("fleet/config", 2)
		if !strings.Contains(pr2.Body, "-  greeting: hello v1") || !strings.Contains(pr2.Body, "+  greeting: hello v2") {
			t.Errorf("pull request #2 body lacks the change of greeting:\n%s", pr2.Body)
		}
		if err := api.ClosePullRequest(ctx, 2); err != nil {
			t.Fatal(err)
		}
		h.waitPromotion(t, "release-prod-"+rev2[:12], fleetv1alpha1.PromotionRejected)
		h.waitStage(t, "prod", And(HaveField("CurrentRevision", rev1), HaveField("TargetRevision", ""), HaveField("Message", ContainSubstring("rejected"))))
		// Later passes propose nothing again.
		if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
			t.Fatal(err)
		}
		NewWithT(t).Consistently(func() []forge.PullRequest { return gh.PullRequests("fleet/config") }).WithTimeout(3*time.Second).
			Should(HaveLen(2), "pull requests after a rejection (no retry of a rejected revision)")
	})

	t.Run("a newer revision supersedes the open pull request once it passed the gates", func(t *testing.T) {
		rev3 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v3", 1)}})
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev3))
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #3")))

		rev4 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v4", 1)}})
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev4))
		NewWithT(t).Consistently(func() forge.PullRequest { pr3, _ := gh.PullRequest("fleet/config", 3); return pr3 }).WithTimeout(2*time.Second).
			Should(And(HaveField("Title", ContainSubstring(rev3[:7])), HaveField("Body", Not(ContainSubstring("hello v4")))),
				"pull request #3 while dev is not healthy on %s", rev4[:7])
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", And(HaveField("TargetRevision", rev4), HaveField("Message", ContainSubstring("awaiting approval #3"))))
		pr3, _ := gh.PullRequest("fleet/config", 3)
		if !strings.Contains(pr3.Title, rev4[:7]) || !strings.Contains(pr3.Body, "+  greeting: hello v4") {
			t.Errorf("pull request #3 = %q, want it to carry %s:\n%s", pr3.Title, rev4[:7], pr3.Body)
		}
		h.waitPromotion(t, "release-prod-"+rev3[:12], fleetv1alpha1.PromotionSuperseded)
		if err := api.MergePullRequest(ctx, 3, "", "approved"); err != nil {
			t.Fatal(err)
		}
		merged := time.Now()
		h.waitStage(t, "prod", HaveField("CurrentRevision", rev4))
		t.Logf("merge → env/prod observed at the revision (webhook): %s", time.Since(merged).Round(10*time.Millisecond))
		if got := h.readBranch(t, "env/prod")["clusters/prod-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v4") {
			t.Errorf("env/prod hello = %q, want hello v4", got)
		}
		h.waitPromotion(t, "release-prod-"+rev4[:12], fleetv1alpha1.PromotionMerged)
	})

	t.Run("the agents' commit statuses count as their reports", func(t *testing.T) {
		rev5 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v5", 1)}})
		dev := h.waitStage(t, "dev", HaveField("CurrentRevision", rev5))
		// The MemberClusters still report the previous commit; only the statuses are new.
		// The agents follow env/dev's head, as the hub may move it.
		NewWithT(t).Eventually(func(g Gomega) {
			for _, c := range []string{"dev-1", "dev-2"} {
				g.Expect(api.SetStatus(ctx, dev.RenderedCommit, gitsource.CommitStatus{Context: "gitfleet/cluster/" + c, State: gitsource.StateSuccess, Description: "applied"})).To(Succeed())
			}
			dev = h.stageOf(g, "dev")
			g.Expect(h.stageOf(g, "prod")).To(HaveField("Message", ContainSubstring("awaiting approval #4")), "prod with dev healthy on %s by commit statuses", rev5[:7])
		}).WithTimeout(60 * time.Second).Should(Succeed())
	})

	t.Run("a pull request whose base moved is rebuilt on it", func(t *testing.T) {
		if _, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "env/prod", Files: map[string]string{"CODEOWNERS": "* @fleet/prod-owners\n"}, Message: "by hand"}); err != nil {
			t.Fatal(err)
		}
		// The pipeline's poll would notice; the test does not wait for it.
		if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
			t.Fatal(err)
		}
		NewWithT(t).Eventually(func(g Gomega) {
			files, err := h.git.ReadBranch(ctx, "fleet", "gitfleet/promote/prod")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(files).To(HaveKey("CODEOWNERS"), "gitfleet/promote/prod rebuilt on the moved env/prod")
			head, err := h.git.Head(ctx, "fleet", "gitfleet/promote/prod")
			g.Expect(err).NotTo(HaveOccurred())
			pr, _ := gh.PullRequest("fleet/config", 4)
			g.Expect(pr).To(And(HaveField("State", "open"), HaveField("HeadSHA", head)), "pull request #4 with gitfleet/promote/prod at %s", head)
		}).Should(Succeed())
	})

	t.Run("finished promotions past the history limit are deleted", func(t *testing.T) {
		var list fleetv1alpha1.PromotionList
		if err := h.c.List(ctx, &list, client.InNamespace(h.ns), client.MatchingLabels{fleetv1alpha1.StageLabel: "prod"}); err != nil {
			t.Fatal(err)
		}
		var names []string
		finished := 0
		for _, p := range list.Items {
			names = append(names, p.Name+"="+string(p.Status.Phase))
			if p.Status.Phase != fleetv1alpha1.PromotionOpen && p.Status.Phase != fleetv1alpha1.PromotionPending {
				finished++
			}
		}
		if finished != 2 {
			t.Errorf("prod Promotions = %v, want the 2 newest finished ones (promotionHistoryLimit 2) and the open one", names)
		}
	})
}

// startHubOnGitHub starts the hub on testdata/promotion with the GitHub API double (see
// withGitHub) delivering its webhooks to the hub's receiver, and returns a client of the
// double for the test to act as people do (merge, close, post statuses).
func startHubOnGitHub(t *testing.T, opts hub.Options) (*hubEnv, *forge.Server, *gitsource.GitHub) {
	t.Helper()
	opts.WebhookAddr = freeAddr(t)
	h := startHubWith(t, "testdata/promotion", opts)
	gh := h.withGitHub(t, "http://"+opts.WebhookAddr+hub.WebhookPathPrefix+h.ns+"/fleet")
	return h, gh, githubClient(t, gh)
}

// githubClient is a client of the double's fleet/config repository.
func githubClient(t *testing.T, gh *forge.Server) *gitsource.GitHub {
	t.Helper()
	api, err := gitsource.NewGitHub(gh.URL(), "fleet/config", forge.Token)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// withGitHub starts the GitHub API double over the hub's fleet repo (its branches read live
// from the git server's repository; a merge makes a real merge commit there) and points the
// GitSource's forge at it.
func (h *hubEnv) withGitHub(t *testing.T, hookURL string) *forge.Server {
	t.Helper()
	ctx := context.Background()
	gh := forge.NewServer(t)
	gh.AddWebhook("fleet/config", hookURL, []byte("hook-secret"), "pull_request", "status")
	hook := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "webhook"}, StringData: map[string]string{"token": "hook-secret"}}
	if err := h.c.Create(ctx, hook); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.git.Root(), "fleet")
	gh.AddRepo("fleet/config", nil)
	gh.UseGitDir("fleet/config", dir)
	gh.OnMerge(func(_ string, pr forge.PullRequest) (string, error) { return gitMerge(dir, pr) })
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "forge-token"}, StringData: map[string]string{"token": forge.Token}}
	if err := h.c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		src := &fleetv1alpha1.GitSource{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
			return err
		}
		src.Spec.Forge = &fleetv1alpha1.ForgeSpec{Type: fleetv1alpha1.ForgeGitHub, APIURL: gh.URL(), Repository: "fleet/config",
			SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "forge-token"}}
		src.Spec.WebhookSecretRef = &fleetv1alpha1.LocalObjectReference{Name: "webhook"}
		return h.c.Update(ctx, src)
	})
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

// freeAddr returns a free 127.0.0.1 address for a server the test starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gitMerge merges a pull request in a bare repository with a merge commit, as GitHub does.
func gitMerge(dir string, pr forge.PullRequest) (string, error) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %v: %w: %s", args, err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	base, err := git("rev-parse", "refs/heads/"+pr.Base)
	if err != nil {
		return "", err
	}
	sha, err := git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit-tree", pr.HeadSHA+"^{tree}", "-p", base, "-p", pr.HeadSHA, "-m", fmt.Sprintf("Merge pull request #%d from %s", pr.Number, pr.Head))
	if err != nil {
		return "", err
	}
	if _, err := git("update-ref", "refs/heads/"+pr.Base, sha, base); err != nil {
		return "", err
	}
	return sha, nil
}

// waitStatus waits until the latest status of context on sha has state and desc.
func (h *hubEnv) waitStatus(t *testing.T, gh *forge.Server, sha, context, state, desc string) {
	t.Helper()
	waitForgeStatus(t, gh, sha, context, And(HaveField("State", state), HaveField("Description", desc)))
}

// waitForgeStatus waits until the latest status of context on sha matches want, and
// returns it.
func waitForgeStatus(t *testing.T, gh *forge.Server, sha, context string, want types.GomegaMatcher) forge.Status {
	t.Helper()
	var st forge.Status
	NewWithT(t).Eventually(func(g Gomega) {
		var ok bool
		st, ok = gh.LatestStatus("fleet/config", sha, context)
		g.Expect(ok).To(BeTrue(), "no status %s on %s", context, sha[:7])
		g.Expect(st).To(want, "status %s on %s", context, sha[:7])
	}).WithTimeout(60 * time.Second).Should(Succeed())
	return st
}

// waitPipelineReady waits for the release pipeline's Ready condition to be status with
// reason, and returns it.
func (h *hubEnv) waitPipelineReady(t *testing.T, status, reason string) metav1.Condition {
	t.Helper()
	var ready metav1.Condition
	NewWithT(t).Eventually(func(g Gomega) {
		p := &fleetv1alpha1.Pipeline{}
		g.Expect(h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "release"}, p)).To(Succeed())
		c := apimeta.FindStatusCondition(p.Status.Conditions, fleetv1alpha1.ReadyCondition)
		g.Expect(c).NotTo(BeNil(), "pipeline conditions: %+v", p.Status.Conditions)
		g.Expect(*c).To(And(HaveField("Status", metav1.ConditionStatus(status)), HaveField("Reason", reason)), "pipeline release Ready")
		ready = *c
	}).Should(Succeed())
	return ready
}

func (h *hubEnv) promotion(t *testing.T, name string) *fleetv1alpha1.Promotion {
	t.Helper()
	p := &fleetv1alpha1.Promotion{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, p); err != nil {
		t.Fatalf("Promotion %s: %v", name, err)
	}
	return p
}

// waitPromotion waits until the named Promotion is in phase, and returns it.
func (h *hubEnv) waitPromotion(t *testing.T, name string, phase fleetv1alpha1.PromotionPhase) *fleetv1alpha1.Promotion {
	t.Helper()
	return h.waitPromotionTo(t, name, HaveField("Status.Phase", phase))
}

// waitPromotionTo waits until the named Promotion matches want, and returns it.
func (h *hubEnv) waitPromotionTo(t *testing.T, name string, want types.GomegaMatcher) *fleetv1alpha1.Promotion {
	t.Helper()
	p := &fleetv1alpha1.Promotion{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, p)).To(Succeed())
		if ok, _ := want.Match(p); !ok && p.Status.Phase == fleetv1alpha1.PromotionFailed {
			StopTrying(fmt.Sprintf("Promotion %s failed: %+v", name, p.Status)).Now()
		}
		g.Expect(p).To(want, "Promotion %s", name)
	}).Should(Succeed())
	return p
}

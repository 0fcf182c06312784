//go:build integration

package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestPromotionRateLimits drives a PullRequest stage through forge rate limits: a primary
// limit resetting later than the hub's MaxWait parks the pipeline (ForgeRateLimited) until
// the reset and then opens exactly one pull request; short secondary limits and 429s are
// waited out inside the forge client; a rate-limited status on a dry commit does not hold
// the promotion up and is posted after the reset.
func TestPromotionRateLimits(t *testing.T) {
	// The poll is long, so that only a retry the hub schedules itself brings it back after
	// a reset. MaxWait is short, so that a limit a few seconds away is not waited inline.
	h, gh, api := startHubOnGitHub(t, hub.Options{PipelinePoll: 5 * time.Minute,
		ForgeRetry: gitsource.RetryPolicy{MaxAttempts: 5, BaseDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond, MaxWait: 2 * time.Second}})
	ctx := context.Background()
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": prPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev1))
	promo1 := "release-prod-" + rev1[:12]

	t.Run("a primary limit past MaxWait parks the pipeline until the reset", func(t *testing.T) {
		const create = "/repos/fleet/config/pulls"
		limit := primaryLimit(gh, "POST", create, 12*time.Second)
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("TargetRevision", rev1))
		ready := h.waitPipelineReady(t, "False", fleetv1alpha1.ForgeRateLimitedReason)
		refused := faults(gh, "POST", create, 403)
		reset := limit.reset()
		if !time.Now().Before(reset.Add(-3 * time.Second)) {
			t.Fatalf("the pipeline said ForgeRateLimited %s after the first refused request, want at once (the reset is 12 s after it)", time.Since(reset.Add(-12*time.Second)).Round(time.Second))
		}
		clock := reset.UTC().Format("15:04:05Z")
		if !strings.Contains(ready.Message, "rate limit exceeded") || !strings.Contains(ready.Message, "retry after "+clock) ||
			!strings.Contains(ready.Message, "opening the approval pull request") {
			t.Errorf("Ready message = %q, want the failed step, rate limit exceeded and retry after %s", ready.Message, clock)
		}
		if n := len(gh.PullRequests("fleet/config")); n != 0 {
			t.Fatalf("%d pull requests under the rate limit, want 0", n)
		}
		h.noFailedPromotions(t)
		if p := h.promotion(t, promo1); p.Status.Phase != fleetv1alpha1.PromotionPending || p.Status.PullRequest != nil {
			t.Errorf("Promotion %s = %+v, want Pending without a pull request", promo1, p.Status)
		}
		if st := h.stage(t, "prod"); st.CurrentRevision != "" || st.TargetRevision != rev1 {
			t.Errorf("prod = %+v, want nothing promoted and %s moving in", st, rev1[:7])
		}
		heads := h.envHeads(t)

		// The hub waits for the reset instead of retrying with backoff (which would try
		// about ten times in a few seconds). Counted until MaxWait (2s) before the reset,
		// from where a retry may wait for the reset inline.
		g := NewWithT(t)
		g.Consistently(func() int { return faults(gh, "POST", create, 403) - refused }).WithTimeout(time.Until(reset.Add(-3*time.Second))).
			Should(BeNumerically("<=", 2), "pull request creations refused after the pipeline said ForgeRateLimited (the hub waits for the reset)")
		g.Consistently(func() []forge.PullRequest { return gh.PullRequests("fleet/config") }).WithTimeout(time.Until(reset)).
			Should(BeEmpty(), "pull requests before the reset")
		gh.ClearFaults()

		start := time.Now()
		h.waitPromotion(t, promo1, fleetv1alpha1.PromotionOpen)
		t.Logf("reset → approval pull request open: %s", time.Since(start).Round(10*time.Millisecond))
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("the pull request opened %s after the reset, want within seconds (a retry scheduled for the reset, not the 5 min poll)", d.Round(time.Second))
		}
		if p := h.promotion(t, promo1); p.Status.PullRequest == nil || p.Status.PullRequest.Number != 1 {
			t.Errorf("Promotion %s = %+v, want Open with pull request #1", promo1, p.Status)
		}
		h.waitPipelineReady(t, "True", fleetv1alpha1.SucceededReason)
		// Exactly one pull request, made by exactly one accepted request, and it stays so.
		g.Consistently(func() []forge.PullRequest { return gh.PullRequests("fleet/config") }).WithTimeout(2*time.Second).
			Should(ConsistOf(And(HaveField("State", "open"), HaveField("Base", "env/prod"))), "pull requests after the reset: exactly one open into env/prod")
		if n := gh.RequestCount("POST", create) - faults(gh, "POST", create, 403); n != 1 {
			t.Errorf("%d pull request creations not refused by the limit, want 1", n)
		}
		if got := h.envHeads(t); got != heads {
			t.Errorf("env branches moved while the pull request waited: %v, then %v", heads, got)
		}
		h.noFailedPromotions(t)
	})

	t.Run("short secondary limits and 429s are waited out", func(t *testing.T) {
		// After the merge the hub reads the agents' statuses on the new head of env/prod and
		// posts gitfleet/stage/prod on the dry commit.
		const get, statuses = "/repos/fleet/config/commits/", "/repos/fleet/config/statuses/"
		gh.ResetRequests()
		gh.InjectFault(secondaryLimit("GET", get, 2, time.Second))
		gh.InjectFault(tooManyRequests("POST", statuses, 2, time.Second))
		defer gh.ClearFaults()
		merged := time.Now()
		if err := api.MergePullRequest(ctx, 1, "", "approved"); err != nil {
			t.Fatal(err)
		}
		NewWithT(t).Eventually(func(g Gomega) {
			p := h.pipeline(t, "release")
			if c := apimeta.FindStatusCondition(p.Status.Conditions, fleetv1alpha1.ReadyCondition); c != nil && c.Status == "False" {
				StopTrying(fmt.Sprintf("Ready = False %s (%s) while the forge limited briefly, want the limits absorbed", c.Reason, c.Message)).Now()
			}
			g.Expect(h.stageOf(g, "prod")).To(And(HaveField("CurrentRevision", rev1), HaveField("TargetRevision", "")), "prod after the merge")
			g.Expect(answeredAfterFault(gh, "GET", get)).To(BeTrue(), "GET %s answered after its faults; requests %+v", get, gh.Requests())
			g.Expect(answeredAfterFault(gh, "POST", statuses)).To(BeTrue(), "POST %s answered after its faults; requests %+v", statuses, gh.Requests())
		}).WithTimeout(60 * time.Second).Should(Succeed())
		t.Logf("merge → env/prod at the revision, through short rate limits: %s", time.Since(merged).Round(10*time.Millisecond))
		h.waitPromotion(t, promo1, fleetv1alpha1.PromotionMerged)
		// The forge saw each limited request again, and then answered it.
		for _, c := range []struct {
			method, path string
			status       int
		}{{"GET", get, 403}, {"POST", statuses, 429}} {
			if n := faults(gh, c.method, c.path, c.status); n != 2 {
				t.Errorf("%d %s %s answered %d, want 2", n, c.method, c.path, c.status)
			}
			if !answeredAfterFault(gh, c.method, c.path) {
				t.Errorf("%s %s was not retried to success after the limit: %+v", c.method, c.path, gh.Requests())
			}
		}
		h.waitPipelineReady(t, "True", fleetv1alpha1.SucceededReason)
	})

	t.Run("a rate-limited dry-commit status does not hold the promotion up", func(t *testing.T) {
		// The commit is pushed without telling the hub, so that the fault is in place
		// before the hub knows the revision.
		rev2, err := h.git.Push(ctx, "fleet", gitserver.Commit{Branch: "main", Files: map[string]string{
			"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
		if err != nil {
			t.Fatal(err)
		}
		limit := primaryLimit(gh, "POST", "/repos/fleet/config/statuses/"+rev2, 20*time.Second)
		src := &fleetv1alpha1.GitSource{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
			t.Fatal(err)
		}
		if err := hub.RequestReconcile(ctx, h.c, src, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev2))
		h.waitPipelineReady(t, "False", fleetv1alpha1.ForgeRateLimitedReason)
		reset := limit.reset()
		// The promotion goes on under the limit: dev healthy → prod's pull request opens.
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #2")))
		promo2 := "release-prod-" + rev2[:12]
		h.waitPromotion(t, promo2, fleetv1alpha1.PromotionOpen)
		if !time.Now().Before(reset) {
			t.Fatalf("prod's pull request opened only after the reset (%s, 20 s after the first refused status): the rate-limited status held the promotion up", reset.Format(time.RFC3339))
		}
		ready := h.waitPipelineReady(t, "False", fleetv1alpha1.ForgeRateLimitedReason)
		if !strings.Contains(ready.Message, "posting "+fleetv1alpha1.StageStatusContextPrefix) {
			t.Errorf("Ready message = %q, want the status post named", ready.Message)
		}
		pr2, _ := gh.PullRequest("fleet/config", 2)
		if p := h.promotion(t, promo2); p.Status.PullRequest == nil || p.Status.PullRequest.Number != 2 || p.Status.PullRequest.HeadCommit != pr2.HeadSHA {
			t.Errorf("Promotion %s = %+v, want Open with #2 at %s", promo2, p.Status, pr2.HeadSHA)
		}
		if _, ok := gh.LatestStatus("fleet/config", rev2, fleetv1alpha1.StageStatusContextPrefix+"dev"); ok {
			t.Errorf("a status was recorded on %s under the rate limit", rev2[:7])
		}

		NewWithT(t).Consistently(func() []forge.Status { return gh.Statuses("fleet/config", rev2) }).WithTimeout(time.Until(reset)).
			Should(BeEmpty(), "statuses on %s before the reset", rev2[:7])
		gh.ClearFaults()
		start := time.Now()
		h.waitStatus(t, gh, rev2, fleetv1alpha1.StageStatusContextPrefix+"dev", "success", "dev: 2/2 clusters healthy")
		h.waitStatus(t, gh, rev2, fleetv1alpha1.StageStatusContextPrefix+"prod", "pending", "prod: awaiting approval #2")
		t.Logf("reset → statuses on %s posted: %s", rev2[:7], time.Since(start).Round(10*time.Millisecond))
		h.waitPipelineReady(t, "True", fleetv1alpha1.SucceededReason)
		if p := h.promotion(t, promo2); p.Status.Phase != fleetv1alpha1.PromotionOpen || p.Status.PullRequest == nil || p.Status.PullRequest.Number != 2 {
			t.Errorf("Promotion %s after the reset = %+v, want still Open with #2", promo2, p.Status)
		}
		if n := len(gh.PullRequests("fleet/config")); n != 2 {
			t.Errorf("%d pull requests, want 2", n)
		}
		h.noFailedPromotions(t)
	})
}

// rateLimit is a primary rate limit injected into the GitHub double.
type rateLimit struct {
	mu    sync.Mutex
	at    time.Time
	after time.Duration
}

// reset is when the limit resets: after its duration from the first request it refused
// (rounded up to a second); zero before that request.
func (l *rateLimit) reset() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.at
}

func (l *rateLimit) answer(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at.IsZero() {
		l.at = time.Now().Add(l.after).Truncate(time.Second).Add(time.Second)
	}
	h.Set("X-RateLimit-Reset", strconv.FormatInt(l.at.Unix(), 10))
}

// primaryLimit makes every method request under path fail with GitHub's primary rate limit
// answer, resetting resetIn after the first refused request (the test then knows the hub's
// time under the limit, however slow the machine), until ClearFaults.
func primaryLimit(gh *forge.Server, method, path string, resetIn time.Duration) *rateLimit {
	l := &rateLimit{after: resetIn}
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	gh.InjectFault(forge.Fault{Method: method, PathPrefix: path, Count: 1000, Status: http.StatusForbidden, Header: h, OnAnswer: l.answer,
		Body: `{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`})
	return l
}

// secondaryLimit is GitHub's secondary rate limit answer (403, Retry-After) for the next n
// requests.
func secondaryLimit(method, path string, n int, retryAfter time.Duration) forge.Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	return forge.Fault{Method: method, PathPrefix: path, Count: n, Status: http.StatusForbidden, Header: h,
		Body: `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}
}

// tooManyRequests is a 429 with Retry-After for the next n requests.
func tooManyRequests(method, path string, n int, retryAfter time.Duration) forge.Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	return forge.Fault{Method: method, PathPrefix: path, Count: n, Status: http.StatusTooManyRequests, Header: h, Body: `{"message":"Too Many Requests"}`}
}

// faults counts the injected answers with status to method requests under path.
func faults(gh *forge.Server, method, path string, status int) int {
	n := 0
	for _, r := range gh.Requests() {
		if r.Fault && r.Status == status && r.Method == method && strings.HasPrefix(r.Path, path) {
			n++
		}
	}
	return n
}

// answeredAfterFault reports whether a method request under path was served after the
// first injected fault on it.
func answeredAfterFault(gh *forge.Server, method, path string) bool {
	faulted := false
	for _, r := range gh.Requests() {
		if r.Method != method || !strings.HasPrefix(r.Path, path) {
			continue
		}
		if r.Fault {
			faulted = true
		} else if faulted && r.Status < 300 {
			return true
		}
	}
	return false
}

// noFailedPromotions fails the test when a Promotion of the namespace is Failed.
func (h *hubEnv) noFailedPromotions(t *testing.T) {
	t.Helper()
	var list fleetv1alpha1.PromotionList
	if err := h.c.List(context.Background(), &list, client.InNamespace(h.ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.Status.Phase == fleetv1alpha1.PromotionFailed {
			t.Errorf("Promotion %s is Failed: %+v", p.Name, p.Status)
		}
	}
}

// envHeads is "env/dev@<sha> env/prod@<sha>" (- for a missing branch).
func (h *hubEnv) envHeads(t *testing.T) string {
	t.Helper()
	var out []string
	for _, b := range []string{"env/dev", "env/prod"} {
		head, err := h.git.Head(context.Background(), "fleet", b)
		if err != nil {
			head = "-"
		}
		out = append(out, b+"@"+head)
	}
	return strings.Join(out, " ")
}

//go:build integration

// Package e2e runs gitfleet end to end with the real binaries: a hub and three member
// API servers, a git server, gitfleet-hub and one gitfleet-agent per member as separate
// processes, a real Gitea holding the fleet repo, through the demo's story (prod behind an
// approval pull request merged through Gitea's API), plus a hub restart mid-release.
// It needs bin/ built (make test-integration builds it).
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/test/demo"
	"github.com/gitfleet/gitfleet/test/envtest"
)

func TestE2E(t *testing.T) {
	envtest.SkipIfShort(t)
	// controller-runtime logs (the in-process API servers) only with GITFLEET_TEST_VERBOSE;
	// without a logger it prints a stack trace after 30 s.
	ctrl.SetLogger(envtest.Logger(GinkgoWriter))
	RegisterFailHandler(Fail)
	RunSpecs(t, "gitfleet end to end")
}

var _ = Describe("a release from dev to prod", Ordered, func() {
	var d *demo.Demo
	ctx := context.Background()

	BeforeAll(func() {
		root, err := envtest.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		bin := filepath.Join(root, "bin")
		for _, b := range []string{"gitfleet", "gitfleet-hub", "gitfleet-agent"} {
			_, err := os.Stat(filepath.Join(bin, b))
			Expect(err).NotTo(HaveOccurred(), "bin/%s is missing: run make build (make test-integration does)", b)
		}
		logDir := os.Getenv("E2E_LOG_DIR") // keep the hub's and agents' logs there
		if logDir == "" {
			logDir = GinkgoT().TempDir()
		}
		d, err = demo.Start(ctx, demo.Options{BinDir: bin, Out: GinkgoWriter, Forge: "gitea", LogDir: logDir})
		DeferCleanup(func() {
			if d != nil {
				d.Stop()
			}
		})
		Expect(err).NotTo(HaveOccurred())
	})

	// The steps are known once the demo runs: with Gitea, prod needs its pull request merged.
	It("runs the release story, surviving a hub restart while the prod pull request is open", func() {
		for i, s := range d.Story() {
			By(s.Title)
			Expect(step(ctx, d, s)).To(Succeed(), "step %d: %s", i+1, s.Title)
			if !strings.HasPrefix(s.Title, "Approval") {
				continue
			}
			By("restarting the hub in the middle of the promotion")
			before := map[string]string{}
			for _, b := range []string{"env/dev", "env/staging"} {
				files, err := d.Files(ctx, b)
				Expect(err).NotTo(HaveOccurred())
				before[b] = files["gitfleet.json"]
			}
			Expect(d.RestartHub()).To(Succeed())
			Consistently(func(g Gomega) {
				open, err := d.OpenProdPRs(ctx)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(open).To(HaveLen(1), "open approval pull requests into env/prod")
				for b, meta := range before {
					files, err := d.Files(ctx, b)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(files["gitfleet.json"]).To(Equal(meta), "%s changed across the hub restart", b)
				}
			}, 15*time.Second, time.Second).Should(Succeed())
		}
	})

	It("picks up a cluster that joins (PickAll); when a cluster leaves, PickN replaces it and its apps are pruned", func() {
		joinCtx, cancel := context.WithTimeout(ctx, 3*demo.StepTimeout)
		defer cancel()
		_, err := d.Join(joinCtx, "dev-us", "dev", "us")
		Expect(err).NotTo(HaveOccurred())
		var files map[string]string
		Eventually(func(g Gomega) {
			files, err = d.Files(ctx, "env/dev")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(files).To(HaveKey("clusters/dev-us/podinfo/podinfo/deployment-podinfo.yaml"))
		}, demo.StepTimeout, time.Second).Should(Succeed())
		Expect(d.WaitApplied(joinCtx, "dev-us")).To(Succeed())
		Expect(files).To(HaveKey("clusters/dev-us/guestbook-us/guestbook/deployment-guestbook.yaml"))
		Expect(files).NotTo(HaveKey("clusters/dev-us/guestbook-eu/guestbook/deployment-guestbook.yaml"), "guestbook-eu requires region eu")
		// PickN (canary, one dev cluster) keeps its pick when a cluster joins.
		Expect(files).To(HaveKey("clusters/dev-eu/canary/canary/configmap-canary.yaml"))
		Expect(files).NotTo(HaveKey("clusters/dev-us/canary/canary/configmap-canary.yaml"))

		By("dev-eu leaves: the canary moves to dev-us, dev-eu's folder goes and its agent prunes its apps")
		Expect(d.Leave(joinCtx, "dev-eu")).To(Succeed())
		Eventually(func(g Gomega) {
			files, err := d.Files(ctx, "env/dev")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(files).To(HaveKey("clusters/dev-us/canary/canary/configmap-canary.yaml"))
			for p := range files {
				g.Expect(p).NotTo(HavePrefix("clusters/dev-eu/"))
			}
		}, demo.StepTimeout, time.Second).Should(Succeed())
		Expect(d.WaitApplied(joinCtx, "dev-us")).To(Succeed())
		Expect(d.WaitPruned(joinCtx, "dev-eu")).To(Succeed())
	})

	// Issue 6's first figure, once, in the log: merge → every dev cluster applied the new
	// env/dev commit and posted success on it, with Gitea's webhooks waking the hub.
	It("applies a merged change in dev within 60s (promotion latency with webhooks)", func() {
		waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		p, err := d.PushRelease(ctx, "6.8.0")
		Expect(err).NotTo(HaveOccurred())
		took, err := p.Wait(waitCtx, 200*time.Millisecond, []demo.Milestone{p.Applied("dev")}, func(m demo.Milestone, took time.Duration, detail string) {
			fmt.Fprintf(GinkgoWriter, "promotion latency: merge of %s → %s: %s (%s)\n", p.Revision[:7], m.Name, took.Round(100*time.Millisecond), detail)
		})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("promotion latency: merge → dev applied with success", took["dev applied"].Round(100*time.Millisecond).String())
	})

	It("previews a pull request to the fleet repo on Gitea: gitfleet/render and a comment with the diff per cluster", func() {
		pctx, cancel := context.WithTimeout(ctx, demo.StepTimeout)
		defer cancel()
		n, head, err := d.ProposeRelease(pctx, "podinfo-6.9.0", "6.9.0")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			state, desc, err := d.CommitStatus(pctx, head, "gitfleet/render")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(state).To(Equal("success"), "gitfleet/render: %s", desc)
			g.Expect(desc).To(MatchRegexp(`^\d+ clusters? changes? \(vs main@[0-9a-f]{7}\)$`))
		}, demo.StepTimeout, time.Second).Should(Succeed())
		comments, err := d.Comments(pctx, n)
		Expect(err).NotTo(HaveOccurred())
		Expect(comments).To(ContainElement(And(ContainSubstring("<!-- gitfleet:render -->"), ContainSubstring("6.9.0"))))
	})

	It("rolls prod back with gitfleet rollback, through a pull request merged on Gitea", func() {
		rctx, cancel := context.WithTimeout(ctx, 2*demo.StepTimeout)
		defer cancel()
		step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(rctx, demo.StepTimeout/2) }
		before, err := d.StageRevision(rctx, "prod")
		Expect(err).NotTo(HaveOccurred())
		oldImage, err := d.PodinfoImage(rctx, "prod-eu")
		Expect(err).NotTo(HaveOccurred())

		By("a new release reaches prod through its approval pull request")
		p, err := d.PushRelease(rctx, "6.8.1")
		Expect(err).NotTo(HaveOccurred())
		sctx, scancel := step()
		defer scancel()
		_, err = p.Wait(sctx, 500*time.Millisecond, []demo.Milestone{p.PullRequest("prod")}, nil)
		Expect(err).NotTo(HaveOccurred())
		n, err := d.ProdPR(rctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.MergePR(rctx, n)).To(Succeed())
		actx, acancel := step()
		defer acancel()
		_, err = p.Wait(actx, 500*time.Millisecond, []demo.Milestone{p.Applied("prod")}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.PodinfoImage(rctx, "prod-eu")).To(HaveSuffix(":6.8.1"))

		By("gitfleet rollback prod --to the revision prod held before; the pull request is merged")
		n, out, err := d.Rollback(rctx, "prod", before[:7], "e2e: 6.8.1 misbehaves")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("dry revision " + before[:7]))
		Expect(d.MergePR(rctx, n)).To(Succeed())
		Eventually(func(g Gomega) {
			rev, err := d.StageRevision(rctx, "prod")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rev).To(Equal(before))
			g.Expect(d.PodinfoImage(rctx, "prod-eu")).To(Equal(oldImage))
		}, demo.StepTimeout, time.Second).Should(Succeed())
		Expect(d.WaitApplied(rctx, "prod-eu")).To(Succeed())

		By("the rolled-back release is not proposed to prod again")
		Consistently(func(g Gomega) {
			open, err := d.OpenProdPRs(rctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(open).To(BeEmpty(), "open pull requests into env/prod after the rollback (%s)", d.PipelineSummary(rctx))
		}, 10*time.Second, time.Second).Should(Succeed())
	})
})

// step runs one step of the story within the demo's step timeout.
func step(ctx context.Context, d *demo.Demo, s demo.Step) error {
	ctx, cancel := context.WithTimeout(ctx, demo.StepTimeout)
	defer cancel()
	return s.Run(ctx, d)
}

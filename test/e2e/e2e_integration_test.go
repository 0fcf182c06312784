//go:build integration

// Package e2e runs gitfleet end to end with the real binaries: a hub and three member
// API servers, a git server, gitfleet-hub and one gitfleet-agent per member as separate
// processes, a real Gitea holding the fleet repo, through the demo's story (prod behind an
// approval pull request merged through Gitea's API), plus a hub restart mid-release.
// It needs bin/ built (make test-integration builds it).
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gitfleet/gitfleet/test/demo"
	"github.com/gitfleet/gitfleet/test/envtest"
)

func TestE2E(t *testing.T) {
	envtest.SkipIfShort(t)
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
		d, err = demo.Start(ctx, demo.Options{BinDir: bin, Out: GinkgoWriter, Forge: "gitea", LogDir: GinkgoT().TempDir()})
		DeferCleanup(func() {
			if d != nil {
				d.Stop()
			}
		})
		Expect(err).NotTo(HaveOccurred())
	})

	// The steps are known once the demo runs: with Gitea, prod needs its pull request merged.
	It("runs the release story, surviving a hub restart after the first rollout", func() {
		for i, s := range d.Story() {
			By(s.Title)
			Expect(step(ctx, d, s)).To(Succeed(), "step %d: %s", i+1, s.Title)
			if i == 0 {
				By("restarting the hub in the middle of the release")
				Expect(d.RestartHub()).To(Succeed())
			}
		}
	})
})

// step runs one step of the story within the demo's step timeout.
func step(ctx context.Context, d *demo.Demo, s demo.Step) error {
	ctx, cancel := context.WithTimeout(ctx, demo.StepTimeout)
	defer cancel()
	return s.Run(ctx, d)
}

//go:build integration

// Package e2e runs gitfleet end to end with the real binaries: a hub and three member
// API servers, a git server, gitfleet-hub and one gitfleet-agent per member as separate
// processes, through the demo's story, plus a hub restart in the middle of a release.
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
		d, err = demo.Start(ctx, demo.Options{BinDir: bin, Out: GinkgoWriter, Forge: "none", LogDir: GinkgoT().TempDir()})
		DeferCleanup(func() {
			if d != nil {
				d.Stop()
			}
		})
		Expect(err).NotTo(HaveOccurred())
	})

	story := demo.Story()
	It("rolls out to dev: the hub commits env/dev and dev-eu's agent applies it", func() {
		Expect(step(ctx, d, story[0])).To(Succeed())
	})
	It("resumes after the hub restarts in the middle of the release", func() {
		Expect(d.RestartHub()).To(Succeed())
	})
	It("promotes to staging once dev is healthy", func() {
		Expect(step(ctx, d, story[1])).To(Succeed())
	})
	It("promotes to prod once staging is healthy", func() {
		Expect(step(ctx, d, story[2])).To(Succeed())
	})
	It("reports and corrects drift in prod", func() {
		Expect(step(ctx, d, story[3])).To(Succeed())
	})
})

// step runs one step of the story within the demo's step timeout.
func step(ctx context.Context, d *demo.Demo, s demo.Step) error {
	ctx, cancel := context.WithTimeout(ctx, demo.StepTimeout)
	defer cancel()
	return s.Run(ctx, d)
}

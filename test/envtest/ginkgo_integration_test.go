//go:build integration

package envtest_test

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestGinkgo runs a small Ginkgo suite, the way the end-to-end suites use the harness:
// a cluster started in BeforeSuite with GinkgoT(), a namespace per spec.
func TestGinkgo(t *testing.T) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "envtest harness under Ginkgo")
}

var suiteCluster *envtest.Cluster

var _ = ginkgo.BeforeSuite(func() {
	// Stopped by a DeferCleanup that StartForTest registers through GinkgoT().Cleanup.
	suiteCluster = envtest.StartForTest(ginkgo.GinkgoT(), envtest.Options{Name: "ginkgo", CRDDirectoryPaths: []string{}})
})

var _ = ginkgo.Describe("NewNamespace under Ginkgo", ginkgo.Ordered, func() {
	var name string

	ginkgo.It("creates a namespace named after the spec", func(ctx ginkgo.SpecContext) {
		name = envtest.NewNamespace(ginkgo.GinkgoT(), suiteCluster.Client)
		gomega.Expect(name).To(gomega.HavePrefix("newnamespace-under-ginkgo-creates-a-namespace"))
		gomega.Expect(suiteCluster.Client.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})).To(gomega.Succeed())
	})

	ginkgo.It("deleted it after that spec", func(ctx ginkgo.SpecContext) {
		gomega.Eventually(func(g gomega.Gomega) {
			ns := &corev1.Namespace{}
			err := suiteCluster.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
			if err == nil {
				g.Expect(ns.DeletionTimestamp).NotTo(gomega.BeNil())
			}
		}).Should(gomega.Succeed())
	})
})

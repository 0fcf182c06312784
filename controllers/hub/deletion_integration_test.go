//go:build integration

package hub_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestDeletedPipelineClosesItsPullRequests deletes a Pipeline whose prod approval pull
// request is open, against the strict GitHub double: while the forge refuses to close
// it, the Pipeline stays, says why (Ready=False CleanupFailed, with how to force the
// deletion) and retries; once the forge answers, the pull request is closed unmerged with
// one comment saying why, its Promotion is Failed, and the Pipeline is gone.
func TestDeletedPipelineClosesItsPullRequests(t *testing.T) {
	g := NewWithT(t)
	h, gh, _ := startHubOnGitHub(t, hub.Options{PipelinePoll: 5 * time.Minute})
	ctx := context.Background()
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": prPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev1))
	h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #1")))
	pipe := h.pipeline(t, "release")
	g.Expect(pipe.Finalizers).To(ContainElement(fleetv1alpha1.Finalizer), "finalizer added on the first reconcile")
	promo := "release-prod-" + rev1[:12]

	gh.InjectFault(forge.Fault{Method: "PATCH", PathPrefix: "/repos/fleet/config/pulls/1", Count: 1 << 20, Status: 502})
	g.Expect(h.c.Delete(ctx, pipe)).To(Succeed())
	g.Eventually(h.pipelineReady(t), envtest.EventuallyTimeout).Should(And(HavePrefix("False/"+fleetv1alpha1.CleanupFailedReason+": deleting: closing pull request #1"),
		ContainSubstring("remove the finalizer: kubectl -n "+h.ns+" patch pipeline release")))
	if pr, _ := gh.PullRequest("fleet/config", 1); pr.State != "open" {
		t.Fatalf("pull request #1 = %s while the forge refuses to close it, want open", pr.State)
	}
	// A few failed attempts later (each one retried by the forge client first)...
	g.Eventually(func() int { return faults(gh, "PATCH", "/repos/fleet/config/pulls/1", 502) }, envtest.EventuallyTimeout).Should(BeNumerically(">=", 3))
	gh.ClearFaults()

	g.Eventually(func() bool {
		return apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "release"}, &fleetv1alpha1.Pipeline{}))
	}, envtest.EventuallyTimeout).Should(BeTrue(), "the Pipeline is deleted once its pull request is closed")
	pr, _ := gh.PullRequest("fleet/config", 1)
	g.Expect(pr.State).To(Equal("closed"))
	g.Expect(pr.Merged).To(BeFalse())
	comments := gh.Comments("fleet/config", 1)
	g.Expect(comments).To(HaveLen(1), "one comment, not one per retry")
	g.Expect(comments[0].Body).To(ContainSubstring("the Pipeline `" + h.ns + "/release` was deleted, so this approval pull request is closed without merging"))
	// Promotions are owned by the Pipeline; envtest runs no garbage collector, so the
	// record is still there to read.
	got := h.promotion(t, promo)
	g.Expect(got.Status.Phase).To(Equal(fleetv1alpha1.PromotionFailed))
	g.Expect(apimeta.FindStatusCondition(got.Status.Conditions, fleetv1alpha1.ReadyCondition).Message).To(Equal("the Pipeline was deleted: pull request #1 closed without merging"))
}

// TestDeletedGitSourceReleasesItsSnapshots deletes the GitSource of a pipeline: the hub
// releases its revision snapshots and its clone, stops hydrating it and stops the
// pipeline (SourceDeleting) while it is being deleted, and leaves the env branches as
// they are. A second finalizer (a test's) holds the GitSource in deletion so that the
// moment in between can be observed.
func TestDeletedGitSourceReleasesItsSnapshots(t *testing.T) {
	g := NewWithT(t)
	dataDir := t.TempDir()
	h := startHubWith(t, "testdata/promotion", hub.Options{DataDir: dataDir, PipelinePoll: 5 * time.Minute})
	ctx := context.Background()
	heads0, err := h.git.Branches(ctx, "fleet")
	g.Expect(err).NotTo(HaveOccurred())
	rev := heads0["main"]
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev))
	snapshots := filepath.Join(dataDir, "snapshots", h.ns, "fleet")
	clone := filepath.Join(dataDir, "clones", h.ns, "fleet")
	g.Expect(filepath.Join(snapshots, rev)).To(BeADirectory())
	g.Expect(clone).To(BeADirectory())
	src := &fleetv1alpha1.GitSource{}
	key := client.ObjectKey{Namespace: h.ns, Name: "fleet"}
	g.Eventually(func() []string {
		_ = h.c.Get(ctx, key, src)
		return src.Finalizers
	}, envtest.EventuallyTimeout).Should(ContainElement(fleetv1alpha1.Finalizer), "finalizer added on the first reconcile")
	heads, err := h.git.Branches(ctx, "fleet")
	g.Expect(err).NotTo(HaveOccurred())

	const hold = "test.gitfleet.dev/hold"
	h.holdSource(t, hold, true)
	g.Expect(h.c.Delete(ctx, src)).To(Succeed())

	g.Eventually(func() []string {
		_ = h.c.Get(ctx, key, src)
		return src.Finalizers
	}, envtest.EventuallyTimeout).ShouldNot(ContainElement(fleetv1alpha1.Finalizer), "the hub's clean-up ends with its finalizer removed")
	_, err = os.Stat(snapshots)
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "the revision snapshots are released: Stat(%s) = %v", snapshots, err)
	_, err = os.Stat(clone)
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "the clone is released: Stat(%s) = %v", clone, err)

	// The pipeline stops and says why.
	g.Expect(hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now())).To(Succeed())
	g.Eventually(h.pipelineReady(t), envtest.EventuallyTimeout).Should(Equal("False/" + fleetv1alpha1.SourceDeletingReason + `: GitSource "fleet" is being deleted: the pipeline is stopped (its stage branches stay as they are)`))
	// A change that would make hydration write (a new stage cluster) writes nothing.
	g.Expect(h.c.Create(ctx, devCluster(h.ns, "dev-3"))).To(Succeed())
	g.Consistently(func() map[string]string {
		now, _ := h.git.Branches(ctx, "fleet")
		return now
	}, 3*time.Second, 200*time.Millisecond).Should(Equal(heads), "no branch moves for a GitSource being deleted")

	h.holdSource(t, hold, false)
	g.Eventually(func() bool { return apierrors.IsNotFound(h.c.Get(ctx, key, &fleetv1alpha1.GitSource{})) }, envtest.EventuallyTimeout).Should(BeTrue())
	after, err := h.git.Branches(ctx, "fleet")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after).To(Equal(heads), "the env branches stay")
}

// devCluster is a MemberCluster of the dev stage.
func devCluster(ns, name string) *fleetv1alpha1.MemberCluster {
	mc := &fleetv1alpha1.MemberCluster{}
	mc.Namespace, mc.Name, mc.Labels = ns, name, map[string]string{"stage": "dev"}
	return mc
}

// pipelineReady returns "Status/Reason: message" of the release pipeline's Ready
// condition, for Eventually.
func (h *hubEnv) pipelineReady(t *testing.T) func() string {
	return func() string {
		c := apimeta.FindStatusCondition(h.pipeline(t, "release").Status.Conditions, fleetv1alpha1.ReadyCondition)
		if c == nil {
			return "<no Ready>"
		}
		return string(c.Status) + "/" + c.Reason + ": " + c.Message
	}
}

// holdSource adds (or removes) finalizer on the fleet GitSource.
func (h *hubEnv) holdSource(t *testing.T, finalizer string, add bool) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		src := &fleetv1alpha1.GitSource{}
		if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
			return err
		}
		if add {
			controllerutil.AddFinalizer(src, finalizer)
		} else {
			controllerutil.RemoveFinalizer(src, finalizer)
		}
		return h.c.Update(context.Background(), src)
	})
	if err != nil {
		t.Fatalf("updating the finalizers of GitSource fleet: %v", err)
	}
}

//go:build integration

package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestRevisionFleetObjects: with a fleetPath, hydration renders the Placements the stored
// revision declares, not the ones applied to the hub. The GitSource controller applies a
// new revision's objects before its status names the revision; a Placement changed on the
// hub ahead of the revision (as in that window) must not reach any branch as the old
// revision (it reached staging and prod without promotion or approval). Placements made by
// hand (not applied from the fleetPath) are still rendered.
func TestRevisionFleetObjects(t *testing.T) {
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: time.Second})
	ctx := context.Background()
	heads, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "dev", HaveField("CurrentRevision", heads["main"]))

	// A Placement applied from Git changes on the hub ahead of the revision.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := h.placement(t, "hello")
		if p.Labels[fleetv1alpha1.FleetSourceLabel] != "fleet" {
			t.Fatalf("Placement hello labels = %v, want %s=fleet (applied from the fleetPath)", p.Labels, fleetv1alpha1.FleetSourceLabel)
		}
		p.Spec.TargetNamespace = "hello-early"
		return h.c.Update(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A Placement made by hand.
	byHand := &fleetv1alpha1.Placement{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "byhand"},
		Spec: fleetv1alpha1.PlacementSpec{SourceRef: fleetv1alpha1.LocalObjectReference{Name: "fleet"},
			Directory: &fleetv1alpha1.DirectorySource{Path: "apps/hello"}, TargetNamespace: "byhand",
			PipelineRef: &fleetv1alpha1.LocalObjectReference{Name: "release"}},
	}
	if err := h.c.Create(ctx, byHand); err != nil {
		t.Fatal(err)
	}
	early := ContainElement(ContainSubstring("/hello-early/"))
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		files, err := h.git.ReadBranch(ctx, "fleet", "env/dev")
		g.Expect(err).NotTo(HaveOccurred())
		if ok, _ := early.Match(sortedPaths(files)); ok {
			StopTrying(fmt.Sprintf("env/dev has %v: a Placement applied ahead of the revision was rendered as revision %s", sortedPaths(files), heads["main"][:7])).Now()
		}
		g.Expect(files).To(HaveKey("clusters/dev-1/byhand/byhand/configmap-hello.yaml"), "env/dev with the Placement made by hand")
	}).Should(Succeed())
	// A few more passes render nothing of the early Placement either.
	g.Consistently(func(g Gomega) {
		g.Expect(hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now())).To(Succeed())
		files, err := h.git.ReadBranch(ctx, "fleet", "env/dev")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sortedPaths(files)).NotTo(early, "env/dev")
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
	if files := h.readBranch(t, "env/dev"); files["clusters/dev-1/hello/hello/configmap-hello.yaml"] == "" {
		t.Errorf("env/dev lost hello as the revision declares it")
	}
}

// TestLaterStageRendersItsRevisionsPlacements: a Placement added in a newer revision reaches
// dev at once, but not staging, which still holds the older revision (it comes with that
// revision's promotion).
func TestLaterStageRendersItsRevisionsPlacements(t *testing.T) {
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: time.Second})
	rev1 := h.releaseSeed(t)

	const extra = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Placement
metadata:
  name: extra
spec:
  sourceRef: {name: fleet}
  directory: {path: apps/hello}
  targetNamespace: extra
  pipelineRef: {name: release}
`
	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"fleet/extra.yaml": extra}})
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		g.Expect(h.stageOf(g, "dev")).To(HaveField("CurrentRevision", rev2), "stage dev")
		files, err := h.git.ReadBranch(context.Background(), "fleet", "env/dev")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(files).To(HaveKey("clusters/dev-1/extra/extra/configmap-hello.yaml"), "env/dev with the placement added in %s", rev2[:7])
	}).Should(Succeed())
	// Every hydration pass writes env/staging (at rev1) too; a few more passes for good measure.
	g.Consistently(func(g Gomega) {
		files, err := h.git.ReadBranch(context.Background(), "fleet", "env/staging")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sourceCommit(t, files)).To(Equal(rev1), "env/staging's revision (no promotion)")
		g.Expect(sortedPaths(files)).NotTo(ContainElement(ContainSubstring("/extra/")), "env/staging at %s, with a placement of %s", rev1[:7], rev2[:7])
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}

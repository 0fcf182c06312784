//go:build integration

package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
	h.waitStage(t, "dev", func(s fleetv1alpha1.StageStatus) bool { return s.CurrentRevision == heads["main"] })

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
	deadline := time.Now().Add(30 * time.Second)
	for {
		files := h.readBranch(t, "env/dev")
		for p := range files {
			if strings.Contains(p, "/hello-early/") {
				t.Fatalf("env/dev has %s: a Placement applied ahead of the revision was rendered as revision %s", p, heads["main"][:7])
			}
		}
		if _, ok := files["clusters/dev-1/byhand/byhand/configmap-hello.yaml"]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("env/dev lacks the Placement made by hand: %d files", len(files))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A few more passes render nothing of the early Placement either.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
			t.Fatal(err)
		}
		for p := range h.readBranch(t, "env/dev") {
			if strings.Contains(p, "/hello-early/") {
				t.Fatalf("env/dev has %s", p)
			}
		}
	}
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		dev := h.waitStage(t, "dev", func(fleetv1alpha1.StageStatus) bool { return true })
		if _, ok := h.readBranch(t, "env/dev")["clusters/dev-1/extra/extra/configmap-hello.yaml"]; ok && dev.CurrentRevision == rev2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("env/dev did not get the placement added in %s", rev2[:7])
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every hydration pass writes env/staging (at rev1) too; a few more passes for good measure.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		files := h.readBranch(t, "env/staging")
		if sourceCommit(t, files) != rev1 {
			t.Fatalf("env/staging moved to %s without a promotion", sourceCommit(t, files))
		}
		for p := range files {
			if strings.Contains(p, "/extra/") {
				t.Fatalf("env/staging (at %s) has %s, a placement of %s", rev1[:7], p, rev2[:7])
			}
		}
	}
}

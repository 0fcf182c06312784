//go:build integration

package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestMergedStageBranchIsNotRenderedBack: an approval pull request is merged and the
// pipeline has not seen it yet (no webhook, a long poll); hydration runs meanwhile. It must
// not render the stage's branch again at the revision the pipeline's status still names,
// which would undo the approved change (and leave the promotion waiting forever).
func TestMergedStageBranchIsNotRenderedBack(t *testing.T) {
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: 10 * time.Minute})
	ctx := context.Background()
	gh := h.withGitHub(t, "http://127.0.0.1:1/unused") // deliveries fail: the hub learns nothing by webhook
	api := githubClient(t, gh)
	const prodHello = "clusters/prod-1/hello/hello/configmap-hello.yaml"
	release := func(rev string, pr int) {
		h.waitStage(t, "dev", func(s fleetv1alpha1.StageStatus) bool { return s.CurrentRevision == rev })
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", func(s fleetv1alpha1.StageStatus) bool {
			return s.TargetRevision == rev && strings.Contains(s.Message, "awaiting approval #"+itoa(pr))
		})
		if err := api.MergePullRequest(ctx, pr, "approved"); err != nil {
			t.Fatal(err)
		}
	}
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": prPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	release(rev1, 1)
	if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", func(s fleetv1alpha1.StageStatus) bool { return s.CurrentRevision == rev1 })

	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
	release(rev2, 2)
	// Hydration runs (a new Override) while the pipeline still says prod holds rev1.
	o := &fleetv1alpha1.Override{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "noop"},
		Spec: fleetv1alpha1.OverrideSpec{PlacementSelector: metav1.LabelSelector{MatchLabels: map[string]string{"none": "none"}},
			Rules: []fleetv1alpha1.OverrideRule{{Name: "r", Target: &fleetv1alpha1.ResourceSelector{Kind: "ConfigMap"}, Delete: true}}}}
	if err := h.c.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := &fleetv1alpha1.Override{}
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(o), got); err == nil && got.Status.ObservedGeneration == got.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hydration did not run for the new Override")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := h.waitStage(t, "prod", func(fleetv1alpha1.StageStatus) bool { return true }); st.CurrentRevision != rev1 {
		t.Fatalf("the pipeline saw the merge already (prod at %s): the test cannot tell", st.CurrentRevision)
	}
	files := h.readBranch(t, "env/prod")
	if got := sourceCommit(t, files); got != rev2 || !strings.Contains(files[prodHello], "hello v2") {
		t.Fatalf("env/prod after hydration = %s with %q, want the merged %s with hello v2", got[:7], files[prodHello], rev2[:7])
	}
	// The pipeline then sees the merge and the promotion completes.
	if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", func(s fleetv1alpha1.StageStatus) bool { return s.CurrentRevision == rev2 && s.TargetRevision == "" })
	h.waitPromotion(t, hub.PromotionName("release", "prod", rev2), fleetv1alpha1.PromotionMerged)
}

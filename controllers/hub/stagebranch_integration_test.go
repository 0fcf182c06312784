//go:build integration

package hub_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestMergedStageBranchIsNotRenderedBack: an approval pull request is merged and the
// pipeline has not seen it yet (the test holds the Pipeline controller; no webhook, a long
// poll); hydration runs meanwhile. It must not render the stage's branch again at the
// revision the pipeline's status still names, which would undo the approved change (and
// leave the promotion waiting forever).
func TestMergedStageBranchIsNotRenderedBack(t *testing.T) {
	gate := newPassGate(t)
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: 10 * time.Minute, BeforePipelinePass: gate.before})
	ctx := context.Background()
	gh := h.withGitHub(t, "http://127.0.0.1:1/unused") // deliveries fail: the hub learns nothing by webhook
	api := githubClient(t, gh)
	const prodHello = "clusters/prod-1/hello/hello/configmap-hello.yaml"
	approve := func(rev string, pr int) {
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev))
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", And(HaveField("TargetRevision", rev), HaveField("Message", ContainSubstring("awaiting approval #"+itoa(pr)))))
	}
	rev1 := h.push(t, gitserver.Commit{Files: map[string]string{
		"fleet/pipeline.yaml": prPipeline,
		"fleet/clusters.yaml": mustRead(t, "testdata/promotion/fleet/clusters.yaml") + prodCluster,
	}})
	approve(rev1, 1)
	if err := api.MergePullRequest(ctx, 1, "", "approved"); err != nil {
		t.Fatal(err)
	}
	if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", HaveField("CurrentRevision", rev1))

	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
	approve(rev2, 2)
	// The pipeline is held, then the pull request merged: its status still says prod
	// holds rev1 while hydration runs (a new Override).
	gate.close(t, h, "release")
	if err := api.MergePullRequest(ctx, 2, "", "approved"); err != nil {
		t.Fatal(err)
	}
	h.hydrated(t, "noop")
	if st := h.stage(t, "prod"); st.CurrentRevision != rev1 || st.TargetRevision != rev2 {
		t.Fatalf("prod = %+v while the pipeline was held, want current %s and target %s as before the merge", st, rev1[:7], rev2[:7])
	}
	files := h.readBranch(t, "env/prod")
	if got := sourceCommit(t, files); got != rev2 || !strings.Contains(files[prodHello], "hello v2") {
		t.Fatalf("env/prod after hydration = %s with %q, want the merged %s with hello v2", got[:7], files[prodHello], rev2[:7])
	}
	// The pipeline then sees the merge and the promotion completes.
	gate.open()
	if err := hub.RequestReconcile(ctx, h.c, h.pipeline(t, "release"), time.Now()); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", And(HaveField("CurrentRevision", rev2), HaveField("TargetRevision", "")))
	h.waitPromotion(t, fleetv1alpha1.PromotionName("release", "prod", rev2), fleetv1alpha1.PromotionMerged)
}

// TestLostRevisionIsRestored: the hub restarted on an empty data dir (an emptyDir volume)
// and lost the snapshot of the revision a later stage holds. When that stage must be
// rendered again (a cluster joins it), the hub fetches the revision from the source
// branch's history instead of failing until a newer revision is promoted.
func TestLostRevisionIsRestored(t *testing.T) {
	dataDir := t.TempDir()
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: time.Second, DataDir: dataDir})
	ctx := context.Background()
	rev1 := h.releaseSeed(t)

	// dev moves on to rev2; staging holds rev1 (dev's agents never report rev2 healthy).
	rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev2))

	snapshot := filepath.Join(dataDir, "snapshots", h.ns, "fleet", rev1)
	if _, err := os.Stat(snapshot); err != nil {
		t.Fatalf("the snapshot of %s is not where the test looks: %v", rev1[:7], err)
	}
	if err := os.RemoveAll(snapshot); err != nil {
		t.Fatal(err)
	}
	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "staging-2", Labels: map[string]string{"stage": "staging"}},
		Spec: fleetv1alpha1.MemberClusterSpec{HeartbeatGracePeriod: &metav1.Duration{}}}
	if err := h.c.Create(ctx, mc); err != nil {
		t.Fatal(err)
	}
	const added = "clusters/staging-2/hello/hello/configmap-hello.yaml"
	var files map[string]string
	NewWithT(t).Eventually(func() ([]string, error) {
		var err error
		files, err = h.git.ReadBranch(ctx, "fleet", "env/staging")
		return sortedPaths(files), err
	}).WithTimeout(60*time.Second).Should(ContainElement(added), "the cluster that joined staging was not rendered at the lost revision %s", rev1[:7])
	if got := sourceCommit(t, files); got != rev1 || !strings.Contains(files[added], "hello v1") {
		t.Fatalf("env/staging at %s with %q for the new cluster, want %s's hello v1", got[:7], files[added], rev1[:7])
	}
	if _, err := os.Stat(filepath.Join(snapshot, ".complete")); err != nil {
		t.Errorf("the snapshot of %s was not stored again: %v", rev1[:7], err)
	}
}

func sortedPaths(files map[string]string) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// releaseSeed waits until dev holds the revision the fleet repo was seeded with, plays
// dev's agents until staging holds it too (testdata/promotion), and returns it.
func (h *hubEnv) releaseSeed(t *testing.T) string {
	t.Helper()
	heads, err := h.git.Branches(context.Background(), "fleet")
	if err != nil {
		t.Fatal(err)
	}
	rev := heads["main"]
	h.waitStage(t, "dev", HaveField("CurrentRevision", rev))
	h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "staging", HaveField("CurrentRevision", rev))
	return rev
}

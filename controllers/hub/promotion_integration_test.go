//go:build integration

package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestAutoPromotion follows dry revisions through a two-stage pipeline: dev (auto, follows
// the fleet config repo) and staging (auto, gated on every dev cluster reporting healthy
// for the dev commit, then a 3 s soak). The test plays the agents: it sets each
// MemberCluster's appliedCommit and Healthy condition as gitfleet-agent would.
func TestAutoPromotion(t *testing.T) {
	h := startHubWith(t, "testdata/promotion", hub.Options{PipelinePoll: time.Second})
	ctx := context.Background()
	heads, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	rev1 := heads["main"]

	dev := h.waitStage(t, "dev", HaveField("CurrentRevision", rev1))
	t.Run("staging waits for dev", func(t *testing.T) {
		if _, err := h.git.ReadBranch(ctx, "fleet", "env/staging"); err == nil {
			t.Errorf("env/staging exists before any promotion")
		}
		h.reportApplied(t, "dev-1", dev.RenderedCommit, metav1.ConditionTrue)
		st := h.waitStage(t, "staging", HaveField("Message", ContainSubstring("1/2 clusters healthy")))
		if st.CurrentRevision != "" || st.TargetRevision != "" {
			t.Errorf("staging = %+v with one of two dev clusters healthy; want nothing promoted", st)
		}
		p := h.placement(t, "hello")
		for _, c := range p.Status.Clusters {
			committed := apimeta.FindStatusCondition(c.Conditions, fleetv1alpha1.CommittedCondition)
			if c.ClusterName == "staging-1" && (committed == nil || committed.Reason != fleetv1alpha1.GatesPendingReason) {
				t.Errorf("hello on staging-1: Committed = %+v, want False/%s", committed, fleetv1alpha1.GatesPendingReason)
			}
		}
	})

	t.Run("dev healthy and soaked promotes staging", func(t *testing.T) {
		h.reportApplied(t, "dev-2", dev.RenderedCommit, metav1.ConditionTrue)
		healthy := time.Now()
		st := h.waitStage(t, "staging", HaveField("CurrentRevision", rev1))
		took := time.Since(healthy)
		if took < 3*time.Second {
			t.Errorf("staging was promoted %s after dev became healthy; the soak is 3s", took)
		}
		t.Logf("dev healthy → env/staging written and observed: %s (soak 3s)", took.Round(10*time.Millisecond))
		files := h.readBranch(t, "env/staging")
		if got := files["clusters/staging-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v1") {
			t.Errorf("env/staging hello ConfigMap = %q, want greeting hello v1", got)
		}
		if got := sourceCommit(t, files); got != rev1 {
			t.Errorf("env/staging gitfleet.json names %s, want %s", got, rev1)
		}
		if st.TargetRevision != "" {
			t.Errorf("staging targetRevision = %q after it was reached, want empty", st.TargetRevision)
		}
	})

	t.Run("a new revision reaches dev only, until dev is healthy on it", func(t *testing.T) {
		pushed := time.Now()
		rev2 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hello v2", 1)}})
		dev = h.waitStage(t, "dev", HaveField("CurrentRevision", rev2))
		t.Logf("push → env/dev written and observed: %s", time.Since(pushed).Round(10*time.Millisecond))
		staging := h.readBranch(t, "env/staging")
		if got := staging["clusters/staging-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v1") {
			t.Errorf("env/staging changed before dev was healthy on %s: %q", rev2, got)
		}
		st := h.waitStage(t, "staging", HaveField("Message", ContainSubstring("waits for")))
		if st.CurrentRevision != rev1 {
			t.Errorf("staging currentRevision = %s, want %s", st.CurrentRevision, rev1)
		}

		// A failing dev cluster blocks the promotion and is named.
		h.reportApplied(t, "dev-1", dev.RenderedCommit, metav1.ConditionTrue)
		h.reportApplied(t, "dev-2", dev.RenderedCommit, metav1.ConditionFalse)
		h.waitStage(t, "staging", HaveField("Message", ContainSubstring("1 cluster failed: dev-2")))

		// The hub may rewrite env/dev meanwhile (an unhealthy cluster is rescheduled):
		// the agents follow the branch head, and so does the test.
		healthy := time.Now()
		h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "staging", HaveField("CurrentRevision", rev2))
		t.Logf("push → env/staging written: %s (dev healthy → staging: %s, soak 3s)", time.Since(pushed).Round(10*time.Millisecond), time.Since(healthy).Round(10*time.Millisecond))
		if got := h.readBranch(t, "env/staging")["clusters/staging-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v2") {
			t.Errorf("env/staging hello ConfigMap = %q after promoting %s, want hello v2", got, rev2)
		}
		p := h.pipeline(t, "release")
		if want := fmt.Sprintf("dev@%s staging@%s", rev2[:7], rev2[:7]); p.Status.Summary != want {
			t.Errorf("pipeline summary = %q, want %q", p.Status.Summary, want)
		}
	})

	t.Run("a promotion made by hand with skipGates moves in at once", func(t *testing.T) {
		rev3 := h.push(t, gitserver.Commit{Files: map[string]string{"apps/hello/configmap.yaml": strings.Replace(mustRead(t, "testdata/promotion/apps/hello/configmap.yaml"), "hello v1", "hotfix", 1)}})
		h.waitStage(t, "dev", HaveField("CurrentRevision", rev3))
		// As docs/api/promotion.md shows it: generateName, no labels, a short SHA.
		promo := &fleetv1alpha1.Promotion{
			ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, GenerateName: "release-staging-"},
			Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: "release"}, Stage: "staging",
				FromStage: "dev", DryRevision: rev3[:10], SkipGates: true, SkipGatesReason: "hotfix for an outage"},
		}
		if err := h.c.Create(context.Background(), promo); err != nil {
			t.Fatal(err)
		}
		h.waitStage(t, "staging", HaveField("CurrentRevision", rev3))
		h.waitPromotion(t, promo.Name, fleetv1alpha1.PromotionMerged)
		got := h.promotion(t, promo.Name)
		if len(got.Status.Gates) != 1 || got.Status.Gates[0].Name != "skipped" || got.Status.Gates[0].Message != "hotfix for an outage" {
			t.Errorf("gates of a skip-gates promotion = %+v, want one 'skipped' with the reason", got.Status.Gates)
		}
	})
}

// waitStage waits until the named stage of the release pipeline matches want, and
// returns it.
func (h *hubEnv) waitStage(t *testing.T, stage string, want types.GomegaMatcher) fleetv1alpha1.StageStatus {
	t.Helper()
	var got fleetv1alpha1.StageStatus
	NewWithT(t).Eventually(func(g Gomega) {
		got = h.stageOf(g, stage)
		g.Expect(got).To(want, "stage %s of pipeline release", stage)
	}).WithTimeout(60 * time.Second).Should(Succeed())
	return got
}

// stage waits until the release pipeline's status has the named stage, and returns it.
func (h *hubEnv) stage(t *testing.T, stage string) fleetv1alpha1.StageStatus {
	t.Helper()
	return h.waitStage(t, stage, HaveField("Name", stage))
}

// stageOf reads the named stage of the release pipeline once.
func (h *hubEnv) stageOf(g Gomega, stage string) fleetv1alpha1.StageStatus {
	p := &fleetv1alpha1.Pipeline{}
	g.Expect(h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "release"}, p)).To(Succeed())
	for _, s := range p.Status.Stages {
		if s.Name == stage {
			return s
		}
	}
	g.Expect(p.Status.Stages).To(ContainElement(HaveField("Name", stage)), "pipeline release status: %+v", p.Status)
	return fleetv1alpha1.StageStatus{}
}

// reportApplied plays the agent of a cluster: it reports commit as applied, with Healthy.
func (h *hubEnv) reportApplied(t *testing.T, cluster, commit string, healthy metav1.ConditionStatus) {
	t.Helper()
	if err := h.report(cluster, commit, healthy); err != nil {
		t.Fatal(err)
	}
}

func (h *hubEnv) report(cluster, commit string, healthy metav1.ConditionStatus) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		mc := &fleetv1alpha1.MemberCluster{}
		if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: cluster}, mc); err != nil {
			return err
		}
		mc.Status.AppliedCommit = commit
		apimeta.SetStatusCondition(&mc.Status.Conditions, metav1.Condition{Type: fleetv1alpha1.HealthyCondition, Status: healthy, Reason: fleetv1alpha1.AgentReportedReason, Message: "reported by the test"})
		return h.c.Status().Update(context.Background(), mc)
	})
	if err != nil {
		return fmt.Errorf("reporting %s applied on %s: %w", commit, cluster, err)
	}
	return nil
}

// playAgents plays healthy agents for a stage's clusters: every cluster applies the head
// of the stage's branch (which the hub may move, e.g. when a cluster recovers and is
// scheduled again) and reports Healthy, until the stage named wait matches want.
func (h *hubEnv) playAgents(t *testing.T, stage string, clusters []string, wait string, want types.GomegaMatcher) {
	t.Helper()
	applied := ""
	NewWithT(t).Eventually(func(g Gomega) {
		if st := h.stageOf(g, stage); st.RenderedCommit != applied {
			for _, c := range clusters {
				g.Expect(h.report(c, st.RenderedCommit, metav1.ConditionTrue)).To(Succeed())
			}
			applied = st.RenderedCommit
		}
		g.Expect(h.stageOf(g, wait)).To(want, "stage %s while %s is healthy", wait, stage)
	}).WithTimeout(60 * time.Second).Should(Succeed())
}

func (h *hubEnv) placement(t *testing.T, name string) *fleetv1alpha1.Placement {
	t.Helper()
	p := &fleetv1alpha1.Placement{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *hubEnv) pipeline(t *testing.T, name string) *fleetv1alpha1.Pipeline {
	t.Helper()
	p := &fleetv1alpha1.Pipeline{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *hubEnv) readBranch(t *testing.T, branch string) map[string]string {
	t.Helper()
	files, err := h.git.ReadBranch(context.Background(), "fleet", branch)
	if err != nil {
		t.Fatalf("ReadBranch(%s) = %v", branch, err)
	}
	return files
}

func sourceCommit(t *testing.T, files map[string]string) string {
	t.Helper()
	var meta struct {
		Source struct{ Commit string } `json:"source"`
	}
	if err := json.Unmarshal([]byte(files["gitfleet.json"]), &meta); err != nil {
		t.Fatalf("gitfleet.json: %v", err)
	}
	return meta.Source.Commit
}

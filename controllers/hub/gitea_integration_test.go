//go:build integration

package hub_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/gitea"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestGiteaPromotion runs the hub against a real Gitea: the fleet config repo and the env
// branches live there, the hub posts its statuses and opens the prod approval pull request
// through Gitea's API, Gitea delivers webhooks to the hub, and the test merges the pull
// request through Gitea's API and sees prod take the revision.
func TestGiteaPromotion(t *testing.T) {
	ctx := context.Background()
	g := gitea.StartForTest(t)
	repo, err := g.CreateRepo(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	files, err := gitserver.ReadDir("testdata/promotion")
	if err != nil {
		t.Fatal(err)
	}
	files["fleet/pipeline.yaml"] = prPipeline
	files["fleet/clusters.yaml"] += prodCluster
	rev1, err := gitserver.Push(ctx, g.RepoURL(repo), g.Auth(), gitserver.Commit{Branch: "main", Files: files, Message: "fleet: hello everywhere"})
	if err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	h := startHubOn(t, hub.Options{PipelinePoll: 5 * time.Minute, WebhookAddr: addr})
	for _, sec := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "git"}, StringData: map[string]string{"username": gitea.AdminUser, "password": gitea.AdminPassword}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "forge"}, StringData: map[string]string{"token": g.Token}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "webhook"}, StringData: map[string]string{"token": "hook-secret"}},
	} {
		if err := h.c.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	err = g.Do(ctx, "POST", "repos/"+repo+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request", "status"},
		"config": map[string]string{"url": "http://" + addr + hub.WebhookPathPrefix + h.ns + "/fleet", "content_type": "json", "secret": "hook-secret"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &fleetv1alpha1.GitSource{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: h.ns},
		Spec: fleetv1alpha1.GitSourceSpec{URL: g.RepoURL(repo), Branch: "main", Interval: metav1.Duration{Duration: time.Hour}, FleetPath: "fleet",
			SecretRef:        &fleetv1alpha1.LocalObjectReference{Name: "git"},
			WebhookSecretRef: &fleetv1alpha1.LocalObjectReference{Name: "webhook"},
			Forge: &fleetv1alpha1.ForgeSpec{Type: fleetv1alpha1.ForgeGitea, APIURL: g.APIURL(), Repository: repo,
				SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "forge"}}},
	}
	if err := h.c.Create(ctx, src); err != nil {
		t.Fatal(err)
	}

	h.waitStage(t, "dev", HaveField("CurrentRevision", rev1))
	start := time.Now()
	h.playAgents(t, "dev", []string{"dev-1", "dev-2"}, "prod", HaveField("Message", ContainSubstring("awaiting approval #")))
	t.Logf("dev healthy → prod pull request open on Gitea: %s", time.Since(start).Round(10*time.Millisecond))

	var prs []struct {
		Number int
		Title  string
		Body   string
		Base   struct{ Ref string }
		Head   struct{ Ref, SHA string }
	}
	if err := g.Do(ctx, "GET", "repos/"+repo+"/pulls?state=open", nil, &prs); err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 {
		t.Fatalf("open pull requests on Gitea = %d, want 1", len(prs))
	}
	pr := prs[0]
	if !strings.Contains(pr.Title, rev1[:7]) || pr.Base.Ref != "env/prod" || pr.Head.Ref != "gitfleet/promote/prod" || !strings.Contains(pr.Body, "| prod-1 | 1 | 0 | 0 |") {
		t.Errorf("pull request = %q %s → %s, body:\n%s", pr.Title, pr.Head.Ref, pr.Base.Ref, pr.Body)
	}
	waitGiteaStatus(t, g, repo, pr.Head.SHA, fleetv1alpha1.GatePreviousStageStatusContext, "success")
	waitGiteaStatus(t, g, repo, rev1, "gitfleet/stage/dev", "success")
	waitGiteaStatus(t, g, repo, rev1, "gitfleet/stage/prod", "pending")

	merged := time.Now()
	if err := g.Do(ctx, "POST", "repos/"+repo+"/pulls/"+itoa(pr.Number)+"/merge", map[string]string{"Do": "merge"}, nil); err != nil {
		t.Fatal(err)
	}
	h.waitStage(t, "prod", And(HaveField("CurrentRevision", rev1), HaveField("TargetRevision", "")))
	t.Logf("merge on Gitea → prod at the revision: %s", time.Since(merged).Round(10*time.Millisecond))
	prod, err := gitserver.ReadBranch(ctx, g.RepoURL(repo), g.Auth(), "env/prod")
	if err != nil {
		t.Fatal(err)
	}
	if got := prod["clusters/prod-1/hello/hello/configmap-hello.yaml"]; !strings.Contains(got, "hello v1") {
		t.Errorf("env/prod hello = %q after the merge, want hello v1", got)
	}
	h.waitPromotion(t, "release-prod-"+rev1[:12], fleetv1alpha1.PromotionMerged)
}

// startHubOn starts a hub (API server and controllers) without a git server of its own.
func startHubOn(t *testing.T, opts hub.Options) *hubEnv {
	t.Helper()
	cl := envtest.StartForTest(t, envtest.Options{Name: "hub", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	runHub(t, cl, opts)
	return &hubEnv{cluster: cl, c: cl.Client, ns: envtest.NewNamespace(t, cl.Client)}
}

// waitGiteaStatus waits until a status of context with state was posted on sha.
func waitGiteaStatus(t *testing.T, g *gitea.Server, repo, sha, context, state string) {
	t.Helper()
	type status struct {
		Context     string
		Status      string
		Description string
	}
	NewWithT(t).Eventually(func() ([]status, error) {
		var statuses []status
		err := g.Do(t.Context(), "GET", "repos/"+repo+"/commits/"+sha+"/statuses", nil, &statuses)
		return statuses, err
	}).Should(ContainElement(And(HaveField("Context", context), HaveField("Status", state))), "statuses on %s", sha[:7])
}

func itoa(n int) string { return strconv.Itoa(n) }

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
)

const devRev = "0123456789abcdef0123456789abcdef01234567"

func promotionFixture(t *testing.T, apiURL string) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	_ = fleetv1alpha1.AddToScheme(scheme)
	_ = corev1.AddToScheme(scheme)
	pipe := &fleetv1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "release"},
		Spec:       fleetv1alpha1.PipelineSpec{Stages: []fleetv1alpha1.Stage{{Name: "dev"}, {Name: "prod", Promotion: fleetv1alpha1.PromotionPullRequest}}},
		Status: fleetv1alpha1.PipelineStatus{Stages: []fleetv1alpha1.StageStatus{
			{Name: "dev", CurrentRevision: devRev},
			{Name: "prod", TargetRevision: devRev, Promotion: "release-prod-0123456789ab", Message: "awaiting approval #1"},
		}},
	}
	promo := &fleetv1alpha1.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "release-prod-0123456789ab"},
		Status: fleetv1alpha1.PromotionStatus{Phase: fleetv1alpha1.PromotionOpen,
			PullRequest: &fleetv1alpha1.PullRequestRef{Number: 1, URL: "http://example.com/pull/1", HeadCommit: strings.Repeat("b", 40)}},
	}
	placement := &fleetv1alpha1.Placement{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "hello"},
		Spec: fleetv1alpha1.PlacementSpec{SourceRef: fleetv1alpha1.LocalObjectReference{Name: "fleet"}, PipelineRef: &fleetv1alpha1.LocalObjectReference{Name: "release"}}}
	src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "fleet"},
		Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/fleet/config.git", Forge: &fleetv1alpha1.ForgeSpec{
			Type: fleetv1alpha1.ForgeGitHub, APIURL: apiURL, Repository: "fleet/config", SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "token"}}}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "token"}, Data: map[string][]byte{"token": []byte(forge.Token)}}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(pipe, promo, placement, src, sec).WithStatusSubresource(pipe, promo).Build()
}

func TestApproveMergesTheOpenPullRequest(t *testing.T) {
	gh := forge.NewServer(t)
	gh.AddRepo("fleet/config", map[string]string{"env/prod": strings.Repeat("a", 40), "gitfleet/promote/prod": strings.Repeat("b", 40)})
	c := promotionFixture(t, gh.URL())
	ctx := context.Background()
	api := newGitHub(t, gh)
	if _, err := api.CreatePullRequest(ctx, newPR()); err != nil {
		t.Fatal(err)
	}
	ref, err := approve(ctx, c, "fleet", "", "prod")
	if err != nil {
		t.Fatalf("approve(prod) = %v", err)
	}
	if pr, _ := gh.PullRequest("fleet/config", 1); !pr.Merged || ref.Number != 1 {
		t.Errorf("pull request #1 merged = %v (approve returned #%d), want merged #1", pr.Merged, ref.Number)
	}
	if _, err := approve(ctx, c, "fleet", "", "dev"); err == nil {
		t.Errorf("approve(dev) = nil, want an error (nothing to approve)")
	}
}

// A commit pushed to the promote branch after the hub opened the pull request is not
// merged by gitfleet approve.
func TestApproveRefusesAMovedHead(t *testing.T) {
	gh := forge.NewServer(t)
	gh.AddRepo("fleet/config", map[string]string{"env/prod": strings.Repeat("a", 40), "gitfleet/promote/prod": strings.Repeat("b", 40)})
	c := promotionFixture(t, gh.URL())
	ctx := context.Background()
	if _, err := newGitHub(t, gh).CreatePullRequest(ctx, newPR()); err != nil {
		t.Fatal(err)
	}
	moved := strings.Repeat("c", 40)
	gh.SetBranch("fleet/config", "gitfleet/promote/prod", moved)
	_, err := approve(ctx, c, "fleet", "", "prod")
	if !errors.Is(err, gitsource.ErrHeadMoved) || !strings.Contains(err.Error(), moved) || !strings.Contains(err.Error(), "approve again") {
		t.Fatalf("approve(prod) after a push to the promote branch = %v, want ErrHeadMoved naming %s", err, moved)
	}
	if pr, _ := gh.PullRequest("fleet/config", 1); pr.Merged {
		t.Fatalf("pull request #1 was merged at %s, a head nobody reviewed", pr.HeadSHA)
	}
}

func TestPromoteRecordsAPromotion(t *testing.T) {
	c := promotionFixture(t, "http://127.0.0.1:1/")
	ctx := context.Background()
	const rev = "fedcba9876543210fedcba9876543210fedcba98"
	promo, err := promote(ctx, c, "fleet", "release", "prod", rev, true, "hotfix")
	if err != nil {
		t.Fatalf("promote(prod) = %v", err)
	}
	if promo.Name != "release-prod-fedcba987654" || promo.Spec.DryRevision != rev || !promo.Spec.SkipGates || promo.Spec.FromStage != "dev" {
		t.Errorf("promote(prod) = %s %+v, want release-prod-fedcba987654 of %s from dev, gates skipped", promo.Name, promo.Spec, rev)
	}
	// Without --revision, the revision the previous stage holds (dev's) is promoted; the
	// fixture already has that attempt.
	if _, err := promote(ctx, c, "fleet", "release", "prod", "", false, ""); err == nil || !strings.Contains(err.Error(), "release-prod-0123456789ab") {
		t.Errorf("promote(prod) without --revision = %v, want dev's revision (already recorded)", err)
	}
	// Once that attempt finished (merged, then rolled back, say), a new record is made.
	done := &fleetv1alpha1.Promotion{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "release-prod-0123456789ab"}, done); err != nil {
		t.Fatal(err)
	}
	done.Status.Phase = fleetv1alpha1.PromotionMerged
	if err := c.Status().Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	again, err := promote(ctx, c, "fleet", "release", "prod", "", true, "roll forward")
	if err != nil || again.Name == done.Name || !strings.HasPrefix(again.Name, done.Name+"-") || again.Spec.DryRevision != devRev {
		t.Errorf("promote(prod) after the attempt finished = %v, %v; want a new record named %s-…", again, err, done.Name)
	}
	if _, err := promote(ctx, c, "fleet", "release", "dev", "", false, ""); err == nil {
		t.Errorf("promote(dev) = nil, want an error (the first stage follows the repo)")
	}
}

func newGitHub(t *testing.T, gh *forge.Server) *gitsource.GitHub {
	t.Helper()
	api, err := gitsource.NewGitHub(gh.URL(), "fleet/config", forge.Token)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func newPR() gitsource.NewPullRequest {
	return gitsource.NewPullRequest{Title: "promote", Head: "gitfleet/promote/prod", Base: "env/prod"}
}

func TestRollbackRecordsAPromotion(t *testing.T) {
	c := promotionFixture(t, "http://127.0.0.1:1/")
	ctx := context.Background()
	promo, err := rollback(ctx, c, "fleet", "", "prod", "abcdef1", "bad release")
	if err != nil {
		t.Fatalf("rollback(prod) = %v", err)
	}
	if promo.Spec.Rollback == nil || promo.Spec.Rollback.To != "abcdef1" || promo.Spec.Rollback.Reason != "bad release" || promo.Spec.DryRevision != "" || promo.Spec.Stage != "prod" {
		t.Errorf("rollback(prod) = %+v, want a rollback to abcdef1 of prod with the reason", promo.Spec)
	}
	if promo.Labels["fleet.gitfleet.dev/stage"] != "prod" {
		t.Errorf("labels = %v, want the stage", promo.Labels)
	}
	if _, err := rollback(ctx, c, "fleet", "", "dev", "abcdef1", ""); err == nil || !strings.Contains(err.Error(), "git revert") {
		t.Errorf("rollback(dev) = %v, want an error pointing to git revert (the first stage follows the repo)", err)
	}
	if _, err := rollback(ctx, c, "fleet", "", "qa", "abcdef1", ""); err == nil {
		t.Errorf("rollback(qa) = nil, want an error (no such stage)")
	}

	// The hub opens the pull request: waitRollback returns the Promotion then.
	stored := &fleetv1alpha1.Promotion{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(promo), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := waitRollback(ctx, c, stored, 50*time.Millisecond, 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "kubectl -n fleet get promotion") {
		t.Errorf("waitRollback before the hub acted = %v, want a timeout saying how to follow it", err)
	}
	stored.Status.Phase = fleetv1alpha1.PromotionOpen
	stored.Status.PullRequest = &fleetv1alpha1.PullRequestRef{Number: 7, URL: "http://example.com/pull/7"}
	stored.Status.Rollback = &fleetv1alpha1.RollbackStatus{RestoredCommit: strings.Repeat("c", 40), DryRevision: devRev}
	if err := c.Status().Update(ctx, stored); err != nil {
		t.Fatal(err)
	}
	got, err := waitRollback(ctx, c, stored, time.Second, 10*time.Millisecond)
	if err != nil || got.Status.PullRequest.Number != 7 {
		t.Errorf("waitRollback = %v, %v; want the Promotion with #7", got, err)
	}
}

func TestParseStageTakesTheStageAmongTheFlags(t *testing.T) {
	for _, args := range [][]string{
		{"prod", "--to", "abcdef1", "--reason", "x"},
		{"--to", "abcdef1", "prod", "--reason", "x"},
		{"--to", "abcdef1", "--reason", "x", "prod"},
	} {
		fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
		to, reason := fs.String("to", "", ""), fs.String("reason", "", "")
		stage, code := parseStage(fs, args, io.Discard)
		if stage != "prod" || code != -1 || *to != "abcdef1" || *reason != "x" {
			t.Errorf("parseStage(%q) = %q, %d, --to %q --reason %q; want prod, -1, abcdef1, x", args, stage, code, *to, *reason)
		}
	}
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	if _, code := parseStage(fs, []string{"prod", "staging"}, io.Discard); code != 2 {
		t.Errorf("parseStage(two stages) code = %d, want 2", code)
	}
}

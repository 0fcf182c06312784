package hub

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
)

// TestFinalizePipeline runs a deleted Pipeline's clean-up against the GitHub double: its
// open approval and rollback pull requests are closed with the comment for each, their
// Promotions become Failed, another pipeline's pull request stays open, and the finalizer
// goes. Without a GitSource to reach the forge, the pull requests are left open and the
// Pipeline still goes.
func TestFinalizePipeline(t *testing.T) {
	for name, tc := range map[string]struct {
		withSource bool
		wantClosed bool
	}{
		"closes its pull requests":                {withSource: true, wantClosed: true},
		"leaves them open when the forge is gone": {withSource: false, wantClosed: false},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			gh := forge.NewServer(t)
			gh.AddRepo("fleet/config", map[string]string{"env/prod": strings.Repeat("a", 40),
				"gitfleet/promote/prod": strings.Repeat("b", 40), "gitfleet/rollback/prod": strings.Repeat("c", 40), "other": strings.Repeat("d", 40)})
			api, err := gitsource.NewGitHub(gh.URL(), "fleet/config", forge.Token)
			if err != nil {
				t.Fatal(err)
			}
			for _, head := range []string{"gitfleet/promote/prod", "gitfleet/rollback/prod", "other"} {
				if _, err := api.CreatePullRequest(ctx, gitsource.NewPullRequest{Title: head, Head: head, Base: "env/prod"}); err != nil {
					t.Fatal(err)
				}
			}
			now := metav1.Now()
			pipe := &fleetv1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "release",
				Finalizers: []string{fleetv1alpha1.Finalizer}, DeletionTimestamp: &now}}
			promo := func(name, pipeline string, n int32, rollback bool) *fleetv1alpha1.Promotion {
				p := &fleetv1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: name},
					Spec:   fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: pipeline}, Stage: "prod"},
					Status: fleetv1alpha1.PromotionStatus{Phase: fleetv1alpha1.PromotionOpen, PullRequest: &fleetv1alpha1.PullRequestRef{Number: n}}}
				if rollback {
					p.Spec.Rollback = &fleetv1alpha1.RollbackSpec{To: "abcdef1"}
				}
				return p
			}
			objs := []client.Object{pipe,
				promo("approval", "release", 1, false), promo("rollback", "release", 2, true), promo("other", "other", 3, false),
				&fleetv1alpha1.Placement{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "hello"}, Spec: fleetv1alpha1.PlacementSpec{
					SourceRef: fleetv1alpha1.LocalObjectReference{Name: "fleet"}, PipelineRef: &fleetv1alpha1.LocalObjectReference{Name: "release"}}},
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "token"}, Data: map[string][]byte{"token": []byte(forge.Token)}},
			}
			if tc.withSource {
				objs = append(objs, &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "fleet"},
					Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/fleet/config.git", Forge: &fleetv1alpha1.ForgeSpec{
						Type: fleetv1alpha1.ForgeGitHub, APIURL: gh.URL(), Repository: "fleet/config", SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "token"}}}})
			}
			scheme := runtime.NewScheme()
			_ = fleetv1alpha1.AddToScheme(scheme)
			_ = corev1.AddToScheme(scheme)
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&fleetv1alpha1.Pipeline{}, &fleetv1alpha1.Promotion{}).Build()
			r := &PipelineReconciler{Client: c, Clock: clock.RealClock{}}

			if _, err := r.finalize(ctx, pipe); err != nil {
				t.Fatalf("finalize() = %v", err)
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(pipe), &fleetv1alpha1.Pipeline{}); !apierrors.IsNotFound(err) {
				t.Errorf("Get(Pipeline) after finalize() = %v, want NotFound (finalizer removed)", err)
			}
			wantState := map[int]string{1: "open", 2: "open", 3: "open"}
			if tc.wantClosed {
				wantState[1], wantState[2] = "closed", "closed"
			}
			for n, what := range map[int]string{1: "approval pull request", 2: "rollback pull request"} {
				pr, _ := gh.PullRequest("fleet/config", n)
				if pr.State != wantState[n] || pr.Merged {
					t.Errorf("pull request #%d = %s (merged %v), want %s", n, pr.State, pr.Merged, wantState[n])
				}
				comments := gh.Comments("fleet/config", n)
				switch {
				case !tc.wantClosed && len(comments) != 0:
					t.Errorf("pull request #%d got comments %+v, want none", n, comments)
				case tc.wantClosed && (len(comments) != 1 || !strings.Contains(comments[0].Body, "the Pipeline `fleet/release` was deleted, so this "+what+" is closed without merging: nothing moves into stage `prod`")):
					t.Errorf("comments on #%d = %+v, want one saying the %s is closed", n, comments, what)
				}
			}
			if pr, _ := gh.PullRequest("fleet/config", 3); pr.State != "open" {
				t.Errorf("another pipeline's pull request #3 = %s, want open", pr.State)
			}
			for name, want := range map[string]fleetv1alpha1.PromotionPhase{"approval": fleetv1alpha1.PromotionFailed, "rollback": fleetv1alpha1.PromotionFailed, "other": fleetv1alpha1.PromotionOpen} {
				if !tc.wantClosed {
					want = fleetv1alpha1.PromotionOpen
				}
				got := &fleetv1alpha1.Promotion{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: name}, got); err != nil || got.Status.Phase != want {
					t.Errorf("Promotion %s phase = %q (err %v), want %q", name, got.Status.Phase, err, want)
				}
			}
		})
	}
}

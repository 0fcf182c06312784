//go:build integration

package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestGitSourceErrors checks that bad credentials, an unreachable repository and a
// malformed fleet file each give a clear condition, keep the last good state, and
// recover once fixed; no credential ever shows in a condition.
func TestGitSourceErrors(t *testing.T) {
	cl := envtest.StartForTest(t, envtest.Options{Name: "hub-errors", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	gs := gitserver.StartForTest(t, gitserver.Options{Username: "fleet", Password: "s3cret-pass"})
	if err := gs.InitRepo("fleet", map[string]string{
		"fleet/pipeline.yaml": "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: default}\nspec:\n  stages:\n  - {name: dev, clusterSelector: {matchLabels: {stage: dev}}}\n",
	}, "main"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runHub(t, cl, hub.Options{})
	ns := envtest.NewNamespace(t, cl.Client)
	c := cl.Client

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns},
		Data: map[string][]byte{"username": []byte("fleet"), "password": []byte("wrong-password-123")}}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: fleetv1alpha1.GitSourceSpec{URL: gs.RepoURL("fleet"), Branch: "main", Interval: metav1.Duration{Duration: time.Hour},
			FleetPath: "fleet", SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "git"}}}
	if err := c.Create(ctx, src); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong credentials", func(t *testing.T) {
		cond := waitCondition(t, c, src, fleetv1alpha1.FetchedCondition, HaveField("Status", metav1.ConditionFalse))
		if cond.Reason != fleetv1alpha1.AuthenticationFailedReason {
			t.Errorf("Fetched reason = %s (%s), want %s", cond.Reason, cond.Message, fleetv1alpha1.AuthenticationFailedReason)
		}
		checkNoSecret(t, c, src, "wrong-password-123")
	})

	t.Run("fixed credentials recover", func(t *testing.T) {
		secret.Data["password"] = []byte("s3cret-pass")
		if err := c.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		request(t, c, src)
		waitCondition(t, c, src, fleetv1alpha1.ReadyCondition, HaveField("Status", metav1.ConditionTrue))
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &fleetv1alpha1.Pipeline{}); err != nil {
			t.Errorf("the pipeline from fleet/ was not applied: %v", err)
		}
		checkNoSecret(t, c, src, "s3cret-pass")
	})

	t.Run("malformed fleet YAML keeps the applied objects", func(t *testing.T) {
		auth := gs.Auth()
		if _, err := gitserver.Push(ctx, gs.RepoURL("fleet"), auth, gitserver.Commit{Branch: "main",
			Files: map[string]string{"fleet/broken.yaml": "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Placement\nmetadata: {name: x\n"}}); err != nil {
			t.Fatal(err)
		}
		request(t, c, src)
		cond := waitCondition(t, c, src, fleetv1alpha1.FleetAppliedCondition, HaveField("Status", metav1.ConditionFalse))
		if cond.Reason != fleetv1alpha1.InvalidFleetObjectReason || !strings.Contains(cond.Message, "fleet/broken.yaml") {
			t.Errorf("FleetApplied = %s: %s; want InvalidFleetObject naming fleet/broken.yaml", cond.Reason, cond.Message)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &fleetv1alpha1.Pipeline{}); err != nil {
			t.Errorf("the pipeline applied before was pruned because of a broken file: %v", err)
		}
	})

	t.Run("unreachable repository keeps the last revision", func(t *testing.T) {
		before := &fleetv1alpha1.GitSource{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(src), before); err != nil {
			t.Fatal(err)
		}
		before.Spec.URL = "http://127.0.0.1:1/fleet"
		if err := c.Update(ctx, before); err != nil {
			t.Fatal(err)
		}
		cond := waitCondition(t, c, src, fleetv1alpha1.FetchedCondition, And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", fleetv1alpha1.FetchFailedReason)))
		after := &fleetv1alpha1.GitSource{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(src), after); err != nil {
			t.Fatal(err)
		}
		if after.Status.Revision == "" || after.Status.Revision != before.Status.Revision {
			t.Errorf("revision = %q after a failed fetch, want the last good %q", after.Status.Revision, before.Status.Revision)
		}
		if !strings.Contains(cond.Message, "127.0.0.1:1") {
			t.Errorf("Fetched message %q does not say which repository failed", cond.Message)
		}
	})
}

func request(t *testing.T, c client.Client, src *fleetv1alpha1.GitSource) {
	t.Helper()
	cur := &fleetv1alpha1.GitSource{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(src), cur); err != nil {
		t.Fatal(err)
	}
	if err := hub.RequestReconcile(context.Background(), c, cur, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// waitCondition waits until the GitSource's condition typ matches want, and returns it.
func waitCondition(t *testing.T, c client.Client, src *fleetv1alpha1.GitSource, typ string, want types.GomegaMatcher) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	NewWithT(t).Eventually(func(g Gomega) {
		cur := &fleetv1alpha1.GitSource{}
		g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(src), cur)).To(Succeed())
		cond = apimeta.FindStatusCondition(cur.Status.Conditions, typ)
		g.Expect(cond).To(And(Not(BeNil()), want), "condition %s of GitSource %s; conditions: %+v", typ, src.Name, cur.Status.Conditions)
	}).WithTimeout(60 * time.Second).Should(Succeed())
	return cond
}

func checkNoSecret(t *testing.T, c client.Client, src *fleetv1alpha1.GitSource, secret string) {
	t.Helper()
	cur := &fleetv1alpha1.GitSource{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(src), cur); err != nil {
		t.Fatal(err)
	}
	for _, cond := range cur.Status.Conditions {
		if strings.Contains(cond.Message, secret) {
			t.Errorf("condition %s leaks the credential: %s", cond.Type, cond.Message)
		}
	}
	var events corev1.EventList
	_ = c.List(context.Background(), &events, client.InNamespace(src.Namespace))
	for _, e := range events.Items {
		if strings.Contains(e.Message, secret) {
			t.Errorf("event leaks the credential: %s", e.Message)
		}
	}
}

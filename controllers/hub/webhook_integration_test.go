//go:build integration

package hub_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/forge"
)

// TestWebhookReceiver posts GitHub-style push webhooks to the receiver: a good signature
// for the source's branch sets the reconcile annotation (an immediate fetch); a bad or
// missing signature gets 401 and changes nothing; a push to another branch is accepted
// and ignored.
func TestWebhookReceiver(t *testing.T) {
	cl := envtest.StartForTest(t, envtest.Options{Name: "hub-webhook", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	ctx := context.Background()
	ns := envtest.NewNamespace(t, cl.Client)
	secret := []byte("hook-secret")
	if err := cl.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns}, Data: map[string][]byte{"token": secret}}); err != nil {
		t.Fatal(err)
	}
	src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/fleet.git", Branch: "main",
			WebhookSecretRef: &fleetv1alpha1.LocalObjectReference{Name: "hook"}}}
	if err := cl.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&hub.WebhookReceiver{Client: cl.Client, Parser: gitsource.NewWebhookParser(), Clock: clock.RealClock{}})
	defer srv.Close()
	url := srv.URL + hub.WebhookPathPrefix + ns + "/fleet"

	push := func(ref string) []byte {
		return []byte(`{"ref":"` + ref + `","after":"0123456789abcdef0123456789abcdef01234567","repository":{"full_name":"example/fleet"}}`)
	}
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sign := forge.Sign
	requested := func() string {
		cur := &fleetv1alpha1.GitSource{}
		if err := cl.Client.Get(ctx, client.ObjectKeyFromObject(src), cur); err != nil {
			t.Fatal(err)
		}
		return cur.Annotations[fleetv1alpha1.ReconcileRequestAnnotation]
	}

	body := push("refs/heads/main")
	if got := post(body, sign([]byte("wrong"), body)); got != http.StatusUnauthorized {
		t.Errorf("push with a bad signature = %d, want 401", got)
	}
	if got := post(body, ""); got != http.StatusUnauthorized {
		t.Errorf("push without a signature = %d, want 401", got)
	}
	if got := requested(); got != "" {
		t.Fatalf("a refused webhook set the reconcile annotation to %q", got)
	}
	other := push("refs/heads/feature")
	if got := post(other, sign(secret, other)); got != http.StatusAccepted {
		t.Errorf("push to another branch = %d, want 202", got)
	}
	if got := requested(); got != "" {
		t.Fatalf("a push to another branch set the reconcile annotation to %q", got)
	}
	if got := post(body, sign(secret, body)); got != http.StatusOK {
		t.Fatalf("signed push to main = %d, want 200", got)
	}
	if requested() == "" {
		t.Errorf("a signed push to main did not request a fetch")
	}
	// An unknown source answers like a bad signature: no hint of which sources exist.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+hub.WebhookPathPrefix+ns+"/nope", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("webhook for an unknown GitSource = %d, want 401", resp.StatusCode)
	}
}

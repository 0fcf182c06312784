//go:build integration

package manifests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestMain gives controller-runtime a logger (silent unless GITFLEET_TEST_VERBOSE is set;
// without one it prints a stack trace after 30 s).
func TestMain(m *testing.M) {
	ctrl.SetLogger(envtest.Logger(os.Stderr))
	os.Exit(m.Run())
}

// warnings collects the API server's warnings (deprecated fields, PodSecurity
// violations in a namespace that enforces "restricted", unknown fields).
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// strictClient is an admin client of the cluster that records the server's warnings.
func strictClient(t *testing.T, c *envtest.Cluster) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = w
	cl, err := client.New(cfg, client.Options{Scheme: c.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl, w
}

// applyBuild applies the output of a kustomization as `kubectl apply --server-side -k`
// would, except that only Namespaces and CRDs are stored (CRDs waited for until
// Established): every other object goes through a server-side dry run, so admission,
// the OpenAPI schema, defaulting and CEL rules all judge it. Any error or warning fails
// the test.
func applyBuild(t *testing.T, c *envtest.Cluster, dir string, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	cl, w := strictClient(t, c)
	var first, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
			first = append(first, o.DeepCopy())
		} else {
			rest = append(rest, o.DeepCopy())
		}
	}
	if err := envtest.Apply(ctx, cl, envtest.ApplyOptions{}, first...); err != nil {
		t.Errorf("applying the Namespaces and CRDs of %s: %v", dir, err)
	}
	if err := envtest.Apply(ctx, cl, envtest.ApplyOptions{DryRun: true}, rest...); err != nil {
		t.Errorf("server-side dry run of %s = %v, want every object accepted", dir, err)
	}
	if ws := w.take(); len(ws) > 0 {
		t.Errorf("applying %s: the API server warned:\n%s", dir, strings.Join(ws, "\n"))
	}
}

// TestManifests validates config/hub and config/hub-member-access against a hub API
// server and config/agent against a member API server, neither of which has any CRD
// beforehand: the kustomizations must bring what they need.
func TestManifests(t *testing.T) {
	root := repoRoot(t)
	clusters := envtest.StartManyForTest(t, envtest.Options{
		CRDDirectoryPaths: []string{},
		AddToScheme:       []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme},
	}, "hub", "member")
	hub, member := clusters[0], clusters[1]

	t.Run("hub", func(t *testing.T) {
		dir := filepath.Join(root, "config", "hub")
		applyBuild(t, hub, dir, build(t, dir))
	})
	t.Run("hub-member-access", func(t *testing.T) {
		dir := filepath.Join(root, "config", "hub-member-access")
		applyBuild(t, hub, dir, build(t, dir))
	})
	t.Run("agent", func(t *testing.T) {
		dir := filepath.Join(root, "config", "agent")
		applyBuild(t, member, dir, build(t, dir))
		// The member serves ClusterSync (the sample is accepted) and none of the hub's kinds.
		sample := filepath.Join(root, "config", "samples", "fleet_v1alpha1_clustersync.yaml")
		if _, err := envtest.ApplyYAMLFiles(context.Background(), member.Client, true, sample); err != nil {
			t.Errorf("server-side dry run of %s on the member = %v, want accepted", sample, err)
		}
		err := member.Client.List(context.Background(), &fleetv1alpha1.PlacementList{})
		if err == nil {
			t.Errorf("listing Placements on the member succeeded; config/agent must install only the ClusterSync CRD")
		}
	})
	t.Run("agent access to the hub", func(t *testing.T) {
		testMemberAccess(t, hub, root)
	})
}

// testMemberAccess stores the hub-member-access objects of two member clusters for real
// and acts as one agent's ServiceAccount: it may read its own MemberCluster and write
// that MemberCluster's status as the agent does (server-side apply), and nothing else.
func testMemberAccess(t *testing.T, hub *envtest.Cluster, root string) {
	ctx := context.Background()
	const ns = "fleet-system" // created by the hub subtest
	if err := hub.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); err != nil {
		t.Fatalf("namespace %s (from config/hub): %v", ns, err)
	}
	for _, name := range []string{"prod-eu-1", "prod-us-1"} {
		dir := memberOverlay(t, root, name)
		if err := envtest.Apply(ctx, hub.Client, envtest.ApplyOptions{}, build(t, dir)...); err != nil {
			t.Fatalf("applying hub-member-access for %s: %v", name, err)
		}
		mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if err := hub.Client.Create(ctx, mc); err != nil {
			t.Fatalf("creating MemberCluster %s: %v", name, err)
		}
	}

	cfg := rest.CopyConfig(hub.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":gitfleet-agent-prod-eu-1",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	agent, err := client.New(cfg, client.Options{Scheme: hub.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	statusApply := func(name string) error {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": fleetv1alpha1.GroupVersion.String(), "kind": "MemberCluster",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"status":   map[string]any{"branch": "env/prod", "driftedObjects": int64(0)},
		}}
		return agent.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner("gitfleet-agent"), client.ForceOwnership)
	}
	allowed := map[string]func() error{
		"get its own MemberCluster": func() error {
			return agent.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-eu-1"}, &fleetv1alpha1.MemberCluster{})
		},
		"list its own MemberCluster by name": func() error {
			return agent.List(ctx, &fleetv1alpha1.MemberClusterList{}, client.InNamespace(ns),
				client.MatchingFields{"metadata.name": "prod-eu-1"})
		},
		"apply its own MemberCluster's status": func() error { return statusApply("prod-eu-1") },
	}
	forbidden := map[string]func() error{
		"get another MemberCluster": func() error {
			return agent.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-us-1"}, &fleetv1alpha1.MemberCluster{})
		},
		"list every MemberCluster": func() error {
			return agent.List(ctx, &fleetv1alpha1.MemberClusterList{}, client.InNamespace(ns))
		},
		"apply another MemberCluster's status": func() error { return statusApply("prod-us-1") },
		"change its own MemberCluster's spec": func() error {
			mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "prod-eu-1", Namespace: ns}}
			return agent.Patch(ctx, mc, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"state":"Leave"}}`)))
		},
		"create a MemberCluster": func() error {
			return agent.Create(ctx, &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Namespace: ns}})
		},
		"read a Secret of the fleet namespace": func() error {
			return agent.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gitfleet-agent-prod-us-1-token"}, &corev1.Secret{})
		},
		"list Placements": func() error {
			return agent.List(ctx, &fleetv1alpha1.PlacementList{}, client.InNamespace(ns))
		},
	}
	for what, call := range allowed {
		if err := call(); err != nil {
			t.Errorf("as gitfleet-agent-prod-eu-1: %s = %v, want allowed", what, err)
		}
	}
	for what, call := range forbidden {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("as gitfleet-agent-prod-eu-1: %s = %v, want Forbidden", what, err)
		}
	}
	got := &fleetv1alpha1.MemberCluster{}
	if err := hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-eu-1"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Branch != "env/prod" || got.Spec.State == fleetv1alpha1.ClusterLeave {
		t.Errorf("MemberCluster prod-eu-1 after the agent's calls: status.branch %q, spec.state %q; want env/prod and not Leave",
			got.Status.Branch, got.Spec.State)
	}
}

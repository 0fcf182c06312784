//go:build integration

package envtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/onsi/gomega"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(envtest.Logger(os.Stderr))
	envtest.SetDefaultEventually()
	os.Exit(m.Run())
}

// TestClusters starts a hub and a member side by side and exercises the helpers on them.
func TestClusters(t *testing.T) {
	start := time.Now()
	clusters := envtest.StartManyForTest(t, envtest.Options{}, "hub", "member")
	t.Logf("started 2 clusters in %s", time.Since(start).Round(time.Millisecond))
	hub, member := clusters[0], clusters[1]
	ctx := context.Background()

	t.Run("servers listen on 127.0.0.1 on distinct ports", func(t *testing.T) {
		for _, c := range clusters {
			if !strings.HasPrefix(c.Config.Host, "https://127.0.0.1:") {
				t.Errorf("cluster %s: Config.Host = %q, want https://127.0.0.1:<port>", c.Name, c.Config.Host)
			}
		}
		if hub.Config.Host == member.Config.Host {
			t.Errorf("hub and member both at %s", hub.Config.Host)
		}
	})

	t.Run("clusters are separate", func(t *testing.T) {
		for _, c := range clusters {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "whoami", Namespace: metav1.NamespaceDefault},
				Data:       map[string]string{"cluster": c.Name},
			}
			if err := c.Client.Create(ctx, cm); err != nil {
				t.Fatalf("%s: Create(ConfigMap whoami) = %v", c.Name, err)
			}
		}
		for _, c := range clusters {
			cm := &corev1.ConfigMap{}
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "whoami"}, cm); err != nil {
				t.Fatalf("%s: Get(ConfigMap whoami) = %v", c.Name, err)
			}
			if got := cm.Data["cluster"]; got != c.Name {
				t.Errorf("%s: ConfigMap whoami has cluster=%q, want %q", c.Name, got, c.Name)
			}
		}

		ns := envtest.NewNamespace(t, hub.Client)
		err := member.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("member: Get(Namespace %s made on the hub) = %v, want NotFound", ns, err)
		}
	})

	t.Run("namespace per test", func(t *testing.T) {
		var name string
		t.Run("inner", func(t *testing.T) {
			name = envtest.NewNamespace(t, member.Client)
			if !strings.HasPrefix(name, "testclusters-namespace-per-test-inner-") {
				t.Errorf("NewNamespace() = %q, want a name derived from the test's", name)
			}
			ns := &corev1.Namespace{}
			if err := member.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
				t.Fatalf("Get(Namespace %s) = %v", name, err)
			}
			if ns.Labels[envtest.TestNamespaceLabel] != "true" {
				t.Errorf("namespace labels = %v, want %s=true", ns.Labels, envtest.TestNamespaceLabel)
			}
		})
		// No namespace controller runs: the deleted namespace stays, Terminating.
		ns := &corev1.Namespace{}
		err := member.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
		if err == nil && ns.DeletionTimestamp == nil {
			t.Errorf("namespace %s not deleted after its test", name)
		}
	})

	t.Run("kubeconfig file", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", hub.Kubeconfig)
		if err != nil {
			t.Fatalf("loading %s: %v", hub.Kubeconfig, err)
		}
		c, err := client.New(cfg, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "whoami"}, cm); err != nil {
			t.Fatalf("Get through the kubeconfig = %v", err)
		}
		if cm.Data["cluster"] != "hub" {
			t.Errorf("kubeconfig reaches cluster %q, want hub", cm.Data["cluster"])
		}
		raw, err := clientcmd.LoadFromFile(hub.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if raw.CurrentContext != "hub" {
			t.Errorf("current context = %q, want hub", raw.CurrentContext)
		}
	})

	t.Run("default CRDs installed", func(t *testing.T) {
		root, err := envtest.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "config", "crd", "bases")); err != nil {
			t.Fatalf("the CRDs envtest installs by default: %v (make generate writes them)", err)
		}
		if len(hub.Env.CRDs) == 0 {
			t.Errorf("no CRDs installed from config/crd/bases")
		}
	})

	t.Run("server-side apply dry run", func(t *testing.T) {
		ns := envtest.NewNamespace(t, member.Client)
		objs, err := envtest.ApplyFiles(ctx, member.Client, envtest.ApplyOptions{DryRun: true, Namespace: ns},
			"testdata/apply/01-configmaps.yaml")
		if err != nil {
			t.Fatalf("ApplyFiles(dry run) = %v", err)
		}
		if got := names(objs); got != "first,second" {
			t.Fatalf("ApplyFiles(dry run) applied %s, want first,second", got)
		}
		if created := objs[0].GetCreationTimestamp(); objs[0].GetNamespace() != ns || created.IsZero() {
			t.Errorf("dry-run answer = %v, want the object in %s as the server would store it", objs[0].Object, ns)
		}
		err = member.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, &corev1.ConfigMap{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("Get(ConfigMap first) after a dry run = %v, want NotFound", err)
		}
	})

	t.Run("apply a folder with a CRD and its object", func(t *testing.T) {
		objs, err := envtest.ApplyYAMLFiles(ctx, member.Client, false, "testdata/apply")
		if err != nil {
			t.Fatalf("ApplyYAMLFiles(testdata/apply) = %v", err)
		}
		if got := names(objs); got != "first,second,widgets.test.gitfleet.dev,small" {
			t.Fatalf("ApplyYAMLFiles applied %s", got)
		}
		widget := objs[3]
		if widget.GetNamespace() != "default" {
			t.Errorf("widget namespace = %q, want default", widget.GetNamespace())
		}
		if color, _, _ := unstructured.NestedString(widget.Object, "spec", "color"); color != "blue" {
			t.Errorf("widget spec.color = %q, want the schema default blue", color)
		}
		// Applying again is a no-op, not a conflict.
		if _, err := envtest.ApplyYAMLFiles(ctx, member.Client, false, "testdata/apply"); err != nil {
			t.Errorf("second ApplyYAMLFiles = %v", err)
		}
	})

	t.Run("dry run reports invalid objects", func(t *testing.T) {
		objs, err := envtest.ApplyYAMLFiles(ctx, member.Client, true, "testdata/invalid.yaml")
		if err == nil {
			t.Fatalf("ApplyYAMLFiles(invalid.yaml) = nil error, want the schema violation")
		}
		if !strings.Contains(err.Error(), "invalid.yaml") || !strings.Contains(err.Error(), "Widget default/too-small") {
			t.Errorf("error %q does not name the file and object", err)
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
			t.Errorf("error %v is not an Invalid API error", err)
		}
		if got := names(objs); got != "fine" {
			t.Errorf("valid objects applied = %s, want fine", got)
		}
	})

	t.Run("create and wait", func(t *testing.T) {
		crd := &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "gadgets.test.gitfleet.dev"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "test.gitfleet.dev",
				Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Gadget", ListKind: "GadgetList", Plural: "gadgets", Singular: "gadget"},
				Scope: apiextensionsv1.ClusterScoped,
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
						Type: "object", XPreserveUnknownFields: ptrTo(true),
					}},
				}},
			},
		}
		if err := envtest.CreateAndWait(ctx, hub.Client, crd, envtest.CRDEstablished); err != nil {
			t.Fatalf("CreateAndWait(CRD) = %v", err)
		}
		if !envtest.CRDEstablished(crd) {
			t.Errorf("CreateAndWait returned a CRD that is not Established: %v", crd.Status.Conditions)
		}
		g := &unstructured.Unstructured{}
		g.SetAPIVersion("test.gitfleet.dev/v1")
		g.SetKind("Gadget")
		g.SetName("one")
		if err := envtest.CreateAndWait(ctx, hub.Client, g, nil); err != nil {
			t.Fatalf("CreateAndWait(Gadget) = %v", err)
		}
	})

	t.Run("gomega defaults", func(t *testing.T) {
		g := envtest.NewWithT(t)
		g.Eventually(func() error {
			return hub.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "whoami"}, &corev1.ConfigMap{})
		}).Should(gomega.Succeed())
	})

	t.Run("stop", func(t *testing.T) {
		if err := member.Stop(); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
		if err := member.Stop(); err != nil {
			t.Errorf("second Stop() = %v", err)
		}
		if _, err := os.Stat(member.Kubeconfig); !os.IsNotExist(err) {
			t.Errorf("kubeconfig %s still there after Stop (%v)", member.Kubeconfig, err)
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := member.Client.List(ctx, &corev1.NamespaceList{}); err == nil {
			t.Errorf("List on a stopped cluster succeeded")
		}
	})
}

func names(objs []*unstructured.Unstructured) string {
	var n []string
	for _, o := range objs {
		n = append(n, o.GetName())
	}
	return strings.Join(n, ",")
}

func ptrTo[T any](v T) *T { return &v }

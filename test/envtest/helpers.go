package envtest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TB is the part of testing.TB that the helpers use. Both *testing.T and Ginkgo's
// GinkgoT() satisfy it.
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
}

// TestNamespaceLabel is set to "true" on every namespace NewNamespace creates.
const TestNamespaceLabel = "test.gitfleet.io/namespace"

// SkipIfShort skips the test in -short mode, saying that it needs a real API server.
func SkipIfShort(t TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped in -short mode: needs a real kube-apiserver and etcd (built once into the gitfleet cache dir, see test/README.md)")
	}
}

// StartForTest starts a cluster for one test (or suite) and stops it on cleanup. It
// skips the test in -short mode and fails it if the cluster does not start.
func StartForTest(t TB, opts Options) *Cluster {
	t.Helper()
	SkipIfShort(t)
	c, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("envtest.Start(%q) = %v", opts.Name, err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("stopping cluster %s: %v", c.Name, err)
		}
	})
	return c
}

// StartManyForTest is StartMany for one test (or suite): it skips in -short mode, fails
// the test if a cluster does not start and stops them all on cleanup.
func StartManyForTest(t TB, opts Options, names ...string) []*Cluster {
	t.Helper()
	SkipIfShort(t)
	cs, err := StartMany(context.Background(), opts, names...)
	if err != nil {
		t.Fatalf("envtest.StartMany(%q) = %v", names, err)
	}
	t.Cleanup(func() {
		if err := StopAll(cs...); err != nil {
			t.Logf("stopping clusters: %v", err)
		}
	})
	return cs
}

// NewNamespace creates a namespace with a unique name derived from the test's name and
// deletes it when the test ends. It returns the namespace's name.
//
// The API server alone runs no namespace controller: a deleted namespace stays
// Terminating and its objects stay too, so tests must not rely on that deletion.
func NewNamespace(t TB, c client.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), EventuallyTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: sanitize(t.Name(), 50) + "-",
		Labels:       map[string]string{TestNamespaceLabel: "true"},
	}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("creating a namespace for %s: %v", t.Name(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := c.Delete(ctx, ns, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// CreateAndWait creates obj with c, then reads it back through c until ready returns
// true for it (with a nil ready, until it can be read). obj holds the last version read.
// It waits at most EventuallyTimeout, or less if ctx ends first.
//
// With a manager's (cached) client as c, it returns once the cache has seen the object.
func CreateAndWait(ctx context.Context, c client.Client, obj client.Object, ready func(client.Object) bool) error {
	// A kind whose CRD was just established may not be in the API server's discovery
	// yet: retry "no match" errors for a few seconds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Create(ctx, obj)
		if err == nil {
			break
		}
		if !apimeta.IsNoMatchError(err) || time.Now().After(deadline) {
			return fmt.Errorf("creating %s: %w", describe(c, obj), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating %s: %w", describe(c, obj), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return WaitFor(ctx, c, obj, ready)
}

// WaitFor reads obj (by its namespace and name) through r until ready returns true for
// it (with a nil ready, until it exists), polling every EventuallyPolling for at most
// EventuallyTimeout or until ctx ends. obj holds the last version read.
func WaitFor(ctx context.Context, r client.Reader, obj client.Object, ready func(client.Object) bool) error {
	key := client.ObjectKeyFromObject(obj)
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, EventuallyPolling, EventuallyTimeout, true, func(ctx context.Context) (bool, error) {
		lastErr = r.Get(ctx, key, obj)
		if lastErr != nil {
			return false, nil
		}
		return ready == nil || ready(obj), nil
	})
	if err != nil {
		if lastErr != nil {
			return fmt.Errorf("waiting for %s: %w (last read: %w)", key, err, lastErr)
		}
		return fmt.Errorf("waiting for %s to be ready: %w", key, err)
	}
	return nil
}

// CRDEstablished is a ready function for CreateAndWait and WaitFor: it reports whether
// a CustomResourceDefinition has the condition Established=True.
func CRDEstablished(obj client.Object) bool {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return false
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

func describe(c client.Client, obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		if gvk, err := c.GroupVersionKindFor(obj); err == nil {
			kind = gvk.Kind
		}
	}
	return fmt.Sprintf("%s %s", kind, client.ObjectKeyFromObject(obj))
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

// sanitize turns s into a DNS label of at most limit characters.
func sanitize(s string, limit int) string {
	s = notDNS.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > limit {
		s = s[:limit]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		return "test"
	}
	return s
}

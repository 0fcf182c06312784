//go:build integration

package api

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestSamples applies every manifest of config/samples with a server-side dry run: the
// examples the docs point at must be accepted as written, and cover every kind.
func TestSamples(t *testing.T) {
	ctx := context.Background()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"fleet-system", "gitfleet-system"} {
		err := hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found in config/samples (err %v)", err)
	}
	objs, err := envtest.ApplyYAMLFiles(ctx, hub.Client, true, files...)
	if err != nil {
		t.Fatalf("server-side dry-run apply of config/samples = %v, want accepted", err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
	}
	for _, k := range []string{"GitSource", "MemberCluster", "Placement", "Override", "Pipeline", "Promotion", "ClusterSync"} {
		if !kinds[k] {
			t.Errorf("config/samples has no %s", k)
		}
	}
}

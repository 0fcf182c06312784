//go:build integration

package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// restartAPIServer stops kube-apiserver and starts it again on the same port with the
// same serving certificates (etcd keeps running), as a control plane restart does.
func restartAPIServer(t *testing.T, c *envtest.Cluster, down time.Duration) {
	t.Helper()
	api := c.Env.ControlPlane.APIServer
	backup := t.TempDir()
	entries, err := os.ReadDir(api.CertDir)
	if err != nil {
		t.Fatalf("reading the API server's cert dir: %v", err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(api.CertDir, e.Name()))
		if err != nil {
			t.Fatalf("copying %s: %v", e.Name(), err)
		}
		if err := os.WriteFile(filepath.Join(backup, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Kill it (a crash; a graceful stop takes half a minute), by the id of the process
	// this test started, found by its port.
	if pid := apiServerPID(api.Port); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := api.Stop(); err != nil {
		t.Logf("stopping kube-apiserver: %v", err)
	}
	time.Sleep(down)
	api.CertDir = backup
	if err := api.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
}

// apiServerPID finds the kube-apiserver process serving port.
func apiServerPID(port string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range args {
			if a == "--secure-port="+port {
				return pid
			}
		}
	}
	return 0
}

func TestAPIServerRestartMidApply(t *testing.T) {
	envtest.SkipIfShort(t)
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := envtest.StartForTest(t, envtest.Options{Name: "restart", AddToScheme: []func(*runtime.Scheme) error{v1alpha1.AddToScheme}})
	t.Cleanup(func() { // a graceful stop takes half a minute
		if pid := apiServerPID(c.Env.ControlPlane.APIServer.Port); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	done, err := startAgent(ctx, c, "")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { cancel(); <-done }()

	f := newFixture(t)
	f.c = c.Client
	f.ns = envtest.NewNamespace(t, c.Client)
	files := map[string]string{}
	const perNS, namespaces = 150, 4
	for n := range namespaces {
		ns := fmt.Sprintf("%s-%d", f.prefix, n)
		files[fmt.Sprintf("app/%s/ns.yaml", ns)] = namespaceYAML(ns)
		for i := range perNS {
			files[fmt.Sprintf("app/%s/cm-%03d.yaml", ns, i)] = configMapYAML(ns, fmt.Sprintf("cm-%03d", i), map[string]string{"i": fmt.Sprint(i)})
		}
	}
	sha := f.push(files)
	f.createSync(nil)

	// Restart the API server once some objects are in and the apply is not done.
	labelled := func() int {
		list := &corev1.ConfigMapList{}
		if err := c.Client.List(ctx, list, client.MatchingLabels{v1alpha1.ClusterSyncLabel: f.ns + ".fleet"}); err != nil {
			return -1
		}
		return len(list.Items)
	}
	g.Eventually(labelled, envtest.EventuallyTimeout, 20*time.Millisecond).Should(BeNumerically(">", 10))
	before := labelled()
	restartAPIServer(t, c, 2*time.Second)
	t.Logf("restarted the API server with %d of %d ConfigMaps applied", before, perNS*namespaces)
	g.Expect(before).To(BeNumerically("<", perNS*namespaces), "the apply finished before the restart")

	// It converges: everything applied, in the inventory, nothing orphaned.
	cs := waitAppliedLong(f, sha)
	g.Expect(cs.Status.Inventory.Count).To(BeEquivalentTo(perNS*namespaces + namespaces))
	g.Expect(labelled()).To(Equal(perNS * namespaces))

	// Remove a namespace's objects and restart in the middle of pruning.
	var del []string
	for i := range perNS {
		del = append(del, fmt.Sprintf("app/%s-0/cm-%03d.yaml", f.prefix, i))
	}
	sha2 := f.push(nil, del...)
	g.Eventually(labelled, envtest.EventuallyTimeout, 20*time.Millisecond).Should(BeNumerically("<", perNS*namespaces))
	restartAPIServer(t, c, time.Second)
	waitAppliedLong(f, sha2)
	g.Eventually(labelled, envtest.EventuallyTimeout).Should(Equal(perNS * (namespaces - 1)))
	// The pass that was cut kept the objects it could not delete in the inventory; the
	// next one deletes them and drops them.
	g.Eventually(func() int32 { return f.get().Status.Inventory.Count }, envtest.EventuallyTimeout).
		Should(BeEquivalentTo(perNS*(namespaces-1) + namespaces))
	cs = f.get()
	inv := map[manifest.Key]bool{}
	for _, ref := range cs.Status.Inventory.Entries {
		inv[manifest.KeyOfRef(ref)] = true
	}
	list := &corev1.ConfigMapList{}
	g.Expect(c.Client.List(ctx, list, client.MatchingLabels{v1alpha1.ClusterSyncLabel: f.ns + ".fleet"})).To(Succeed())
	for _, cm := range list.Items {
		g.Expect(inv).To(HaveKey(manifest.Key{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}), "orphan %s/%s", cm.Namespace, cm.Name)
	}
	g.Expect(inv).To(HaveLen(perNS*(namespaces-1) + namespaces))
}

// waitAppliedLong is waitApplied with room for a restart and the client's backoff.
func waitAppliedLong(f *fixture, sha string) *v1alpha1.ClusterSync {
	f.t.Helper()
	NewWithT(f.t).Eventually(func() string {
		cs := f.get()
		return cs.Status.AppliedCommit + " " + cs.Status.Summary
	}, 2*time.Minute, 200*time.Millisecond).Should(HavePrefix(sha + " "))
	return f.get()
}

//go:build integration

package agent_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// killSwitch stands for a kill -9 of the agent: once `after` applies of a resource went
// through, every later request of the agent fails before it reaches the API server, so
// nothing the agent would have written after that point (inventory, status) is stored.
type killSwitch struct {
	next     http.RoundTripper
	resource string
	after    int

	mu      sync.Mutex
	applies int
	killed  bool
}

func (k *killSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	k.mu.Lock()
	killed := k.killed
	k.mu.Unlock()
	if killed {
		return nil, errors.New("agent killed")
	}
	resp, err := k.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPatch && resp.StatusCode < 300 && strings.Contains(req.URL.Path, "/"+k.resource+"/") {
		k.mu.Lock()
		k.applies++
		if k.applies >= k.after {
			k.killed = true
		}
		k.mu.Unlock()
	}
	return resp, err
}

func (k *killSwitch) isKilled() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.killed
}

// TestCrashMidApplyOfANewKind is the chaos run's orphan: a commit brings many objects of
// a kind the ClusterSync never held; the agent dies after some are created and before
// any inventory write of the pass; the objects are removed from Git; the agent restarts.
// They must be pruned, and the ClusterSync must not say Ready=True while they exist.
func TestCrashMidApplyOfANewKind(t *testing.T) {
	envtest.SkipIfShort(t)
	g := NewWithT(t)
	ctx := context.Background()
	c := envtest.StartForTest(t, envtest.Options{Name: "crash", AddToScheme: []func(*runtime.Scheme) error{v1alpha1.AddToScheme}})
	t.Cleanup(func() { // a graceful stop takes half a minute
		if pid := apiServerPID(c.Env.ControlPlane.APIServer.Port); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	kill := &killSwitch{resource: "serviceaccounts", after: 40}
	actx, stop := context.WithCancel(ctx)
	done, err := startAgent(actx, c, "", func(cfg *rest.Config) {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { kill.next = rt; return kill })
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { stop(); <-done })

	f := newFixture(t)
	f.c = c.Client
	f.ns = envtest.NewNamespace(t, c.Client)
	sha1 := f.push(map[string]string{"app/cm.yaml": configMapYAML(f.ns, "base", map[string]string{"a": "1"})})
	f.createSync(nil)
	f.waitApplied(sha1)

	const accounts = 300
	files := map[string]string{}
	var names []string
	for i := range accounts {
		p := fmt.Sprintf("app/sa-%03d.yaml", i)
		files[p] = fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-%03d\n  namespace: %s\n", i, f.ns)
		names = append(names, p)
	}
	f.push(files)
	g.Eventually(kill.isKilled, envtest.EventuallyTimeout, 10*time.Millisecond).Should(BeTrue(), "the agent never applied the ServiceAccounts")
	stop()
	<-done

	labelled := func() int {
		list := &corev1.ServiceAccountList{}
		if err := c.Client.List(ctx, list, client.InNamespace(f.ns), client.MatchingLabels{v1alpha1.ClusterSyncLabel: f.ns + ".fleet"}); err != nil {
			return -1
		}
		return len(list.Items)
	}
	left := labelled()
	t.Logf("the agent died with %d of %d ServiceAccounts created", left, accounts)
	g.Expect(left).To(SatisfyAll(BeNumerically(">", 0), BeNumerically("<", accounts)))

	sha3 := f.push(nil, names...)
	actx2, stop2 := context.WithCancel(ctx)
	done2, err := startAgent(actx2, c, "")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { stop2(); <-done2 })

	// Never green at the new commit while an orphan is there; the orphans go.
	var greenWithOrphans string
	g.Eventually(func() string {
		cs := f.get()
		n := labelled()
		ready := apimeta.FindStatusCondition(cs.Status.Conditions, v1alpha1.ReadyCondition)
		isReady := ready != nil && ready.Status == metav1.ConditionTrue && cs.Status.AppliedCommit == sha3
		if isReady && n > 0 && greenWithOrphans == "" {
			greenWithOrphans = fmt.Sprintf("Ready=True (%s) at %s with %d orphaned ServiceAccounts", cs.Status.Summary, sha3[:7], n)
		}
		return fmt.Sprintf("%d labelled ServiceAccounts, ready at the new commit: %v", n, isReady)
	}, envtest.EventuallyTimeout, 50*time.Millisecond).Should(Equal("0 labelled ServiceAccounts, ready at the new commit: true"),
		"orphans after the restart (%s)", greenWithOrphans)
	g.Expect(greenWithOrphans).To(BeEmpty())
	cs := f.get()
	g.Expect(cs.Status.Inventory.Count).To(BeEquivalentTo(1), "inventory %v", cs.Status.Inventory.Entries)
}

//go:build integration

package agent_test

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestDeletionPrunes deletes a ClusterSync with the default deletionPolicy (MirrorPrune)
// and applyPolicy.prune (true): the agent deletes what it applied, except what the prune
// rules keep (a Namespace without pruneNamespaces, an object annotated prune=disabled),
// and only then lets the ClusterSync go.
func TestDeletionPrunes(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	keep := strings.Replace(configMapYAML(ns, "keep", map[string]string{"x": "y"}), "metadata:\n", "metadata:\n  annotations:\n    fleet.gitfleet.dev/prune: disabled\n", 1)
	sha := f.push(map[string]string{
		"web/_ns/ns.yaml":          namespaceYAML(ns),
		"web/" + ns + "/cm.yaml":   configMapYAML(ns, "settings", map[string]string{"color": "blue"}),
		"web/" + ns + "/svc.yaml":  serviceYAML(ns, "web"),
		"web/" + ns + "/keep.yaml": keep,
	})
	f.createSync(nil)
	cs := f.waitApplied(sha)
	g.Expect(cs.Finalizers).To(ContainElement(v1alpha1.Finalizer), "finalizer added on the first reconcile")
	g.Expect(cs.Spec.DeletionPolicy).To(Equal(v1alpha1.DeletionMirrorPrune), "the API server defaults deletionPolicy")

	g.Expect(f.c.Delete(f.ctx, cs)).To(Succeed())
	g.Eventually(f.gone, envtest.EventuallyTimeout).Should(BeTrue(), "the ClusterSync is deleted once its objects are")
	g.Expect(f.obj("v1", "ConfigMap", ns, "settings")).To(BeNil(), "ConfigMap settings was applied: deleted with the ClusterSync")
	g.Expect(f.obj("v1", "Service", ns, "web")).To(BeNil(), "Service web was applied: deleted with the ClusterSync")
	g.Expect(f.obj("v1", "ConfigMap", ns, "keep")).NotTo(BeNil(), "prune=disabled keeps ConfigMap keep")
	g.Expect(f.obj("v1", "Namespace", "", ns)).NotTo(BeNil(), "Namespaces are not deleted without pruneNamespaces")
	g.Eventually(f.events, envtest.EventuallyTimeout).Should(ContainElement(HavePrefix("Pruned: deleted 2 applied objects with the ClusterSync")))
}

// TestDeletionOrphans deletes ClusterSyncs that leave their objects: applyPolicy.prune
// false (deletionPolicy MirrorPrune), and deletionPolicy Orphan. The objects stay, with
// their labels.
func TestDeletionOrphans(t *testing.T) {
	for name, mutate := range map[string]func(*v1alpha1.ClusterSync){
		"prune false": func(cs *v1alpha1.ClusterSync) { cs.Spec.ApplyPolicy.Prune = ptr.To(false) },
		"Orphan":      func(cs *v1alpha1.ClusterSync) { cs.Spec.DeletionPolicy = v1alpha1.DeletionOrphan },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			g := NewWithT(t)
			ns := f.prefix + "-app"
			sha := f.push(map[string]string{
				"web/_ns/ns.yaml":        namespaceYAML(ns),
				"web/" + ns + "/cm.yaml": configMapYAML(ns, "settings", map[string]string{"color": "blue"}),
			})
			f.createSync(mutate)
			cs := f.waitApplied(sha)
			g.Expect(cs.Finalizers).To(ContainElement(v1alpha1.Finalizer))

			g.Expect(f.c.Delete(f.ctx, cs)).To(Succeed())
			g.Eventually(f.gone, envtest.EventuallyTimeout).Should(BeTrue())
			cm := f.obj("v1", "ConfigMap", ns, "settings")
			g.Expect(cm).NotTo(BeNil(), "the ConfigMap stays when the ClusterSync is deleted")
			g.Expect(cm.GetLabels()).To(HaveKeyWithValue(v1alpha1.ClusterSyncLabel, f.ns+".fleet"))
		})
	}
}

// gone reports whether the fixture's ClusterSync no longer exists.
func (f *fixture) gone() bool {
	err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "fleet"}, &v1alpha1.ClusterSync{})
	return apierrors.IsNotFound(err)
}

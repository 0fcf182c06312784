//go:build integration

package agent_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/forge"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[1]s.example.com
spec:
  group: example.com
  names:
    kind: %[2]s
    plural: %[1]s
    singular: %[3]s
    listKind: %[2]sList
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
`

func TestApplyUpdatePruneAndCRDs(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha1 := f.push(map[string]string{
		"gitfleet.json":           `{"source":{"repository":"https://example.com/fleet.git","commit":"0123456789abcdef"},"stage":"dev"}`,
		"web/_ns/ns.yaml":         namespaceYAML(ns),
		"web/" + ns + "/cm.yaml":  configMapYAML(ns, "settings", map[string]string{"color": "blue"}),
		"web/" + ns + "/old.yaml": configMapYAML(ns, "old", map[string]string{"a": "b"}),
		"web/" + ns + "/svc.yaml": serviceYAML(ns, "web"),
	})
	f.createSync(nil)
	cs := f.waitApplied(sha1)
	g.Expect(cs.Status.AppliedSourceRevision).To(Equal("0123456789abcdef"))
	g.Expect(cs.Status.Inventory).NotTo(BeNil())
	g.Expect(cs.Status.Inventory.Count).To(BeEquivalentTo(4))
	cm := f.obj("v1", "ConfigMap", ns, "settings")
	g.Expect(cm).NotTo(BeNil())
	g.Expect(cm.GetLabels()).To(HaveKeyWithValue(v1alpha1.ManagedByLabel, v1alpha1.ManagedByValue))
	g.Expect(cm.GetLabels()).To(HaveKeyWithValue(v1alpha1.ClusterSyncLabel, f.ns+".fleet"))
	g.Eventually(f.condition(v1alpha1.ReadyCondition), envtest.EventuallyTimeout).Should(HavePrefix("True/"))
	g.Eventually(f.latestStatus(sha1), envtest.EventuallyTimeout).Should(Equal("success: applied 4 objects, all healthy"))
	g.Expect(f.get().Status.ObservedGeneration).To(Equal(f.get().Generation))
	// Unchanged re-syncs (every second here) write nothing.
	rv := f.get().ResourceVersion
	g.Consistently(func() string { return f.get().ResourceVersion }, 3*time.Second, 100*time.Millisecond).Should(Equal(rv))

	// Update one object, remove one, and add a CRD with a custom resource in one commit.
	sha2 := f.push(map[string]string{
		"web/" + ns + "/cm.yaml":     configMapYAML(ns, "settings", map[string]string{"color": "green"}),
		"web/_cluster/crd.yaml":      fmt.Sprintf(widgetCRD, "gadgets", "Gadget", "gadget"),
		"web/" + ns + "/gadget.yaml": fmt.Sprintf("apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g1\n  namespace: %s\nspec:\n  size: 3\n", ns),
	}, "web/"+ns+"/old.yaml")
	cs = f.waitApplied(sha2)
	g.Expect(f.obj("v1", "ConfigMap", ns, "settings").Object["data"]).To(HaveKeyWithValue("color", "green"))
	g.Eventually(func() bool { return f.obj("v1", "ConfigMap", ns, "old") == nil }, envtest.EventuallyTimeout).Should(BeTrue())
	g.Expect(f.obj("example.com/v1", "Gadget", ns, "g1")).NotTo(BeNil())
	g.Expect(cs.Status.Inventory.Count).To(BeEquivalentTo(5))
	g.Expect(cs.Status.Objects).To(ContainElement(HaveField("Action", v1alpha1.ActionPruned)))

	// A namespace that leaves Git is not deleted unless the policy allows it.
	sha3 := f.push(nil, "web/_ns/ns.yaml")
	cs = f.waitApplied(sha3)
	g.Expect(f.obj("v1", "Namespace", "", ns)).NotTo(BeNil())
	g.Expect(cs.Status.Inventory.Count).To(BeEquivalentTo(4))

	// An object annotated prune=disabled is kept when it leaves Git.
	keep := strings.Replace(configMapYAML(ns, "keep", map[string]string{"x": "y"}), "metadata:\n", "metadata:\n  annotations:\n    fleet.gitfleet.dev/prune: disabled\n", 1)
	f.waitApplied(f.push(map[string]string{"web/" + ns + "/keep.yaml": keep}))
	f.waitApplied(f.push(nil, "web/"+ns+"/keep.yaml"))
	g.Expect(f.obj("v1", "ConfigMap", ns, "keep")).NotTo(BeNil())
}

func TestInvalidObjectAmongValid(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{
		"app/ns.yaml":      namespaceYAML(ns),
		"app/good.yaml":    configMapYAML(ns, "good", map[string]string{"a": "b"}),
		"app/bad.yaml":     fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: %s\nspec:\n  replicas: 1\n", ns),
		"app/unknown.yaml": fmt.Sprintf("apiVersion: nothing.example.com/v1\nkind: Nothing\nmetadata:\n  name: nothing-1\n  namespace: %s\n", ns),
	})
	f.createSync(nil)
	g.Eventually(f.condition(v1alpha1.AppliedCondition), envtest.EventuallyTimeout).Should(And(
		HavePrefix("False/"+v1alpha1.ApplyFailedReason), ContainSubstring("Deployment.apps "+ns+"/broken"),
		ContainSubstring("unknown kind")))
	g.Expect(f.obj("v1", "ConfigMap", ns, "good")).NotTo(BeNil())
	g.Expect(f.get().Status.LastAttemptedCommit).To(Equal(sha))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(HavePrefix("failure: 2 of 4 objects failed"))
	g.Eventually(f.events, envtest.EventuallyTimeout).Should(ContainElement(HavePrefix(v1alpha1.ApplyFailedReason)))
}

func TestDriftCorrected(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{
		"app/ns.yaml":  namespaceYAML(ns),
		"app/cm.yaml":  configMapYAML(ns, "settings", map[string]string{"color": "blue"}),
		"app/dep.yaml": deploymentYAML(ns, "api", 2, "nginx:1.27"),
	})
	f.createSync(nil)
	f.waitApplied(sha)
	f.markDeploymentReady(ns, "api")
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(HavePrefix("success:"))

	// Another field manager changes an owned field.
	start := time.Now()
	patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": ns}, "data": map[string]any{"color": "red"}}}
	g.Expect(f.c.Patch(f.ctx, patch, client.Apply, client.FieldOwner("intruder"), client.ForceOwnership)).To(Succeed())
	g.Eventually(func() string {
		return fmt.Sprint(f.obj("v1", "ConfigMap", ns, "settings").Object["data"])
	}, 5*time.Second, 50*time.Millisecond).Should(ContainSubstring("color:blue"))
	t.Logf("drift corrected %s after the change", time.Since(start))
	// Wait for this drift's report: an earlier correction may still be the condition.
	g.Eventually(f.condition(v1alpha1.DriftedCondition), envtest.EventuallyTimeout).Should(And(
		HavePrefix("False/"+v1alpha1.DriftCorrectedReason), ContainSubstring(".data.color")))
	g.Eventually(func() []string {
		var out []string
		for _, s := range gh.Statuses(f.repo, sha) {
			out = append(out, s.State+": "+s.Description)
		}
		return out
	}, envtest.EventuallyTimeout).Should(ContainElements("failure: drift: 1 object differs", "success: applied 3 objects, all healthy"))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(HavePrefix("success:"))
	g.Eventually(f.events, envtest.EventuallyTimeout).Should(ContainElement(HavePrefix(v1alpha1.DriftCorrectedReason)))

	// A field gitfleet does not own is not drift: a label added by someone else stays.
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": ns, "labels": map[string]any{"team": "blue"}}}}
	g.Expect(f.c.Patch(f.ctx, other, client.Apply, client.FieldOwner("someone"))).To(Succeed())
	g.Consistently(func() map[string]string { return f.obj("v1", "ConfigMap", ns, "settings").GetLabels() },
		2*time.Second, 100*time.Millisecond).Should(HaveKeyWithValue("team", "blue"))
	g.Expect(f.get().Status.DriftedObjects).To(BeZero())

	// A deleted object is drift too, and is created again.
	g.Expect(f.c.Delete(f.ctx, f.obj("v1", "ConfigMap", ns, "settings"))).To(Succeed())
	g.Eventually(func() bool { return f.obj("v1", "ConfigMap", ns, "settings") != nil }, 5*time.Second, 50*time.Millisecond).Should(BeTrue())
}

func TestDriftReported(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{
		"app/ns.yaml":  namespaceYAML(ns),
		"app/dep.yaml": deploymentYAML(ns, "api", 2, "nginx:1.27"),
		"app/ign.yaml": strings.Replace(configMapYAML(ns, "ignored", map[string]string{"a": "1", "b": "1"}), "metadata:\n",
			"metadata:\n  annotations:\n    fleet.gitfleet.dev/drift-ignore-fields: .data.a\n", 1),
	})
	f.createSync(func(cs *v1alpha1.ClusterSync) { cs.Spec.ApplyPolicy.Drift = v1alpha1.DriftReport })
	f.waitApplied(sha)
	f.markDeploymentReady(ns, "api")

	start := time.Now()
	scale := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": ns}, "spec": map[string]any{"replicas": int64(5)}}}
	g.Expect(f.c.Patch(f.ctx, scale, client.Apply, client.FieldOwner("kubectl-scale"), client.ForceOwnership)).To(Succeed())
	g.Eventually(func() []v1alpha1.DriftEntry { return f.get().Status.Drift }, 5*time.Second, 50*time.Millisecond).Should(ContainElement(
		And(HaveField("Path", ".spec.replicas"), HaveField("ValueInCluster", "5"), HaveField("ValueInGit", "2"))))
	t.Logf("drift reported %s after the change", time.Since(start))
	g.Expect(f.condition(v1alpha1.DriftedCondition)()).To(HavePrefix("True/" + v1alpha1.DriftDetectedReason))
	g.Expect(f.condition(v1alpha1.ReadyCondition)()).To(HavePrefix("False/" + v1alpha1.DriftDetectedReason))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(Equal("failure: drift: 1 object differs"))
	// Left as it is under Report.
	g.Consistently(func() any {
		return f.obj("apps/v1", "Deployment", ns, "api").Object["spec"].(map[string]any)["replicas"]
	}, 2*time.Second, 200*time.Millisecond).Should(BeEquivalentTo(5))

	// An ignored field is not drift.
	ign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "ignored", "namespace": ns}, "data": map[string]any{"a": "2"}}}
	g.Expect(f.c.Patch(f.ctx, ign, client.Apply, client.FieldOwner("other"), client.ForceOwnership)).To(Succeed())
	g.Consistently(func() int32 { return f.get().Status.DriftedObjects }, 2*time.Second, 200*time.Millisecond).Should(BeEquivalentTo(1))

	// Reverting the change clears the drift.
	scale = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": ns}, "spec": map[string]any{"replicas": int64(2)}}}
	g.Expect(f.c.Patch(f.ctx, scale, client.Apply, client.FieldOwner("kubectl-scale"), client.ForceOwnership)).To(Succeed())
	g.Eventually(f.condition(v1alpha1.DriftedCondition), 5*time.Second).Should(HavePrefix("False/" + v1alpha1.NoDriftReason))
}

func TestTakeover(t *testing.T) {
	for _, tc := range []struct {
		policy     v1alpha1.TakeoverPolicy
		same       bool
		wantTaken  bool
		wantReason string
	}{
		{v1alpha1.TakeoverAlways, false, true, ""},
		{v1alpha1.TakeoverIfNoDiff, true, true, ""},
		{v1alpha1.TakeoverIfNoDiff, false, false, "differs from Git in .data.color"},
		{v1alpha1.TakeoverNever, true, false, "takeover: Never"},
	} {
		t.Run(fmt.Sprintf("%s-same-%v", tc.policy, tc.same), func(t *testing.T) {
			f := newFixture(t)
			g := NewWithT(t)
			ns := f.prefix + "-app"
			g.Expect(envtest.Apply(f.ctx, f.c, envtest.ApplyOptions{FieldOwner: "kubectl"},
				mustDecode(namespaceYAML(ns)), mustDecode(configMapYAML(ns, "existing", map[string]string{"color": "red"})))).To(Succeed())
			color := "blue"
			if tc.same {
				color = "red"
			}
			sha := f.push(map[string]string{
				"app/ns.yaml": namespaceYAML(ns),
				"app/cm.yaml": configMapYAML(ns, "existing", map[string]string{"color": color}),
			})
			f.createSync(func(cs *v1alpha1.ClusterSync) { cs.Spec.ApplyPolicy.Takeover = tc.policy })
			if tc.wantTaken {
				cs := f.waitApplied(sha)
				cm := f.obj("v1", "ConfigMap", ns, "existing")
				g.Expect(cm.GetLabels()).To(HaveKey(v1alpha1.ClusterSyncLabel))
				g.Expect(cm.Object["data"]).To(HaveKeyWithValue("color", color))
				g.Expect(cs.Status.Inventory.Entries).To(ContainElement(HaveField("Name", "existing")))
				// Adopted objects are released, not deleted, when they leave Git.
				f.waitApplied(f.push(nil, "app/cm.yaml"))
				cm = f.obj("v1", "ConfigMap", ns, "existing")
				g.Expect(cm).NotTo(BeNil())
				g.Expect(cm.GetLabels()).NotTo(HaveKey(v1alpha1.ClusterSyncLabel))
				return
			}
			g.Eventually(f.condition(v1alpha1.AppliedCondition), envtest.EventuallyTimeout).Should(And(
				HavePrefix("False/"+v1alpha1.TakeoverRefusedReason), ContainSubstring(tc.wantReason)))
			g.Expect(f.get().Status.Objects).To(ContainElement(And(HaveField("Action", v1alpha1.ActionSkipped),
				HaveField("Object.Name", "existing"))))
			cm := f.obj("v1", "ConfigMap", ns, "existing")
			g.Expect(cm.GetLabels()).NotTo(HaveKey(v1alpha1.ClusterSyncLabel))
			g.Expect(cm.Object["data"]).To(HaveKeyWithValue("color", "red"))
		})
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{
		"app/ns.yaml":  namespaceYAML(ns),
		"app/dep.yaml": deploymentYAML(ns, "api", 2, "nginx:1.27"),
		"app/job.yaml": fmt.Sprintf("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: %s\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox\n", ns),
	})
	f.createSync(func(cs *v1alpha1.ClusterSync) {
		cs.Spec.ApplyPolicy.HealthTimeout = &metav1.Duration{Duration: 4 * time.Second}
	})
	g.Eventually(f.condition(v1alpha1.HealthyCondition), envtest.EventuallyTimeout).Should(And(
		HavePrefix("Unknown/"+v1alpha1.ProgressingReason), ContainSubstring("Deployment.apps "+ns+"/api")))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(HavePrefix("pending: applied 3 objects, waiting for 2"))
	g.Expect(f.condition(v1alpha1.ReconcilingCondition)()).To(HavePrefix("True/"))
	// No controllers run in envtest: after the timeout, Healthy names what is not ready.
	g.Eventually(f.condition(v1alpha1.HealthyCondition), envtest.EventuallyTimeout).Should(And(
		HavePrefix("False/"+v1alpha1.HealthCheckFailedReason), ContainSubstring("not ready after 4s"), ContainSubstring("Job.batch "+ns+"/migrate")))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(HavePrefix("failure: 2 objects not ready after 4s"))
	g.Expect(f.condition(v1alpha1.ReconcilingCondition)()).To(Equal("<none>"))

	// The controllers catch up: the status says so, and everything turns healthy.
	f.markDeploymentReady(ns, "api")
	job := f.obj("batch/v1", "Job", ns, "migrate")
	now := time.Now().UTC().Format(time.RFC3339)
	job.Object["status"] = map[string]any{"startTime": now, "completionTime": now, "succeeded": int64(1),
		"conditions": []any{
			map[string]any{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
			map[string]any{"type": "Complete", "status": "True", "lastTransitionTime": now}}}
	g.Expect(f.c.Status().Update(f.ctx, job)).To(Succeed())
	g.Eventually(f.condition(v1alpha1.HealthyCondition), envtest.EventuallyTimeout).Should(HavePrefix("True/"))
	g.Eventually(f.latestStatus(sha), envtest.EventuallyTimeout).Should(Equal("success: applied 3 objects, all healthy"))
	g.Expect(f.condition(v1alpha1.ReadyCondition)()).To(HavePrefix("True/"))
}

func TestGitServerGoesAway(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{"app/ns.yaml": namespaceYAML(ns), "app/cm.yaml": configMapYAML(ns, "cm", map[string]string{"v": "1"})})
	f.createSync(nil)
	f.waitApplied(sha)

	gitProxy.setDown(true)
	defer gitProxy.setDown(false)
	g.Eventually(f.condition(v1alpha1.ReadyCondition), envtest.EventuallyTimeout).Should(HavePrefix("False/" + v1alpha1.FetchFailedReason))
	cs := f.get()
	g.Expect(cs.Status.AppliedCommit).To(Equal(sha))
	g.Expect(apimeta.FindStatusCondition(cs.Status.Conditions, v1alpha1.AppliedCondition).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(f.obj("v1", "ConfigMap", ns, "cm")).NotTo(BeNil())
	// Drift is still watched and corrected while the git server is away.
	patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": ns}, "data": map[string]any{"v": "2"}}}
	g.Expect(f.c.Patch(f.ctx, patch, client.Apply, client.FieldOwner("intruder"), client.ForceOwnership)).To(Succeed())
	g.Eventually(func() any { return f.obj("v1", "ConfigMap", ns, "cm").Object["data"] }, 5*time.Second).Should(HaveKeyWithValue("v", "1"))

	// A commit pushed while the server is away is applied once it is back.
	sha2 := f.push(map[string]string{"app/cm.yaml": configMapYAML(ns, "cm", map[string]string{"v": "3"})})
	gitProxy.setDown(false)
	f.waitApplied(sha2)
	g.Eventually(f.condition(v1alpha1.ReadyCondition), envtest.EventuallyTimeout).Should(HavePrefix("True/"))
}

func TestForgeOutage(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{"app/ns.yaml": namespaceYAML(ns), "app/cm.yaml": configMapYAML(ns, "cm", map[string]string{"v": "1"})})
	gh.InjectFault(forge.Fault{Count: 40, Status: 500, PathPrefix: "/repos/" + f.repo + "/"})
	f.createSync(nil)
	// Applying goes on while the forge fails.
	f.waitApplied(sha)
	g.Eventually(f.events, envtest.EventuallyTimeout).Should(ContainElement(HavePrefix(v1alpha1.ForgeUnavailableReason)))
	// The status is posted once the forge answers again.
	gh.ClearFaults()
	g.Eventually(f.latestStatus(sha), 90*time.Second).Should(Equal("success: applied 2 objects, all healthy"))
	// Only on change: one pending (maybe) and one success, not one per pass.
	time.Sleep(3 * time.Second)
	g.Expect(len(gh.Statuses(f.repo, sha))).To(BeNumerically("<=", 2))
	st, _ := gh.LatestStatus(f.repo, sha, "gitfleet/cluster/"+f.cluster)
	g.Expect(st.TargetURL).To(Equal("https://grafana.example.com/d/gitfleet"))
}

func TestHubReport(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	// The member's own API server stands in for the hub.
	hubNS := envtest.NewNamespace(t, f.c)
	mc := &v1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Namespace: hubNS, Name: f.cluster}}
	g.Expect(f.c.Create(f.ctx, mc)).To(Succeed())
	kc, err := kubeconfigBytes()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.c.Create(f.ctx, secret(f.ns, "hub", map[string][]byte{"kubeconfig": kc}))).To(Succeed())

	sha := f.push(map[string]string{"app/ns.yaml": namespaceYAML(ns), "app/cm.yaml": configMapYAML(ns, "cm", map[string]string{"v": "1"})})
	f.createSync(func(cs *v1alpha1.ClusterSync) {
		cs.Spec.Hub = &v1alpha1.HubSpec{KubeconfigSecretRef: v1alpha1.LocalObjectReference{Name: "hub"}, Namespace: hubNS}
	})
	f.waitApplied(sha)
	g.Eventually(func() string {
		_ = f.c.Get(f.ctx, client.ObjectKeyFromObject(mc), mc)
		return mc.Status.AppliedCommit
	}, envtest.EventuallyTimeout).Should(Equal(sha))
	g.Expect(mc.Status.LastHeartbeatTime).NotTo(BeNil())
	g.Expect(mc.Status.KubernetesVersion).NotTo(BeEmpty())
	g.Expect(mc.Status.APIVersions).To(ContainElements("apps/v1", "apps/v1/Deployment", "fleet.gitfleet.dev/v1alpha1"))
	g.Expect(mc.Status.Resources).NotTo(BeNil())
	g.Expect(mc.Status.Branch).To(Equal("env/dev"))
	g.Expect(mc.Status.Placements).To(ContainElement(And(HaveField("Placement", "app"), HaveField("Objects", BeEquivalentTo(2)))))
	g.Expect(apimeta.FindStatusCondition(mc.Status.Conditions, v1alpha1.HealthyCondition)).NotTo(BeNil())
	first := mc.Status.LastHeartbeatTime.Time
	g.Eventually(func() time.Time {
		_ = f.c.Get(f.ctx, client.ObjectKeyFromObject(mc), mc)
		return mc.Status.LastHeartbeatTime.Time
	}, envtest.EventuallyTimeout).Should(BeTemporally(">", first))
}

func TestInventoryInConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real API server")
	}
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	files := map[string]string{"app/ns.yaml": namespaceYAML(ns)}
	for i := range 1005 {
		files[fmt.Sprintf("app/cm-%04d.yaml", i)] = configMapYAML(ns, fmt.Sprintf("cm-%04d", i), map[string]string{"i": fmt.Sprint(i)})
	}
	sha := f.push(files)
	f.createSync(func(cs *v1alpha1.ClusterSync) { cs.Spec.Interval = metav1.Duration{Duration: 5 * time.Second} })
	g.Eventually(func() string { return f.get().Status.AppliedCommit }, 2*time.Minute, time.Second).Should(Equal(sha))
	inv := f.get().Status.Inventory
	g.Expect(inv.Count).To(BeEquivalentTo(1006))
	g.Expect(inv.Entries).To(BeEmpty())
	g.Expect(inv.ConfigMapRef).NotTo(BeNil())
	cm := f.obj("v1", "ConfigMap", f.ns, inv.ConfigMapRef.Name)
	g.Expect(cm).NotTo(BeNil())
	g.Expect(strings.Count(cm.Object["data"].(map[string]any)["inventory"].(string), "\n")).To(Equal(1006))

	// Back under the limit: the inventory returns to the status and the ConfigMap goes.
	var del []string
	for i := range 10 {
		del = append(del, fmt.Sprintf("app/cm-%04d.yaml", i))
	}
	sha2 := f.push(nil, del...)
	g.Eventually(func() string { return f.get().Status.AppliedCommit }, 2*time.Minute, time.Second).Should(Equal(sha2))
	inv = f.get().Status.Inventory
	g.Expect(inv.Count).To(BeEquivalentTo(996))
	g.Expect(inv.ConfigMapRef).To(BeNil())
	g.Expect(f.obj("v1", "ConfigMap", ns, "cm-0001")).To(BeNil())
	_ = ptr.To(0)
}

// markDeploymentReady writes the status a Deployment controller would (none runs in
// envtest).
func (f *fixture) markDeploymentReady(ns, name string) {
	f.t.Helper()
	dep := f.obj("apps/v1", "Deployment", ns, name)
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	dep.Object["status"] = map[string]any{"observedGeneration": dep.GetGeneration(), "replicas": replicas, "updatedReplicas": replicas,
		"readyReplicas": replicas, "availableReplicas": replicas,
		"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if err := f.c.Status().Update(f.ctx, dep); err != nil {
		f.t.Fatalf("updating the status of Deployment %s/%s: %v", ns, name, err)
	}
}

func TestConflictsReported(t *testing.T) {
	f := newFixture(t)
	g := NewWithT(t)
	ns := f.prefix + "-app"
	sha := f.push(map[string]string{"app/ns.yaml": namespaceYAML(ns), "app/cm.yaml": configMapYAML(ns, "cm", map[string]string{"color": "blue"})})
	f.createSync(func(cs *v1alpha1.ClusterSync) { cs.Spec.ApplyPolicy.Conflicts = v1alpha1.ConflictReport })
	f.waitApplied(sha)
	// Another field manager takes the field over; gitfleet does not force it back.
	patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": ns}, "data": map[string]any{"color": "red"}}}
	g.Expect(f.c.Patch(f.ctx, patch, client.Apply, client.FieldOwner("intruder"), client.ForceOwnership)).To(Succeed())
	g.Eventually(f.condition(v1alpha1.AppliedCondition), envtest.EventuallyTimeout).Should(And(
		HavePrefix("False/"+v1alpha1.ApplyFailedReason), ContainSubstring("conflict with another field manager")))
	// The drift pass reports on its own schedule: wait for it rather than read it once.
	// The object stays drifted while the conflict lasts (the failed correction does not
	// make the agent forget what it applied).
	g.Eventually(f.condition(v1alpha1.DriftedCondition), envtest.EventuallyTimeout).Should(HavePrefix("True/"))
	g.Consistently(f.condition(v1alpha1.DriftedCondition), 3*time.Second, 100*time.Millisecond).Should(HavePrefix("True/"))
	g.Consistently(func() any { return f.obj("v1", "ConfigMap", ns, "cm").Object["data"] }, 2*time.Second).Should(HaveKeyWithValue("color", "red"))
}

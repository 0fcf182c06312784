package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

func TestComputeConditions(t *testing.T) {
	type want struct{ ready, applied, healthy, drifted, reconciling, stalled string }
	str := func(c *metav1.Condition) string {
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
	for name, tc := range map[string]struct {
		o    observations
		want want
	}{
		"all good": {observations{known: true, objects: 3, applied: 3, healthTotal: 3, healthReady: 3},
			want{"True/Succeeded", "True/Succeeded", "True/Succeeded", "False/NoDrift", "", ""}},
		"first pass": {observations{},
			want{"Unknown/Progressing", "", "", "", "", ""}},
		"applying": {observations{known: true, reconciling: "applying commit abc"},
			want{"Unknown/Progressing", "True/Succeeded", "True/Succeeded", "False/NoDrift", "True/Progressing", ""}},
		"apply failed": {observations{known: true, objects: 3, applied: 2, applyFailed: []string{"ConfigMap a/b: bad"}},
			want{"False/ApplyFailed", "False/ApplyFailed", "True/Succeeded", "False/NoDrift", "", ""}},
		"takeover refused": {observations{known: true, objects: 1, refused: []string{"ConfigMap a/b: exists"}},
			want{"False/TakeoverRefused", "False/TakeoverRefused", "True/Succeeded", "False/NoDrift", "", ""}},
		"waiting for health": {observations{known: true, objects: 1, applied: 1, healthTotal: 1, notReadyCount: 1, notReady: "Deployment a/b"},
			want{"Unknown/Progressing", "True/Succeeded", "Unknown/Progressing", "False/NoDrift", "True/Progressing", ""}},
		"health timeout": {observations{known: true, objects: 1, applied: 1, healthTotal: 1, notReadyCount: 1, healthTimedOut: true},
			want{"False/HealthCheckFailed", "True/Succeeded", "False/HealthCheckFailed", "False/NoDrift", "", ""}},
		"drift reported": {observations{known: true, objects: 1, applied: 1, healthTotal: 1, healthReady: 1, drifted: 1},
			want{"False/DriftDetected", "True/Succeeded", "True/Succeeded", "True/DriftDetected", "", ""}},
		"drift corrected": {observations{known: true, objects: 1, applied: 1, healthTotal: 1, healthReady: 1, corrected: 1},
			want{"True/Succeeded", "True/Succeeded", "True/Succeeded", "False/DriftCorrected", "", ""}},
		"fetch failed keeps applied": {observations{known: true, objects: 1, applied: 1, healthTotal: 1, healthReady: 1,
			sourceErr: "unreachable", sourceReason: v1alpha1.FetchFailedReason},
			want{"False/FetchFailed", "True/Succeeded", "True/Succeeded", "False/NoDrift", "", ""}},
		"bad credentials stall": {observations{sourceErr: "no password", sourceReason: v1alpha1.AuthenticationFailedReason, stalled: true},
			want{"False/AuthenticationFailed", "", "", "", "", "True/AuthenticationFailed"}},
		"suspended": {observations{known: true, suspended: true},
			want{"False/Suspended", "True/Succeeded", "True/Succeeded", "False/NoDrift", "", ""}},
	} {
		cs := computeConditions(tc.o)
		got := want{str(cs.Ready), str(cs.Applied), str(cs.Healthy), str(cs.Drifted), str(cs.Reconciling), str(cs.Stalled)}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("%s: computeConditions() (-want +got):\n%s", name, diff)
		}
	}
}

func TestCommitStatus(t *testing.T) {
	for name, tc := range map[string]struct {
		o      observations
		state  string
		desc   string
		posted bool
	}{
		"success": {observations{known: true, objects: 42, applied: 42, healthTotal: 42, healthReady: 42}, "success", "applied 42 objects, all healthy", true},
		"fetch":   {observations{known: true, sourceErr: "x"}, "", "", false},
		"unknown": {observations{}, "", "", false},
		"failed":  {observations{known: true, objects: 3, applied: 2, applyFailed: []string{"ConfigMap a/b: " + strings.Repeat("x", 300)}}, "failure", "", true},
		"waiting": {observations{known: true, objects: 2, applied: 2, healthTotal: 2, healthReady: 1, notReadyCount: 1}, "pending", "applied 2 objects, waiting for 1 to become ready", true},
		"drift":   {observations{known: true, objects: 2, applied: 2, healthTotal: 2, healthReady: 2, drifted: 2}, "failure", "drift: 2 objects differ", true},
		"timeout": {observations{known: true, objects: 2, applied: 2, notReadyCount: 1, healthTimedOut: true, healthTimeout: time.Minute, notReady: "Deployment a/b (0/1)"}, "failure", "1 objects not ready after 1m0s: Deployment a/b (0/1)", true},
	} {
		state, desc, ok := commitStatus(tc.o)
		if ok != tc.posted || state != tc.state || tc.desc != "" && desc != tc.desc {
			t.Errorf("%s: commitStatus() = %q, %q, %v; want %q, %q, %v", name, state, desc, ok, tc.state, tc.desc, tc.posted)
		}
		if len(desc) > MaxStatusDescription {
			t.Errorf("%s: description has %d characters, more than %d", name, len(desc), MaxStatusDescription)
		}
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		o    observations
		want string
	}{
		{observations{known: true, objects: 42, applied: 42}, "42/42 applied, healthy"},
		{observations{known: true, objects: 42, applied: 40, applyFailed: []string{"a", "b"}}, "40/42 applied, 2 failed, healthy"},
		{observations{known: true, objects: 3, applied: 3, notReadyCount: 1, drifted: 2}, "3/3 applied, 1 not ready, 2 drifted"},
		{observations{sourceErr: "x"}, "fetch failed"},
	} {
		if got := summary(tc.o); got != tc.want {
			t.Errorf("summary(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestOwnerLabelValue(t *testing.T) {
	if got := OwnerLabelValue(types.NamespacedName{Namespace: "gitfleet-system", Name: "fleet"}); got != "gitfleet-system.fleet" {
		t.Errorf("OwnerLabelValue() = %q", got)
	}
	long := OwnerLabelValue(types.NamespacedName{Namespace: strings.Repeat("n", 60), Name: strings.Repeat("m", 60)})
	if len(long) > 63 || long == OwnerLabelValue(types.NamespacedName{Namespace: strings.Repeat("n", 60), Name: strings.Repeat("m", 61)}) {
		t.Errorf("OwnerLabelValue(long) = %q (%d characters), want at most 63 and distinct", long, len(long))
	}
}

func TestInventoryEncoding(t *testing.T) {
	refs := []v1alpha1.ObjectReference{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "api"},
		{Version: "v1", Kind: "Namespace", Name: "web"},
	}
	text := EncodeInventory(refs)
	if want := "/v1/Namespace//web\napps/v1/Deployment/web/api\n"; text != want {
		t.Errorf("EncodeInventory() = %q, want %q", text, want)
	}
	back, err := DecodeInventory(text)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1alpha1.ObjectReference{refs[1], refs[0]}, back); diff != "" {
		t.Errorf("DecodeInventory(EncodeInventory()) (-want +got):\n%s", diff)
	}
	if _, err := DecodeInventory("a/b\n"); err == nil {
		t.Error("DecodeInventory(bad line) = nil error, want one")
	}
}

func TestClusterResources(t *testing.T) {
	node := func(cpu, mem string) corev1.Node {
		return corev1.Node{Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
	}
	pod := func(node string, phase corev1.PodPhase, cpu string) corev1.Pod {
		return corev1.Pod{Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}, Status: corev1.PodStatus{Phase: phase}}
	}
	n, alloc, avail := ClusterResources([]corev1.Node{node("4", "8Gi"), node("2", "4Gi")},
		[]corev1.Pod{pod("a", corev1.PodRunning, "500m"), pod("a", corev1.PodSucceeded, "2"), pod("", corev1.PodPending, "1")})
	cpu, availCPU, mem := alloc[corev1.ResourceCPU], avail[corev1.ResourceCPU], alloc[corev1.ResourceMemory]
	if n != 2 || cpu.String() != "6" || availCPU.String() != "5500m" || mem.String() != "12Gi" {
		t.Errorf("ClusterResources() = %d, %v, %v", n, alloc, avail)
	}
}

func TestAPIVersions(t *testing.T) {
	got := APIVersions([]*metav1.APIResourceList{
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment"}, {Name: "deployments/status", Kind: "Deployment"}}},
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Kind: "Pod"}}},
		nil,
	})
	if diff := cmp.Diff([]string{"apps/v1", "apps/v1/Deployment", "v1", "v1/Pod"}, got); diff != "" {
		t.Errorf("APIVersions() (-want +got):\n%s", diff)
	}
}

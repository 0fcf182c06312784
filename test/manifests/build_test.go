package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repoRoot is the folder holding go.mod, two levels up from this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// build runs kustomize (krusty, as `kustomize build`) on dir and returns its objects in
// output order.
func build(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		// Through JSON, so that numbers are int64 as in objects decoded by client-go.
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(data); err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatalf("kustomize build %s: no objects", dir)
	}
	return objs
}

// memberOverlay writes a kustomization that includes the hub-member-access component for
// the member cluster name, as a fleet admin would, and returns its folder.
func memberOverlay(t testing.TB, root, name string) string {
	t.Helper()
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	component, err := filepath.Rel(dir, filepath.Join(root, "config", "hub-member-access", "component"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"kustomization.yaml": fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- member_cluster.yaml
components:
- %s
`, component),
		"member_cluster.yaml": fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: gitfleet-member-cluster
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: %s
`, name),
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func id(o *unstructured.Unstructured) string {
	s := o.GetKind() + " "
	if ns := o.GetNamespace(); ns != "" {
		s += ns + "/"
	}
	return s + o.GetName()
}

func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, id(o))
	}
	sort.Strings(out)
	return out
}

func find(objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestBuild builds every kustomization of config/ and checks that each holds what it
// is for.
func TestBuild(t *testing.T) {
	root := repoRoot(t)
	crds := []string{"clustersyncs", "gitsources", "memberclusters", "overrides", "pipelines", "placements", "promotions"}
	tests := map[string]struct {
		dir       string
		want      []string // kind [namespace/]name that must be in the output
		crds      []string // exactly these CRDs (plural names), nil for none
		namespace string   // every namespaced object must be in it
	}{
		"crd": {dir: "config/crd", crds: crds},
		"rbac/hub": {dir: "config/rbac/hub",
			want: []string{"ClusterRole gitfleet-hub"}},
		"rbac/agent": {dir: "config/rbac/agent",
			want: []string{"ClusterRole gitfleet-agent"}},
		"hub": {dir: "config/hub", crds: crds, namespace: "fleet-system", want: []string{
			"Namespace fleet-system",
			"ClusterRole gitfleet-hub",
			"ServiceAccount fleet-system/gitfleet-hub",
			"RoleBinding fleet-system/gitfleet-hub",
			"Role fleet-system/gitfleet-hub-leader-election",
			"RoleBinding fleet-system/gitfleet-hub-leader-election",
			"Deployment fleet-system/gitfleet-hub",
			"Service fleet-system/gitfleet-hub-webhook",
			"Service fleet-system/gitfleet-hub-metrics",
		}},
		"agent": {dir: "config/agent", crds: []string{"clustersyncs"}, namespace: "gitfleet-system", want: []string{
			"Namespace gitfleet-system",
			"ClusterRole gitfleet-agent",
			"ClusterRoleBinding gitfleet-agent",
			"ServiceAccount gitfleet-system/gitfleet-agent",
			"Role gitfleet-system/gitfleet-agent-leader-election",
			"RoleBinding gitfleet-system/gitfleet-agent-leader-election",
			"Deployment gitfleet-system/gitfleet-agent",
			"Service gitfleet-system/gitfleet-agent-metrics",
		}},
		"hub-member-access": {dir: "config/hub-member-access", namespace: "fleet-system", want: []string{
			"ServiceAccount fleet-system/gitfleet-agent-member-1",
			"Secret fleet-system/gitfleet-agent-member-1-token",
			"Role fleet-system/gitfleet-agent-member-1",
			"RoleBinding fleet-system/gitfleet-agent-member-1",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := build(t, filepath.Join(root, tc.dir))
			have := map[string]bool{}
			var gotCRDs []string
			for _, o := range objs {
				have[id(o)] = true
				if o.GetKind() == "CustomResourceDefinition" {
					gotCRDs = append(gotCRDs, strings.TrimSuffix(o.GetName(), ".fleet.gitfleet.dev"))
				}
				if tc.namespace != "" && o.GetNamespace() != "" && o.GetNamespace() != tc.namespace {
					t.Errorf("kustomize build %s: %s is not in namespace %s", tc.dir, id(o), tc.namespace)
				}
			}
			for _, w := range tc.want {
				if !have[w] {
					t.Errorf("kustomize build %s has no %s; it has %v", tc.dir, w, ids(objs))
				}
			}
			sort.Strings(gotCRDs)
			if strings.Join(gotCRDs, ",") != strings.Join(tc.crds, ",") {
				t.Errorf("kustomize build %s: CRDs %v, want %v", tc.dir, gotCRDs, tc.crds)
			}
			checkReferences(t, tc.dir, objs)
		})
	}
}

// checkReferences checks what the API server does not: role bindings name a role of the
// same output (or a ClusterRole of the generated RBAC) and a ServiceAccount of the same
// output; Deployments use their ServiceAccount; Services select a Deployment's pods and
// target a named port of its container.
func checkReferences(t *testing.T, dir string, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		switch o.GetKind() {
		case "RoleBinding", "ClusterRoleBinding":
			kind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
			name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			ns := o.GetNamespace()
			if kind == "ClusterRole" {
				ns = ""
			}
			if find(objs, kind, ns, name) == nil {
				t.Errorf("kustomize build %s: %s refers to %s %q, which the output does not hold", dir, id(o), kind, name)
			}
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subjects {
				m := s.(map[string]any)
				if m["kind"] == "ServiceAccount" && find(objs, "ServiceAccount", fmt.Sprint(m["namespace"]), fmt.Sprint(m["name"])) == nil {
					t.Errorf("kustomize build %s: %s binds ServiceAccount %v/%v, which the output does not hold", dir, id(o), m["namespace"], m["name"])
				}
			}
		case "Deployment":
			sa, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
			if find(objs, "ServiceAccount", o.GetNamespace(), sa) == nil {
				t.Errorf("kustomize build %s: %s runs as ServiceAccount %q, which the output does not hold", dir, id(o), sa)
			}
		case "Service":
			checkService(t, dir, objs, o)
		}
	}
}

func checkService(t *testing.T, dir string, objs []*unstructured.Unstructured, svc *unstructured.Unstructured) {
	t.Helper()
	selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	var ports map[string]bool
	for _, d := range objs {
		if d.GetKind() != "Deployment" || d.GetNamespace() != svc.GetNamespace() {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		matches := len(selector) > 0
		for k, v := range selector {
			if labels[k] != v {
				matches = false
			}
		}
		if !matches {
			continue
		}
		ports = map[string]bool{}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cps, _, _ := unstructured.NestedSlice(c.(map[string]any), "ports")
			for _, p := range cps {
				ports[fmt.Sprint(p.(map[string]any)["name"])] = true
			}
		}
	}
	if ports == nil {
		t.Errorf("kustomize build %s: %s selects %v, which no Deployment's pods carry", dir, id(svc), selector)
		return
	}
	sps, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range sps {
		target := fmt.Sprint(p.(map[string]any)["targetPort"])
		if !ports[target] {
			t.Errorf("kustomize build %s: %s targets port %q, which the selected container does not name", dir, id(svc), target)
		}
	}
}

// flagName matches a flag definition of the standard flag package:
// flag.String("name", ...) or flag.StringVar(&v, "name", ...).
var flagName = regexp.MustCompile(`flag\.[A-Za-z0-9]+\((?:&[A-Za-z0-9_.]+,\s*)?"([a-z0-9-]+)"`)

// definedFlags returns the flags that cmd/<command>/main.go defines, with the standard
// flag package or through controller-runtime's zap options.
func definedFlags(t *testing.T, root, command string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "cmd", command, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range flagName.FindAllStringSubmatch(string(src), -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatalf("no flag definitions found in cmd/%s/main.go", command)
	}
	// controller-runtime's zap.Options.BindFlags adds the logging flags.
	if strings.Contains(string(src), ".BindFlags(flag.CommandLine)") {
		for _, f := range []string{"zap-devel", "zap-encoder", "zap-log-level", "zap-stacktrace-level", "zap-time-encoding"} {
			out[f] = true
		}
	}
	return out
}

// TestDeploymentFlags checks that every argument of the hub and agent Deployments is a
// flag their command defines, that the images are the placeholders, and that the probes
// and security settings are there.
func TestDeploymentFlags(t *testing.T) {
	root := repoRoot(t)
	tests := map[string]struct {
		dir, namespace, name, command, image string
		wantArgs                             []string
		writable                             string // the folder flag that needs a writable volume
	}{
		"hub": {dir: "config/hub", namespace: "fleet-system", name: "gitfleet-hub", command: "gitfleet-hub", image: "gitfleet-hub:v0.1.0-dev",
			wantArgs: []string{"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--webhook-bind-address=:9292",
				"--leader-elect", "--namespace=fleet-system", "--data-dir=/var/lib/gitfleet-hub"},
			writable: "--data-dir"},
		"agent": {dir: "config/agent", namespace: "gitfleet-system", name: "gitfleet-agent", command: "gitfleet-agent", image: "gitfleet-agent:v0.1.0-dev",
			wantArgs: []string{"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--leader-elect", "--work-dir=/var/lib/gitfleet-agent"},
			writable: "--work-dir"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			defined := definedFlags(t, root, tc.command)
			d := find(build(t, filepath.Join(root, tc.dir)), "Deployment", tc.namespace, tc.name)
			if d == nil {
				t.Fatalf("kustomize build %s has no Deployment %s/%s", tc.dir, tc.namespace, tc.name)
			}
			containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
			if len(containers) != 1 {
				t.Fatalf("Deployment %s has %d containers, want 1", tc.name, len(containers))
			}
			c := containers[0].(map[string]any)
			if c["image"] != tc.image {
				t.Errorf("Deployment %s image = %v, want %s (the placeholder, set with kustomize images)", tc.name, c["image"], tc.image)
			}
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			for _, a := range args {
				flag, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !strings.HasPrefix(a, "--") || !defined[flag] {
					t.Errorf("Deployment %s argument %q: cmd/%s/main.go defines no flag %q", tc.name, a, tc.command, flag)
				}
			}
			if strings.Join(args, " ") != strings.Join(tc.wantArgs, " ") {
				t.Errorf("Deployment %s args = %q, want %q", tc.name, args, tc.wantArgs)
			}
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path"); got != path {
					t.Errorf("Deployment %s %s path = %q, want %q", tc.name, probe, got, path)
				}
			}
			if ro, _, _ := unstructured.NestedBool(c, "securityContext", "readOnlyRootFilesystem"); !ro {
				t.Errorf("Deployment %s: readOnlyRootFilesystem is not true", tc.name)
			}
			if nonRoot, _, _ := unstructured.NestedBool(d.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot"); !nonRoot {
				t.Errorf("Deployment %s: runAsNonRoot is not true", tc.name)
			}
			if _, ok, _ := unstructured.NestedMap(c, "resources", "requests"); !ok {
				t.Errorf("Deployment %s: no resource requests", tc.name)
			}
			// The folder flag must point into a mounted volume, since the root is read-only.
			var folder string
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, tc.writable+"="); ok {
					folder = v
				}
			}
			mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
			mounted := false
			for _, m := range mounts {
				if p := fmt.Sprint(m.(map[string]any)["mountPath"]); folder != "" && (folder == p || strings.HasPrefix(folder, p+"/")) {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("Deployment %s: %s=%q is not on a mounted volume (mounts %v)", tc.name, tc.writable, folder, mounts)
			}
		})
	}
}

// TestHubMemberAccess checks that the component names everything after the member
// cluster and leaves no placeholder behind.
func TestHubMemberAccess(t *testing.T) {
	root := repoRoot(t)
	objs := build(t, memberOverlay(t, root, "prod-eu-1"))
	want := []string{
		"Role fleet-system/gitfleet-agent-prod-eu-1",
		"RoleBinding fleet-system/gitfleet-agent-prod-eu-1",
		"Secret fleet-system/gitfleet-agent-prod-eu-1-token",
		"ServiceAccount fleet-system/gitfleet-agent-prod-eu-1",
	}
	if got := ids(objs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kustomize build of hub-member-access for prod-eu-1 = %q, want %q (the local-config ConfigMap must not be output)", got, want)
	}
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "CLUSTER_NAME") {
			t.Errorf("%s still holds the placeholder CLUSTER_NAME: %s", id(o), data)
		}
	}
	role := find(objs, "Role", "fleet-system", "gitfleet-agent-prod-eu-1")
	if role == nil {
		t.Fatal("no Role")
	}
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	if len(rules) != 2 {
		t.Fatalf("Role has %d rules, want 2", len(rules))
	}
	for _, r := range rules {
		names, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resourceNames")
		if strings.Join(names, ",") != "prod-eu-1" {
			t.Errorf("Role rule %v: resourceNames = %v, want [prod-eu-1]", r, names)
		}
	}
	sec := find(objs, "Secret", "fleet-system", "gitfleet-agent-prod-eu-1-token")
	if got := sec.GetAnnotations()["kubernetes.io/service-account.name"]; got != "gitfleet-agent-prod-eu-1" {
		t.Errorf("token Secret is for ServiceAccount %q, want gitfleet-agent-prod-eu-1", got)
	}
}

package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// The two clusters the Helm tests render for: an old one without the Prometheus operator
// and a new one with it.
var (
	oldCluster = Cluster{Name: "old", KubernetesVersion: "1.22.4", Labels: map[string]string{"region": "us"}}
	newCluster = Cluster{
		Name: "new", KubernetesVersion: "v1.30.2", Labels: map[string]string{"region": "eu"},
		APIVersions: []string{"v1", "apps/v1", "batch/v1", "autoscaling/v2", "apiextensions.k8s.io/v1", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"},
	}
)

func webSpec() *fleetv1.PlacementSpec {
	return &fleetv1.PlacementSpec{
		TargetNamespace: "web",
		Helm:            &fleetv1.HelmSource{Path: "charts/web", ValuesFiles: []string{"values-prod.yaml"}},
	}
}

func TestHelmCapabilitiesRenderPerCluster(t *testing.T) {
	r := New(Options{})
	in := input("shop", webSpec())
	old := mustRender(t, r, in, oldCluster)
	cur := mustRender(t, r, in, newCluster)

	for name, tc := range map[string]struct {
		objs        []Object
		hpaVersion  string
		sidecarMode string
		kubeVersion string
		monitor     bool
	}{
		"kubernetes 1.22 without monitoring": {objs: old, hpaVersion: "autoscaling/v2beta2", sidecarMode: "legacy", kubeVersion: "v1.22.4"},
		"kubernetes 1.30 with monitoring":    {objs: cur, hpaVersion: "autoscaling/v2", sidecarMode: "native", kubeVersion: "v1.30.2", monitor: true},
	} {
		t.Run(name, func(t *testing.T) {
			hpa := mustFind(t, tc.objs, "HorizontalPodAutoscaler", "shop-web")
			if got := hpa.GetAPIVersion(); got != tc.hpaVersion {
				t.Errorf("HPA apiVersion = %q, want %q", got, tc.hpaVersion)
			}
			cm := mustFind(t, tc.objs, "ConfigMap", "shop-metrics") // from the vendored subchart
			if got := str(t, cm, "data", "sidecarMode"); got != tc.sidecarMode {
				t.Errorf("subchart ConfigMap sidecarMode = %q, want %q", got, tc.sidecarMode)
			}
			if got := str(t, cm, "data", "kubeVersion"); got != tc.kubeVersion {
				t.Errorf("subchart ConfigMap kubeVersion = %q, want %q", got, tc.kubeVersion)
			}
			if got := find(tc.objs, "ServiceMonitor", "shop-metrics") != nil; got != tc.monitor {
				t.Errorf("ServiceMonitor rendered = %v, want %v (APIVersions %v)", got, tc.monitor, ids(tc.objs))
			}
		})
	}
}

func TestHelmOutput(t *testing.T) {
	r := New(Options{})
	objs := mustRender(t, r, input("shop", webSpec()), newCluster)

	want := []string{
		"apiextensions.k8s.io/v1 CustomResourceDefinition clusterwidgets.example.gitfleet.dev",
		"apiextensions.k8s.io/v1 CustomResourceDefinition widgets.example.gitfleet.dev",
		"example.gitfleet.dev/v1 ClusterWidget shop-web",
		"v1 ConfigMap web/shop-metrics",
		"v1 Service web/shop-web",
		"apps/v1 Deployment web/shop-web",
		"autoscaling/v2 HorizontalPodAutoscaler web/shop-web",
		"batch/v1 Job web/shop-web-migrate",
		"example.gitfleet.dev/v1 Widget web/shop-web",
		"monitoring.coreos.com/v1 ServiceMonitor web/shop-metrics",
	}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Errorf("Render(web) objects (-want +got):\n%s", diff)
	}

	job := mustFind(t, objs, "Job", "shop-web-migrate")
	if got := job.GetAnnotations()["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("hook Job annotation helm.sh/hook = %q, want it kept", got)
	}
	for _, o := range objs {
		if o.Object.GetAnnotations()[fleetv1.PlacementAnnotation] != "shop" || o.Object.GetAnnotations()[fleetv1.SourceRevisionAnnotation] != testRevision {
			t.Errorf("%s annotations = %v, want the provenance annotations", o.ID, o.Object.GetAnnotations())
		}
		if !strings.Contains(string(o.YAML), fleetv1.PlacementAnnotation+": shop\n") {
			t.Errorf("%s YAML lacks the placement annotation:\n%s", o.ID, o.YAML)
		}
	}
	if o := find(objs, "ClusterWidget", "shop-web"); o == nil || o.ID.Namespace != "" || !o.ClusterScoped {
		t.Errorf("ClusterWidget = %+v, want cluster scoped (its CRD says so) without a namespace", o)
	}
	if got, want := objs[0].FilePath("eu-1", "shop"), "clusters/eu-1/shop/_cluster/customresourcedefinition-clusterwidgets.example.gitfleet.dev.yaml"; got != want {
		t.Errorf("FilePath = %q, want %q", got, want)
	}
}

func TestHelmValuesOrder(t *testing.T) {
	spec := webSpec()
	spec.Helm.Values = rawJSON(t, map[string]any{
		"replicaCount": 5,
		"image":        map[string]any{"tag": "from-values"},
		"env":          map[string]any{"EXTRA": "x"},
	})
	spec.Overrides = []fleetv1.OverrideRule{{
		Name:       "eu-debug",
		HelmValues: rawJSON(t, map[string]any{"env": map[string]any{"LOG_LEVEL": "debug", "CLUSTER": "${CLUSTER_NAME}"}, "replicaCount": "${CLUSTER_REPLICAS}"}),
	}}
	replicas := int32(7)
	c := newCluster
	c.Replicas = &replicas
	objs := mustRender(t, New(Options{}), input("shop", spec), c)

	d := mustFind(t, objs, "Deployment", "shop-web")
	env := map[string]string{}
	containers, _, _ := unstructuredSlice(d.Object, "spec", "template", "spec", "containers")
	for _, e := range containers[0].(map[string]any)["env"].([]any) {
		m := e.(map[string]any)
		env[m["name"].(string)] = m["value"].(string)
	}
	wantEnv := map[string]string{
		"LOG_LEVEL": "debug",  // override helmValues over valuesFiles
		"REGION":    "global", // valuesFiles
		"EXTRA":     "x",      // values
		"CLUSTER":   "new",    // ${CLUSTER_NAME}
	}
	if diff := cmp.Diff(wantEnv, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if got := str(t, d, "spec", "replicas"); got != "7" {
		t.Errorf("replicas = %s, want 7 (${CLUSTER_REPLICAS} over values 5 over valuesFiles 3)", got)
	}
	if img := containers[0].(map[string]any)["image"]; img != "registry.example.com/web:from-values" {
		t.Errorf("image = %v, want the values tag over the chart default", img)
	}
}

func TestHelmReleaseAndNamespace(t *testing.T) {
	r := New(Options{})
	spec := &fleetv1.PlacementSpec{Helm: &fleetv1.HelmSource{Path: "charts/web"}}
	objs := mustRender(t, r, input("storefront", spec), oldCluster)
	if o := find(objs, "Deployment", "storefront-web"); o == nil || o.ID.Namespace != "default" {
		t.Errorf("Deployment = %v, want storefront-web in namespace default (release name = placement name)", ids(objs))
	}
	spec.Helm.ReleaseName = "front"
	spec.TargetNamespace = "shop"
	objs = mustRender(t, r, input("storefront", spec), oldCluster)
	if o := find(objs, "Deployment", "front-web"); o == nil || o.ID.Namespace != "shop" {
		t.Errorf("Deployment = %v, want front-web in namespace shop", ids(objs))
	}
}

func TestHelmSkipCRDs(t *testing.T) {
	spec := webSpec()
	spec.Helm.SkipCRDs = true
	objs := mustRender(t, New(Options{}), input("shop", spec), newCluster)
	if o := find(objs, "CustomResourceDefinition", "widgets.example.gitfleet.dev"); o != nil {
		t.Errorf("skipCRDs: output still has %s", o.ID)
	}
}

func TestHelmDisabledSubchart(t *testing.T) {
	spec := webSpec()
	spec.Helm.Values = rawJSON(t, map[string]any{"metrics": map[string]any{"enabled": false}})
	objs := mustRender(t, New(Options{}), input("shop", spec), newCluster)
	if o := find(objs, "ConfigMap", "shop-metrics"); o != nil {
		t.Errorf("metrics.enabled=false: output still has the subchart's %s", o.ID)
	}
}

func TestHelmLocalFileDependency(t *testing.T) {
	spec := &fleetv1.PlacementSpec{Helm: &fleetv1.HelmSource{Path: "charts/uses-common"}}
	objs := mustRender(t, New(Options{}), input("app", spec), oldCluster)
	cm := mustFind(t, objs, "ConfigMap", "app-common")
	if got := str(t, cm, "data", "greeting"); got != "bonjour" {
		t.Errorf("file:// dependency greeting = %q, want the parent's value bonjour", got)
	}
}

func TestHelmErrors(t *testing.T) {
	escapeRoot := copyTree(t, filepath.Join(testRoot, "charts", "common"))
	outside := filepath.Join(filepath.Dir(escapeRoot), "outside.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(escapeRoot, "templates", "stolen.yaml")); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		root      string
		helm      fleetv1.HelmSource
		target    error
		fragments []string
	}{
		"template error": {
			helm:      fleetv1.HelmSource{Path: "charts/broken-template"},
			target:    ErrRender,
			fragments: []string{"helm chart charts/broken-template", "broken-template/templates/deployment.yaml", "image.tag is required"},
		},
		"malformed YAML": {
			helm:      fleetv1.HelmSource{Path: "charts/broken-yaml"},
			target:    ErrRender,
			fragments: []string{"helm chart charts/broken-yaml", "broken-yaml/templates/configmap.yaml"},
		},
		"missing values file": {
			helm:      fleetv1.HelmSource{Path: "charts/web", ValuesFiles: []string{"values-prod.yaml", "values-missing.yaml"}},
			target:    ErrRender,
			fragments: []string{`helm valuesFiles[1] "values-missing.yaml"`, "no such file or directory"},
		},
		"values file outside the tree": {
			helm:      fleetv1.HelmSource{Path: "charts/web", ValuesFiles: []string{"../../../../go.mod"}},
			target:    ErrOutsideRoot,
			fragments: []string{`helm valuesFiles[0] "../../../../go.mod"`, "path escapes the source tree"},
		},
		"dependency not vendored": {
			helm:      fleetv1.HelmSource{Path: "charts/needs-network"},
			target:    ErrNeedsNetwork,
			fragments: []string{`dependency "redis" (https://charts.bitnami.com/bitnami, version "19.0.0") is not vendored under charts/`, "would need the network", "helm dependency build"},
		},
		"chart path outside the tree": {
			helm:      fleetv1.HelmSource{Path: "../../charts"},
			target:    ErrOutsideRoot,
			fragments: []string{"path escapes the source tree"},
		},
		"missing chart": {
			helm:      fleetv1.HelmSource{Path: "charts/nope"},
			target:    ErrRender,
			fragments: []string{"helm chart charts/nope", "no such file or directory"},
		},
		"symlink out of the tree": {
			root:      escapeRoot,
			helm:      fleetv1.HelmSource{Path: "."},
			target:    ErrOutsideRoot,
			fragments: []string{"templates/stolen.yaml", "path escapes the source tree"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := input("app", helmSpec(&tc.helm))
			if tc.root != "" {
				in.Root = tc.root
			}
			err := renderErr(t, New(Options{}), in, oldCluster)
			wantErr(t, err, tc.target, tc.fragments...)
			if got := Reason(err); got != fleetv1.RenderFailedReason {
				t.Errorf("Reason(%v) = %q, want %q", err, got, fleetv1.RenderFailedReason)
			}
		})
	}
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[f]
	}
	s, ok := cur.([]any)
	return s, ok, nil
}

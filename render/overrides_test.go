package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func deploymentTarget() *fleetv1.ResourceSelector {
	return &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment", Name: "api"}
}

func overrideObject(name string, rules ...fleetv1.OverrideRule) fleetv1.Override {
	return fleetv1.Override{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: fleetv1.OverrideSpec{Rules: rules}}
}

func overridesInput(t *testing.T) Input {
	spec := dirSpec("manifests", true)
	spec.TargetNamespace = "team-a"
	spec.Overrides = []fleetv1.OverrideRule{
		{
			Name:            "scale",
			ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
			Target:          deploymentTarget(),
			JSONPatch:       []fleetv1.JSONPatchOperation{{Op: "replace", Path: "/spec/replicas", Value: rawJSON(t, "${CLUSTER_REPLICAS}")}},
		},
		{
			Name: "region-label",
			Target: &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "backend"}}},
			JSONPatch: []fleetv1.JSONPatchOperation{
				{Op: "add", Path: "/metadata/labels/region", Value: rawJSON(t, "${CLUSTER_LABEL[region]}")},
				{Op: "add", Path: "/metadata/labels/cluster", Value: rawJSON(t, "${CLUSTER_NAME}")},
			},
		},
	}
	in := input("team-a", spec)
	in.Overrides = []fleetv1.Override{
		overrideObject("eu-images", fleetv1.OverrideRule{
			Name:            "eu-mirror",
			ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}},
			Target:          &fleetv1.ResourceSelector{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "team-a"},
			JSONPatch: []fleetv1.JSONPatchOperation{{
				Op: "replace", Path: "/spec/template/spec/containers/0/image",
				Value: rawJSON(t, "mirror.${CLUSTER_PROPERTY[mirror]}/api:1.0.0"),
			}},
		}),
		overrideObject("cleanup", fleetv1.OverrideRule{
			Name: "no-config", Delete: true,
			Target: &fleetv1.ResourceSelector{Version: "v1", Kind: "ConfigMap", Name: "api-config"},
		}),
	}
	return in
}

func TestOverrides(t *testing.T) {
	four := int32(4)
	eu := Cluster{Name: "eu-1", Labels: map[string]string{"region": "eu", "env": "prod"},
		Properties: map[string]string{"mirror": "eu.example.com"}, Replicas: &four}
	us := Cluster{Name: "us-1", Labels: map[string]string{"region": "us"}}

	r := New(Options{})
	src, err := r.Load(t.Context(), overridesInput(t))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	for name, tc := range map[string]struct {
		c        Cluster
		replicas string
		image    string
		labels   map[string]string
	}{
		"eu prod": {c: eu, replicas: "4", image: "mirror.eu.example.com/api:1.0.0",
			labels: map[string]string{"app": "api", "tier": "backend", "region": "eu", "cluster": "eu-1"}},
		"us": {c: us, replicas: "2", image: "registry.example.com/api:1.0.0",
			labels: map[string]string{"app": "api", "tier": "backend", "region": "us", "cluster": "us-1"}},
	} {
		t.Run(name, func(t *testing.T) {
			objs, err := src.Render(t.Context(), tc.c)
			if err != nil {
				t.Fatalf("Render(%s) = %v", tc.c.Name, err)
			}
			if o := find(objs, "ConfigMap", "api-config"); o != nil {
				t.Errorf("delete rule: %s still in the output", o.ID)
			}
			d := mustFind(t, objs, "Deployment", "api")
			if got := str(t, d, "spec", "replicas"); got != tc.replicas {
				t.Errorf("replicas = %s, want %s (a number: ${CLUSTER_REPLICAS} alone becomes one)", got, tc.replicas)
			}
			containers, _, _ := unstructuredSlice(d.Object, "spec", "template", "spec", "containers")
			if got := containers[0].(map[string]any)["image"]; got != tc.image {
				t.Errorf("image = %v, want %s", got, tc.image)
			}
			if diff := cmp.Diff(tc.labels, d.GetLabels()); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			o := mustFindObject(t, objs, "Deployment", "api")
			if d.GetAnnotations()[fleetv1.PlacementAnnotation] != "team-a" {
				t.Errorf("patched object lost its provenance annotations: %v", d.GetAnnotations())
			}
			if o.ID.Namespace != "team-a" {
				t.Errorf("patched object namespace = %q, want team-a", o.ID.Namespace)
			}
		})
	}
	// The Service was not patched: it is the very same object for both clusters.
	a, _ := src.Render(t.Context(), eu)
	b, _ := src.Render(t.Context(), us)
	if find(a, "Service", "api").Object != find(b, "Service", "api").Object {
		t.Errorf("unpatched objects are not shared between clusters")
	}
	if find(a, "Deployment", "api").Object == find(b, "Deployment", "api").Object {
		t.Errorf("patched objects are shared between clusters")
	}
}

func TestOverrideErrors(t *testing.T) {
	one := int32(1)
	cluster := Cluster{Name: "eu-1", Labels: map[string]string{"region": "eu"}, Replicas: &one}
	patch := func(name, path string, value any) fleetv1.OverrideRule {
		return fleetv1.OverrideRule{Name: name, Target: deploymentTarget(),
			JSONPatch: []fleetv1.JSONPatchOperation{{Op: "replace", Path: path, Value: rawJSON(t, value)}}}
	}
	for name, tc := range map[string]struct {
		inline    []fleetv1.OverrideRule
		objects   []fleetv1.Override
		c         *Cluster
		target    error
		fragments []string
	}{
		"patch on a missing path": {
			objects: []fleetv1.Override{overrideObject("eu-images", patch("eu-mirror", "/spec/template/spec/containers/3/image", "x"))},
			target:  ErrOverride,
			fragments: []string{`override rule "eu-mirror" (Override eu-images): jsonPatch replace /spec/template/spec/containers/3/image on apps/v1 Deployment team-a/api: `,
				"replace operation does not apply: doc is missing path: /spec/template/spec/containers/3/image: missing value"},
		},
		"replace on a missing key": {
			inline:    []fleetv1.OverrideRule{patch("tolerations", "/spec/template/spec/tolerations", []any{})},
			target:    ErrOverride,
			fragments: []string{`override rule "tolerations" (Placement team-a): jsonPatch replace /spec/template/spec/tolerations on apps/v1 Deployment team-a/api: replace operation does not apply: doc is missing key: /spec/template/spec/tolerations`},
		},
		"unknown variable": {
			inline:    []fleetv1.OverrideRule{patch("zone", "/spec/replicas", "${CLUSTER_ZONE}")},
			target:    ErrUnknownVariable,
			fragments: []string{`override rule "zone" (Placement team-a): jsonPatch replace /spec/replicas: ${CLUSTER_ZONE}: unknown variable`},
		},
		"missing label": {
			inline:    []fleetv1.OverrideRule{patch("zone", "/spec/replicas", "${CLUSTER_LABEL[zone]}")},
			target:    ErrMissingVariable,
			fragments: []string{`override rule "zone" (Placement team-a): jsonPatch replace /spec/replicas: ${CLUSTER_LABEL[zone]}: variable has no value for this cluster: cluster eu-1 has no label "zone"`},
		},
		"missing property": {
			inline:    []fleetv1.OverrideRule{patch("cost", "/spec/replicas", "${CLUSTER_PROPERTY[cost]}")},
			target:    ErrMissingVariable,
			fragments: []string{`override rule "cost"`, `cluster eu-1 has no property "cost"`},
		},
		"replicas without a division": {
			inline:    []fleetv1.OverrideRule{patch("scale", "/spec/replicas", "${CLUSTER_REPLICAS}")},
			c:         &Cluster{Name: "eu-1"},
			target:    ErrMissingVariable,
			fragments: []string{`override rule "scale"`, "the placement divides no replicas"},
		},
		"failing test operation": {
			inline: []fleetv1.OverrideRule{{Name: "guard", Target: deploymentTarget(), JSONPatch: []fleetv1.JSONPatchOperation{
				{Op: "test", Path: "/spec/replicas", Value: rawJSON(t, 5)},
				{Op: "replace", Path: "/spec/replicas", Value: rawJSON(t, 6)},
			}}},
			target:    ErrOverride,
			fragments: []string{`override rule "guard" (Placement team-a): jsonPatch test /spec/replicas on apps/v1 Deployment team-a/api: testing value /spec/replicas failed`},
		},
		"bad cluster selector": {
			inline: []fleetv1.OverrideRule{{Name: "bad", Delete: true, Target: deploymentTarget(),
				ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: "Near"}}}}},
			target:    ErrOverride,
			fragments: []string{`override rule "bad" (Placement team-a): clusterSelector:`},
		},
		"two actions": {
			inline: []fleetv1.OverrideRule{{Name: "both", Delete: true, Target: deploymentTarget(),
				JSONPatch: []fleetv1.JSONPatchOperation{{Op: "remove", Path: "/spec/replicas"}}}},
			target:    ErrOverride,
			fragments: []string{`override rule "both" (Placement team-a): exactly one of helmValues, jsonPatch and delete must be set`},
		},
		"helmValues on a directory placement": {
			inline:    []fleetv1.OverrideRule{{Name: "values", HelmValues: rawJSON(t, map[string]any{"a": 1})}},
			target:    ErrOverride,
			fragments: []string{`override rule "values" (Placement team-a): helmValues only apply to helm placements`},
		},
		"patch removing the name": {
			inline: []fleetv1.OverrideRule{{Name: "anonymous", Target: deploymentTarget(),
				JSONPatch: []fleetv1.JSONPatchOperation{{Op: "remove", Path: "/metadata/name"}}}},
			target:    ErrOverride,
			fragments: []string{`override rule "anonymous" (Placement team-a): jsonPatch on apps/v1 Deployment team-a/api: the result has no apiVersion, kind or name`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := dirSpec("manifests", true)
			spec.TargetNamespace = "team-a"
			spec.Overrides = tc.inline
			in := input("team-a", spec)
			in.Overrides = tc.objects
			c := cluster
			if tc.c != nil {
				c = *tc.c
			}
			err := renderErr(t, New(Options{}), in, c)
			wantErr(t, err, tc.target, tc.fragments...)
			if got := Reason(err); got != fleetv1.OverrideFailedReason {
				t.Errorf("Reason(%v) = %q, want %q", err, got, fleetv1.OverrideFailedReason)
			}
		})
	}
}

// An Override's helmValues rule is skipped for placements that are not Helm (one
// Override may select placements of every kind): the placement renders as without it,
// and the Override's other rules still apply.
func TestOverrideObjectHelmValuesSkippedForDirectory(t *testing.T) {
	plain := mustRender(t, New(Options{}), input("team-a", dirSpec("manifests", true)), newCluster)
	values := fleetv1.OverrideRule{Name: "values", HelmValues: rawJSON(t, map[string]any{"replicas": 7})}
	label := fleetv1.OverrideRule{Name: "label", Target: deploymentTarget(),
		JSONPatch: []fleetv1.JSONPatchOperation{{Op: "add", Path: "/metadata/labels/overridden", Value: rawJSON(t, "yes")}}}
	for name, tc := range map[string]struct {
		rules []fleetv1.OverrideRule
		label bool // the Deployment has the label rule's label
	}{
		"helmValues alone":           {rules: []fleetv1.OverrideRule{values}},
		"helmValues and a jsonPatch": {rules: []fleetv1.OverrideRule{values, label}, label: true},
	} {
		t.Run(name, func(t *testing.T) {
			in := input("team-a", dirSpec("manifests", true))
			in.Overrides = []fleetv1.Override{overrideObject("mixed", tc.rules...)}
			got := mustRender(t, New(Options{}), in, newCluster)
			if diff := cmp.Diff(ids(plain), ids(got)); diff != "" {
				t.Fatalf("objects (-without the Override +with it):\n%s", diff)
			}
			for i, o := range got {
				want := plain[i].Object.DeepCopy()
				if o.ID.Kind == "Deployment" && tc.label {
					labels := want.GetLabels()
					labels["overridden"] = "yes"
					want.SetLabels(labels)
				}
				if diff := cmp.Diff(want.Object, o.Object.Object); diff != "" {
					t.Errorf("%s (-want +got):\n%s", o.ID, diff)
				}
			}
		})
	}
}

func TestOverridesOnHelmAndKustomize(t *testing.T) {
	eu := Cluster{Name: "eu-1", Labels: map[string]string{"region": "eu"}, KubernetesVersion: "1.30.0"}
	helm := webSpec()
	helm.Overrides = []fleetv1.OverrideRule{
		{Name: "tag", HelmValues: rawJSON(t, map[string]any{"image": map[string]any{"tag": "${CLUSTER_LABEL[region]}-1"}})},
		{Name: "no-hpa", Delete: true, Target: &fleetv1.ResourceSelector{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}},
	}
	objs := mustRender(t, New(Options{}), input("shop", helm), eu)
	if o := find(objs, "HorizontalPodAutoscaler", "shop-web"); o != nil {
		t.Errorf("delete: %s still there", o.ID)
	}
	containers, _, _ := unstructuredSlice(mustFind(t, objs, "Deployment", "shop-web").Object, "spec", "template", "spec", "containers")
	if got := containers[0].(map[string]any)["image"]; got != "registry.example.com/web:eu-1" {
		t.Errorf("helmValues with a variable: image = %v", got)
	}

	kust := kustomizeSpec("kustomize/overlays/prod")
	kust.Overrides = []fleetv1.OverrideRule{{
		Name: "replicas", Target: &fleetv1.ResourceSelector{Group: "apps", Kind: "Deployment", Namespace: "shop-prod"},
		JSONPatch: []fleetv1.JSONPatchOperation{{Op: "replace", Path: "/spec/replicas", Value: rawJSON(t, 9)}},
	}}
	objs = mustRender(t, New(Options{}), input("shop", kust), eu)
	if got := str(t, mustFind(t, objs, "Deployment", "shop"), "spec", "replicas"); got != "9" {
		t.Errorf("kustomize + jsonPatch: replicas = %s, want 9", got)
	}
}

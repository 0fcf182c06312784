//go:build integration

package api

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// validationCase is one object sent to the API server: accepted when wantErr is empty,
// otherwise rejected with a message containing every string of wantErr.
type validationCase struct {
	yaml    string
	wantErr []string
}

// placement builds a Placement whose spec is the given YAML (indented two spaces).
func placement(spec string) string {
	return "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Placement\nmetadata:\n  name: p\nspec:\n" + spec
}

const (
	src      = "  sourceRef: {name: fleet}\n"
	kust     = "  kustomize: {path: apps/web}\n"
	withHelm = "  helm: {path: apps/web/chart}\n"
	withDir  = "  directory: {path: apps/raw}\n"
)

func pipeline(stages string) string {
	return "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  stages:\n" + stages
}

func TestValidation(t *testing.T) {
	cases := map[string]validationCase{
		// Exactly one of helm, kustomize and directory.
		"placement with kustomize only": {yaml: placement(src + kust)},
		"placement with helm only":      {yaml: placement(src + withHelm)},
		"placement with directory only": {yaml: placement(src + withDir)},
		"placement with no source": {yaml: placement(src),
			wantErr: []string{"exactly one of helm, kustomize and directory must be set"}},
		"placement with helm and kustomize": {yaml: placement(src + withHelm + kust),
			wantErr: []string{"exactly one of helm, kustomize and directory must be set"}},

		// A Helm release name is at most 53 characters; the placement's name is the default.
		"helm placement named 53 characters": {yaml: strings.Replace(placement(src+withHelm), "name: p\n", "name: "+strings.Repeat("a", 53)+"\n", 1)},
		"helm placement named 54 characters": {yaml: strings.Replace(placement(src+withHelm), "name: p\n", "name: "+strings.Repeat("a", 54)+"\n", 1),
			wantErr: []string{"longer than 53 characters", "set spec.helm.releaseName"}},
		"helm placement named 54 characters with a release name": {yaml: strings.Replace(placement(src+"  helm: {path: apps/web/chart, releaseName: web}\n"), "name: p\n", "name: "+strings.Repeat("a", 54)+"\n", 1)},
		"kustomize placement named 54 characters":                {yaml: strings.Replace(placement(src+kust), "name: p\n", "name: "+strings.Repeat("a", 54)+"\n", 1)},

		// numberOfClusters required with PickN, forbidden otherwise.
		"PickN with numberOfClusters": {yaml: placement(src + kust + "  policy: {placementType: PickN, numberOfClusters: 3}\n")},
		"PickN without numberOfClusters": {yaml: placement(src + kust + "  policy: {placementType: PickN}\n"),
			wantErr: []string{"numberOfClusters is required with placementType PickN"}},
		"PickAll with numberOfClusters": {yaml: placement(src + kust + "  policy: {placementType: PickAll, numberOfClusters: 3}\n"),
			wantErr: []string{"not allowed with PickAll or PickFixed"}},

		// clusterNames only with PickFixed, and required there.
		"PickFixed with clusterNames": {yaml: placement(src + kust + "  policy: {placementType: PickFixed, clusterNames: [a, b]}\n")},
		"PickAll with clusterNames": {yaml: placement(src + kust + "  policy: {placementType: PickAll, clusterNames: [a]}\n"),
			wantErr: []string{"clusterNames is required with placementType PickFixed and not allowed otherwise"}},
		"PickFixed without clusterNames": {yaml: placement(src + kust + "  policy: {placementType: PickFixed}\n"),
			wantErr: []string{"clusterNames is required with placementType PickFixed"}},

		// PickFixed takes no affinity, spread or tolerations.
		"PickFixed with tolerations": {yaml: placement(src + kust + "  policy: {placementType: PickFixed, clusterNames: [a], tolerations: [{key: k, operator: Exists}]}\n"),
			wantErr: []string{"PickFixed takes no affinity, topologySpreadConstraints or tolerations"}},
		"PickFixed with affinity": {yaml: placement(src + kust + "  policy:\n    placementType: PickFixed\n    clusterNames: [a]\n    affinity: {clusterAffinity: {preferred: [{weight: 1, preference: {labelSelector: {matchLabels: {a: b}}}}]}}\n"),
			wantErr: []string{"PickFixed takes no affinity"}},
		"PickAll with tolerations": {yaml: placement(src + kust + "  policy: {placementType: PickAll, tolerations: [{key: k, operator: Exists}]}\n")},

		// Topology spread only with PickN.
		"PickN with spread": {yaml: placement(src + kust + "  policy: {placementType: PickN, numberOfClusters: 2, topologySpreadConstraints: [{topologyKey: region, maxSkew: 1}]}\n")},
		"PickAll with spread": {yaml: placement(src + kust + "  policy: {placementType: PickAll, topologySpreadConstraints: [{topologyKey: region}]}\n"),
			wantErr: []string{"topologySpreadConstraints are only allowed with placementType PickN"}},
		"spread with maxSkew 0": {yaml: placement(src + kust + "  policy: {placementType: PickN, numberOfClusters: 2, topologySpreadConstraints: [{topologyKey: region, maxSkew: 0}]}\n"),
			wantErr: []string{"maxSkew", "should be greater than or equal to 1"}},

		// Preferred weights in -100..100.
		"preferred weight -100": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {preferred: [{weight: -100, preference: {labelSelector: {matchLabels: {a: b}}}}]}}\n")},
		"preferred weight 101": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {preferred: [{weight: 101, preference: {labelSelector: {matchLabels: {a: b}}}}]}}\n"),
			wantErr: []string{"weight", "should be less than or equal to 100"}},
		"preferred weight -101": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {preferred: [{weight: -101, preference: {labelSelector: {matchLabels: {a: b}}}}]}}\n"),
			wantErr: []string{"weight", "should be greater than or equal to -100"}},

		// Property selector operators and exactly one value.
		"property selector Ge with one value": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {required: {clusterSelectorTerms: [{propertySelector: {matchExpressions: [{name: kubernetes-fleet.io/node-count, operator: Ge, values: ['3']}]}}]}}}\n")},
		"property selector with unknown operator": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {required: {clusterSelectorTerms: [{propertySelector: {matchExpressions: [{name: kubernetes-fleet.io/node-count, operator: GreaterThan, values: ['3']}]}}]}}}\n"),
			wantErr: []string{"operator", `supported values: "Gt", "Ge", "Eq", "Ne", "Lt", "Le"`}},
		"property selector with two values": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {required: {clusterSelectorTerms: [{propertySelector: {matchExpressions: [{name: kubernetes-fleet.io/node-count, operator: Eq, values: ['3', '4']}]}}]}}}\n"),
			wantErr: []string{"values", "must have at most 1 item"}},
		"property selector with no value": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {required: {clusterSelectorTerms: [{propertySelector: {matchExpressions: [{name: kubernetes-fleet.io/node-count, operator: Eq, values: []}]}}]}}}\n"),
			wantErr: []string{"values", "should have at least 1 item"}},
		"property sorter in a preferred term": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {preferred: [{weight: 10, preference: {propertySorter: {name: cost.gitfleet.dev/per-cpu-core, sortOrder: Ascending}}}]}}\n")},
		"property sorter in a required term": {yaml: placement(src + kust + "  policy:\n    affinity: {clusterAffinity: {required: {clusterSelectorTerms: [{propertySorter: {name: cost.gitfleet.dev/per-cpu-core, sortOrder: Ascending}}]}}}\n"),
			wantErr: []string{"propertySorter is only allowed in preferred terms"}},

		// Bounded lists.
		"too many tolerations": {yaml: placement(src + kust + "  policy:\n    tolerations:\n" + strings.Repeat("    - {key: k, operator: Exists}\n", 33)),
			wantErr: []string{"tolerations", "must have at most 32 items"}},

		// Overrides: exactly one action, target rules, patch operations, variables allowed.
		"override with jsonPatch and target": {yaml: placement(src + kust + "  overrides:\n  - name: r\n    target: {group: apps, kind: Deployment}\n    jsonPatch: [{op: replace, path: /spec/replicas, value: '${CLUSTER_REPLICAS}'}]\n")},
		"override with helmValues and jsonPatch": {yaml: placement(src + withHelm + "  overrides:\n  - name: r\n    helmValues: {a: 1}\n    target: {kind: Deployment}\n    jsonPatch: [{op: remove, path: /spec/replicas}]\n"),
			wantErr: []string{"exactly one of helmValues, jsonPatch and delete must be set"}},
		"override with nothing to do": {yaml: placement(src + kust + "  overrides:\n  - name: r\n"),
			wantErr: []string{"exactly one of helmValues, jsonPatch and delete must be set"}},
		"override jsonPatch without target": {yaml: placement(src + kust + "  overrides:\n  - name: r\n    jsonPatch: [{op: remove, path: /spec/replicas}]\n"),
			wantErr: []string{"target is required with jsonPatch and delete"}},
		"override move without from": {yaml: placement(src + kust + "  overrides:\n  - name: r\n    target: {kind: ConfigMap}\n    jsonPatch: [{op: move, path: /data/b}]\n"),
			wantErr: []string{"from is required for move and copy"}},
		"override helmValues not an object": {yaml: placement(src + withHelm + "  overrides:\n  - name: r\n    helmValues: [1, 2]\n"),
			wantErr: []string{"helmValues", "must be of type object"}},
		"override delete": {yaml: placement(src + kust + "  overrides:\n  - name: r\n    target: {kind: ConfigMap, name: debug}\n    delete: true\n")},

		// Helm source shape and relative paths.
		"helm with path and repoURL": {yaml: placement(src + "  helm: {path: c, repoURL: 'https://charts.example.com', chart: web, version: 1.2.3}\n"),
			wantErr: []string{"helm needs exactly one of path"}},
		"helm repo without version": {yaml: placement(src + "  helm: {repoURL: 'oci://registry.example.com/charts', chart: web}\n"),
			wantErr: []string{"helm.chart and helm.version are required with helm.repoURL"}},
		"helm repo with version": {yaml: placement(src + "  helm: {repoURL: 'oci://registry.example.com/charts', chart: web, version: 1.2.3}\n")},
		"kustomize path escaping the repo": {yaml: placement(src + "  kustomize: {path: ../../etc}\n"),
			wantErr: []string{"path must be a relative path inside the repository"}},

		// Tolerations.
		"toleration Exists with a value": {yaml: placement(src + kust + "  policy: {tolerations: [{key: k, operator: Exists, value: v}]}\n"),
			wantErr: []string{"a toleration with operator Exists takes no value"}},

		// Pipelines: unique stage names and branches, valid git branch names, durations.
		"pipeline with unique stages": {yaml: pipeline("  - {name: dev, clusterSelector: {matchLabels: {stage: dev}}}\n  - {name: prod, clusterSelector: {matchLabels: {stage: prod}}, branch: env/prod, promotion: PullRequest, gates: {soakDuration: 1h30m}}\n")},
		"pipeline with a duplicate stage": {yaml: pipeline("  - {name: dev, clusterSelector: {}}\n  - {name: dev, clusterSelector: {}}\n"),
			wantErr: []string{"stage names must be unique within a pipeline"}},
		"pipeline with a duplicate branch": {yaml: pipeline("  - {name: a, clusterSelector: {}, branch: env/x}\n  - {name: b, clusterSelector: {}, branch: env/x}\n"),
			wantErr: []string{"stage branches (branch, or env/<name> by default) must be unique within a pipeline"}},
		"pipeline with a branch equal to another stage's default": {yaml: pipeline("  - {name: prod, clusterSelector: {}}\n  - {name: b, clusterSelector: {}, branch: env/prod}\n"),
			wantErr: []string{"stage branches (branch, or env/<name> by default) must be unique within a pipeline"}},
		"gitea forge without apiURL": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', forge: {type: gitea, secretRef: {name: t}}}\n",
			wantErr: []string{"forge.apiURL is required for gitea"}},
		"gitea forge with apiURL": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', forge: {type: gitea, apiURL: 'http://127.0.0.1:3000/api/v1/', secretRef: {name: t}}}\n"},
		"branch with ..": {yaml: pipeline("  - {name: dev, clusterSelector: {}, branch: env/../main}\n"),
			wantErr: []string{"branch must be a valid git branch name"}},
		"branch ending in .lock": {yaml: pipeline("  - {name: dev, clusterSelector: {}, branch: env/dev.lock}\n"),
			wantErr: []string{"branch must be a valid git branch name"}},
		"branch with a space": {yaml: pipeline("  - {name: dev, clusterSelector: {}, branch: 'env/my branch'}\n"),
			wantErr: []string{"branch", "should match"}},
		"malformed soak duration": {yaml: pipeline("  - {name: dev, clusterSelector: {}, gates: {soakDuration: 10 minutes}}\n"),
			wantErr: []string{"soakDuration", "should match"}},
		"stage name not a DNS label": {yaml: pipeline("  - {name: Dev_1, clusterSelector: {}}\n"),
			wantErr: []string{"name", "should match"}},
		"window with a bad cron": {yaml: pipeline("  - {name: dev, clusterSelector: {}, gates: {windows: [{schedule: 'at nine', duration: 8h}]}}\n"),
			wantErr: []string{"schedule", "should be at least 9 chars long"}},

		// GitSource: URL, branch, interval, fleetPath, forge credentials.
		"gitsource": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', interval: 1m30s, fleetPath: fleet/}\n"},
		"gitsource with a malformed interval": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', interval: 1 minute}\n",
			wantErr: []string{"interval", "should match"}},
		"gitsource with an ftp url": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'ftp://example.com/fleet.git'}\n",
			wantErr: []string{"url", "should match"}},
		"gitsource with fleetPath escaping": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', fleetPath: ../other}\n",
			wantErr: []string{"fleetPath must be a relative path inside the repository"}},
		"gitsource forge without token": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/fleet.git', forge: {type: github}}\n",
			wantErr: []string{"forge.secretRef is required unless forge.type is none"}},

		// MemberCluster: taint effect, properties.
		"membercluster": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: MemberCluster\nmetadata: {name: m, labels: {stage: dev}}\nspec: {taints: [{key: k, value: v}], properties: [{name: cost.gitfleet.dev/per-cpu-core, value: '0.02'}]}\n"},
		"membercluster with a NoExecute taint": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: MemberCluster\nmetadata: {name: m}\nspec: {taints: [{key: k, effect: NoExecute}]}\n",
			wantErr: []string{"effect", `supported values: "NoSchedule"`}},
		"membercluster with state Gone": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: MemberCluster\nmetadata: {name: m}\nspec: {state: Gone}\n",
			wantErr: []string{"state", `supported values: "Join", "Leave"`}},

		// Override objects.
		"override object": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Override\nmetadata: {name: o}\nspec: {placementSelector: {matchLabels: {tier: web}}, rules: [{name: r, target: {kind: Deployment}, delete: true}]}\n"},
		"override object without rules": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Override\nmetadata: {name: o}\nspec: {placementSelector: {}, rules: []}\n",
			wantErr: []string{"rules", "should have at least 1 item"}},

		"gitsource previewing pull requests": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: g}\nspec: {url: 'https://example.com/fleet.git', previewPullRequests: true, forge: {type: github, secretRef: {name: token}}}\n"},
		"gitsource previewing pull requests without a forge": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: g}\nspec: {url: 'https://example.com/fleet.git', previewPullRequests: true}\n",
			wantErr: []string{"previewPullRequests needs a forge (forge.type github or gitea)"}},
		"gitsource previewing pull requests with forge none": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: g}\nspec: {url: 'https://example.com/fleet.git', previewPullRequests: true, forge: {type: none}}\n",
			wantErr: []string{"previewPullRequests needs a forge"}},

		// Promotion: skipGates needs a reason.
		"promotion": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, dryRevision: 1a2b3c4}\n"},
		"promotion skipping gates without a reason": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, dryRevision: 1a2b3c4, skipGates: true}\n",
			wantErr: []string{"skipGatesReason is required when skipGates is true"}},
		"rollback": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, rollback: {to: 1a2b3c4, reason: bad release}}\n"},
		"rollback with a dry revision too": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, dryRevision: 1a2b3c4, rollback: {to: 1a2b3c4}}\n",
			wantErr: []string{"set exactly one of dryRevision (a promotion) and rollback"}},
		"promotion with neither a revision nor a rollback": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod}\n",
			wantErr: []string{"set exactly one of dryRevision (a promotion) and rollback"}},
		"rollback skipping gates": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, rollback: {to: 1a2b3c4}, skipGates: true, skipGatesReason: x}\n",
			wantErr: []string{"a rollback has no gates to skip"}},
		"rollback to a branch name": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, rollback: {to: main}}\n",
			wantErr: []string{"spec.rollback.to", "should match"}},

		// ClusterSync: branch and policies.
		"clustersync": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: ClusterSync\nmetadata: {name: c}\nspec: {clusterName: eu-1, url: 'https://example.com/fleet.git', branch: env/prod, applyPolicy: {takeover: Never, drift: Report}}\n"},
		"clustersync with a bad branch": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: ClusterSync\nmetadata: {name: c}\nspec: {clusterName: eu-1, url: 'https://example.com/fleet.git', branch: env//prod}\n",
			wantErr: []string{"branch must be a valid git branch name"}},
		"clustersync with an unknown takeover": {yaml: "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: ClusterSync\nmetadata: {name: c}\nspec: {clusterName: eu-1, url: 'https://example.com/fleet.git', branch: env/prod, applyPolicy: {takeover: Sometimes}}\n",
			wantErr: []string{"takeover", `supported values: "Always", "IfNoDiff", "Never"`}},
	}

	ns := envtest.NewNamespace(t, hub.Client)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, tc.yaml)
			obj.SetNamespace(ns)
			err := hub.Client.Create(context.Background(), obj, client.DryRunAll)
			checkResult(t, "create", err, tc.wantErr)
		})
	}
}

// TestImmutability updates stored objects: a Placement's placementType and a Promotion's
// spec cannot change.
func TestImmutability(t *testing.T) {
	ctx := context.Background()
	ns := envtest.NewNamespace(t, hub.Client)

	p := decode(t, placement(src+kust+"  policy: {placementType: PickAll}\n"))
	p.SetNamespace(ns)
	if err := hub.Client.Create(ctx, p); err != nil {
		t.Fatalf("Create(placement) = %v, want nil", err)
	}
	// Changing other policy fields is allowed.
	must(t, unstructured.SetNestedSlice(p.Object, []any{map[string]any{"key": "k", "operator": "Exists"}}, "spec", "policy", "tolerations"))
	checkResult(t, "update tolerations", hub.Client.Update(ctx, p), nil)
	// Changing the type is not.
	must(t, unstructured.SetNestedField(p.Object, "PickN", "spec", "policy", "placementType"))
	must(t, unstructured.SetNestedField(p.Object, int64(2), "spec", "policy", "numberOfClusters"))
	unstructured.RemoveNestedField(p.Object, "spec", "policy", "tolerations")
	checkResult(t, "update placementType", hub.Client.Update(ctx, p), []string{"placementType is immutable"})

	pr := decode(t, "apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: Promotion\nmetadata: {name: pr}\nspec: {pipelineRef: {name: p}, stage: prod, dryRevision: 1a2b3c4}\n")
	pr.SetNamespace(ns)
	if err := hub.Client.Create(ctx, pr); err != nil {
		t.Fatalf("Create(promotion) = %v, want nil", err)
	}
	must(t, unstructured.SetNestedField(pr.Object, "9f9f9f9", "spec", "dryRevision"))
	checkResult(t, "update promotion spec", hub.Client.Update(ctx, pr), []string{"a Promotion's spec is immutable"})
}

// TestDefaults checks the defaults users rely on without writing them.
func TestDefaults(t *testing.T) {
	ctx := context.Background()
	ns := envtest.NewNamespace(t, hub.Client)
	cases := map[string]struct {
		yaml string
		path []string
		want any
	}{
		"placement policy":         {placement(src + kust), []string{"spec", "policy", "placementType"}, "PickAll"},
		"gitsource branch":         {"apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/r.git'}\n", []string{"spec", "branch"}, "main"},
		"gitsource interval":       {"apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: GitSource\nmetadata: {name: s}\nspec: {url: 'https://example.com/r.git'}\n", []string{"spec", "interval"}, "1m"},
		"clustersync interval":     {"apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: ClusterSync\nmetadata: {name: c}\nspec: {clusterName: a, url: 'https://example.com/r.git', branch: env/dev}\n", []string{"spec", "interval"}, "15s"},
		"clustersync drift policy": {"apiVersion: fleet.gitfleet.dev/v1alpha1\nkind: ClusterSync\nmetadata: {name: c}\nspec: {clusterName: a, url: 'https://example.com/r.git', branch: env/dev}\n", []string{"spec", "applyPolicy", "drift"}, "Correct"},
		"stage promotion":          {pipeline("  - {name: dev, clusterSelector: {}}\n"), []string{"spec", "stages"}, nil},
		"spread defaults":          {placement(src + kust + "  policy: {placementType: PickN, numberOfClusters: 2, topologySpreadConstraints: [{topologyKey: region}]}\n"), []string{"spec", "policy", "topologySpreadConstraints"}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, tc.yaml)
			obj.SetNamespace(ns)
			if err := hub.Client.Create(ctx, obj, client.DryRunAll); err != nil {
				t.Fatalf("Create = %v, want nil", err)
			}
			got, found, err := unstructured.NestedFieldNoCopy(obj.Object, tc.path...)
			if err != nil || !found {
				t.Fatalf("field %v not set after defaulting (err %v)", tc.path, err)
			}
			switch name {
			case "stage promotion":
				st := got.([]any)[0].(map[string]any)
				if st["promotion"] != "Auto" {
					t.Errorf("stage promotion = %v, want Auto", st["promotion"])
				}
				gates, _ := st["gates"].(map[string]any)
				if gates["previousStageHealthy"] != true {
					t.Errorf("stage gates = %v, want previousStageHealthy true by default", st["gates"])
				}
			case "spread defaults":
				c := got.([]any)[0].(map[string]any)
				if c["maxSkew"] != int64(1) || c["whenUnsatisfiable"] != "DoNotSchedule" {
					t.Errorf("spread constraint = %v, want maxSkew 1 and DoNotSchedule", c)
				}
			default:
				if got != tc.want {
					t.Errorf("%v = %v, want %v", tc.path, got, tc.want)
				}
			}
		})
	}
}

func decode(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, doc)
	}
	return obj
}

func checkResult(t *testing.T, what string, err error, wantErr []string) {
	t.Helper()
	if len(wantErr) == 0 {
		if err != nil {
			t.Fatalf("%s = %v, want accepted", what, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s accepted, want rejected with %q", what, wantErr)
	}
	for _, w := range wantErr {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s = %v\nwant the message to contain %q", what, err, w)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTypedClientDefaults: objects created with the Go types, leaving durations out, get
// the documented defaults (or behave as if they had them): a non-pointer duration is sent
// as 0s, which the API server's default does not replace.
func TestTypedClientDefaults(t *testing.T) {
	ctx := context.Background()
	ns := envtest.NewNamespace(t, hub.Client)
	mc := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns}}
	must(t, hub.Client.Create(ctx, mc, client.DryRunAll))
	if got := mc.Spec.HeartbeatGrace(); got != 5*time.Minute {
		t.Errorf("MemberCluster heartbeat grace period = %s, want the 5m default", got)
	}
	off := &fleetv1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns},
		Spec: fleetv1alpha1.MemberClusterSpec{HeartbeatGracePeriod: &metav1.Duration{}}}
	must(t, hub.Client.Create(ctx, off, client.DryRunAll))
	if got := off.Spec.HeartbeatGrace(); got != 0 {
		t.Errorf("MemberCluster heartbeat grace period = %s, want 0 (check disabled) as set", got)
	}
	src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns},
		Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/r.git"}}
	must(t, hub.Client.Create(ctx, src, client.DryRunAll))
	if got := src.FetchInterval(); got != time.Minute {
		t.Errorf("GitSource fetch interval = %s (spec %q), want 1m", got, src.Spec.Interval.Duration)
	}
}

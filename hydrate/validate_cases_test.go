package hydrate

import "strings"

// invalidFleetCase is one invalid fleetPath: files (name → content) that the API server
// refuses, and the field path that its refusal names. The same table runs without an API
// server (TestInvalidFleetFiles, golden messages) and against a real one
// (TestInvalidFleetFilesMatchAPIServer, integration tag), so that the local verdict is
// checked to be the API server's.
type invalidFleetCase struct {
	name  string
	files map[string]string
	// field is the path the API server names (empty: the refusal names none, as for a
	// wrong apiVersion, which fails at the kind's lookup).
	field string
	// localOnly marks a refusal that needs more than one object at a time (duplicates):
	// the API server sees one request at a time, so there is nothing to compare.
	localOnly bool
}

const placementHead = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Placement
metadata:
  name: web
spec:
  sourceRef: {name: fleet-config}
`

// placementYAML is a Placement named web with a directory source and the given spec lines
// (indented by two spaces) appended.
func placementYAML(spec string) string {
	if !strings.Contains(spec, "directory:") && !strings.Contains(spec, "helm:") && !strings.Contains(spec, "kustomize:") {
		spec = "  directory: {path: apps/web}\n" + spec
	}
	return placementHead + spec
}

func pipelineYAML(stages string) string {
	return `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Pipeline
metadata:
  name: default
spec:
  stages:
` + stages
}

var invalidFleetCases = []invalidFleetCase{
	{name: "unknown field placementtype", field: "spec.policy.placementtype",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    placementtype: PickN\n")}},
	{name: "unknown field targetNamespce", field: "spec.targetNamespce",
		files: map[string]string{"web.yaml": placementYAML("  targetNamespce: web\n")}},
	{name: "unknown top-level field", field: "specs",
		files: map[string]string{"web.yaml": placementYAML("") + "specs: {}\n"}},
	{name: "unknown metadata field", field: "metadata.label",
		files: map[string]string{"web.yaml": strings.Replace(placementYAML(""), "  name: web\n", "  name: web\n  label: {app: web}\n", 1)}},
	{name: "wrong apiVersion v1",
		files: map[string]string{"web.yaml": strings.Replace(placementYAML(""), "fleet.gitfleet.dev/v1alpha1", "fleet.gitfleet.dev/v1", 1)}},
	{name: "unknown placementType value", field: "spec.policy.placementType",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    placementType: PickSome\n")}},
	{name: "propertySorter in required terms", field: "spec.policy.affinity.clusterAffinity.required.clusterSelectorTerms",
		files: map[string]string{"web.yaml": placementYAML(`  policy:
    placementType: PickN
    numberOfClusters: 2
    affinity:
      clusterAffinity:
        required:
          clusterSelectorTerms:
          - propertySorter: {name: cost.gitfleet.dev/per-cpu-core, sortOrder: Ascending}
`)}},
	{name: "PickFixed with affinity", field: "spec.policy",
		files: map[string]string{"web.yaml": placementYAML(`  policy:
    placementType: PickFixed
    clusterNames: [prod-eu-1]
    affinity:
      clusterAffinity:
        required:
          clusterSelectorTerms:
          - labelSelector: {matchLabels: {region: eu}}
`)}},
	{name: "spread constraints with PickAll", field: "spec.policy",
		files: map[string]string{"web.yaml": placementYAML(`  policy:
    placementType: PickAll
    topologySpreadConstraints:
    - {topologyKey: region, maxSkew: 1}
`)}},
	{name: "numberOfClusters without PickN", field: "spec.policy",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    numberOfClusters: 3\n")}},
	{name: "PickN without numberOfClusters", field: "spec.policy",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    placementType: PickN\n")}},
	{name: "PickFixed without clusterNames", field: "spec.policy",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    placementType: PickFixed\n")}},
	{name: "two sources", field: "spec",
		files: map[string]string{"web.yaml": placementYAML("  directory: {path: apps/web}\n  kustomize: {path: apps/web}\n")}},
	{name: "no source", field: "spec",
		files: map[string]string{"web.yaml": placementHead + "  targetNamespace: web\n"}},
	{name: "absolute directory path", field: "spec.directory.path",
		files: map[string]string{"web.yaml": placementYAML("  directory: {path: /etc}\n")}},
	{name: "numberOfClusters as a string", field: "spec.policy.numberOfClusters",
		files: map[string]string{"web.yaml": placementYAML("  policy:\n    placementType: PickN\n    numberOfClusters: three\n")}},
	{name: "targetNamespace not a DNS label", field: "spec.targetNamespace",
		files: map[string]string{"web.yaml": placementYAML("  targetNamespace: Web_App\n")}},
	{name: "placement name not a DNS subdomain", field: "metadata.name",
		files: map[string]string{"web.yaml": strings.Replace(placementYAML(""), "name: web\n", "name: Web_1\n", 1)}},
	{name: "stage named Dev_1", field: "spec.stages[0].name",
		files: map[string]string{"pipeline.yaml": pipelineYAML("  - name: Dev_1\n    clusterSelector: {matchLabels: {stage: dev}}\n")}},
	{name: "soakDuration 30 minutes", field: "spec.stages[1].gates.soakDuration",
		files: map[string]string{"pipeline.yaml": pipelineYAML(`  - name: dev
    clusterSelector: {matchLabels: {stage: dev}}
  - name: staging
    clusterSelector: {matchLabels: {stage: staging}}
    gates: {previousStageHealthy: true, soakDuration: 30 minutes}
`)}},
	{name: "two stages with one name", field: "spec.stages",
		files: map[string]string{"pipeline.yaml": pipelineYAML(`  - name: dev
    clusterSelector: {matchLabels: {stage: dev}}
  - name: dev
    clusterSelector: {matchLabels: {stage: staging}}
`)}},
	{name: "unknown field in a stage", field: "spec.stages[0].gate",
		files: map[string]string{"pipeline.yaml": pipelineYAML("  - name: dev\n    gate: {soakDuration: 1h}\n")}},
	{name: "window schedule not cron", field: "spec.stages[0].gates.windows[0].schedule",
		files: map[string]string{"pipeline.yaml": pipelineYAML("  - name: prod\n    clusterSelector: {}\n    gates:\n      windows:\n      - {schedule: weekdays, duration: 8h}\n")}},
	{name: "override rule with two actions", field: "spec.rules[0]",
		files: map[string]string{"override.yaml": `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Override
metadata: {name: mirrors}
spec:
  placementSelector: {matchLabels: {tier: frontend}}
  rules:
  - name: both
    target: {kind: ConfigMap, name: debug}
    delete: true
    jsonPatch:
    - {op: remove, path: /data}
`}},
	{name: "override move without from", field: "spec.rules[0].jsonPatch[0]",
		files: map[string]string{"override.yaml": `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Override
metadata: {name: mirrors}
spec:
  placementSelector: {matchLabels: {tier: frontend}}
  rules:
  - name: move
    target: {kind: ConfigMap}
    jsonPatch:
    - {op: move, path: /data/b}
`}},
	{name: "membercluster heartbeatGracePeriod 5 minutes", field: "spec.heartbeatGracePeriod",
		files: map[string]string{"cluster.yaml": `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: MemberCluster
metadata: {name: prod-eu-1}
spec: {state: Join, heartbeatGracePeriod: 5 minutes}
`}},
	{name: "membercluster unknown state", field: "spec.state",
		files: map[string]string{"cluster.yaml": `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: MemberCluster
metadata: {name: prod-eu-1}
spec: {state: Joined}
`}},
	{name: "membercluster taint effect", field: "spec.taints[0].effect",
		files: map[string]string{"cluster.yaml": `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: MemberCluster
metadata: {name: prod-eu-1}
spec:
  taints:
  - {key: dedicated, value: payments, effect: NoExecute}
`}},
	{name: "same Placement in two files", localOnly: true,
		files: map[string]string{"a/web.yaml": placementYAML(""), "b/web.yaml": placementYAML("  targetNamespace: web\n")}},
	{name: "same Pipeline twice in one file", localOnly: true,
		files: map[string]string{"pipeline.yaml": pipelineYAML("  - name: dev\n    clusterSelector: {}\n") + "---\n" + pipelineYAML("  - name: prod\n    clusterSelector: {}\n")}},
}

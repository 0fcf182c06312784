package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// generateFleet writes a fleet config repo: Helm charts and kustomizations under apps/,
// and under fleet/ the MemberClusters (three stages, three regions), a pipeline, the
// placements (PickAll) with per-cluster overrides, and an Override per region. With
// special set, one extra override rule targets only that cluster.
func generateFleet(dir string, nClusters, nPlacements int, special string) error {
	files := map[string]string{}
	for p := 0; p < nPlacements; p++ {
		if p%2 == 0 {
			chart := fmt.Sprintf("apps/chart-%d/", p)
			files[chart+"Chart.yaml"] = fmt.Sprintf("apiVersion: v2\nname: app-%d\nversion: 1.0.%d\n", p, p)
			files[chart+"values.yaml"] = "replicas: 2\nimage: registry.example.com/app:1.0\nclusterName: none\nregion: none\n"
			files[chart+"templates/deployment.yaml"] = helmDeployment
			files[chart+"templates/service.yaml"] = helmService
			files[chart+"templates/configmap.yaml"] = helmConfigMap
			files[fmt.Sprintf("fleet/placement-%d.yaml", p)] = fmt.Sprintf(helmPlacement, p, p, p)
		} else {
			k := fmt.Sprintf("apps/kust-%d/", p)
			files[k+"kustomization.yaml"] = fmt.Sprintf(kustomization, p)
			files[k+"deployment.yaml"] = fmt.Sprintf(kustDeployment, p, p, p, p)
			files[k+"service.yaml"] = fmt.Sprintf(kustService, p, p)
			files[fmt.Sprintf("fleet/placement-%d.yaml", p)] = fmt.Sprintf(kustPlacement, p, p, p)
		}
	}
	var mc strings.Builder
	stages := []string{"dev", "staging", "prod"}
	regions := []string{"eu", "us", "ap"}
	for c := 0; c < nClusters; c++ {
		fmt.Fprintf(&mc, "---\napiVersion: fleet.gitfleet.dev/v1alpha1\nkind: MemberCluster\nmetadata:\n  name: cluster-%04d\n  labels: {stage: %s, region: %s, name: cluster-%04d}\nspec:\n  kubernetesVersion: \"1.37.0\"\n",
			c, stages[c%3], regions[(c/3)%3], c)
	}
	files["fleet/clusters.yaml"] = mc.String()
	files["fleet/pipeline.yaml"] = pipeline
	ov := overrideTmpl
	if special != "" {
		ov += fmt.Sprintf(specialRule, special)
	}
	files["fleet/overrides.yaml"] = ov
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const helmDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}, region: {{ .Values.region }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
        env:
        - {name: CLUSTER, value: {{ .Values.clusterName | quote }}}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
`

const helmService = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports:
  - {port: 80, targetPort: 8080}
`

const helmConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  region: {{ .Values.region | quote }}
  settings.yaml: |
    logLevel: info
    featureFlags: [a, b, c]
`

const helmPlacement = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Placement
metadata:
  name: app-%d
  labels: {kind: helm}
spec:
  sourceRef: {name: fleet}
  helm: {path: apps/chart-%d}
  targetNamespace: apps
  pipelineRef: {name: default}
  overrides:
  - name: region-values
    helmValues: {region: "${CLUSTER_LABEL[region]}"}
  - name: cluster-env
    target: {group: apps, kind: Deployment, name: app-%d}
    jsonPatch:
    - {op: replace, path: /spec/template/spec/containers/0/env/0/value, value: "${CLUSTER_NAME}"}
`

const kustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: apps
resources: [deployment.yaml, service.yaml]
configMapGenerator:
- name: app-%d-config
  literals: [LOG_LEVEL=info, FEATURE=a]
`

const kustDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%d}
  template:
    metadata:
      labels: {app: app-%d}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
        envFrom:
        - configMapRef: {name: app-%d-config}
`

const kustService = `apiVersion: v1
kind: Service
metadata:
  name: app-%d
spec:
  selector: {app: app-%d}
  ports:
  - {port: 80, targetPort: 8080}
`

const kustPlacement = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Placement
metadata:
  name: app-%d
  labels: {kind: kustomize}
spec:
  sourceRef: {name: fleet}
  kustomize: {path: apps/kust-%d}
  pipelineRef: {name: default}
  overrides:
  - name: cluster-annotation
    target: {group: apps, kind: Deployment, name: app-%d}
    jsonPatch:
    - {op: add, path: /metadata/annotations, value: {cluster: "${CLUSTER_NAME}"}}
`

const pipeline = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Pipeline
metadata:
  name: default
spec:
  stages:
  - {name: dev, clusterSelector: {matchLabels: {stage: dev}}}
  - {name: staging, clusterSelector: {matchLabels: {stage: staging}}}
  - {name: prod, clusterSelector: {matchLabels: {stage: prod}}}
`

const overrideTmpl = `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Override
metadata:
  name: regional-mirror
spec:
  placementSelector: {}
  rules:
  - name: eu-mirror
    clusterSelector: {matchLabels: {region: eu}}
    target: {kind: Service}
    jsonPatch:
    - {op: add, path: /metadata/labels, value: {mirror: eu}}
`

const specialRule = `  - name: one-cluster
    clusterSelector: {matchLabels: {name: %s}}
    target: {kind: Service}
    jsonPatch:
    - {op: add, path: /metadata/labels, value: {special: "true"}}
`

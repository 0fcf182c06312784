package health

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func parse(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatalf("parsing %q: %v", y, err)
	}
	return u
}

func TestCheck(t *testing.T) {
	for name, tc := range map[string]struct {
		obj  string
		want Status
	}{
		"deployment ready": {`{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}}`, Current},
		"deployment old generation": {`{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 3}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}}`, InProgress},
		"deployment rolling": {`{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 2}, spec: {replicas: 2},
			status: {observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}}`, InProgress},
		"deployment no status":     {`{apiVersion: apps/v1, kind: Deployment, spec: {replicas: 1}}`, InProgress},
		"deployment zero replicas": {`{apiVersion: apps/v1, kind: Deployment, spec: {replicas: 0}}`, Current},
		"deployment deadline": {`{apiVersion: apps/v1, kind: Deployment, spec: {replicas: 1},
			status: {conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}}`, Failed},
		"statefulset rolling": {`{apiVersion: apps/v1, kind: StatefulSet, spec: {replicas: 2},
			status: {readyReplicas: 2, currentReplicas: 2, updatedReplicas: 1, currentRevision: a, updateRevision: b}}`, InProgress},
		"statefulset ready": {`{apiVersion: apps/v1, kind: StatefulSet, spec: {replicas: 2},
			status: {readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, currentRevision: a, updateRevision: a}}`, Current},
		"daemonset":             {`{apiVersion: apps/v1, kind: DaemonSet, status: {desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2, numberReady: 2}}`, InProgress},
		"job complete":          {`{apiVersion: batch/v1, kind: Job, status: {conditions: [{type: Complete, status: "True"}]}}`, Current},
		"job failed":            {`{apiVersion: batch/v1, kind: Job, status: {conditions: [{type: Failed, status: "True", message: BackoffLimitExceeded}]}}`, Failed},
		"job running":           {`{apiVersion: batch/v1, kind: Job, status: {active: 1}}`, InProgress},
		"service":               {`{apiVersion: v1, kind: Service, spec: {type: ClusterIP}}`, Current},
		"service lb":            {`{apiVersion: v1, kind: Service, spec: {type: LoadBalancer}}`, InProgress},
		"service lb ready":      {`{apiVersion: v1, kind: Service, spec: {type: LoadBalancer}, status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}}`, Current},
		"pvc pending":           {`{apiVersion: v1, kind: PersistentVolumeClaim, status: {phase: Pending}}`, InProgress},
		"pvc bound":             {`{apiVersion: v1, kind: PersistentVolumeClaim, status: {phase: Bound}}`, Current},
		"crd":                   {`{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, status: {conditions: [{type: Established, status: "True"}]}}`, Current},
		"crd names":             {`{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, status: {conditions: [{type: NamesAccepted, status: "False"}]}}`, Failed},
		"configmap":             {`{apiVersion: v1, kind: ConfigMap}`, Current},
		"custom ready":          {`{apiVersion: x/v1, kind: Thing, status: {conditions: [{type: Ready, status: "True"}]}}`, Current},
		"custom not ready":      {`{apiVersion: x/v1, kind: Thing, status: {conditions: [{type: Ready, status: "False", reason: Waiting}]}}`, InProgress},
		"custom stalled":        {`{apiVersion: x/v1, kind: Thing, status: {conditions: [{type: Stalled, status: "True"}, {type: Ready, status: "False"}]}}`, Failed},
		"custom reconciling":    {`{apiVersion: x/v1, kind: Thing, status: {conditions: [{type: Reconciling, status: "True"}]}}`, InProgress},
		"terminating":           {`{apiVersion: v1, kind: ConfigMap, metadata: {deletionTimestamp: "2024-01-01T00:00:00Z"}}`, Terminating},
		"namespace terminating": {`{apiVersion: v1, kind: Namespace, status: {phase: Terminating}}`, Terminating},
	} {
		got := Check(parse(t, tc.obj))
		if got.Status != tc.want {
			t.Errorf("%s: Check() = %v (%s), want %v", name, got.Status, got.Message, tc.want)
		}
		if got.Message == "" {
			t.Errorf("%s: Check() has no message", name)
		}
	}
	if got := Check(nil); got.Status != NotFound {
		t.Errorf("Check(nil) = %v, want NotFound", got.Status)
	}
}

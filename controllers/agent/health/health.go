// Package health computes the readiness of Kubernetes objects from their status, after
// the rules of kstatus (sigs.k8s.io/cli-utils/pkg/kstatus): built-in rules for the
// workload kinds, Services, PersistentVolumeClaims, CustomResourceDefinitions, Pods and
// Namespaces, and the standard conditions (Ready, Reconciling, Stalled) for the rest.
package health

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status is an object's readiness.
type Status string

// The statuses, as kstatus names them.
const (
	// Current: the object is ready (its controllers have caught up and report success).
	Current Status = "Current"
	// InProgress: the object is being reconciled or rolled out.
	InProgress Status = "InProgress"
	// Failed: the object's controller reports an error it will not recover from alone.
	Failed Status = "Failed"
	// Terminating: the object is being deleted.
	Terminating Status = "Terminating"
	// NotFound: the object does not exist.
	NotFound Status = "NotFound"
)

// Result is the readiness of one object with a message for people.
type Result struct {
	Status  Status
	Message string
}

// Ready reports whether the result counts as ready.
func (r Result) Ready() bool { return r.Status == Current }

func current(format string, args ...any) Result {
	return Result{Status: Current, Message: fmt.Sprintf(format, args...)}
}
func progressing(format string, args ...any) Result {
	return Result{Status: InProgress, Message: fmt.Sprintf(format, args...)}
}
func failed(format string, args ...any) Result {
	return Result{Status: Failed, Message: fmt.Sprintf(format, args...)}
}

// Check returns obj's readiness. A nil obj is NotFound.
func Check(obj *unstructured.Unstructured) Result {
	if obj == nil {
		return Result{Status: NotFound, Message: "not found"}
	}
	if obj.GetDeletionTimestamp() != nil {
		return Result{Status: Terminating, Message: "being deleted"}
	}
	if r, done := checkGeneration(obj); done {
		return r
	}
	gvk := obj.GroupVersionKind()
	switch gvk.Group + "/" + gvk.Kind {
	case "apps/Deployment":
		return checkDeployment(obj)
	case "apps/StatefulSet":
		return checkStatefulSet(obj)
	case "apps/DaemonSet":
		return checkDaemonSet(obj)
	case "apps/ReplicaSet":
		return checkReplicas(obj)
	case "batch/Job":
		return checkJob(obj)
	case "/Service":
		return checkService(obj)
	case "/PersistentVolumeClaim":
		return checkPVC(obj)
	case "/Pod":
		return checkPod(obj)
	case "/Namespace":
		return checkNamespace(obj)
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return checkCRD(obj)
	case "policy/PodDisruptionBudget":
		return checkPDB(obj)
	}
	return checkConditions(obj)
}

// checkGeneration reports InProgress while the controller has not observed the latest
// generation (for objects whose status has observedGeneration).
func checkGeneration(obj *unstructured.Unstructured) (Result, bool) {
	observed, found := integer(obj, "status", "observedGeneration")
	if !found {
		return Result{}, false
	}
	if gen, _ := integer(obj, "metadata", "generation"); observed < gen {
		return progressing("the controller has not observed generation %d yet (observed %d)", gen, observed), true
	}
	return Result{}, false
}

func num(obj *unstructured.Unstructured, fields ...string) int64 {
	v, _ := integer(obj, fields...)
	return v
}

// integer reads a number, whichever Go type the decoder gave it.
func integer(obj *unstructured.Unstructured, fields ...string) (int64, bool) {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, fields...)
	if err != nil || !found {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// condition returns the condition of type t: its status, reason and message.
func condition(obj *unstructured.Unstructured, t string) (status, reason, message string, found bool) {
	conds, ok, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if !ok {
		return "", "", "", false
	}
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != t {
			continue
		}
		status, _ = m["status"].(string)
		reason, _ = m["reason"].(string)
		message, _ = m["message"].(string)
		return status, reason, message, true
	}
	return "", "", "", false
}

func specReplicas(obj *unstructured.Unstructured) int64 {
	r, found := integer(obj, "spec", "replicas")
	if !found {
		return 1
	}
	return r
}

func checkDeployment(obj *unstructured.Unstructured) Result {
	if s, reason, msg, ok := condition(obj, "Progressing"); ok && s == "False" && reason == "ProgressDeadlineExceeded" {
		return failed("progress deadline exceeded: %s", msg)
	}
	if s, _, msg, ok := condition(obj, "ReplicaFailure"); ok && s == "True" {
		return progressing("replica failure: %s", msg)
	}
	want := specReplicas(obj)
	updated, ready, available, total := num(obj, "status", "updatedReplicas"), num(obj, "status", "readyReplicas"),
		num(obj, "status", "availableReplicas"), num(obj, "status", "replicas")
	switch {
	case updated < want:
		return progressing("%d/%d replicas updated", updated, want)
	case total > updated:
		return progressing("%d old replicas pending termination", total-updated)
	case available < want:
		return progressing("%d/%d replicas available", available, want)
	case ready < want:
		return progressing("%d/%d replicas ready", ready, want)
	}
	if s, _, msg, ok := condition(obj, "Available"); ok && s == "False" {
		return progressing("not available: %s", msg)
	}
	return current("%d/%d replicas available", available, want)
}

func checkStatefulSet(obj *unstructured.Unstructured) Result {
	want := specReplicas(obj)
	ready, currentReplicas, updated := num(obj, "status", "readyReplicas"), num(obj, "status", "currentReplicas"), num(obj, "status", "updatedReplicas")
	if ready < want {
		return progressing("%d/%d replicas ready", ready, want)
	}
	strategy, _, _ := unstructured.NestedString(obj.Object, "spec", "updateStrategy", "type")
	if strategy == "OnDelete" {
		return current("%d/%d replicas ready (OnDelete updates)", ready, want)
	}
	if partition, found := integer(obj, "spec", "updateStrategy", "rollingUpdate", "partition"); found && partition > 0 {
		if updated < want-partition {
			return progressing("%d/%d replicas updated (partition %d)", updated, want-partition, partition)
		}
		return current("partitioned rollout complete: %d replicas updated", updated)
	}
	currentRev, _, _ := unstructured.NestedString(obj.Object, "status", "currentRevision")
	updateRev, _, _ := unstructured.NestedString(obj.Object, "status", "updateRevision")
	if currentRev != updateRev && updateRev != "" {
		return progressing("rolling out revision %s: %d/%d replicas updated", updateRev, updated, want)
	}
	if want > 0 && currentReplicas < want && updated < want {
		return progressing("%d/%d replicas current", currentReplicas, want)
	}
	return current("%d/%d replicas ready", ready, want)
}

func checkDaemonSet(obj *unstructured.Unstructured) Result {
	desired := num(obj, "status", "desiredNumberScheduled")
	updated, available, ready := num(obj, "status", "updatedNumberScheduled"), num(obj, "status", "numberAvailable"), num(obj, "status", "numberReady")
	switch {
	case updated < desired:
		return progressing("%d/%d pods updated", updated, desired)
	case available < desired:
		return progressing("%d/%d pods available", available, desired)
	case ready < desired:
		return progressing("%d/%d pods ready", ready, desired)
	}
	return current("%d/%d pods ready", ready, desired)
}

func checkReplicas(obj *unstructured.Unstructured) Result {
	want := specReplicas(obj)
	if ready := num(obj, "status", "readyReplicas"); ready < want {
		return progressing("%d/%d replicas ready", ready, want)
	}
	if available := num(obj, "status", "availableReplicas"); available < want {
		return progressing("%d/%d replicas available", available, want)
	}
	return current("%d replicas ready", want)
}

func checkJob(obj *unstructured.Unstructured) Result {
	if s, _, msg, ok := condition(obj, "Failed"); ok && s == "True" {
		return failed("job failed: %s", msg)
	}
	if s, _, _, ok := condition(obj, "Complete"); ok && s == "True" {
		return current("job completed")
	}
	if suspended, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend"); suspended {
		return current("job suspended")
	}
	return progressing("job running: %d active, %d succeeded", num(obj, "status", "active"), num(obj, "status", "succeeded"))
}

func checkService(obj *unstructured.Unstructured) Result {
	typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type")
	if typ == "LoadBalancer" {
		ingress, _, _ := unstructured.NestedSlice(obj.Object, "status", "loadBalancer", "ingress")
		if len(ingress) == 0 {
			return progressing("waiting for a load balancer address")
		}
		return current("load balancer ready")
	}
	return current("service ready")
}

func checkPVC(obj *unstructured.Unstructured) Result {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	switch phase {
	case "Bound":
		return current("bound")
	case "Lost":
		return failed("claim lost its volume")
	}
	return progressing("not bound yet (phase %q)", phase)
}

func checkPod(obj *unstructured.Unstructured) Result {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	switch phase {
	case "Succeeded":
		return current("pod succeeded")
	case "Failed":
		return failed("pod failed")
	}
	if s, _, _, ok := condition(obj, "Ready"); ok && s == "True" {
		return current("pod ready")
	}
	return progressing("pod not ready (phase %q)", phase)
}

func checkNamespace(obj *unstructured.Unstructured) Result {
	if phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase"); phase == "Terminating" {
		return Result{Status: Terminating, Message: "namespace terminating"}
	}
	return current("namespace active")
}

func checkCRD(obj *unstructured.Unstructured) Result {
	if s, _, msg, ok := condition(obj, "NamesAccepted"); ok && s == "False" {
		return failed("names not accepted: %s", msg)
	}
	if s, _, _, ok := condition(obj, "Established"); ok && s == "True" {
		return current("established")
	}
	return progressing("not established yet")
}

func checkPDB(obj *unstructured.Unstructured) Result {
	if healthy, desired := num(obj, "status", "currentHealthy"), num(obj, "status", "desiredHealthy"); healthy < desired {
		return progressing("%d/%d healthy pods", healthy, desired)
	}
	return current("disruption budget satisfied")
}

// checkConditions applies kstatus' rules for objects with standard conditions: Stalled
// True is a failure, Reconciling True is progress, and Ready (or Available) tells the
// rest. An object without these conditions is ready once it exists.
func checkConditions(obj *unstructured.Unstructured) Result {
	if s, reason, msg, ok := condition(obj, "Stalled"); ok && s == "True" {
		return failed("stalled: %s", joinReason(reason, msg))
	}
	if s, reason, msg, ok := condition(obj, "Reconciling"); ok && s == "True" {
		return progressing("reconciling: %s", joinReason(reason, msg))
	}
	for _, t := range []string{"Ready", "Available"} {
		s, reason, msg, ok := condition(obj, t)
		if !ok {
			continue
		}
		switch s {
		case "True":
			return current("%s", t)
		case "False":
			return progressing("not %s: %s", strings.ToLower(t), joinReason(reason, msg))
		default:
			return progressing("%s unknown: %s", t, joinReason(reason, msg))
		}
	}
	return current("exists")
}

func joinReason(reason, msg string) string {
	switch {
	case reason == "":
		return msg
	case msg == "":
		return reason
	}
	return reason + ": " + msg
}

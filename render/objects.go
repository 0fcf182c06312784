package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// clusterScopedKinds are the kinds known to be cluster scoped without asking an API
// server: Kubernetes' own, and a few common add-ons, besides the admission kinds
// (fleetv1.IsAdmissionKind). CRDs in the same output add theirs.
var clusterScopedKinds = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                              true,
	{Group: "", Kind: "Node"}:                                                   true,
	{Group: "", Kind: "PersistentVolume"}:                                       true,
	{Group: "", Kind: "ComponentStatus"}:                                        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                   true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:            true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:           true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                             true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                  true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                         true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                    true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                         true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                true,
	{Group: "policy", Kind: "PodSecurityPolicy"}:                                true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                          true,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                             true,
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                           true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:           true,
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                  true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                 true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}: true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                             true,
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                           true,
	{Group: "internal.apiserver.k8s.io", Kind: "StorageVersion"}:                true,
	{Group: "authentication.k8s.io", Kind: "TokenReview"}:                       true,
	{Group: "authentication.k8s.io", Kind: "SelfSubjectReview"}:                 true,
	{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}:                true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}:            true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}:             true,
	{Group: "cert-manager.io", Kind: "ClusterIssuer"}:                           true,
	{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}:                  true,
	{Group: "snapshot.storage.k8s.io", Kind: "VolumeSnapshotClass"}:             true,
	{Group: "snapshot.storage.k8s.io", Kind: "VolumeSnapshotContent"}:           true,
	{Group: "kyverno.io", Kind: "ClusterPolicy"}:                                true,
}

// IsClusterScoped reports whether the renderer treats a kind as cluster scoped: one of
// the well-known cluster-scoped kinds (the admission kinds among them), or a kind that a
// CustomResourceDefinition with scope Cluster in the same output defines (crdScoped,
// from ClusterScopedCRDKinds).
func IsClusterScoped(gk schema.GroupKind, crdScoped map[schema.GroupKind]bool) bool {
	return clusterScopedKinds[gk] || fleetv1.IsAdmissionKind(gk) || crdScoped[gk]
}

// ClusterScopedCRDKinds returns the kinds defined cluster scoped by the
// CustomResourceDefinitions among objs.
func ClusterScopedCRDKinds(objs []*unstructured.Unstructured) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
			continue
		}
		scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		if scope == "Cluster" && kind != "" {
			out[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return out
}

func objectID(u *unstructured.Unstructured) ObjectID {
	gvk := u.GroupVersionKind()
	return ObjectID{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// validSegment reports whether s can be a path segment of the environment branch.
func validSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// checkIdentity refuses objects that have no usable name or namespace.
func checkIdentity(u *unstructured.Unstructured) error {
	id := objectID(u)
	if u.GetName() == "" {
		if u.GetGenerateName() != "" {
			return fmt.Errorf("%s %s (generateName %q): metadata.name is required: generated names cannot be committed", id.GroupVersionKind().GroupVersion(), id.Kind, u.GetGenerateName())
		}
		return fmt.Errorf("%s %s: metadata.name is missing", id.GroupVersionKind().GroupVersion(), id.Kind)
	}
	if !validSegment(id.Name) || !validSegment(id.Kind) || (id.Namespace != "" && !validSegment(id.Namespace)) {
		return fmt.Errorf("%s: name, namespace or kind cannot be a file name", id)
	}
	return nil
}

// finishObject sets the namespace (targetNamespace on namespaced objects without one)
// and the provenance annotations on u (which the caller owns), checks its identity and
// marshals it.
func finishObject(u *unstructured.Unstructured, targetNamespace, placement, revision string, crdScoped map[schema.GroupKind]bool) (Object, error) {
	gvk := u.GroupVersionKind()
	scoped := IsClusterScoped(gvk.GroupKind(), crdScoped)
	if !scoped && targetNamespace != "" && u.GetNamespace() == "" {
		u.SetNamespace(targetNamespace)
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[fleetv1.PlacementAnnotation] = placement
	if revision != "" {
		ann[fleetv1.SourceRevisionAnnotation] = revision
	}
	u.SetAnnotations(ann)
	if err := checkIdentity(u); err != nil {
		return Object{}, err
	}
	data, err := canonicalYAML(u.Object)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", objectID(u), err)
	}
	return Object{ID: objectID(u), ClusterScoped: scoped, Object: u, YAML: data}, nil
}

// canonicalJSON marshals v with map keys sorted (encoding/json's order).
func canonicalJSON(v any) ([]byte, error) { return json.Marshal(v) }

// canonicalYAML marshals an object as YAML: the bytes sigs.k8s.io/yaml.Marshal gives
// (keys sorted, two-space indent), without its round trip through JSON. Whole float64
// numbers are turned into int64 first (in place), as that round trip would.
func canonicalYAML(v map[string]any) ([]byte, error) {
	normaliseNumbers(v)
	return yamlv2.Marshal(v)
}

// normaliseNumbers replaces whole float64 values that fit an int64 by int64, in place.
func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if n := normaliseNumbers(e); n != nil {
				x[k] = n
			}
		}
	case []any:
		for i, e := range x {
			if n := normaliseNumbers(e); n != nil {
				x[i] = n
			}
		}
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x)
		}
	}
	return nil
}

// checkSecrets refuses v1 Secrets with data or stringData. The message names the Secret
// and its keys, never a value.
func checkSecrets(objs []Object, allow bool) error {
	if allow {
		return nil
	}
	for _, o := range objs {
		if o.ID.Group != "" || o.ID.Version != "v1" || o.ID.Kind != "Secret" {
			continue
		}
		var keys []string
		for _, field := range []string{"data", "stringData"} {
			if m, ok := o.Object.Object[field].(map[string]any); ok {
				for k := range m {
					keys = append(keys, field+"."+k)
				}
			}
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		return fmt.Errorf("%w: Secret %s holds plaintext data (%s) and the placement does not set allowSecrets: commit an encrypted secret (e.g. a SealedSecret or an ExternalSecret) or set spec.allowSecrets", ErrSecretRefused, nsName(o.ID), strings.Join(keys, ", "))
	}
	return nil
}

func nsName(id ObjectID) string {
	if id.Namespace == "" {
		return id.Name
	}
	return id.Namespace + "/" + id.Name
}

// kindClass orders objects: CRDs, Namespaces, other cluster-scoped, namespaced.
func kindClass(o *Object) int {
	switch {
	case o.ID.Group == "apiextensions.k8s.io" && o.ID.Kind == "CustomResourceDefinition":
		return 0
	case o.ID.Group == "" && o.ID.Kind == "Namespace":
		return 1
	case o.ClusterScoped:
		return 2
	default:
		return 3
	}
}

// sortObjects sorts by kind class, then group, kind, namespace, name and version.
func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := &objs[i], &objs[j]
		if ca, cb := kindClass(a), kindClass(b); ca != cb {
			return ca < cb
		}
		for _, p := range [][2]string{
			{a.ID.Group, b.ID.Group}, {a.ID.Kind, b.ID.Kind}, {a.ID.Namespace, b.ID.Namespace},
			{a.ID.Name, b.ID.Name}, {a.ID.Version, b.ID.Version},
		} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return bytes.Compare(a.YAML, b.YAML) < 0
	})
}

// checkDuplicates refuses two objects with the same group, kind, namespace and name, and
// two objects that would be written to the same file.
func checkDuplicates(objs []Object) error {
	ids := make(map[ObjectID]ObjectID, len(objs))
	files := make(map[string]ObjectID, len(objs))
	for _, o := range objs {
		key := o.ID
		key.Version = ""
		if prev, ok := ids[key]; ok {
			return fmt.Errorf("the output holds %s twice (also as %s)", o.ID, prev)
		}
		ids[key] = o.ID
		f := FilePath("c", "p", o.ID)
		if prev, ok := files[f]; ok {
			return fmt.Errorf("%s and %s would be written to the same file (%s-%s.yaml)", prev, o.ID, strings.ToLower(o.ID.Kind), o.ID.Name)
		}
		files[f] = o.ID
	}
	return nil
}

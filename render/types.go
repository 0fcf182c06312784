package render

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Cluster holds the facts about one member cluster that rendering and overrides use.
type Cluster struct {
	// Name of the MemberCluster: ${CLUSTER_NAME}, and the first folder of FilePath.
	Name string
	// Labels of the MemberCluster: override clusterSelectors and ${CLUSTER_LABEL[key]}.
	Labels map[string]string
	// Properties by name (static and reported): ${CLUSTER_PROPERTY[name]}.
	Properties map[string]string
	// KubernetesVersion, e.g. 1.37.0 or v1.37.0: Helm's .Capabilities.KubeVersion. Empty
	// means Helm's default (the version `helm template` assumes).
	KubernetesVersion string
	// APIVersions served by the cluster ("apps/v1", "apps/v1/Deployment"): Helm's
	// .Capabilities.APIVersions, exactly. Empty means Helm's default set.
	APIVersions []string
	// Replicas is the cluster's share of policy.replicas: ${CLUSTER_REPLICAS}. Nil when the
	// placement divides no replicas.
	Replicas *int32
}

// Input is everything about a placement that is the same for all of its clusters.
type Input struct {
	// Root is the folder of the checked-out source repository. Every file the renderer
	// reads must resolve (after symlinks) inside it.
	Root string
	// Placement is the placement's name: the default Helm release name, the provenance
	// annotation and the second folder of FilePath.
	Placement string
	// Spec is the placement's spec: the source (helm, kustomize or directory),
	// targetNamespace, allowSecrets and the inline overrides.
	Spec *fleetv1.PlacementSpec
	// Overrides are the Override objects that select this placement, in the order their
	// rules apply (after the placement's inline rules).
	Overrides []fleetv1.Override
	// SourceRevision is the dry revision, e.g. main@sha1:<sha>, written into the
	// fleet.gitfleet.dev/source-revision annotation of every object (when not empty).
	SourceRevision string
}

// ObjectID identifies a rendered object.
type ObjectID struct {
	Group, Version, Kind, Namespace, Name string
}

// GroupVersionKind returns the ID's kind.
func (id ObjectID) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: id.Group, Version: id.Version, Kind: id.Kind}
}

// String formats the ID as "apps/v1 Deployment web/api" ("v1 Namespace web" for objects
// without a namespace).
func (id ObjectID) String() string {
	gv := id.Version
	if id.Group != "" {
		gv = id.Group + "/" + id.Version
	}
	if id.Namespace == "" {
		return fmt.Sprintf("%s %s %s", gv, id.Kind, id.Name)
	}
	return fmt.Sprintf("%s %s %s/%s", gv, id.Kind, id.Namespace, id.Name)
}

// Object is one rendered object for one cluster.
type Object struct {
	// ID is the object's group, version, kind, namespace and name.
	ID ObjectID
	// ClusterScoped is true for kinds the renderer knows to be cluster scoped (see
	// IsClusterScoped).
	ClusterScoped bool
	// Object is the final object. Objects not changed by an override are shared between
	// the clusters of a placement: treat it as read-only (DeepCopy it to change it).
	Object *unstructured.Unstructured
	// YAML is the canonical YAML of Object (JSON key order, one document, trailing
	// newline): the bytes to commit.
	YAML []byte
}

// FilePath returns the object's file in the environment-branch layout:
// clusters/<cluster>/<placement>/<namespace or _cluster>/<kind>-<name>.yaml, kind in
// lower case. Objects without a namespace go under _cluster.
func (o Object) FilePath(cluster, placement string) string {
	return FilePath(cluster, placement, o.ID)
}

// ClusterFolder is the folder name FilePath uses for objects without a namespace.
const ClusterFolder = "_cluster"

// FilePath returns the file of the object id for a cluster and placement in the
// environment-branch layout (see Object.FilePath).
func FilePath(cluster, placement string, id ObjectID) string {
	ns := id.Namespace
	if ns == "" {
		ns = ClusterFolder
	}
	file := strings.ToLower(id.Kind) + "-" + id.Name + ".yaml"
	return path.Join("clusters", cluster, placement, ns, file)
}

// ClusterDir returns the folder that holds every file of a cluster in the environment
// branch: clusters/<cluster>.
func ClusterDir(cluster string) string { return path.Join("clusters", cluster) }

// PlacementDir returns the folder that holds a placement's files for a cluster:
// clusters/<cluster>/<placement>.
func PlacementDir(cluster, placement string) string {
	return path.Join("clusters", cluster, placement)
}

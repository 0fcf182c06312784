package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// HubFieldManager is the field manager of the agent's writes to its MemberCluster's
// status on the hub. It owns the fields listed in hubStatus, and the conditions Healthy
// and Drifted; the hub's own conditions (Joined) are left to the hub.
const HubFieldManager = "gitfleet-agent"

// HubKubeconfigKey is the key of the hub kubeconfig in spec.hub.kubeconfigSecretRef.
const HubKubeconfigKey = "kubeconfig"

// apiVersionsTTL is how long the list of served API versions is reused.
const apiVersionsTTL = 10 * time.Minute

// hubReporter remembers the hub connection and what was last reported.
type hubReporter struct {
	client      client.Client
	clientKey   string
	lastReport  time.Time
	lastDigest  string
	apiVersions []string
	apiAt       time.Time
	version     string
	failing     string
}

// reconcileHub reports to the hub, when spec.hub is set: a heartbeat every
// HeartbeatInterval, and at once when the applied commit, health or drift change. A
// failure is logged and recorded as an event; it never fails the pass.
func (r *Reconciler) reconcileHub(ctx context.Context, p *pass) error {
	cs, hr := p.cs, p.st.hub
	if cs.Spec.Hub == nil {
		return nil
	}
	o := r.observe(p)
	digest := fmt.Sprintf("%s|%s|%d|%d|%d|%v", p.st.appliedCommit, p.st.commit, o.drifted, o.notReadyCount, o.unhealthyCount, o.known)
	elapsed := p.now.Sub(hr.lastReport)
	if elapsed < r.Options.HeartbeatInterval && digest == hr.lastDigest {
		p.after(r.Options.HeartbeatInterval - elapsed)
		return nil
	}
	p.after(r.Options.HeartbeatInterval)
	err := r.reportToHub(ctx, p, o)
	if err != nil {
		msg := oneLine(err.Error())
		ctrl.LoggerFrom(ctx).Info("could not report to the hub", "error", msg)
		if hr.failing == "" {
			r.event(cs, "Warning", "HubReportFailed", "ReportToHub", "%s", msg)
		}
		hr.failing = msg
		return nil
	}
	if hr.failing != "" {
		r.event(cs, "Normal", "HubReported", "ReportToHub", "reporting to the hub again")
	}
	hr.failing, hr.lastReport, hr.lastDigest = "", p.now, digest
	return nil
}

func (r *Reconciler) reportToHub(ctx context.Context, p *pass, o observations) error {
	cs, hr := p.cs, p.st.hub
	hub, err := r.hubClient(ctx, p)
	if err != nil {
		return err
	}
	props, err := r.memberProperties(ctx, hr)
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: cs.Spec.Hub.Namespace, Name: cs.Spec.ClusterName}
	mc := &v1alpha1.MemberCluster{}
	if err := hub.Get(ctx, key, mc); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("MemberCluster %s not found on the hub", key)
		}
		return fmt.Errorf("reading MemberCluster %s on the hub: %w", key, err)
	}
	status := hubStatus(p, o, props, mc.Status.Conditions, p.now)
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(v1alpha1.GroupVersion.String())
	u.SetKind("MemberCluster")
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return fmt.Errorf("encoding the MemberCluster status: %w", err)
	}
	u.Object["status"] = raw
	if err := hub.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(HubFieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing MemberCluster %s status on the hub: %w", key, err)
	}
	return nil
}

// hubClient returns a client for the hub, from Options.HubKubeconfig or the Secret of
// spec.hub, made again when the credentials change.
func (r *Reconciler) hubClient(ctx context.Context, p *pass) (client.Client, error) {
	hr, spec := p.st.hub, p.cs.Spec.Hub
	var data []byte
	var err error
	if r.Options.HubKubeconfig != "" {
		data, err = os.ReadFile(r.Options.HubKubeconfig)
		if err != nil {
			return nil, fmt.Errorf("reading the hub kubeconfig: %w", err)
		}
	} else {
		s, err := r.secret(ctx, p.cs.Namespace, spec.KubeconfigSecretRef.Name)
		if err != nil {
			return nil, err
		}
		data = s.Data[HubKubeconfigKey]
		if len(data) == 0 {
			return nil, fmt.Errorf("no key %q in Secret %s", HubKubeconfigKey, spec.KubeconfigSecretRef.Name)
		}
	}
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	if hr.client != nil && hr.clientKey == key {
		return hr.client, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("reading the hub kubeconfig: %w", err)
	}
	cfg.Timeout = 30 * time.Second
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the hub client: %w", err)
	}
	hr.client, hr.clientKey = c, key
	return c, nil
}

// memberProps is what the agent reports of its cluster.
type memberProps struct {
	nodes       int32
	allocatable corev1.ResourceList
	available   corev1.ResourceList
	version     string
	apiVersions []string
}

// memberProperties reads the nodes, the requests of running pods and the API server's
// version and served API versions (cached for apiVersionsTTL).
func (r *Reconciler) memberProperties(ctx context.Context, hr *hubReporter) (memberProps, error) {
	var props memberProps
	nodes := &corev1.NodeList{}
	if err := r.APIReader.List(ctx, nodes); err != nil {
		return props, fmt.Errorf("listing nodes: %w", err)
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods); err != nil {
		return props, fmt.Errorf("listing pods: %w", err)
	}
	props.nodes, props.allocatable, props.available = ClusterResources(nodes.Items, pods.Items)
	if r.Discovery != nil && (hr.apiVersions == nil || time.Since(hr.apiAt) > apiVersionsTTL) {
		if v, err := r.Discovery.ServerVersion(); err == nil {
			hr.version = strings.TrimPrefix(strings.SplitN(v.GitVersion, "+", 2)[0], "v")
		}
		_, lists, err := r.Discovery.ServerGroupsAndResources()
		if err == nil || len(lists) > 0 {
			hr.apiVersions, hr.apiAt = APIVersions(lists), time.Now()
		}
	}
	props.version, props.apiVersions = hr.version, hr.apiVersions
	return props, nil
}

// ClusterResources sums the nodes' allocatable CPU and memory, and subtracts the
// requests of the pods that are scheduled and not finished to get what is available.
func ClusterResources(nodes []corev1.Node, pods []corev1.Pod) (int32, corev1.ResourceList, corev1.ResourceList) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0"), corev1.ResourceMemory: resource.MustParse("0")}
	for _, n := range nodes {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := n.Status.Allocatable[name]; ok {
				sum := alloc[name]
				sum.Add(q)
				alloc[name] = sum
			}
		}
	}
	avail := alloc.DeepCopy()
	for _, pod := range pods {
		if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range pod.Spec.Containers {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := c.Resources.Requests[name]; ok {
					left := avail[name]
					left.Sub(q)
					avail[name] = left
				}
			}
		}
	}
	for name, q := range avail {
		if q.Sign() < 0 {
			avail[name] = resource.MustParse("0")
		}
	}
	return int32(len(nodes)), alloc, avail
}

// APIVersions lists the served group/versions and group/version/Kind, sorted, as Helm's
// .Capabilities.APIVersions has them.
func APIVersions(lists []*metav1.APIResourceList) []string {
	seen := map[string]bool{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		seen[l.GroupVersion] = true
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") {
				continue // subresource
			}
			seen[l.GroupVersion+"/"+res.Kind] = true
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	if len(out) > 4096 {
		out = out[:4096]
	}
	return out
}

// hubStatus builds the MemberCluster status fields the agent owns.
func hubStatus(p *pass, o observations, props memberProps, existing []metav1.Condition, now time.Time) v1alpha1.MemberClusterStatus {
	st, cs := p.st, p.cs
	t := metav1.NewTime(now)
	status := v1alpha1.MemberClusterStatus{
		LastHeartbeatTime:     &t,
		KubernetesVersion:     props.version,
		APIVersions:           props.apiVersions,
		Resources:             &v1alpha1.ClusterResources{NodeCount: props.nodes, Allocatable: props.allocatable, Available: props.available},
		Branch:                cs.Spec.Branch,
		AppliedCommit:         st.appliedCommit,
		AppliedSourceRevision: st.appliedSource,
		Placements:            placementSummaries(st),
		DriftedObjects:        int32(len(st.drifted)),
	}
	status.Properties = []v1alpha1.ClusterProperty{{Name: v1alpha1.NodeCountProperty, Value: fmt.Sprint(props.nodes)}}
	if props.version != "" {
		status.Properties = append(status.Properties, v1alpha1.ClusterProperty{Name: v1alpha1.KubernetesVersionProperty, Value: props.version})
	}
	// Keep the transition times of conditions that did not change.
	conds := append([]metav1.Condition(nil), existing...)
	set := computeConditions(o)
	var mine []metav1.Condition
	for _, c := range []*metav1.Condition{set.Healthy, set.Drifted} {
		if c == nil {
			continue
		}
		cc := *c
		cc.Reason = v1alpha1.AgentReportedReason
		if c.Reason != "" {
			cc.Message = c.Reason + ": " + c.Message
		}
		if len(cc.Message) > 1024 {
			cc.Message = cc.Message[:1021] + "..."
		}
		apimeta.SetStatusCondition(&conds, cc)
		mine = append(mine, *apimeta.FindStatusCondition(conds, cc.Type))
	}
	status.Conditions = mine
	return status
}

// placementSummaries groups the applied objects by placement: the annotation
// fleet.gitfleet.dev/placement of the object in Git, or else the first folder of its
// file (clusters/<cluster>/<placement>/...).
func placementSummaries(st *syncState) []v1alpha1.PlacementApplySummary {
	if st.objects == nil {
		return nil
	}
	by := map[string]*v1alpha1.PlacementApplySummary{}
	get := func(name string) *v1alpha1.PlacementApplySummary {
		if by[name] == nil {
			by[name] = &v1alpha1.PlacementApplySummary{Placement: name, Healthy: true}
		}
		return by[name]
	}
	notReady := map[string]bool{}
	for _, h := range append(append([]objectHealth(nil), st.health.notReady...), st.health.failed...) {
		notReady[h.key.String()] = true
	}
	for _, obj := range st.objects.Objects {
		k := manifest.KeyOf(obj)
		file := st.objects.Files[k]
		if _, ok := st.results[k]; !ok && k.Namespace == "" {
			if alt := (manifest.Key{Group: k.Group, Kind: k.Kind, Namespace: metav1.NamespaceDefault, Name: k.Name}); hasResult(st, alt) {
				k = alt
			}
		}
		name := obj.GetAnnotations()[v1alpha1.PlacementAnnotation]
		if name == "" {
			if i := strings.Index(file, "/"); i > 0 {
				name = file[:i]
			}
		}
		if name == "" {
			name = "(none)"
		}
		s := get(name)
		s.Objects++
		if res, ok := st.results[k]; ok && res.Action == v1alpha1.ActionFailed {
			s.Failed++
			s.Healthy = false
		}
		if notReady[k.String()] {
			s.Healthy = false
		}
		if _, drifted := st.drifted[k]; drifted {
			s.Drifted++
		}
	}
	out := make([]v1alpha1.PlacementApplySummary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Placement < out[j].Placement })
	if len(out) > 1000 {
		out = out[:1000]
	}
	return out
}

func hasResult(st *syncState, k manifest.Key) bool {
	_, ok := st.results[k]
	return ok
}

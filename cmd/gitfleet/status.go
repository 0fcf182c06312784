package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func init() {
	register("status", "show placements × clusters × stages on the hub (non-zero exit when something failed or the hub is not reconciling)", runStatus)
}

// Exit codes of `gitfleet status`, for scripts and alerts.
const (
	// statusFailed: a render, commit or apply failed, or a placement has a problem of its
	// own (not enough clusters, a missing pipeline).
	statusFailed = 1
	// statusUsage: the command line is wrong.
	statusUsage = 2
	// statusNotReconciling: the hub is not keeping up: an object it never marked Ready or
	// not Ready, a generation it has not processed, a cluster whose agent stopped
	// heartbeating. Checked after statusFailed, which wins when both hold.
	statusNotReconciling = 3
	// statusUnreadable: the hub cannot be read (kubeconfig, connection, permissions) or
	// the namespace does not exist.
	statusUnreadable = 4
)

const statusHelp = `Exit codes:
  0  every object is reconciled and nothing failed
  1  something failed: a render, commit or apply, or a placement's own problem
     (not enough clusters, a missing pipeline)
  2  wrong usage
  3  the hub is not reconciling: a GitSource, Placement, Pipeline, Override or
     MemberCluster without a Ready condition, with a Ready condition older than its
     generation, or a MemberCluster whose agent heartbeat is older than its grace period
  4  the hub cannot be read (kubeconfig, connection, permissions) or the namespace
     does not exist
`

// StatusRow is one placement on one cluster.
type StatusRow struct {
	Placement      string `json:"placement"`
	Cluster        string `json:"cluster"`
	Stage          string `json:"stage,omitempty"`
	Scheduled      bool   `json:"scheduled"`
	Rendered       string `json:"rendered"`
	RenderedCommit string `json:"renderedCommit,omitempty"`
	AppliedCommit  string `json:"appliedCommit,omitempty"`
	Applied        string `json:"applied"`
	Healthy        string `json:"healthy"`
	Drift          string `json:"drift"`
	Failed         bool   `json:"failed"`
	Message        string `json:"message,omitempty"`
}

// StatusReport is what `gitfleet status -o json|yaml` prints.
type StatusReport struct {
	Namespace string      `json:"namespace"`
	Rows      []StatusRow `json:"rows"`
	Summary   string      `json:"summary"`
	// Placements with a problem of their own (not enough clusters, a missing pipeline).
	Problems []string `json:"problems,omitempty"`
	// NotReconciled lists why the hub looks idle or behind: objects it never marked
	// Ready, generations it has not processed, clusters whose heartbeat is stale.
	NotReconciled []string `json:"notReconciled,omitempty"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config)")
	namespace := fs.String("n", "fleet-system", "the hub's fleet namespace")
	output := fs.String("o", "table", "table, json or yaml")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gitfleet status [--kubeconfig FILE] [-n NAMESPACE] [-o table|json|yaml]\n\n"+
			"Shows each placement on each cluster as the hub and the agents reported it, and\n"+
			"whether the hub is keeping up.")
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+statusHelp)
	}
	if err := fs.Parse(args); err != nil {
		return statusUsage
	}
	if *output != "table" && *output != "json" && *output != "yaml" {
		fmt.Fprintln(stderr, "error: -o must be table, json or yaml")
		return statusUsage
	}
	c, err := hubClient(*kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return statusUnreadable
	}
	if err := checkNamespace(ctx, c, *namespace); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return statusUnreadable
	}
	rep, err := collectStatus(ctx, c, *namespace)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return statusUnreadable
	}
	rep.NotReconciled, err = notReconciled(ctx, c, *namespace, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return statusUnreadable
	}
	switch *output {
	case "json":
		data, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(data))
	case "yaml":
		data, _ := yaml.Marshal(rep)
		fmt.Fprint(stdout, string(data))
	default:
		printStatus(stdout, rep)
	}
	for _, r := range rep.Rows {
		if r.Failed {
			return statusFailed
		}
	}
	if len(rep.Problems) > 0 {
		return statusFailed
	}
	if len(rep.NotReconciled) > 0 {
		return statusNotReconciling
	}
	return 0
}

// checkNamespace tells a namespace that does not exist from an empty one. A caller who
// may not read namespaces gets the benefit of the doubt.
func checkNamespace(ctx context.Context, c client.Client, ns string) error {
	err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q does not exist on the hub (set -n to the namespace of the hub's GitSources)", ns)
	case err != nil && !apierrors.IsForbidden(err):
		return fmt.Errorf("reading namespace %q: %w", ns, err)
	}
	return nil
}

// notReconciled lists the signs that the hub is not processing the namespace: an object
// with no Ready condition (never reconciled), a Ready condition about an older generation
// (a change not processed), a MemberCluster whose agent heartbeat is older than its grace
// period. Suspended objects are left out.
func notReconciled(ctx context.Context, c client.Client, ns string, now time.Time) ([]string, error) {
	lists := []client.ObjectList{&fleetv1alpha1.GitSourceList{}, &fleetv1alpha1.PlacementList{}, &fleetv1alpha1.PipelineList{},
		&fleetv1alpha1.OverrideList{}, &fleetv1alpha1.MemberClusterList{}}
	var out []string
	for _, l := range lists {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing %T in %s: %w", l, ns, err)
		}
		items, err := apimeta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			obj, ok := it.(interface {
				client.Object
				GetConditions() []metav1.Condition
			})
			if !ok {
				continue
			}
			kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
			if suspended(obj) {
				continue
			}
			ready := apimeta.FindStatusCondition(obj.GetConditions(), fleetv1alpha1.ReadyCondition)
			switch {
			case ready == nil:
				out = append(out, fmt.Sprintf("%s %q has no Ready condition: the hub has not reconciled it (is the hub running?)", kind, obj.GetName()))
			case ready.ObservedGeneration < obj.GetGeneration():
				out = append(out, fmt.Sprintf("%s %q: generation %d not processed yet (Ready is about generation %d)", kind, obj.GetName(), obj.GetGeneration(), ready.ObservedGeneration))
			}
			if mc, ok := obj.(*fleetv1alpha1.MemberCluster); ok {
				grace, hb := mc.Spec.HeartbeatGrace(), mc.Status.LastHeartbeatTime
				if grace > 0 && hb != nil && now.Sub(hb.Time) > grace {
					out = append(out, fmt.Sprintf("MemberCluster %q: last agent heartbeat %s ago, more than its grace period of %s (is its agent running?)",
						mc.Name, now.Sub(hb.Time).Round(time.Second), grace))
				}
			}
		}
	}
	return out, nil
}

func suspended(obj client.Object) bool {
	switch o := obj.(type) {
	case *fleetv1alpha1.GitSource:
		return o.Spec.Suspend
	case *fleetv1alpha1.Placement:
		return o.Spec.Suspend
	}
	return false
}

// hubClient is a client of the hub for the gitfleet kinds and Secrets (approve reads the
// forge token with the caller's kubeconfig).
func hubClient(kubeconfig string) (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the hub kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme, corev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// collectStatus joins each Placement's per-cluster status with what the cluster's agent
// reported on its MemberCluster.
func collectStatus(ctx context.Context, c client.Client, ns string) (*StatusReport, error) {
	var placements fleetv1alpha1.PlacementList
	if err := c.List(ctx, &placements, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing placements in %s: %w", ns, err)
	}
	var clusters fleetv1alpha1.MemberClusterList
	if err := c.List(ctx, &clusters, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing member clusters in %s: %w", ns, err)
	}
	mcs := map[string]*fleetv1alpha1.MemberCluster{}
	for i := range clusters.Items {
		mcs[clusters.Items[i].Name] = &clusters.Items[i]
	}
	rep := &StatusReport{Namespace: ns}
	sort.Slice(placements.Items, func(i, j int) bool { return placements.Items[i].Name < placements.Items[j].Name })
	for _, p := range placements.Items {
		if ready := apimeta.FindStatusCondition(p.Status.Conditions, fleetv1alpha1.ReadyCondition); ready != nil && ready.Status == metav1.ConditionFalse &&
			(ready.Reason == fleetv1alpha1.NotEnoughClustersReason || ready.Reason == fleetv1alpha1.DependencyNotReadyReason) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", p.Name, ready.Message))
		}
		for _, cs := range p.Status.Clusters {
			rep.Rows = append(rep.Rows, statusRow(p.Name, cs, mcs[cs.ClusterName]))
		}
	}
	rep.Summary = summarise(rep.Rows)
	return rep, nil
}

func statusRow(placement string, cs fleetv1alpha1.ClusterPlacementStatus, mc *fleetv1alpha1.MemberCluster) StatusRow {
	r := StatusRow{Placement: placement, Cluster: cs.ClusterName, Stage: cs.Stage, RenderedCommit: fleetv1alpha1.ShortSHA(cs.RenderedCommit),
		Scheduled: apimeta.IsStatusConditionTrue(cs.Conditions, fleetv1alpha1.ScheduledCondition)}
	if mc != nil {
		r.AppliedCommit = fleetv1alpha1.ShortSHA(mc.Status.AppliedCommit)
	}
	state := func(typ string) (string, *metav1.Condition) {
		c := apimeta.FindStatusCondition(cs.Conditions, typ)
		switch {
		case c == nil:
			return "-", nil
		case c.Status == metav1.ConditionTrue:
			return "yes", c
		case c.Status == metav1.ConditionFalse:
			return "no", c
		}
		return "?", c
	}
	var cond *metav1.Condition
	r.Rendered, cond = state(fleetv1alpha1.RenderedCondition)
	if cond != nil && cond.Status == metav1.ConditionFalse {
		r.Failed, r.Message = true, cond.Message
	}
	if c := apimeta.FindStatusCondition(cs.Conditions, fleetv1alpha1.CommittedCondition); c != nil && c.Status == metav1.ConditionFalse &&
		c.Reason == fleetv1alpha1.CommitFailedReason {
		r.Failed, r.Message = true, c.Message
	}
	r.Applied, cond = state(fleetv1alpha1.AppliedCondition)
	if cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == fleetv1alpha1.ApplyFailedReason {
		r.Failed, r.Message = true, cond.Message
	}
	r.Healthy, cond = state(fleetv1alpha1.AvailableCondition)
	if cond != nil && cond.Status == metav1.ConditionFalse && r.Message == "" {
		r.Message = cond.Message
	}
	drift, _ := state(fleetv1alpha1.DriftedCondition)
	r.Drift = map[string]string{"yes": "drifted", "no": "none", "-": "-", "?": "?"}[drift]
	return r
}

func summarise(rows []StatusRow) string {
	placements := map[string]bool{}
	var committed, applied, healthy, drifted, failed int
	for _, r := range rows {
		placements[r.Placement] = true
		if r.RenderedCommit != "" {
			committed++
		}
		if r.Applied == "yes" {
			applied++
		}
		if r.Healthy == "yes" {
			healthy++
		}
		if r.Drift == "drifted" {
			drifted++
		}
		if r.Failed {
			failed++
		}
	}
	return fmt.Sprintf("%d placements on %d clusters: %d committed, %d applied, %d healthy, %d drifted, %d failed",
		len(placements), len(rows), committed, applied, healthy, drifted, failed)
}

func printStatus(w io.Writer, rep *StatusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLACEMENT\tCLUSTER\tSTAGE\tSCHEDULED\tRENDERED\tCOMMIT\tAPPLIED\tHEALTHY\tDRIFT\tMESSAGE")
	for _, r := range rep.Rows {
		applied := r.Applied
		if r.AppliedCommit != "" {
			applied += " (" + r.AppliedCommit + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Placement, r.Cluster, r.Stage, yesNo(r.Scheduled), r.Rendered,
			orDash(r.RenderedCommit), applied, r.Healthy, r.Drift, oneLine(r.Message, 80))
	}
	_ = tw.Flush()
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	for _, p := range rep.NotReconciled {
		fmt.Fprintln(w, "not reconciled:", p)
	}
	fmt.Fprintln(w, rep.Summary)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

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

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func init() {
	register("status", "show placements × clusters × stages on the hub (exit 1 when anything failed)", runStatus)
}

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
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config)")
	namespace := fs.String("n", "fleet-system", "the hub's fleet namespace")
	output := fs.String("o", "table", "table, json or yaml")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *output != "table" && *output != "json" && *output != "yaml" {
		fmt.Fprintln(stderr, "error: -o must be table, json or yaml")
		return 2
	}
	c, err := hubClient(*kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	rep, err := collectStatus(ctx, c, *namespace)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
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
			return 1
		}
	}
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
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

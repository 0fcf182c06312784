package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
)

func init() {
	register("promote", "start a promotion of STAGE now (--revision SHA; --skip-gates --reason TEXT)", runPromote)
	register("approve", "merge the open approval pull request of STAGE through the forge", runApprove)
}

// promotionFlags are the flags promote and approve share.
type promotionFlags struct {
	kubeconfig, namespace, pipeline *string
}

func addPromotionFlags(fs *flag.FlagSet) promotionFlags {
	return promotionFlags{
		kubeconfig: fs.String("kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config)"),
		namespace:  fs.String("n", "fleet-system", "the hub's fleet namespace"),
		pipeline:   fs.String("pipeline", "", "the Pipeline (default: the only one in the namespace)"),
	}
}

func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPromotionFlags(fs)
	revision := fs.String("revision", "", "dry revision (fleet config repo commit) to promote; default: what the previous stage holds")
	skip := fs.Bool("skip-gates", false, "promote without waiting for the gates (needs --reason, which is recorded)")
	reason := fs.String("reason", "", "why the gates are skipped")
	stage, code := parseStage(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if *skip && *reason == "" {
		fmt.Fprintln(stderr, "error: --skip-gates needs --reason")
		return 2
	}
	c, err := hubClient(*pf.kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	promo, err := promote(ctx, c, *pf.namespace, *pf.pipeline, stage, *revision, *skip, *reason)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	if *skip {
		fmt.Fprintf(stdout, "promotion %s: %s moves into %s now (gates skipped: %s)\n", promo.Name, fleetv1alpha1.ShortSHA(promo.Spec.DryRevision), stage, *reason)
	} else {
		fmt.Fprintf(stdout, "promotion %s: %s moves into %s once its gates pass\n", promo.Name, fleetv1alpha1.ShortSHA(promo.Spec.DryRevision), stage)
	}
	return 0
}

// promote records a Promotion of revision (default: what the previous stage holds) into
// stage, named as the hub names its own, and asks the pipeline to reconcile now.
func promote(ctx context.Context, c client.Client, ns, pipeline, stage, revision string, skip bool, reason string) (*fleetv1alpha1.Promotion, error) {
	pipe, idx, err := findStage(ctx, c, ns, pipeline, stage)
	if err != nil {
		return nil, err
	}
	if idx == 0 {
		return nil, fmt.Errorf("stage %s is the first of pipeline %s: it follows the fleet config repo", stage, pipe.Name)
	}
	from := pipe.Spec.Stages[idx-1].Name
	if revision == "" {
		for _, st := range pipe.Status.Stages {
			if st.Name == from {
				revision = st.CurrentRevision
			}
		}
		if revision == "" {
			return nil, fmt.Errorf("stage %s holds no revision yet; pass --revision", from)
		}
	}
	promo := &fleetv1alpha1.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fleetv1alpha1.PromotionName(pipe.Name, stage, revision),
			Labels: map[string]string{fleetv1alpha1.PipelineLabel: pipe.Name, fleetv1alpha1.StageLabel: stage}},
		Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: pipe.Name}, Stage: stage,
			FromStage: from, DryRevision: revision, SkipGates: skip, SkipGatesReason: reason},
	}
	// An earlier attempt of the same revision (e.g. merged, then rolled back) keeps its
	// record: a new one gets a generated name; one still in progress is an error.
	earlier := &fleetv1alpha1.Promotion{}
	switch err := c.Get(ctx, client.ObjectKeyFromObject(promo), earlier); {
	case err == nil && !earlier.Status.Phase.Finished():
		return nil, fmt.Errorf("promotion %s of %s into %s is already in progress (phase %q)", earlier.Name, fleetv1alpha1.ShortSHA(revision), stage, earlier.Status.Phase)
	case err == nil:
		promo.GenerateName, promo.Name = promo.Name+"-", ""
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Promotion %s: %w", promo.Name, err)
	}
	if err := c.Create(ctx, promo); err != nil {
		return nil, fmt.Errorf("creating Promotion %s: %w", promo.Name+promo.GenerateName, err)
	}
	if err := requestReconcile(ctx, c, pipe); err != nil {
		return nil, fmt.Errorf("asking pipeline %s to reconcile: %w", pipe.Name, err)
	}
	return promo, nil
}

func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("approve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPromotionFlags(fs)
	stage, code := parseStage(fs, args, stderr)
	if code >= 0 {
		return code
	}
	c, err := hubClient(*pf.kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	ref, err := approve(ctx, c, *pf.namespace, *pf.pipeline, stage)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "merged #%d %s\n", ref.Number, ref.URL)
	return 0
}

// approve merges the open approval pull request of stage through the forge of the
// pipeline's GitSource (the token comes from its Secret, readable with the caller's
// kubeconfig), only if its head is still the commit the Promotion records, and asks the
// pipeline to reconcile now.
func approve(ctx context.Context, c client.Client, ns, pipeline, stage string) (*fleetv1alpha1.PullRequestRef, error) {
	pipe, idx, err := findStage(ctx, c, ns, pipeline, stage)
	if err != nil {
		return nil, err
	}
	st := statusOf(pipe, stage)
	if st.TargetRevision == "" || st.Promotion == "" {
		return nil, fmt.Errorf("stage %s has no promotion in progress (%s)", stage, st.Message)
	}
	if pipe.Spec.Stages[idx].Promotion != fleetv1alpha1.PromotionPullRequest {
		return nil, fmt.Errorf("stage %s is promoted automatically; there is nothing to approve", stage)
	}
	promo := &fleetv1alpha1.Promotion{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: st.Promotion}, promo); err != nil {
		return nil, fmt.Errorf("reading Promotion %s: %w", st.Promotion, err)
	}
	ref := promo.Status.PullRequest
	if ref == nil || promo.Status.Phase != fleetv1alpha1.PromotionOpen {
		return nil, fmt.Errorf("the approval pull request of %s is not open yet (promotion %s is %s)", stage, promo.Name, promo.Status.Phase)
	}
	srcName := ""
	if pipe.Spec.TargetRef != nil {
		srcName = pipe.Spec.TargetRef.Name
	} else {
		var placements fleetv1alpha1.PlacementList
		if err := c.List(ctx, &placements, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing Placements: %w", err)
		}
		srcName = fleetv1alpha1.PipelineSourceName(pipe.Name, placements.Items)
	}
	src := &fleetv1alpha1.GitSource{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: srcName}, src); err != nil {
		return nil, fmt.Errorf("reading GitSource %q: %w", srcName, err)
	}
	forge, err := forgeOf(ctx, c, src)
	if err != nil {
		return nil, err
	}
	if forge == nil {
		return nil, fmt.Errorf("GitSource %s has no forge", src.Name)
	}
	if ref.HeadCommit == "" {
		return nil, fmt.Errorf("promotion %s does not record the commit its pull request #%d was opened at, so gitfleet cannot check that #%d still carries what the hub proposed; merge it on the forge after review", promo.Name, ref.Number, ref.Number)
	}
	// Merge only the commit the hub proposed: a commit pushed to the branch since is
	// refused by the forge (ErrHeadMoved).
	if err := forge.MergePullRequest(ctx, int(ref.Number), ref.HeadCommit, fmt.Sprintf("Approved with gitfleet approve %s", stage)); err != nil {
		return nil, fmt.Errorf("merging #%d: %w", ref.Number, err)
	}
	if err := requestReconcile(ctx, c, pipe); err != nil {
		return nil, fmt.Errorf("asking pipeline %s to reconcile: %w", pipe.Name, err)
	}
	return ref, nil
}

// forgeOf returns the forge of a GitSource (nil without one), with the token of its forge
// Secret, read with the caller's kubeconfig.
func forgeOf(ctx context.Context, c client.Client, src *fleetv1alpha1.GitSource) (gitsource.Forge, error) {
	var token string
	if f := src.Spec.Forge; f != nil && f.SecretRef != nil && f.Type != fleetv1alpha1.ForgeNone {
		sec := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: f.SecretRef.Name}, sec); err != nil {
			return nil, fmt.Errorf("reading forge Secret %q of GitSource %s: %w", f.SecretRef.Name, src.Name, err)
		}
		token = string(sec.Data[gitsource.ForgeTokenKey])
	}
	return gitsource.ForgeForSource(src, token)
}

// requestReconcile asks the hub to reconcile the pipeline now.
func requestReconcile(ctx context.Context, c client.Client, pipe *fleetv1alpha1.Pipeline) error {
	patch := client.MergeFrom(pipe.DeepCopy())
	fleetv1alpha1.RequestReconcile(pipe, time.Now())
	return c.Patch(ctx, pipe, patch)
}

// parseStage parses flags and the one STAGE argument, before or among the flags
// (gitfleet promote prod --skip-gates ... and gitfleet promote --skip-gates ... prod); code
// is -1 to go on.
func parseStage(fs *flag.FlagSet, args []string, stderr io.Writer) (string, int) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "usage: gitfleet %s STAGE [flags]\n", fs.Name())
		return "", 2
	}
	return positional[0], -1
}

// findStage returns the pipeline (the named one, or the only one) and the stage's index.
func findStage(ctx context.Context, c client.Client, ns, name, stage string) (*fleetv1alpha1.Pipeline, int, error) {
	pipe := &fleetv1alpha1.Pipeline{}
	if name != "" {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pipe); err != nil {
			return nil, 0, fmt.Errorf("reading Pipeline %s: %w", name, err)
		}
	} else {
		var list fleetv1alpha1.PipelineList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, 0, fmt.Errorf("listing Pipelines: %w", err)
		}
		if len(list.Items) != 1 {
			return nil, 0, fmt.Errorf("%d Pipelines in namespace %s: pass --pipeline", len(list.Items), ns)
		}
		pipe = &list.Items[0]
	}
	for i, s := range pipe.Spec.Stages {
		if s.Name == stage {
			return pipe, i, nil
		}
	}
	return nil, 0, errors.New("pipeline " + pipe.Name + " has no stage " + stage)
}

func statusOf(pipe *fleetv1alpha1.Pipeline, stage string) fleetv1alpha1.StageStatus {
	for _, st := range pipe.Status.Stages {
		if st.Name == stage {
			return st
		}
	}
	return fleetv1alpha1.StageStatus{Name: stage}
}

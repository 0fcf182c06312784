package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func init() {
	register("rollback", "open a pull request restoring STAGE's rendered tree of an earlier commit (--to REV)", runRollback)
}

var hexRevision = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gitfleet rollback STAGE --to REV [--reason TEXT] [--wait 2m]\n\n"+
			"Asks the hub to open a pull request into STAGE's branch that restores the rendered tree of an\n"+
			"earlier commit of it (REV: a commit of the branch, or a dry revision the stage held). Merging\n"+
			"the pull request rolls the stage back; the rolled-back revision is not proposed to it again.")
		fs.PrintDefaults()
	}
	pf := addPromotionFlags(fs)
	to := fs.String("to", "", "earlier commit of the stage's branch, or a dry revision it held (SHA, at least 7 characters)")
	reason := fs.String("reason", "", "why: recorded in the pull request and on the Promotion")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the hub to open the pull request (0: do not wait)")
	stage, code := parseStage(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if !hexRevision.MatchString(*to) {
		fmt.Fprintln(stderr, "error: --to needs a commit SHA of the stage's branch or a dry revision (7 to 64 lowercase hex characters)")
		return 2
	}
	c, err := hubClient(*pf.kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	promo, err := rollback(ctx, c, *pf.namespace, *pf.pipeline, stage, *to, *reason)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rollback %s: asked the hub to roll %s back to %s\n", promo.Name, stage, *to)
	if *wait <= 0 {
		fmt.Fprintf(stdout, "follow it with: kubectl -n %s get promotion %s -w\n", promo.Namespace, promo.Name)
		return 0
	}
	fmt.Fprintln(stdout, "waiting for the hub to open the pull request…")
	done, err := waitRollback(ctx, c, promo, *wait, time.Second)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	switch done.Status.Phase {
	case fleetv1alpha1.PromotionOpen, fleetv1alpha1.PromotionMerged:
		rb := done.Status.Rollback
		fmt.Fprintf(stdout, "opened #%d %s\n  restores %s of %s (dry revision %s); merge it to roll back\n",
			done.Status.PullRequest.Number, done.Status.PullRequest.URL, fleetv1alpha1.ShortSHA(rb.RestoredCommit), stage, fleetv1alpha1.ShortSHA(rb.DryRevision))
		return 0
	default:
		fmt.Fprintf(stderr, "error: rollback %s is %s: %s\n", done.Name, done.Status.Phase, readyMessage(done))
		return 1
	}
}

// rollback records a Promotion asking the hub to roll stage back to the earlier commit (or
// dry revision) to, and asks the pipeline to reconcile now.
func rollback(ctx context.Context, c client.Client, ns, pipeline, stage, to, reason string) (*fleetv1alpha1.Promotion, error) {
	pipe, idx, err := findStage(ctx, c, ns, pipeline, stage)
	if err != nil {
		return nil, err
	}
	if idx == 0 {
		return nil, fmt.Errorf("stage %s is rendered from the head of the fleet config repo: revert the change there (git revert) instead", stage)
	}
	promo := &fleetv1alpha1.Promotion{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: pipe.Name + "-" + stage + "-rollback-",
			Labels: map[string]string{fleetv1alpha1.PipelineLabel: pipe.Name, fleetv1alpha1.StageLabel: stage}},
		Spec: fleetv1alpha1.PromotionSpec{PipelineRef: fleetv1alpha1.LocalObjectReference{Name: pipe.Name}, Stage: stage,
			Rollback: &fleetv1alpha1.RollbackSpec{To: to, Reason: reason}},
	}
	if err := c.Create(ctx, promo); err != nil {
		return nil, fmt.Errorf("creating the rollback Promotion: %w", err)
	}
	if err := requestReconcile(ctx, c, pipe); err != nil {
		return nil, fmt.Errorf("asking pipeline %s to reconcile: %w", pipe.Name, err)
	}
	return promo, nil
}

// waitRollback polls the rollback's Promotion until the hub opened its pull request or
// ended it, for at most timeout.
func waitRollback(ctx context.Context, c client.Client, promo *fleetv1alpha1.Promotion, timeout, every time.Duration) (*fleetv1alpha1.Promotion, error) {
	deadline := time.Now().Add(timeout)
	for {
		cur := &fleetv1alpha1.Promotion{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(promo), cur); err != nil {
			return nil, fmt.Errorf("reading Promotion %s: %w", promo.Name, err)
		}
		switch cur.Status.Phase {
		case fleetv1alpha1.PromotionOpen, fleetv1alpha1.PromotionMerged:
			if cur.Status.PullRequest != nil && cur.Status.Rollback != nil {
				return cur, nil
			}
		case fleetv1alpha1.PromotionFailed, fleetv1alpha1.PromotionRejected, fleetv1alpha1.PromotionSuperseded:
			return cur, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the hub has not opened the pull request within %s (phase %q%s); follow it with: kubectl -n %s get promotion %s -w",
				timeout, cur.Status.Phase, messageSuffix(readyMessage(cur)), cur.Namespace, cur.Name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

func readyMessage(pr *fleetv1alpha1.Promotion) string {
	if c := apimeta.FindStatusCondition(pr.Status.Conditions, fleetv1alpha1.ReadyCondition); c != nil {
		return c.Message
	}
	return ""
}

func messageSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

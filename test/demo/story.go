package demo

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/go-git/go-git/v5/plumbing/transport"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// StepTimeout bounds each step of the story.
var StepTimeout = 3 * time.Minute

// Step is one step of the story: what the user should see, and how the demo checks it.
type Step struct {
	Title string
	Run   func(ctx context.Context, d *Demo) error
}

// Story is the demo's story, in order; with Gitea, prod waits for its approval pull request.
func (d *Demo) Story() []Step {
	steps := []Step{
		{"First rollout: the hub renders the fleet repo and commits env/dev; dev-eu's agent applies it", func(ctx context.Context, d *Demo) error {
			return d.waitApplied(ctx, "dev-eu")
		}},
		{"Automatic promotion: once dev is healthy, the hub writes env/staging and staging-us applies it", func(ctx context.Context, d *Demo) error {
			return d.waitApplied(ctx, "staging-us")
		}},
	}
	if d.Gitea == nil {
		steps = append(steps, Step{"Prod: once staging is healthy, env/prod is written and prod-eu applies it", func(ctx context.Context, d *Demo) error {
			return d.waitApplied(ctx, "prod-eu")
		}})
	} else {
		steps = append(steps,
			Step{"Approval: once staging is healthy, the hub opens a pull request into env/prod on Gitea", func(ctx context.Context, d *Demo) error {
				_, err := d.waitProdPR(ctx)
				return err
			}},
			Step{"Someone merges the approval pull request (the demo does, through Gitea's API); prod-eu applies it", func(ctx context.Context, d *Demo) error {
				pr, err := d.waitProdPR(ctx)
				if err != nil {
					return err
				}
				if err := d.MergePR(ctx, pr.Number); err != nil {
					return err
				}
				return d.waitApplied(ctx, "prod-eu")
			}})
	}
	return append(steps, Step{"Drift: someone scales podinfo to 5 replicas by hand in prod; the agent reports the drift and corrects it", func(ctx context.Context, d *Demo) error {
		return d.drift(ctx, "prod-eu")
	}})
}

// pullRequest is what the demo reads of a Gitea pull request.
type pullRequest struct {
	Number  int    `json:"number"`
	Title   string `json:"title"`
	HTMLURL string `json:"html_url"`
	Base    struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Head struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
}

// waitProdPR waits for the open approval pull request into env/prod.
func (d *Demo) waitProdPR(ctx context.Context) (*pullRequest, error) {
	var found *pullRequest
	err := poll(ctx, func() (bool, error) {
		var prs []pullRequest
		if err := d.Gitea.Do(ctx, "GET", "repos/"+d.Repo+"/pulls?state=open", nil, &prs); err != nil {
			return false, nil
		}
		for i := range prs {
			if prs[i].Base.Ref == "env/prod" {
				found = &prs[i]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no approval pull request into env/prod: %w", err)
	}
	d.say("pull request #%d %q: %s", found.Number, found.Title, found.HTMLURL)
	return found, nil
}

// RunStory runs every step, printing progress and the status table after each, and
// returns the first failure.
func (d *Demo) RunStory(ctx context.Context) error {
	story := d.Story()
	for i, s := range story {
		fmt.Fprintf(d.opts.Out, "\n==> Step %d/%d: %s\n", i+1, len(story), s.Title)
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, StepTimeout)
		err := s.Run(sctx, d)
		cancel()
		if err != nil {
			fmt.Fprintf(d.opts.Out, "  FAILED after %s: %v\n", time.Since(start).Round(100*time.Millisecond), err)
			d.PrintStatus(ctx)
			return fmt.Errorf("step %d (%s): %w", i+1, s.Title, err)
		}
		fmt.Fprintf(d.opts.Out, "  done in %s\n", time.Since(start).Round(100*time.Millisecond))
		d.PrintStatus(ctx)
	}
	return nil
}

// waitApplied waits until the member's agent has applied the head of its branch and
// reports Ready, and says where to look.
func (d *Demo) waitApplied(ctx context.Context, name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	branch := "env/" + m.Stage
	var last, applied string
	err = poll(ctx, func() (bool, error) {
		head, err := d.head(ctx, branch)
		applied = head
		if err != nil {
			last = branch + " not written yet"
			return false, nil
		}
		cs := &fleetv1alpha1.ClusterSync{}
		if err := m.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: AgentNamespace, Name: "fleet"}, cs); err != nil {
			return false, err
		}
		ready := apimeta.FindStatusCondition(cs.Status.Conditions, fleetv1alpha1.ReadyCondition)
		last = fmt.Sprintf("%s is at %s; %s's ClusterSync applied %s, summary %q", branch, fleetv1alpha1.ShortSHA(head), name, fleetv1alpha1.ShortSHA(cs.Status.AppliedCommit), cs.Status.Summary)
		if ready != nil {
			last += fmt.Sprintf(", Ready=%s (%s)", ready.Status, ready.Message)
		}
		return cs.Status.AppliedCommit == head && ready != nil && ready.Status == metav1.ConditionTrue, nil
	})
	if err != nil {
		return fmt.Errorf("%w; last seen: %s", err, last)
	}
	d.say("%s", last)
	if d.Gitea != nil {
		d.say("commit status gitfleet/cluster/%s on %s: %s", name, branch, d.giteaStatus(ctx, applied, fleetv1alpha1.ClusterStatusContext(name)))
		d.say("look: %s%s/commits/branch/%s", d.Gitea.URL, d.Repo, branch)
	}
	d.say("look: kubectl --kubeconfig %s get clustersync -n %s fleet -o yaml", m.Cluster.Kubeconfig, AgentNamespace)
	d.say("      kubectl --kubeconfig %s get deploy,svc,cm -A -l app.kubernetes.io/managed-by=gitfleet", m.Cluster.Kubeconfig)
	return nil
}

// drift edits the podinfo Deployment as another field manager and waits until the agent
// has reported and corrected it.
func (d *Demo) drift(ctx context.Context, name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	c := m.Cluster.Client
	patch := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "podinfo", "namespace": "podinfo"},
		"spec":     map[string]any{"replicas": int64(5)},
	}}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), &client.ApplyOptions{FieldManager: "kubectl-edit", Force: ptr.To(true)}); err != nil {
		return fmt.Errorf("editing podinfo by hand: %w", err)
	}
	d.say("kubectl --kubeconfig %s scale -n podinfo deploy/podinfo --replicas=5   (done by the demo, as field manager kubectl-edit)", m.Cluster.Kubeconfig)
	var seen string
	err = poll(ctx, func() (bool, error) {
		cs := &fleetv1alpha1.ClusterSync{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: AgentNamespace, Name: "fleet"}, cs); err != nil {
			return false, err
		}
		if dr := apimeta.FindStatusCondition(cs.Status.Conditions, fleetv1alpha1.DriftedCondition); dr != nil &&
			(dr.Reason == fleetv1alpha1.DriftCorrectedReason || dr.Reason == fleetv1alpha1.DriftDetectedReason) && seen == "" {
			seen = fmt.Sprintf("ClusterSync Drifted=%s %s: %s", dr.Status, dr.Reason, dr.Message)
		}
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: "podinfo"}, dep); err != nil {
			return false, err
		}
		return seen != "" && dep.Spec.Replicas != nil && *dep.Spec.Replicas == 2, nil
	})
	if err != nil {
		return fmt.Errorf("drift not reported and corrected: %w (seen: %q)", err, seen)
	}
	d.say("%s", seen)
	d.say("podinfo is back at 2 replicas, as Git says")
	d.say("look: kubectl --kubeconfig %s get events -n %s", m.Cluster.Kubeconfig, AgentNamespace)
	return nil
}

func poll(ctx context.Context, check func() (bool, error)) error {
	for {
		ok, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out: %w", ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// PrintStatus runs `gitfleet status` against the hub and prints its table.
func (d *Demo) PrintStatus(ctx context.Context) {
	cmd := exec.CommandContext(ctx, filepath.Join(d.opts.BinDir, "gitfleet"), "status", "--kubeconfig", d.Hub.Kubeconfig, "-n", Namespace)
	data, _ := cmd.CombinedOutput() // exit 1 just means something is not healthy yet
	out := string(data)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(d.opts.Out, "  | %s\n", l)
	}
}

// giteaStatus reads a commit status of a branch head on Gitea, for the progress output.
func (d *Demo) giteaStatus(ctx context.Context, sha, context string) string {
	state, desc := "", ""
	// The agent posts asynchronously: give it a few seconds.
	for i := 0; i < 20 && state != "success"; i++ {
		if i > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		state, desc, _ = d.CommitStatus(ctx, sha, context)
	}
	if state == "" {
		return "not posted yet"
	}
	return state + ": " + desc
}

// head returns a branch's head commit in the fleet repo.
func (d *Demo) head(ctx context.Context, branch string) (string, error) {
	return gitserver.Head(ctx, d.RepoURL, d.auth(), branch)
}

// auth is what git needs to reach the fleet repo.
func (d *Demo) auth() transport.AuthMethod {
	if d.Gitea != nil {
		return d.Gitea.Auth()
	}
	return d.Git.Auth()
}

// pollInterval is how often the story looks again.
const pollInterval = 500 * time.Millisecond

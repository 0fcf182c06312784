package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// This file holds what the end-to-end test needs beyond the story: rolling a stage back
// with the gitfleet CLI, and pull requests to the fleet config repo on Gitea.

// StageRevision returns the dry revision env/<stage> holds (its gitfleet.json's
// source.commit).
func (d *Demo) StageRevision(ctx context.Context, stage string) (string, error) {
	files, err := d.Files(ctx, "env/"+stage)
	if err != nil {
		return "", err
	}
	var meta envMetadata
	if err := json.Unmarshal([]byte(files["gitfleet.json"]), &meta); err != nil {
		return "", fmt.Errorf("gitfleet.json of env/%s: %w", stage, err)
	}
	return meta.Source.Commit, nil
}

// PodinfoImage returns the image of the podinfo Deployment on a member.
func (d *Demo) PodinfoImage(ctx context.Context, member string) (string, error) {
	m, err := d.member(member)
	if err != nil {
		return "", err
	}
	dep := &appsv1.Deployment{}
	if err := m.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: "podinfo"}, dep); err != nil {
		return "", err
	}
	if len(dep.Spec.Template.Spec.Containers) == 0 {
		return "", errors.New("podinfo has no container")
	}
	return dep.Spec.Template.Spec.Containers[0].Image, nil
}

var openedPR = regexp.MustCompile(`(?m)^opened #(\d+) `)

// Rollback runs `gitfleet rollback STAGE --to REV` against the hub, as a person would, and
// returns the number of the pull request it reports and its whole output.
func (d *Demo) Rollback(ctx context.Context, stage, to, reason string) (int, string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(d.opts.BinDir, "gitfleet"), "rollback", stage, "--to", to, "--reason", reason,
		"--kubeconfig", d.Hub.Kubeconfig, "-n", Namespace, "--wait", "2m")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, string(out), fmt.Errorf("gitfleet rollback: %w: %s", err, out)
	}
	m := openedPR.FindStringSubmatch(string(out))
	if m == nil {
		return 0, string(out), fmt.Errorf("gitfleet rollback printed no pull request: %s", out)
	}
	n, _ := strconv.Atoi(m[1])
	d.say("gitfleet rollback %s --to %s: %s", stage, to, strings.TrimSpace(string(out)))
	return n, string(out), nil
}

// MergePR merges a pull request through Gitea's API, as a reviewer would (with gitfleet's
// Gitea client, which waits while Gitea is still checking a pull request that just moved).
func (d *Demo) MergePR(ctx context.Context, number int) error {
	g, err := gitsource.NewGitea(d.Gitea.APIURL(), d.Repo, d.Gitea.Token)
	if err != nil {
		return err
	}
	pr, err := g.GetPullRequest(ctx, number)
	if err != nil {
		return err
	}
	// Merge the head the reviewer looked at, not whatever was pushed since.
	if err := g.MergePullRequest(ctx, number, pr.HeadSHA, fmt.Sprintf("Merge pull request #%d", number)); err != nil {
		return fmt.Errorf("merging #%d: %w", number, err)
	}
	d.say("merged #%d", number)
	return nil
}

// ProposeRelease pushes branch (from main) with a new podinfo image tag and opens a pull
// request into main on Gitea, as someone proposing a release does. It returns the pull
// request's number and head commit.
func (d *Demo) ProposeRelease(ctx context.Context, branch, tag string) (int, string, error) {
	release, err := d.podinfoRelease(ctx, tag)
	if err != nil {
		return 0, "", err
	}
	head, err := gitserver.Push(ctx, d.RepoURL, d.auth(), gitserver.Commit{Branch: branch, From: "main", Message: "podinfo " + tag, Files: release})
	if err != nil {
		return 0, "", err
	}
	var pr pullRequest
	if err := d.Gitea.Do(ctx, "POST", "repos/"+d.Repo+"/pulls", map[string]string{"head": branch, "base": "main", "title": "podinfo " + tag}, &pr); err != nil {
		return 0, "", fmt.Errorf("opening the pull request: %w", err)
	}
	d.say("pull request #%d %q: %s", pr.Number, pr.Title, pr.HTMLURL)
	return pr.Number, head, nil
}

// CommitStatus returns the newest state and description of a commit status context on sha
// ("" when none was posted).
func (d *Demo) CommitStatus(ctx context.Context, sha, context string) (string, string, error) {
	var out []struct {
		ID          int64  `json:"id"`
		Context     string `json:"context"`
		Status      string `json:"status"`
		Description string `json:"description"`
	}
	if err := d.Gitea.Do(ctx, "GET", "repos/"+d.Repo+"/statuses/"+sha, nil, &out); err != nil {
		return "", "", err
	}
	var newest int64 = -1
	state, desc := "", ""
	for _, s := range out {
		if s.Context == context && s.ID > newest {
			newest, state, desc = s.ID, s.Status, s.Description
		}
	}
	return state, desc, nil
}

// Comments returns the bodies of a pull request's comments.
func (d *Demo) Comments(ctx context.Context, number int) ([]string, error) {
	var out []struct {
		Body string `json:"body"`
	}
	if err := d.Gitea.Do(ctx, "GET", fmt.Sprintf("repos/%s/issues/%d/comments", d.Repo, number), nil, &out); err != nil {
		return nil, err
	}
	bodies := make([]string, 0, len(out))
	for _, c := range out {
		bodies = append(bodies, c.Body)
	}
	return bodies, nil
}

// ProdPR waits for the open approval pull request into env/prod and returns its number.
func (d *Demo) ProdPR(ctx context.Context) (int, error) {
	pr, err := d.waitProdPR(ctx)
	if err != nil {
		return 0, err
	}
	return pr.Number, nil
}

// PipelineSummary describes the Pipelines' stages and the Promotions, for the message of
// a failed check: "prod at 1a2b3c4 → 5d6e7f8: <message>; promotions: name prod 1a2b3c4
// Merged (message)...".
func (d *Demo) PipelineSummary(ctx context.Context) string {
	var b strings.Builder
	var pipes fleetv1alpha1.PipelineList
	if err := d.Hub.Client.List(ctx, &pipes, client.InNamespace(Namespace)); err != nil {
		return "pipelines: " + err.Error()
	}
	for _, p := range pipes.Items {
		for _, st := range p.Status.Stages {
			fmt.Fprintf(&b, "%s at %.7s", st.Name, st.CurrentRevision)
			if st.TargetRevision != "" {
				fmt.Fprintf(&b, " → %.7s", st.TargetRevision)
			}
			fmt.Fprintf(&b, ": %s; ", st.Message)
		}
	}
	var promos fleetv1alpha1.PromotionList
	if err := d.Hub.Client.List(ctx, &promos, client.InNamespace(Namespace)); err != nil {
		return b.String() + "promotions: " + err.Error()
	}
	b.WriteString("promotions:")
	for _, pr := range promos.Items {
		msg := ""
		if c := apimeta.FindStatusCondition(pr.Status.Conditions, fleetv1alpha1.ReadyCondition); c != nil {
			msg = c.Message
		}
		fmt.Fprintf(&b, " [%s %s %.7s %s: %s]", pr.Name, pr.Spec.Stage, pr.Spec.DryRevision, pr.Status.Phase, msg)
	}
	return b.String()
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// This file measures promotion latency (issue 6): how long a change merged into the fleet
// config repo takes to be applied in each stage and to reach the prod approval pull request.
// test/bench/promotion and the end-to-end test share it. Every check looks at what a user
// would: the branches of the fleet repo (git ls-remote), the env commit's gitfleet.json and
// commit statuses and the pull requests on Gitea, and the ClusterSyncs and Deployments on
// the member API servers; never at the hub's own status.

// Promotion follows one dry revision of the fleet config repo through the pipeline.
type Promotion struct {
	// Revision is the dry commit on main.
	Revision string
	// Merged is when the push of Revision completed: the merge of the change.
	Merged time.Time

	d    *Demo
	mu   sync.Mutex
	meta map[string]*envMetadata // gitfleet.json by env commit (commits never change)
}

// envMetadata is what the checks read of an env commit's gitfleet.json
// (hydrate.Metadata).
type envMetadata struct {
	Source struct {
		Commit string `json:"commit"`
	} `json:"source"`
	Clusters map[string]struct{} `json:"clusters"`
}

// podinfoValues is the Helm values line of the podinfo Placement in fleet/podinfo.yaml.
var podinfoValues = regexp.MustCompile(`(?m)^(\s*)values: .*$`)

// podinfoRelease returns the change of fleet/podinfo.yaml (on main) that sets podinfo's
// image tag: the values of the podinfo Placement, which every cluster of every stage
// renders.
func (d *Demo) podinfoRelease(ctx context.Context, tag string) (map[string]string, error) {
	const path = "fleet/podinfo.yaml"
	files, err := gitserver.ReadBranch(ctx, d.RepoURL, d.auth(), "main")
	if err != nil {
		return nil, err
	}
	before := files[path]
	if !podinfoValues.MatchString(before) {
		return nil, fmt.Errorf("%s has no values line to change", path)
	}
	after := podinfoValues.ReplaceAllString(before, fmt.Sprintf(`${1}values: {replicas: 2, image: {tag: %q}}`, tag))
	if after == before {
		return nil, fmt.Errorf("%s already has podinfo tag %s", path, tag)
	}
	return map[string]string{path: after}, nil
}

// PushRelease commits a new podinfo image tag to main (the values of the podinfo Placement
// in fleet/podinfo.yaml, which every cluster of every stage renders), as merging a
// release's pull request would, and returns the Promotion of the new dry revision,
// merged when the push completed. The hub hears of it through Gitea's push webhook.
func (d *Demo) PushRelease(ctx context.Context, tag string) (*Promotion, error) {
	if d.Gitea == nil {
		return nil, errors.New("measuring promotions needs the demo's Gitea")
	}
	release, err := d.podinfoRelease(ctx, tag)
	if err != nil {
		return nil, err
	}
	sha, err := gitserver.Push(ctx, d.RepoURL, d.auth(), gitserver.Commit{Branch: "main", Message: "podinfo " + tag, Files: release})
	if err != nil {
		return nil, err
	}
	return &Promotion{Revision: sha, Merged: time.Now(), d: d, meta: map[string]*envMetadata{}}, nil
}

// Milestone is one thing a Promotion waits for. Check reports whether it holds and what it
// saw; a failed look (a server busy or restarting) is reported in the detail, not as an
// error, so that Wait looks again.
type Milestone struct {
	Name  string
	Check func(ctx context.Context) (ok bool, detail string)
}

// Applied is the milestone of a stage: its branch holds a commit rendered from the
// revision, and every cluster in that commit posted commit status
// gitfleet/cluster/<name> = success on it; for the demo's members, also their ClusterSync
// applied that commit and is Ready, and their Deployments are rolled out (memberApplied).
func (p *Promotion) Applied(stage string) Milestone {
	return Milestone{Name: stage + " applied", Check: func(ctx context.Context) (bool, string) { return p.applied(ctx, stage) }}
}

// PullRequest is the milestone of a stage promoted by pull request: an open pull request
// into its branch proposes the revision (its title names it and the gitfleet.json of its
// head commit, as Gitea shows it, was rendered from it).
func (p *Promotion) PullRequest(stage string) Milestone {
	return Milestone{Name: stage + " pull request", Check: func(ctx context.Context) (bool, string) { return p.pullRequest(ctx, stage) }}
}

// Wait checks the milestones every interval until each has held once, and returns the
// time from Merged to when each was first seen, by name. reached, when not nil, is
// called as each is seen. When ctx ends first, the error names the milestones still
// missing with what their checks saw last; the durations seen so far are returned too.
func (p *Promotion) Wait(ctx context.Context, interval time.Duration, milestones []Milestone, reached func(m Milestone, took time.Duration, detail string)) (map[string]time.Duration, error) {
	got := map[string]time.Duration{}
	last := map[string]string{}
	for {
		for _, m := range milestones {
			if _, done := got[m.Name]; done {
				continue
			}
			ok, detail := m.Check(ctx)
			last[m.Name] = detail
			if ok {
				got[m.Name] = time.Since(p.Merged)
				if reached != nil {
					reached(m, got[m.Name], detail)
				}
			}
		}
		if len(got) == len(milestones) {
			return got, nil
		}
		select {
		case <-ctx.Done():
			var missing []string
			for _, m := range milestones {
				if _, done := got[m.Name]; !done {
					missing = append(missing, fmt.Sprintf("%s (last seen: %s)", m.Name, last[m.Name]))
				}
			}
			return got, fmt.Errorf("%w after %s: not reached: %s", ctx.Err(), time.Since(p.Merged).Round(100*time.Millisecond), strings.Join(missing, "; "))
		case <-time.After(interval):
		}
	}
}

func (p *Promotion) applied(ctx context.Context, stage string) (bool, string) {
	branch := "env/" + stage
	head, err := p.d.head(ctx, branch)
	if err != nil {
		return false, fmt.Sprintf("%s: %v", branch, err)
	}
	meta, err := p.metadata(ctx, head)
	if err != nil {
		return false, fmt.Sprintf("%s at %s: gitfleet.json: %v", branch, fleetv1alpha1.ShortSHA(head), err)
	}
	if meta.Source.Commit != p.Revision {
		return false, fmt.Sprintf("%s at %s, rendered from %s, not %s yet", branch, fleetv1alpha1.ShortSHA(head), fleetv1alpha1.ShortSHA(meta.Source.Commit), fleetv1alpha1.ShortSHA(p.Revision))
	}
	if len(meta.Clusters) == 0 {
		return false, fmt.Sprintf("%s at %s names no clusters", branch, fleetv1alpha1.ShortSHA(head))
	}
	statuses, err := p.statuses(ctx, head)
	if err != nil {
		return false, fmt.Sprintf("%s at %s: commit statuses: %v", branch, fleetv1alpha1.ShortSHA(head), err)
	}
	var waiting []string
	for _, name := range sortedNames(meta.Clusters) {
		if st := statuses[fleetv1alpha1.ClusterStatusContext(name)]; st.Status != "success" {
			waiting = append(waiting, fmt.Sprintf("%s status %q %q", name, st.Status, st.Description))
			continue
		}
		m, err := p.d.member(name)
		if err != nil {
			continue // not one of the demo's members: its status is all there is to see
		}
		if why := memberApplied(ctx, m, head); why != "" {
			waiting = append(waiting, name+" "+why)
		}
	}
	if len(waiting) > 0 {
		return false, fmt.Sprintf("%s at %s (from %s): %s", branch, fleetv1alpha1.ShortSHA(head), fleetv1alpha1.ShortSHA(p.Revision), strings.Join(waiting, ", "))
	}
	return true, fmt.Sprintf("%s at %s (from %s): %s: status success, applied, rolled out", branch, fleetv1alpha1.ShortSHA(head), fleetv1alpha1.ShortSHA(p.Revision), strings.Join(sortedNames(meta.Clusters), ", "))
}

// memberApplied looks at a member's API server: its ClusterSync applied head and is Ready,
// and every Deployment the agent manages is rolled out (its status is of its current
// generation and all replicas are updated and available). The agent has been seen to post
// success a moment before a changed Deployment's status caught up; this keeps such a
// success from counting. It returns what is missing, or "".
func memberApplied(ctx context.Context, m Member, head string) string {
	c := m.Cluster.Client
	cs := &fleetv1alpha1.ClusterSync{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: AgentNamespace, Name: "fleet"}, cs); err != nil {
		return "ClusterSync: " + err.Error()
	}
	if cs.Status.AppliedCommit != head {
		return "applied " + fleetv1alpha1.ShortSHA(cs.Status.AppliedCommit)
	}
	if ready := apimeta.FindStatusCondition(cs.Status.Conditions, fleetv1alpha1.ReadyCondition); ready == nil || ready.Status != metav1.ConditionTrue {
		return "ClusterSync not Ready"
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.MatchingLabels{fleetv1alpha1.ManagedByLabel: fleetv1alpha1.ManagedByValue}); err != nil {
		return "Deployments: " + err.Error()
	}
	for _, dep := range deps.Items {
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		st := dep.Status
		if st.ObservedGeneration != dep.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want {
			return fmt.Sprintf("Deployment %s/%s not rolled out", dep.Namespace, dep.Name)
		}
	}
	return ""
}

func (p *Promotion) pullRequest(ctx context.Context, stage string) (bool, string) {
	var prs []struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		Base   struct {
			Ref string `json:"ref"`
		} `json:"base"`
		Head struct {
			Sha string `json:"sha"`
		} `json:"head"`
	}
	if err := p.d.Gitea.Do(ctx, "GET", "repos/"+p.d.Repo+"/pulls?state=open&limit=50", nil, &prs); err != nil {
		return false, "listing pull requests: " + err.Error()
	}
	branch := "env/" + stage
	var seen []string
	for _, pr := range prs {
		if pr.Base.Ref != branch {
			continue
		}
		if !strings.Contains(pr.Title, fleetv1alpha1.ShortSHA(p.Revision)) {
			seen = append(seen, fmt.Sprintf("#%d %q does not name %s yet", pr.Number, pr.Title, fleetv1alpha1.ShortSHA(p.Revision)))
			continue
		}
		meta, err := p.metadata(ctx, pr.Head.Sha)
		if err != nil {
			seen = append(seen, fmt.Sprintf("#%d head %s: gitfleet.json: %v", pr.Number, fleetv1alpha1.ShortSHA(pr.Head.Sha), err))
			continue
		}
		if meta.Source.Commit != p.Revision {
			seen = append(seen, fmt.Sprintf("#%d head %s rendered from %s, not %s yet", pr.Number, fleetv1alpha1.ShortSHA(pr.Head.Sha), fleetv1alpha1.ShortSHA(meta.Source.Commit), fleetv1alpha1.ShortSHA(p.Revision)))
			continue
		}
		return true, fmt.Sprintf("#%d %q, head %s", pr.Number, pr.Title, fleetv1alpha1.ShortSHA(pr.Head.Sha))
	}
	if len(seen) == 0 {
		return false, "no open pull request into " + branch
	}
	return false, strings.Join(seen, "; ")
}

// metadata reads gitfleet.json of an env commit through Gitea's API.
func (p *Promotion) metadata(ctx context.Context, sha string) (*envMetadata, error) {
	p.mu.Lock()
	m := p.meta[sha]
	p.mu.Unlock()
	if m != nil {
		return m, nil
	}
	m = &envMetadata{}
	if err := p.d.Gitea.Do(ctx, "GET", "repos/"+p.d.Repo+"/raw/gitfleet.json?ref="+url.QueryEscape(sha), nil, m); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.meta[sha] = m
	p.mu.Unlock()
	return m, nil
}

// commitStatus is what the checks read of a commit status on Gitea.
type commitStatus struct {
	Context     string `json:"context"`
	Status      string `json:"status"`
	Description string `json:"description"`
}

// statuses returns the newest commit status of every context on sha.
func (p *Promotion) statuses(ctx context.Context, sha string) (map[string]commitStatus, error) {
	var combined struct {
		Statuses []commitStatus `json:"statuses"`
	}
	if err := p.d.Gitea.Do(ctx, "GET", "repos/"+p.d.Repo+"/commits/"+sha+"/status?limit=50", nil, &combined); err != nil {
		return nil, err
	}
	out := map[string]commitStatus{}
	for _, s := range combined.Statuses {
		out[s.Context] = s
	}
	return out, nil
}

func sortedNames(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// Gitea is the Forge for Gitea. It reuses the GitHub client where Gitea's API at /api/v1/
// is compatible (statuses, pull request create/get/list/update/close, comments) and talks
// to Gitea's own endpoints where it is not:
//   - merge: POST /repos/{o}/{r}/pulls/{n}/merge {"Do": "merge"};
//   - combined status: each status carries its state as "status" (GitHub: "state"), and
//     Gitea's extra state "warning" counts as failure;
//   - labels: Gitea adds labels by ID and does not create them, so missing labels are
//     created first (gray, #ededed);
//   - pull request lists: Gitea ignores GitHub's head and base filters; they are applied
//     on the client.
//
// Gitea has no check runs; gitfleet uses commit statuses only.
type Gitea struct {
	*GitHub
}

var _ Forge = (*Gitea)(nil)

// NewGitea returns a Gitea forge client for repository ("owner/name"). apiURL is required
// and used as given (a trailing slash is added): https://HOST/api/v1/.
func NewGitea(apiURL, repository, token string, opts ...ForgeOption) (*Gitea, error) {
	if apiURL == "" {
		return nil, fmt.Errorf("gitea: the API URL is required (https://HOST/api/v1/)")
	}
	base, err := apiBase(apiURL)
	if err != nil {
		return nil, err
	}
	g, err := newGitHubClient(base, repository, token, "gitea", opts)
	if err != nil {
		return nil, err
	}
	return &Gitea{GitHub: g}, nil
}

// giteaStatus is a Gitea commit status: the state is in "status" (older and newer Gitea
// versions may use "state").
type giteaStatus struct {
	Status      string    `json:"status"`
	State       string    `json:"state"`
	Context     string    `json:"context"`
	Description string    `json:"description"`
	TargetURL   string    `json:"target_url"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type giteaCombinedStatus struct {
	State    string         `json:"state"`
	Status   string         `json:"status"`
	SHA      string         `json:"sha"`
	Statuses []*giteaStatus `json:"statuses"`
}

func giteaState(s ...string) CommitState {
	for _, v := range s {
		switch v {
		case "":
			continue
		case "warning":
			return StateFailure
		default:
			return CommitState(v)
		}
	}
	return ""
}

// CombinedStatus returns the newest status of every context on ref.
func (g *Gitea) CombinedStatus(ctx context.Context, ref string) (*CombinedStatus, error) {
	const limit = 50
	out := &CombinedStatus{State: StatePending}
	for page := 1; ; page++ {
		path := fmt.Sprintf("repos/%s/%s/commits/%s/status?page=%d&limit=%d", g.owner, g.repo, url.PathEscape(ref), page, limit)
		req, err := g.client.NewRequest("GET", path, nil)
		if err != nil {
			return nil, err
		}
		var cs giteaCombinedStatus
		if _, err := g.client.Do(ctx, req, &cs); err != nil {
			return nil, g.wrap("get combined status of "+ref, err)
		}
		if cs.SHA != "" {
			out.SHA = cs.SHA
		}
		if s := giteaState(cs.State, cs.Status); s != "" {
			out.State = s
		}
		for _, s := range cs.Statuses {
			out.Statuses = append(out.Statuses, CommitStatus{
				Context: s.Context, State: giteaState(s.Status, s.State), Description: s.Description,
				TargetURL: s.TargetURL, UpdatedAt: s.UpdatedAt,
			})
		}
		if len(cs.Statuses) < limit {
			return out, nil
		}
	}
}

// CreatePullRequest opens a pull request and adds its labels (creating missing labels).
// An existing open pull request from Head into Base is returned instead of an error.
func (g *Gitea) CreatePullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error) {
	labels := pr.Labels
	pr.Labels = nil
	out, err := g.GitHub.CreatePullRequest(ctx, pr)
	if err != nil {
		return nil, err
	}
	if len(labels) > 0 {
		ls, err := g.AddLabels(ctx, out.Number, labels)
		if err != nil {
			return out, err
		}
		out.Labels = ls
	}
	return out, nil
}

type giteaLabel struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// AddLabels adds labels (by name, created when missing) to a pull request and returns all
// its labels.
func (g *Gitea) AddLabels(ctx context.Context, number int, labels []string) ([]string, error) {
	op := fmt.Sprintf("add labels to #%d", number)
	existing, err := g.labelIDs(ctx)
	if err != nil {
		return nil, g.wrap(op, err)
	}
	var ids []int64
	for _, name := range labels {
		id, ok := existing[name]
		if !ok {
			var err error
			if id, err = g.createLabel(ctx, name); err != nil {
				return nil, err
			}
			existing[name] = id
		}
		ids = append(ids, id)
	}
	req, err := g.client.NewRequest("POST", fmt.Sprintf("repos/%s/%s/issues/%d/labels", g.owner, g.repo, number), map[string][]int64{"labels": ids})
	if err != nil {
		return nil, err
	}
	var got []*github.Label
	if _, err := g.client.Do(idempotentCall(ctx), req, &got); err != nil {
		return nil, g.wrap(op, err)
	}
	return labelNames(got), nil
}

// createLabel creates a label and returns its ID. When the answer is lost (5xx), the
// repository's labels are read before the request is sent again (Gitea would create a
// second label of the same name).
func (g *Gitea) createLabel(ctx context.Context, name string) (int64, error) {
	var id int64
	err := sendOnce(ctx, g.retry, func() error {
		req, err := g.client.NewRequest("POST", fmt.Sprintf("repos/%s/%s/labels", g.owner, g.repo), &giteaLabel{Name: name, Color: "#ededed"})
		if err != nil {
			return err
		}
		var l giteaLabel
		if _, err := g.client.Do(ctx, req, &l); err != nil {
			return g.wrap(fmt.Sprintf("create label %q", name), err)
		}
		id = l.ID
		return nil
	}, func() (bool, error) {
		ids, err := g.labelIDs(ctx)
		id = ids[name]
		return id != 0, err
	})
	return id, err
}

// labelIDs returns the repository's label IDs by name.
func (g *Gitea) labelIDs(ctx context.Context) (map[string]int64, error) {
	ids := map[string]int64{}
	for page := 1; ; page++ {
		req, err := g.client.NewRequest("GET", fmt.Sprintf("repos/%s/%s/labels?page=%d&limit=50", g.owner, g.repo, page), nil)
		if err != nil {
			return nil, err
		}
		var ls []giteaLabel
		if _, err := g.client.Do(ctx, req, &ls); err != nil {
			return nil, err
		}
		for _, l := range ls {
			ids[l.Name] = l.ID
		}
		if len(ls) < 50 {
			return ids, nil
		}
	}
}

// ListPullRequests lists pull requests from head into base in state; the filters are
// applied on the client.
func (g *Gitea) ListPullRequests(ctx context.Context, head, base, state string) ([]*PullRequest, error) {
	return g.GitHub.ListPullRequests(ctx, head, base, state)
}

// MergePullRequest merges a pull request with a merge commit through Gitea's merge
// endpoint, only if its head is still headSHA (Gitea's head_commit_id; empty: whatever the
// head is). A head that moved returns an error wrapping ErrHeadMoved and ErrRejected; a
// pull request that cannot be merged an error wrapping ErrRejected. When the answer is lost
// (5xx), the pull request is read before the merge is sent again.
func (g *Gitea) MergePullRequest(ctx context.Context, number int, headSHA, message string) error {
	title, body, _ := strings.Cut(message, "\n")
	opt := map[string]any{
		"Do":                "merge",
		"MergeTitleField":   strings.TrimSpace(title),
		"MergeMessageField": strings.TrimSpace(body),
	}
	if headSHA != "" {
		opt["head_commit_id"] = headSHA
	}
	err := sendOnce(ctx, g.retry, func() error { return g.merge(ctx, number, opt) },
		func() (bool, error) { return g.mergedAt(ctx, number, headSHA) })
	var apiErr *APIError
	if headSHA != "" && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
		return g.headMoved(ctx, number, headSHA, err)
	}
	return err
}

// merge sends Gitea's merge request. Gitea answers 405 "Please try again later" while it
// is still checking a pull request whose head just moved: wait for the check, a few
// seconds at most.
func (g *Gitea) merge(ctx context.Context, number int, opt map[string]any) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := g.client.NewRequest("POST", fmt.Sprintf("repos/%s/%s/pulls/%d/merge", g.owner, g.repo, number), opt)
		if err != nil {
			return err
		}
		_, err = g.client.Do(ctx, req, nil)
		err = g.wrap(fmt.Sprintf("merge pull request #%d", number), err)
		var apiErr *APIError
		if attempt >= 8 || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(apiErr.Message, "try again later") {
			return err
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

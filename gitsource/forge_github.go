package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"
)

// DefaultGitHubAPIURL is GitHub.com's API.
const DefaultGitHubAPIURL = "https://api.github.com/"

// MaxStatusDescription is the longest commit status description GitHub accepts; longer
// descriptions are cut (with an ellipsis) before they are sent.
const MaxStatusDescription = 140

// ForgeOption configures a forge client.
type ForgeOption func(*forgeConfig)

type forgeConfig struct {
	httpClient *http.Client
	retry      RetryPolicy
	userAgent  string
}

// WithHTTPClient sets the HTTP client whose transport the forge client wraps (for custom
// TLS roots or proxies). Its Transport gets the retry policy and the token added.
func WithHTTPClient(c *http.Client) ForgeOption {
	return func(fc *forgeConfig) { fc.httpClient = c }
}

// WithRetryPolicy replaces DefaultRetryPolicy (zero fields keep their defaults).
func WithRetryPolicy(p RetryPolicy) ForgeOption {
	return func(fc *forgeConfig) { fc.retry = p }
}

// WithUserAgent sets the User-Agent header (default "gitfleet").
func WithUserAgent(ua string) ForgeOption {
	return func(fc *forgeConfig) { fc.userAgent = ua }
}

// GitHub is the Forge for GitHub.com and GitHub Enterprise Server, through go-github.
type GitHub struct {
	client      *github.Client
	owner, repo string
	kind        string // "github" or "gitea", for error messages
	retry       RetryPolicy
}

var _ Forge = (*GitHub)(nil)

// NewGitHub returns a GitHub forge client for repository ("owner/name"). apiURL defaults
// to https://api.github.com/; for GitHub Enterprise Server give https://HOST/api/v3/. The
// URL is used as given (a trailing slash is added). The token is sent as a bearer token
// and never appears in errors or logs.
func NewGitHub(apiURL, repository, token string, opts ...ForgeOption) (*GitHub, error) {
	if apiURL == "" {
		apiURL = DefaultGitHubAPIURL
	}
	base, err := apiBase(apiURL)
	if err != nil {
		return nil, err
	}
	return newGitHubClient(base, repository, token, "github", opts)
}

func newGitHubClient(base *url.URL, repository, token, kind string, opts []ForgeOption) (*GitHub, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("%s: repository %q is not owner/name", kind, repository)
	}
	cfg := forgeConfig{retry: DefaultRetryPolicy, userAgent: "gitfleet"}
	for _, o := range opts {
		o(&cfg)
	}
	hc := &http.Client{}
	if cfg.httpClient != nil {
		c := *cfg.httpClient
		hc = &c
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	policy := cfg.retry.withDefaults()
	hc.Transport = &retryTransport{base: rt, policy: policy, now: time.Now}
	c := github.NewClient(hc)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	c.BaseURL = base
	c.UserAgent = cfg.userAgent
	return &GitHub{client: c, owner: owner, repo: strings.TrimSuffix(repo, ".git"), kind: kind, retry: policy}, nil
}

// apiBase parses an API URL and adds a trailing slash.
func apiBase(apiURL string) (*url.URL, error) {
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forge API URL %q is not an http(s) URL", RedactURL(apiURL))
	}
	u.User = nil
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Repository returns owner/name.
func (g *GitHub) Repository() string { return g.owner + "/" + g.repo }

// SetStatus posts a commit status on sha. A description longer than
// MaxStatusDescription characters is cut. A request whose answer is lost (5xx) is sent
// again: posting the same state, context and description twice leaves the context's newest
// status as asked and only adds one entry towards GitHub's 1000 statuses per sha and
// context.
func (g *GitHub) SetStatus(ctx context.Context, sha string, st CommitStatus) error {
	if err := validState(st.State); err != nil {
		return fmt.Errorf("%s: set status %q on %s: %w", g.kind, st.Context, sha, err)
	}
	rs := &github.RepoStatus{
		State:       github.String(string(st.State)),
		Context:     github.String(st.Context),
		Description: github.String(TruncateDescription(st.Description)),
	}
	if st.TargetURL != "" {
		rs.TargetURL = github.String(st.TargetURL)
	}
	_, _, err := g.client.Repositories.CreateStatus(idempotentCall(ctx), g.owner, g.repo, sha, rs)
	return g.wrap(fmt.Sprintf("set status %q on %s", st.Context, sha), err)
}

func validState(s CommitState) error {
	switch s {
	case StatePending, StateSuccess, StateFailure, StateError:
		return nil
	}
	return fmt.Errorf("invalid commit state %q: %w", s, ErrRejected)
}

// TruncateDescription cuts a commit status description to MaxStatusDescription
// characters, ending with "…" when it was cut.
func TruncateDescription(s string) string {
	if utf8.RuneCountInString(s) <= MaxStatusDescription {
		return s
	}
	r := []rune(s)
	return string(r[:MaxStatusDescription-1]) + "…"
}

// CombinedStatus returns the newest status of every context on ref (a sha or a branch).
func (g *GitHub) CombinedStatus(ctx context.Context, ref string) (*CombinedStatus, error) {
	out := &CombinedStatus{State: StatePending}
	opts := &github.ListOptions{PerPage: 100}
	for {
		cs, resp, err := g.client.Repositories.GetCombinedStatus(ctx, g.owner, g.repo, ref, opts)
		if err != nil {
			return nil, g.wrap("get combined status of "+ref, err)
		}
		out.SHA = cs.GetSHA()
		if s := cs.GetState(); s != "" {
			out.State = CommitState(s)
		}
		for _, s := range cs.Statuses {
			out.Statuses = append(out.Statuses, CommitStatus{
				Context: s.GetContext(), State: CommitState(s.GetState()), Description: s.GetDescription(),
				TargetURL: s.GetTargetURL(), UpdatedAt: s.GetUpdatedAt().Time,
			})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreatePullRequest opens a pull request from pr.Head into pr.Base and adds its labels.
// When an open pull request from Head into Base already exists (GitHub answers 422), that
// pull request is returned. When the answer is lost (5xx), the open pull requests from Head
// into Base are listed before the request is sent again, so a pull request is never opened
// twice.
func (g *GitHub) CreatePullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error) {
	op := fmt.Sprintf("create pull request %s -> %s", pr.Head, pr.Base)
	var out *PullRequest
	openOne := func() (bool, error) {
		open, err := g.ListPullRequests(ctx, pr.Head, pr.Base, "open")
		if err != nil || len(open) == 0 {
			return false, err
		}
		out = open[0]
		return true, nil
	}
	err := sendOnce(ctx, g.retry, func() error {
		created, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
			Title: github.String(pr.Title), Body: github.String(pr.Body),
			Head: github.String(pr.Head), Base: github.String(pr.Base),
		})
		if err != nil {
			if isAlreadyExists(err) {
				if ok, lerr := openOne(); lerr == nil && ok {
					return nil
				}
			}
			return g.wrap(op, err)
		}
		out = convertPR(created)
		return nil
	}, openOne)
	if err != nil {
		return nil, err
	}
	if len(pr.Labels) > 0 {
		labels, err := g.addLabels(ctx, out.Number, pr.Labels)
		if err != nil {
			return out, err
		}
		out.Labels = labels
	}
	return out, nil
}

func isAlreadyExists(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return false
	}
	if er.Response.StatusCode != http.StatusUnprocessableEntity && er.Response.StatusCode != http.StatusConflict {
		return false
	}
	if strings.Contains(strings.ToLower(er.Message), "already exist") {
		return true
	}
	for _, e := range er.Errors {
		if strings.Contains(strings.ToLower(e.Message), "already exist") {
			return true
		}
	}
	return false
}

// AddLabels adds labels to a pull request and returns all its labels.
func (g *GitHub) AddLabels(ctx context.Context, number int, labels []string) ([]string, error) {
	return g.addLabels(ctx, number, labels)
}

func (g *GitHub) addLabels(ctx context.Context, number int, labels []string) ([]string, error) {
	ls, _, err := g.client.Issues.AddLabelsToIssue(idempotentCall(ctx), g.owner, g.repo, number, labels)
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("add labels to #%d", number), err)
	}
	return labelNames(ls), nil
}

// UpdatePullRequest changes a pull request's title and body.
func (g *GitHub) UpdatePullRequest(ctx context.Context, number int, title, body string) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Edit(idempotentCall(ctx), g.owner, g.repo, number, &github.PullRequest{
		Title: github.String(title), Body: github.String(body),
	})
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("update pull request #%d", number), err)
	}
	return convertPR(pr), nil
}

// GetPullRequest returns one pull request; ErrNotFound when it does not exist.
func (g *GitHub) GetPullRequest(ctx context.Context, number int) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Get(ctx, g.owner, g.repo, number)
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("get pull request #%d", number), err)
	}
	return convertPR(pr), nil
}

// ListPullRequests lists pull requests from head into base in state ("open", "closed",
// "all"; empty means open). Empty head or base matches any. Results are filtered on the
// client too, since not every forge honours the filters.
func (g *GitHub) ListPullRequests(ctx context.Context, head, base, state string) ([]*PullRequest, error) {
	if state == "" {
		state = "open"
	}
	opts := &github.PullRequestListOptions{State: state, Base: base, ListOptions: github.ListOptions{PerPage: 100}}
	if head != "" {
		opts.Head = g.owner + ":" + head
	}
	var out []*PullRequest
	for {
		prs, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, opts)
		if err != nil {
			return nil, g.wrap("list pull requests", err)
		}
		for _, pr := range prs {
			p := convertPR(pr)
			if (head == "" || p.Head == head) && (base == "" || p.Base == base) && (state == "all" || string(p.State) == state) {
				out = append(out, p)
			}
		}
		if resp.NextPage == 0 || len(prs) == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// MergePullRequest merges a pull request with a merge commit whose message is message,
// only if its head is still headSHA (GitHub's sha parameter); an empty headSHA merges
// whatever the head is. A head that moved returns an error wrapping ErrHeadMoved and
// ErrRejected; a pull request that cannot be merged (already merged, closed, conflicting)
// an error wrapping ErrRejected. When the answer is lost (5xx), the pull request is read
// before the merge is sent again: merged at headSHA counts as done.
func (g *GitHub) MergePullRequest(ctx context.Context, number int, headSHA, message string) error {
	op := fmt.Sprintf("merge pull request #%d", number)
	err := sendOnce(ctx, g.retry, func() error {
		res, _, err := g.client.PullRequests.Merge(ctx, g.owner, g.repo, number, message, &github.PullRequestOptions{MergeMethod: "merge", SHA: headSHA})
		if err != nil {
			return g.wrap(op, err)
		}
		if !res.GetMerged() {
			return fmt.Errorf("%s: merge pull request %s#%d: not merged: %s: %w", g.kind, g.Repository(), number, res.GetMessage(), ErrRejected)
		}
		return nil
	}, func() (bool, error) { return g.mergedAt(ctx, number, headSHA) })
	var apiErr *APIError
	if headSHA != "" && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
		return g.headMoved(ctx, number, headSHA, err)
	}
	return err
}

// ErrHeadMoved is returned (wrapped, with ErrRejected) by MergePullRequest when the pull
// request's head is no longer the commit that was reviewed.
var ErrHeadMoved = errors.New("the head of the pull request moved since it was reviewed")

// headMoved explains a merge refused because the head moved, naming the new head when it
// can be read.
func (g *GitHub) headMoved(ctx context.Context, number int, headSHA string, err error) error {
	now := ""
	if pr, gerr := g.GetPullRequest(ctx, number); gerr == nil && pr.HeadSHA != "" && pr.HeadSHA != headSHA {
		now = fmt.Sprintf(" (%s is now at %s)", pr.Head, pr.HeadSHA)
	}
	return fmt.Errorf("%s: pull request %s#%d was not merged: it was reviewed at %s, but commits were pushed to it since%s; review them and approve again: %w: %w",
		g.kind, g.Repository(), number, headSHA, now, ErrHeadMoved, err)
}

// mergedAt reports whether pull request number is merged, at headSHA when it is not empty.
func (g *GitHub) mergedAt(ctx context.Context, number int, headSHA string) (bool, error) {
	pr, err := g.GetPullRequest(ctx, number)
	if err != nil {
		return false, err
	}
	return pr.Merged && (headSHA == "" || pr.HeadSHA == headSHA), nil
}

// ClosePullRequest closes a pull request without merging.
func (g *GitHub) ClosePullRequest(ctx context.Context, number int) error {
	_, _, err := g.client.PullRequests.Edit(idempotentCall(ctx), g.owner, g.repo, number, &github.PullRequest{State: github.String("closed")})
	return g.wrap(fmt.Sprintf("close pull request #%d", number), err)
}

// Comment adds a comment to a pull request. When the answer is lost (5xx), the pull
// request's comments are read before the request is sent again: a comment with the same
// body created since a minute before the first attempt (clock skew) counts as done.
func (g *GitHub) Comment(ctx context.Context, number int, body string) error {
	since := time.Now().Add(-time.Minute)
	return sendOnce(ctx, g.retry, func() error {
		_, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: github.String(body)})
		return g.wrap(fmt.Sprintf("comment on #%d", number), err)
	}, func() (bool, error) { return g.hasComment(ctx, number, body, since) })
}

// hasComment reports whether pull request number has a comment with body created at or
// after since (the zero time: ever).
func (g *GitHub) hasComment(ctx context.Context, number int, body string, since time.Time) (bool, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	if !since.IsZero() {
		opts.Since = &since
	}
	for {
		cs, resp, err := g.client.Issues.ListComments(ctx, g.owner, g.repo, number, opts)
		if err != nil {
			return false, g.wrap(fmt.Sprintf("list comments of #%d", number), err)
		}
		for _, c := range cs {
			if c.GetBody() == body && !c.GetCreatedAt().Before(since) {
				return true, nil
			}
		}
		if resp.NextPage == 0 || len(cs) == 0 {
			return false, nil
		}
		opts.Page = resp.NextPage
	}
}

// ClosePullRequestWithComment comments body on an open pull request (unless a comment
// with that body is there already) and closes it; see Forge.
func (g *GitHub) ClosePullRequestWithComment(ctx context.Context, number int, body string) (*PullRequest, error) {
	pr, err := g.GetPullRequest(ctx, number)
	if err != nil || pr.State != PROpen {
		return pr, err
	}
	posted, err := g.hasComment(ctx, number, body, time.Time{})
	if err != nil {
		return nil, err
	}
	if !posted {
		if err := g.Comment(ctx, number, body); err != nil {
			return nil, err
		}
	}
	if err := g.ClosePullRequest(ctx, number); err != nil {
		return nil, err
	}
	pr.State = PRClosed
	return pr, nil
}

func convertPR(pr *github.PullRequest) *PullRequest {
	if pr == nil {
		return nil
	}
	return &PullRequest{
		Number:    pr.GetNumber(),
		URL:       pr.GetHTMLURL(),
		Title:     pr.GetTitle(),
		Body:      pr.GetBody(),
		Head:      pr.GetHead().GetRef(),
		HeadSHA:   pr.GetHead().GetSHA(),
		Base:      pr.GetBase().GetRef(),
		State:     PullRequestState(pr.GetState()),
		Merged:    pr.GetMerged() || pr.MergedAt != nil,
		Mergeable: pr.Mergeable,
		Labels:    labelNames(pr.Labels),
	}
}

func labelNames(ls []*github.Label) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}

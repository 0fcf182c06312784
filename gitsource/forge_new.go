package gitsource

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// NewForge returns the Forge for a ForgeSpec's type: GitHub (apiURL defaults to
// https://api.github.com/), Gitea (apiURL required), or, for ForgeNone and the empty type,
// NopForge, which discards commit statuses and returns ErrNoForge for pull request
// operations. repository is owner/name (see RepositoryFromURL for the default).
func NewForge(typ v1alpha1.ForgeType, apiURL, repository, token string, opts ...ForgeOption) (Forge, error) {
	switch typ {
	case v1alpha1.ForgeGitHub:
		return NewGitHub(apiURL, repository, token, opts...)
	case v1alpha1.ForgeGitea:
		return NewGitea(apiURL, repository, token, opts...)
	case v1alpha1.ForgeNone, "":
		return NopForge{}, nil
	}
	return nil, fmt.Errorf("unknown forge type %q (want github, gitea or none)", typ)
}

// ForgeTokenKey is the key of the token in a GitSource's forge Secret
// (spec.forge.secretRef).
const ForgeTokenKey = "token"

// ForgeForSource returns the Forge of a GitSource's spec.forge (repository defaulting to
// the owner/name of spec.url), and nil without a forge or for type none. token is the
// ForgeTokenKey of the forge Secret, "" without one. The hub and the gitfleet CLI share
// it; opts configure the client (e.g. WithRetryPolicy). An error means the spec cannot
// name a forge.
func ForgeForSource(src *v1alpha1.GitSource, token string, opts ...ForgeOption) (Forge, error) {
	f := src.Spec.Forge
	if f == nil || f.Type == "" || f.Type == v1alpha1.ForgeNone {
		return nil, nil
	}
	repo := f.Repository
	if repo == "" {
		var err error
		if repo, err = RepositoryFromURL(src.Spec.URL); err != nil {
			return nil, err
		}
	}
	forge, err := NewForge(f.Type, f.APIURL, repo, token, opts...)
	if err != nil {
		return nil, fmt.Errorf("forge of GitSource %s: %w", src.Name, err)
	}
	return forge, nil
}

// RepositoryFromURL returns owner/name from a Git URL (https://host/owner/name.git,
// ssh://git@host/owner/name, git@host:owner/name.git); with more path segments (a forge
// served under a sub-path) the last two are used.
func RepositoryFromURL(gitURL string) (string, error) {
	var path string
	switch {
	case strings.Contains(gitURL, "://"):
		u, err := url.Parse(gitURL)
		if err != nil {
			return "", fmt.Errorf("repository from URL %q: %w", RedactURL(gitURL), err)
		}
		path = u.Path
	case IsSSHURL(gitURL):
		_, path, _ = strings.Cut(gitURL, ":")
	default:
		path = gitURL
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(strings.TrimSuffix(path, "/"), ".git"), "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", fmt.Errorf("repository from URL %q: the path has no owner/name", RedactURL(gitURL))
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1], nil
}

// NopForge is the Forge of forge type none: SetStatus does nothing, CombinedStatus returns
// an empty pending status, and pull request operations return ErrNoForge.
type NopForge struct{}

var _ Forge = NopForge{}

// SetStatus does nothing.
func (NopForge) SetStatus(context.Context, string, CommitStatus) error { return nil }

// CombinedStatus returns a pending status without contexts.
func (NopForge) CombinedStatus(_ context.Context, ref string) (*CombinedStatus, error) {
	return &CombinedStatus{SHA: ref, State: StatePending}, nil
}

// CreatePullRequest returns ErrNoForge.
func (NopForge) CreatePullRequest(context.Context, NewPullRequest) (*PullRequest, error) {
	return nil, fmt.Errorf("create pull request: %w", ErrNoForge)
}

// UpdatePullRequest returns ErrNoForge.
func (NopForge) UpdatePullRequest(context.Context, int, string, string) (*PullRequest, error) {
	return nil, fmt.Errorf("update pull request: %w", ErrNoForge)
}

// GetPullRequest returns ErrNoForge.
func (NopForge) GetPullRequest(context.Context, int) (*PullRequest, error) {
	return nil, fmt.Errorf("get pull request: %w", ErrNoForge)
}

// ListPullRequests returns ErrNoForge.
func (NopForge) ListPullRequests(context.Context, string, string, string) ([]*PullRequest, error) {
	return nil, fmt.Errorf("list pull requests: %w", ErrNoForge)
}

// MergePullRequest returns ErrNoForge.
func (NopForge) MergePullRequest(context.Context, int, string, string) error {
	return fmt.Errorf("merge pull request: %w", ErrNoForge)
}

// ClosePullRequest returns ErrNoForge.
func (NopForge) ClosePullRequest(context.Context, int) error {
	return fmt.Errorf("close pull request: %w", ErrNoForge)
}

// Comment returns ErrNoForge.
func (NopForge) Comment(context.Context, int, string) error {
	return fmt.Errorf("comment: %w", ErrNoForge)
}

// ClosePullRequestWithComment returns ErrNoForge.
func (NopForge) ClosePullRequestWithComment(context.Context, int, string) (*PullRequest, error) {
	return nil, fmt.Errorf("close pull request: %w", ErrNoForge)
}

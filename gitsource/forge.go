package gitsource

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// CommitState is the state of a commit status.
type CommitState string

// The commit states GitHub and Gitea share.
const (
	StatePending CommitState = "pending"
	StateSuccess CommitState = "success"
	StateFailure CommitState = "failure"
	StateError   CommitState = "error"
)

// CommitStatus is one status on a commit, identified by its context
// (e.g. gitfleet/cluster/eu-1).
type CommitStatus struct {
	Context     string
	State       CommitState
	Description string
	TargetURL   string
	UpdatedAt   time.Time
}

// CombinedStatus is the newest status of every context on a commit.
type CombinedStatus struct {
	SHA      string
	State    CommitState
	Statuses []CommitStatus
}

// PullRequestState is open or closed; a closed pull request may be merged.
type PullRequestState string

// The pull request states.
const (
	PROpen   PullRequestState = "open"
	PRClosed PullRequestState = "closed"
)

// PullRequest is what gitfleet needs to know of a pull request.
type PullRequest struct {
	Number    int
	URL       string
	Title     string
	Body      string
	Head      string // head branch
	HeadSHA   string
	Base      string // base branch
	State     PullRequestState
	Merged    bool
	Mergeable *bool // nil while the forge has not computed it
	Labels    []string
}

// NewPullRequest describes a pull request to open.
type NewPullRequest struct {
	Title, Body, Head, Base string
	Labels                  []string
}

// Forge is the small set of forge operations gitfleet uses. Implementations retry rate
// limits and 5xx responses with backoff (a request that creates something only after
// checking that the lost attempt did not), return ErrNotFound for a missing object, and
// never include credentials in errors.
type Forge interface {
	// SetStatus posts a commit status on sha.
	SetStatus(ctx context.Context, sha string, st CommitStatus) error
	// CombinedStatus returns the newest status of every context on ref.
	CombinedStatus(ctx context.Context, ref string) (*CombinedStatus, error)
	// CreatePullRequest opens a pull request.
	CreatePullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error)
	// UpdatePullRequest changes a pull request's title and body.
	UpdatePullRequest(ctx context.Context, number int, title, body string) (*PullRequest, error)
	// GetPullRequest returns one pull request.
	GetPullRequest(ctx context.Context, number int) (*PullRequest, error)
	// ListPullRequests lists pull requests from head into base in the given state
	// ("open", "closed" or "all"); empty head or base matches any.
	ListPullRequests(ctx context.Context, head, base, state string) ([]*PullRequest, error)
	// MergePullRequest merges a pull request with a merge commit if its head is still
	// headSHA, the commit that was reviewed (empty: whatever the head is); a head that
	// moved returns an error wrapping ErrHeadMoved.
	MergePullRequest(ctx context.Context, number int, headSHA, message string) error
	// ClosePullRequest closes a pull request without merging.
	ClosePullRequest(ctx context.Context, number int) error
	// Comment adds a comment to a pull request.
	Comment(ctx context.Context, number int, body string) error
	// ClosePullRequestWithComment closes an open pull request without merging, after
	// commenting body on it (why it is closed). The comment is posted once: when a comment
	// with the same body is already there (a retry after the close failed), it is not
	// posted again. A pull request that is no longer open (merged, or closed) is left as it
	// is, without a comment. It returns the pull request as it ends up.
	ClosePullRequestWithComment(ctx context.Context, number int, body string) (*PullRequest, error)
}

// ErrNotFound is returned (wrapped) when the forge reports 404.
var ErrNotFound = errors.New("not found on the forge")

// WebhookEvent is a parsed, signature-checked forge webhook.
type WebhookEvent struct {
	// Type is the X-GitHub-Event header: push, pull_request, status, ping.
	Type string
	// Repository is owner/name.
	Repository string
	// Ref and After, for push events (refs/heads/main, new sha).
	Ref, After string
	// PullRequest, for pull_request events, with Action (opened, closed, synchronize...).
	PullRequest *PullRequest
	Action      string
	// SHA, Context and State, for status events.
	SHA, Context string
	State        CommitState
}

// WebhookParser checks a webhook's HMAC-SHA256 signature and parses it. A bad or missing
// signature returns ErrBadSignature.
type WebhookParser interface {
	ParseWebhook(r *http.Request, secret []byte) (*WebhookEvent, error)
}

// ErrBadSignature is returned when a webhook's signature is missing or wrong.
var ErrBadSignature = errors.New("webhook signature missing or invalid")

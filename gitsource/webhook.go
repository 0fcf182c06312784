package gitsource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// MaxWebhookPayload is the largest webhook body read (GitHub caps payloads at 25 MB).
const MaxWebhookPayload = 25 << 20

// Webhook headers. Gitea sends the GitHub headers too, and its own.
const (
	HeaderGitHubEvent     = "X-GitHub-Event"
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGiteaEvent      = "X-Gitea-Event"
	HeaderGiteaSignature  = "X-Gitea-Signature"
)

// NewWebhookParser returns the WebhookParser for GitHub and Gitea webhooks.
func NewWebhookParser() WebhookParser { return webhookParser{} }

type webhookParser struct{}

// ParseWebhook implements WebhookParser; see the package function ParseWebhook.
func (webhookParser) ParseWebhook(r *http.Request, secret []byte) (*WebhookEvent, error) {
	return ParseWebhook(r, secret)
}

// ParseWebhook checks the HMAC-SHA256 signature of a GitHub or Gitea webhook
// (X-Hub-Signature-256 "sha256=<hex>", or Gitea's X-Gitea-Signature "<hex>") with secret,
// then parses push, pull_request, status and ping events with go-github. Other event types
// return an event with only Type and Repository set. An empty secret, a missing or wrong
// signature, and an unsigned SHA-1-only request all return an error wrapping
// ErrBadSignature; the caller should answer 401 and do nothing else.
func ParseWebhook(r *http.Request, secret []byte) (*WebhookEvent, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("webhook: no secret configured: %w", ErrBadSignature)
	}
	sig := r.Header.Get(HeaderGitHubSignature)
	if sig == "" {
		if gs := r.Header.Get(HeaderGiteaSignature); gs != "" {
			sig = "sha256=" + gs
		}
	}
	if sig == "" {
		return nil, fmt.Errorf("webhook: no %s header: %w", HeaderGitHubSignature, ErrBadSignature)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookPayload+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: read body: %w", err)
	}
	if len(body) > MaxWebhookPayload {
		return nil, fmt.Errorf("webhook: payload larger than %d bytes", MaxWebhookPayload)
	}
	payload, err := github.ValidatePayloadFromBody(r.Header.Get("Content-Type"), bytes.NewReader(body), sig, secret)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w: %w", err, ErrBadSignature)
	}
	typ := r.Header.Get(HeaderGitHubEvent)
	if typ == "" {
		typ = r.Header.Get(HeaderGiteaEvent)
	}
	if typ == "" {
		return nil, fmt.Errorf("webhook: no %s header", HeaderGitHubEvent)
	}
	return parseEvent(typ, payload)
}

func parseEvent(typ string, payload []byte) (*WebhookEvent, error) {
	ev := &WebhookEvent{Type: typ}
	switch typ {
	case "push", "pull_request", "status", "ping":
	default:
		var generic struct {
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if err := json.Unmarshal(payload, &generic); err != nil {
			return nil, fmt.Errorf("webhook: parse %s event: %w", typ, err)
		}
		ev.Repository = generic.Repository.FullName
		return ev, nil
	}
	parsed, err := github.ParseWebHook(typ, payload)
	if err != nil {
		return nil, fmt.Errorf("webhook: parse %s event: %w", typ, err)
	}
	switch e := parsed.(type) {
	case *github.PushEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.Ref, ev.After = e.GetRef(), e.GetAfter()
	case *github.PullRequestEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.Action = e.GetAction()
		ev.PullRequest = convertPR(e.GetPullRequest())
	case *github.StatusEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.SHA, ev.Context, ev.State = e.GetSHA(), e.GetContext(), CommitState(e.GetState())
	case *github.PingEvent:
		if repo, ok := pingRepository(payload); ok {
			ev.Repository = repo
		}
	default:
		return nil, errors.New("webhook: unexpected event type")
	}
	return ev, nil
}

func pingRepository(payload []byte) (string, bool) {
	var p struct {
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if json.Unmarshal(payload, &p) != nil || p.Repository == nil {
		return "", false
	}
	return p.Repository.FullName, true
}

package gitsource

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

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

// ErrPayloadTooLarge is returned for a webhook body over MaxWebhookPayload.
var ErrPayloadTooLarge = errors.New("webhook payload too large")

// ParseWebhook checks the HMAC-SHA256 signature of a GitHub or Gitea webhook
// (X-Hub-Signature-256 "sha256=<hex>", or Gitea's X-Gitea-Signature "<hex>") with secret,
// then parses push, pull_request, status and ping events with go-github. Other event types
// return an event with only Type and Repository set. An empty secret, a missing or wrong
// signature, and an unsigned SHA-1-only request all return an error wrapping
// ErrBadSignature; the caller should answer 401 and do nothing else.
//
// It reads at most what it needs: a request refused on its headers (no signature, no
// event type, a content type other than JSON or form, a Content-Length over
// MaxWebhookPayload, which returns ErrPayloadTooLarge) is refused before its body is
// read, and the body is read once, into one buffer of its announced length, through the
// HMAC.
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
	want, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if !strings.HasPrefix(sig, "sha256=") || err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("webhook: %s is not sha256=<hex>: %w", HeaderGitHubSignature, ErrBadSignature)
	}
	typ := r.Header.Get(HeaderGitHubEvent)
	if typ == "" {
		typ = r.Header.Get(HeaderGiteaEvent)
	}
	if typ == "" {
		return nil, fmt.Errorf("webhook: no %s header", HeaderGitHubEvent)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" && ct != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("webhook: unsupported content type %q", ct)
	}
	if r.ContentLength > MaxWebhookPayload {
		return nil, fmt.Errorf("webhook: %d bytes announced, at most %d read: %w", r.ContentLength, MaxWebhookPayload, ErrPayloadTooLarge)
	}
	mac := hmac.New(sha256.New, secret)
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := io.Copy(io.MultiWriter(&buf, mac), io.LimitReader(r.Body, MaxWebhookPayload+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: read body: %w", err)
	}
	if n > MaxWebhookPayload {
		return nil, fmt.Errorf("webhook: payload larger than %d bytes: %w", MaxWebhookPayload, ErrPayloadTooLarge)
	}
	if !hmac.Equal(mac.Sum(nil), want) {
		return nil, fmt.Errorf("webhook: payload signature check failed: %w", ErrBadSignature)
	}
	payload := buf.Bytes()
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(payload))
		if err != nil {
			return nil, fmt.Errorf("webhook: parse form body: %w", err)
		}
		payload = []byte(form.Get("payload"))
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

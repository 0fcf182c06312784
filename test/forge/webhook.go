package forge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// event is a webhook event waiting for delivery.
type event struct {
	repo, typ string
	payload   any
}

type webhook struct {
	repo, url string
	secret    []byte
	events    map[string]bool // empty: all
}

// Delivery is one webhook delivery attempt, for assertions.
type Delivery struct {
	Repo, URL, Event, ID string
	// Status is the receiver's HTTP status, 0 when the request failed (Err).
	Status int
	Err    string
}

// AddWebhook registers a webhook on repository name: the server POSTs signed events to
// url (all events when none are given). Deliveries are asynchronous; WaitDeliveries waits
// for them. Events: status (a status was created), pull_request (opened, edited, closed —
// merged or not — and reopened) and push (Push, or a merge with registered branches).
func (s *Server) AddWebhook(name, url string, secret []byte, events ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := webhook{repo: name, url: url, secret: append([]byte(nil), secret...), events: map[string]bool{}}
	for _, e := range events {
		h.events[e] = true
	}
	s.hooks = append(s.hooks, h)
}

// Deliveries returns the webhook deliveries made so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.delivered...)
}

// WaitDeliveries waits until every queued webhook delivery is done.
func (s *Server) WaitDeliveries() { s.deliveries.Wait() }

// Push moves a registered branch to sha and delivers a push event to the webhooks.
func (s *Server) Push(name, branch, sha string) {
	s.mu.Lock()
	rp := s.repos[name]
	if rp == nil {
		s.mu.Unlock()
		return
	}
	before := rp.branches[branch]
	rp.branches[branch] = sha
	ev := s.pushEvent(rp, branch, before, sha)
	s.mu.Unlock()
	s.deliver(ev)
}

func (s *Server) pushEvent(rp *repo, branch, before, after string) event {
	if before == "" {
		before = "0000000000000000000000000000000000000000"
	}
	return event{repo: rp.name, typ: "push", payload: map[string]any{
		"ref": "refs/heads/" + branch, "before": before, "after": after,
		"repository": s.repoJSON(rp), "pusher": map[string]any{"name": "gitfleet-bot"},
		"sender": map[string]any{"login": "gitfleet-bot"},
	}}
}

// deliver sends ev to the matching webhooks in the background; call without s.mu held.
func (s *Server) deliver(ev event) {
	s.mu.Lock()
	var hooks []webhook
	for _, h := range s.hooks {
		if h.repo == ev.repo && (len(h.events) == 0 || h.events[ev.typ]) {
			hooks = append(hooks, h)
		}
	}
	s.mu.Unlock()
	for _, h := range hooks {
		s.deliveries.Add(1)
		go func(h webhook) {
			defer s.deliveries.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id := deliveryID()
			d := Delivery{Repo: ev.repo, URL: h.url, Event: ev.typ, ID: id}
			resp, err := deliverWebhook(ctx, h.url, h.secret, ev.typ, id, ev.payload)
			if err != nil {
				d.Err = err.Error()
			} else {
				d.Status = resp.StatusCode
				resp.Body.Close()
			}
			s.mu.Lock()
			s.delivered = append(s.delivered, d)
			s.mu.Unlock()
		}(h)
	}
}

// Sign returns the X-Hub-Signature-256 value of body: "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// DeliverWebhook POSTs payload (marshalled to JSON unless it is []byte) to url as GitHub
// does: Content-Type application/json, X-GitHub-Event, X-GitHub-Delivery and, when secret
// is not empty, X-Hub-Signature-256. The caller closes the response body.
func DeliverWebhook(ctx context.Context, url string, secret []byte, event string, payload any) (*http.Response, error) {
	return deliverWebhook(ctx, url, secret, event, deliveryID(), payload)
}

func deliverWebhook(ctx context.Context, url string, secret []byte, event, id string, payload any) (*http.Response, error) {
	body, ok := payload.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("marshal %s payload: %w", event, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/gitfleet-test")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if len(secret) > 0 {
		req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	// Keep the body readable for the caller but bounded.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func deliveryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

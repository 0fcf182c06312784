package gitsource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/google/go-cmp/cmp"
)

var hookSecret = []byte("webhook-s3cret")

func signedRequest(t *testing.T, event string, body []byte, sign func(*http.Request)) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if event != "" {
		r.Header.Set("X-GitHub-Event", event)
	}
	if sign != nil {
		sign(r)
	}
	return r
}

func TestParseWebhookSignature(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","after":"` + shaMain + `","repository":{"full_name":"fleet/config"}}`)
	good := func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", forge.Sign(hookSecret, body)) }
	tests := map[string]struct {
		sign    func(*http.Request)
		secret  []byte
		wantErr bool
	}{
		"good": {sign: good, secret: hookSecret},
		"gitea header": {sign: func(r *http.Request) {
			r.Header.Set("X-Gitea-Signature", strings.TrimPrefix(forge.Sign(hookSecret, body), "sha256="))
		}, secret: hookSecret},
		"bad":          {sign: func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", forge.Sign([]byte("other"), body)) }, secret: hookSecret, wantErr: true},
		"missing":      {secret: hookSecret, wantErr: true},
		"sha1 only":    {sign: func(r *http.Request) { r.Header.Set("X-Hub-Signature", "sha1=0000") }, secret: hookSecret, wantErr: true},
		"empty secret": {sign: good, secret: nil, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ev, err := NewWebhookParser().ParseWebhook(signedRequest(t, "push", body, tc.sign), tc.secret)
			if tc.wantErr {
				if !errors.Is(err, ErrBadSignature) {
					t.Fatalf("ParseWebhook() = %+v, %v; want ErrBadSignature", ev, err)
				}
				return
			}
			want := &WebhookEvent{Type: "push", Repository: "fleet/config", Ref: "refs/heads/main", After: shaMain}
			if err != nil {
				t.Fatalf("ParseWebhook() = %v", err)
			}
			if diff := cmp.Diff(want, ev); diff != "" {
				t.Fatalf("ParseWebhook() (-want +got):\n%s", diff)
			}
		})
	}
	// A body tampered with after signing.
	r := signedRequest(t, "push", append([]byte(nil), body...), good)
	r.Body = httptestBody(strings.Replace(string(body), "main", "prod", 1))
	if _, err := ParseWebhook(r, hookSecret); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("ParseWebhook(tampered body) = %v, want ErrBadSignature", err)
	}
}

func httptestBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestParseWebhookEvents(t *testing.T) {
	tests := map[string]struct {
		event   string
		payload string
		want    *WebhookEvent
	}{
		"pull_request merged": {
			event: "pull_request",
			payload: `{"action":"closed","number":7,"repository":{"full_name":"fleet/config"},"pull_request":{"number":7,"state":"closed","merged":true,
				"title":"Promote","html_url":"https://github.com/fleet/config/pull/7","head":{"ref":"gitfleet/promote/prod","sha":"` + shaPromote + `"},"base":{"ref":"env/prod"}}}`,
			want: &WebhookEvent{Type: "pull_request", Repository: "fleet/config", Action: "closed", PullRequest: &PullRequest{
				Number: 7, URL: "https://github.com/fleet/config/pull/7", Title: "Promote", Head: "gitfleet/promote/prod",
				HeadSHA: shaPromote, Base: "env/prod", State: PRClosed, Merged: true}},
		},
		"status": {
			event:   "status",
			payload: `{"sha":"` + shaMain + `","context":"gitfleet/cluster/eu-1","state":"success","repository":{"full_name":"fleet/config"}}`,
			want:    &WebhookEvent{Type: "status", Repository: "fleet/config", SHA: shaMain, Context: "gitfleet/cluster/eu-1", State: StateSuccess},
		},
		"ping": {
			event: "ping", payload: `{"zen":"Keep it logically awesome.","hook_id":1,"repository":{"full_name":"fleet/config"}}`,
			want: &WebhookEvent{Type: "ping", Repository: "fleet/config"},
		},
		"other event": {
			event: "issues", payload: `{"action":"opened","repository":{"full_name":"fleet/config"}}`,
			want: &WebhookEvent{Type: "issues", Repository: "fleet/config"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body := []byte(tc.payload)
			r := signedRequest(t, tc.event, body, func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", forge.Sign(hookSecret, body)) })
			ev, err := ParseWebhook(r, hookSecret)
			if err != nil {
				t.Fatalf("ParseWebhook(%s) = %v", tc.event, err)
			}
			if diff := cmp.Diff(tc.want, ev); diff != "" {
				t.Fatalf("ParseWebhook(%s) (-want +got):\n%s", tc.event, diff)
			}
		})
	}
	// A form-encoded payload (GitHub's other content type) parses too.
	form := url.Values{"payload": {`{"ref":"refs/heads/main","after":"x","repository":{"full_name":"a/b"}}`}}.Encode()
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-Hub-Signature-256", forge.Sign(hookSecret, []byte(form)))
	if ev, err := ParseWebhook(r, hookSecret); err != nil || ev.Repository != "a/b" {
		t.Fatalf("ParseWebhook(form) = %+v, %v", ev, err)
	}
	// Signed but without an event type.
	body := []byte(`{}`)
	r = signedRequest(t, "", body, func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", forge.Sign(hookSecret, body)) })
	if _, err := ParseWebhook(r, hookSecret); err == nil {
		t.Fatalf("ParseWebhook(no event header) succeeded")
	}
}

// TestWebhooksFromTheDouble receives the double's signed deliveries end to end.
func TestWebhooksFromTheDouble(t *testing.T) {
	events := make(chan *WebhookEvent, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := ParseWebhook(r, hookSecret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		events <- ev
	}))
	defer recv.Close()
	srv, gh := newGitHubDouble(t)
	srv.AddWebhook("fleet/config", recv.URL, hookSecret, "status", "pull_request")
	ctx := context.Background()
	if err := gh.SetStatus(ctx, shaMain, CommitStatus{Context: "gitfleet/cluster/a", State: StateSuccess}); err != nil {
		t.Fatal(err)
	}
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "t", Head: "gitfleet/promote/prod", Base: "env/prod"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.MergePullRequest(ctx, pr.Number, pr.HeadSHA, "merge"); err != nil {
		t.Fatal(err)
	}
	srv.WaitDeliveries()
	close(events)
	var got []string
	for ev := range events {
		s := ev.Type + ":" + ev.Action
		if ev.PullRequest != nil && ev.PullRequest.Merged {
			s += ":merged"
		}
		got = append(got, s)
	}
	want := map[string]bool{"status:": true, "pull_request:opened": true, "pull_request:closed:merged": true}
	if len(got) != 3 {
		t.Fatalf("received %v, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("received %v, want %v", got, want)
		}
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (*countingBody) Close() error { return nil }

// TestParseWebhookReadsOnlyWhatItNeeds: a request refused on its headers leaves its body
// unread, an over-long body is read no further than the cap, and a body is held once.
func TestParseWebhookReadsOnlyWhatItNeeds(t *testing.T) {
	big := func(n int64) *countingBody { return &countingBody{r: io.LimitReader(zeros{}, n)} }
	sig := "sha256=" + strings.Repeat("0", 64)
	tests := map[string]struct {
		length   int64 // Content-Length; -1 unknown
		size     int64
		header   func(http.Header)
		want     error
		wantRead int64
	}{
		"announced too large": {length: MaxWebhookPayload + 1, size: MaxWebhookPayload + 1, want: ErrPayloadTooLarge},
		"no signature":        {length: 10, size: 10, header: func(h http.Header) { h.Del("X-Hub-Signature-256") }, want: ErrBadSignature},
		"not sha256":          {length: 10, size: 10, header: func(h http.Header) { h.Set("X-Hub-Signature-256", "sha1=00") }, want: ErrBadSignature},
		"unknown content type": {length: 10, size: 10, header: func(h http.Header) { h.Set("Content-Type", "text/plain") },
			want: errors.New("unsupported content type")},
		"too large, length unknown": {length: -1, size: MaxWebhookPayload + 100, want: ErrPayloadTooLarge, wantRead: MaxWebhookPayload + 1},
		"wrong signature":           {length: 1 << 20, size: 1 << 20, want: ErrBadSignature, wantRead: 1 << 20},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body := big(tc.size)
			r := httptest.NewRequest(http.MethodPost, "/hook", nil)
			r.Body, r.ContentLength = body, tc.length
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-GitHub-Event", "push")
			r.Header.Set("X-Hub-Signature-256", sig)
			if tc.header != nil {
				tc.header(r.Header)
			}
			_, err := ParseWebhook(r, hookSecret)
			if err == nil || !errors.Is(err, tc.want) && !strings.Contains(err.Error(), tc.want.Error()) {
				t.Fatalf("ParseWebhook() = %v, want %v", err, tc.want)
			}
			if body.read != tc.wantRead {
				t.Fatalf("ParseWebhook() read %d bytes of the body, want %d", body.read, tc.wantRead)
			}
		})
	}

	// An 8 MiB body with a wrong signature allocates about its size once (it was read
	// into a growing buffer and copied again for the signature check: ~3 times).
	const size = 8 << 20
	var before, after runtime.MemStats
	r := httptest.NewRequest(http.MethodPost, "/hook", nil)
	r.Body, r.ContentLength = big(size), size
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set("X-Hub-Signature-256", sig)
	runtime.ReadMemStats(&before)
	if _, err := ParseWebhook(r, hookSecret); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("ParseWebhook(8 MiB, wrong signature) = %v, want ErrBadSignature", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > size*5/4 {
		t.Fatalf("ParseWebhook(8 MiB body) allocated %d bytes, want at most %d", got, size*5/4)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

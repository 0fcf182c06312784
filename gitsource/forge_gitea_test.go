package gitsource

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/google/go-cmp/cmp"
)

// fakeGitea serves the few Gitea endpoints where Gitea differs from GitHub, shaped as
// Gitea 1.26 answers them. The real Gitea is exercised by the e2e tier.
type fakeGitea struct {
	mu       sync.Mutex
	merged   map[string]bool
	labels   []giteaLabel
	prLabels []int64
	bodies   []map[string]any
	// checking is how many more merge requests Gitea answers with "Please try again
	// later" (it is still checking a pull request whose head just moved).
	checking int
	// head is the head commit of every pull request (empty: none checked).
	head string
	// lose makes the next answer to a request with this method and path (relative to the
	// repository) a 502 after the request was carried out.
	lose string
}

func (f *fakeGitea) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer gitea-token" {
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"message":"token is required","url":"x"}`))
		return
	}
	var body map[string]any
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	f.bodies = append(f.bodies, body)
	w.Header().Set("Content-Type", "application/json")
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/repos/o/r/")
	if f.lose != "" && f.lose == r.Method+" "+p {
		f.lose = ""
		orig := w
		defer orig.WriteHeader(502)
		w = discardWriter{w.Header()}
	}
	switch {
	case r.Method == "GET" && strings.HasPrefix(p, "pulls/"):
		_ = json.NewEncoder(w).Encode(map[string]any{"number": 1, "merged": f.merged[p+"/merge"], "head": map[string]any{"sha": f.head, "ref": "gitfleet/promote/prod"}})
	case r.Method == "POST" && strings.HasPrefix(p, "pulls/") && strings.HasSuffix(p, "/merge"):
		if body["Do"] != "merge" {
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"message":"[Do]: Required","url":"x"}`))
			return
		}
		if f.checking > 0 {
			f.checking--
			w.WriteHeader(405)
			_, _ = w.Write([]byte(`{"message":"Please try again later","url":"x"}`))
			return
		}
		if f.merged[p] {
			w.WriteHeader(405)
			_, _ = w.Write([]byte(`{"message":"The PR is already merged","url":"x"}`))
			return
		}
		if id, ok := body["head_commit_id"].(string); ok && id != f.head { // as Gitea 1.26 answers
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"message":"head out of date","url":"x"}`))
			return
		}
		f.merged[p] = true
		w.WriteHeader(200)
	case r.Method == "GET" && strings.HasSuffix(p, "/status"):
		if r.URL.Query().Get("page") != "1" {
			_, _ = w.Write([]byte(`{"state":"","sha":"","statuses":[]}`))
			return
		}
		_, _ = w.Write([]byte(`{"state":"warning","sha":"` + shaMain + `","total_count":2,"statuses":[
			{"id":1,"status":"success","context":"gitfleet/cluster/a","description":"ok","target_url":"","updated_at":"2026-07-01T12:00:00Z"},
			{"id":2,"status":"warning","context":"lint","description":"meh","target_url":"","updated_at":"2026-07-01T12:00:00Z"}]}`))
	case r.Method == "GET" && p == "labels":
		_ = json.NewEncoder(w).Encode(f.labels)
	case r.Method == "POST" && p == "labels":
		l := giteaLabel{ID: int64(len(f.labels) + 1), Name: body["name"].(string), Color: body["color"].(string)}
		f.labels = append(f.labels, l)
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(l)
	case r.Method == "POST" && strings.HasPrefix(p, "issues/") && strings.HasSuffix(p, "/labels"):
		var out []giteaLabel
		for _, id := range body["labels"].([]any) {
			f.prLabels = append(f.prLabels, int64(id.(float64)))
			out = append(out, f.labels[int(id.(float64))-1])
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"message":"not found","url":"x"}`))
	}
}

// discardWriter stands for a response whose answer is lost on the way.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// The reviewed head is sent as head_commit_id; lost answers of merges and label creations
// are checked before the request is sent again.
func TestGiteaMergeHeadAndLostAnswers(t *testing.T) {
	ctx := context.Background()
	fake := &fakeGitea{merged: map[string]bool{}, head: shaPromote}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g, err := NewGitea(srv.URL+"/api/v1", "o/r", "gitea-token", fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	err = g.MergePullRequest(ctx, 1, shaMain, "Promote")
	if !errors.Is(err, ErrHeadMoved) || !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), shaPromote) {
		t.Fatalf("MergePullRequest(old head) = %v, want ErrHeadMoved naming the new head", err)
	}
	fake.lose = "POST pulls/1/merge"
	if err := g.MergePullRequest(ctx, 1, shaPromote, "Promote"); err != nil {
		t.Fatalf("MergePullRequest() after a lost answer = %v", err)
	}
	if got := fake.bodies[len(fake.bodies)-2]; got["head_commit_id"] != shaPromote {
		t.Fatalf("merge body = %v, want head_commit_id %s", got, shaPromote)
	}
	fake.lose = "POST labels"
	if _, err := g.AddLabels(ctx, 1, []string{"gitfleet"}); err != nil {
		t.Fatalf("AddLabels() after a lost label creation = %v", err)
	}
	if len(fake.labels) != 1 {
		t.Fatalf("labels = %+v, want one", fake.labels)
	}
}

func TestGiteaAdapter(t *testing.T) {
	ctx := context.Background()
	fake := &fakeGitea{merged: map[string]bool{}, labels: []giteaLabel{{ID: 1, Name: "gitfleet", Color: "#00ff00"}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g, err := NewGitea(srv.URL+"/api/v1", "o/r", "gitea-token", fastRetry)
	if err != nil {
		t.Fatal(err)
	}

	if err := g.MergePullRequest(ctx, 3, "", "Promote abc to prod\n\nApproved by gitfleet"); err != nil {
		t.Fatalf("MergePullRequest() = %v", err)
	}
	if got := fake.bodies[len(fake.bodies)-1]; got["MergeTitleField"] != "Promote abc to prod" || got["MergeMessageField"] != "Approved by gitfleet" {
		t.Fatalf("merge body = %v", got)
	}
	if err := g.MergePullRequest(ctx, 3, "", "again"); !errors.Is(err, ErrRejected) {
		t.Fatalf("second MergePullRequest() = %v, want ErrRejected (405)", err)
	}
	// A pull request Gitea is still checking is merged once the check is done.
	fake.mu.Lock()
	fake.checking, fake.bodies = 2, nil
	fake.mu.Unlock()
	if err := g.MergePullRequest(ctx, 4, "", "Promote def to prod"); err != nil {
		t.Fatalf("MergePullRequest() while Gitea checks the pull request = %v", err)
	}
	if n := len(fake.bodies); n != 3 {
		t.Errorf("%d merge requests, want 3 (two answered 'Please try again later')", n)
	}

	cs, err := g.CombinedStatus(ctx, shaMain)
	if err != nil {
		t.Fatalf("CombinedStatus() = %v", err)
	}
	if cs.SHA != shaMain || cs.State != StateFailure || len(cs.Statuses) != 2 || cs.Statuses[0].State != StateSuccess || cs.Statuses[1].State != StateFailure {
		t.Fatalf("CombinedStatus() = %+v; want the per-status \"status\" field read and warning as failure", cs)
	}

	labels, err := g.AddLabels(ctx, 3, []string{"gitfleet", "stage/prod"})
	if err != nil {
		t.Fatalf("AddLabels() = %v", err)
	}
	if diff := cmp.Diff([]string{"gitfleet", "stage/prod"}, labels); diff != "" {
		t.Fatalf("AddLabels() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1, 2}, fake.prLabels); diff != "" {
		t.Fatalf("label IDs sent (-want +got):\n%s", diff)
	}

	bad, _ := NewGitea(srv.URL+"/api/v1/", "o/r", "wrong", fastRetry)
	if err := bad.MergePullRequest(ctx, 4, "", "x"); !errors.Is(err, ErrAuthentication) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("MergePullRequest(bad token) = %v, want ErrAuthentication without the token", err)
	}
}

// TestGiteaRateLimits checks that Gitea's rate limit answers (429, and 403 with rate limit
// headers but Gitea's error body, which go-github does not recognise as a rate limit) are
// classified and timed as GitHub's are, on Gitea's own endpoints too.
func TestGiteaRateLimits(t *testing.T) {
	ctx := context.Background()
	// A new client per case: go-github remembers a primary limit until its reset.
	newGitea := func(t *testing.T) (*forge.Server, *Gitea) {
		srv := forge.NewServer(t, forge.WithPathPrefix("/api/v1"))
		srv.AddRepo("o/r", map[string]string{"main": shaMain})
		g, err := NewGitea(srv.URL(), "o/r", forge.Token, fastRetry)
		if err != nil {
			t.Fatal(err)
		}
		return srv, g
	}
	const merge = "/repos/o/r/pulls/3/merge"
	giteaBody := `{"message":"rate limit exceeded","url":"https://gitea.example.com/api/swagger"}`
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		status  int
		header  http.Header
		resetAt func(start time.Time) (time.Time, time.Time) // the window ResetAt must fall in
	}{
		{"429 Retry-After", 429, header("Retry-After", "120"), func(s time.Time) (time.Time, time.Time) {
			return s.Add(2 * time.Minute), s.Add(2*time.Minute + 5*time.Second)
		}},
		{"403 Retry-After", 403, header("Retry-After", "120"), func(s time.Time) (time.Time, time.Time) {
			return s.Add(2 * time.Minute), s.Add(2*time.Minute + 5*time.Second)
		}},
		{"403 X-RateLimit-Remaining 0", 403, header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10)),
			func(time.Time) (time.Time, time.Time) { return reset, reset }},
		{"429 X-RateLimit-Remaining 0", 429, header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10)),
			func(time.Time) (time.Time, time.Time) { return reset, reset.Add(time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, g := newGitea(t)
			srv.InjectFault(forge.Fault{Method: "POST", PathPrefix: merge, Count: 1, Status: tc.status, Header: tc.header, Body: giteaBody})
			start := time.Now()
			err := g.MergePullRequest(ctx, 3, "", "x")
			var apiErr *APIError
			if !errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Forge != "gitea" {
				t.Fatalf("MergePullRequest() = %v, want a gitea *APIError %d wrapping ErrRateLimited", err, tc.status)
			}
			if lo, hi := tc.resetAt(start); apiErr.ResetAt.Before(lo) || apiErr.ResetAt.After(hi) {
				t.Fatalf("ResetAt = %v, want within [%v, %v]", apiErr.ResetAt, lo, hi)
			}
			if apiErr.RetryAfter == "" || !strings.Contains(err.Error(), "retry after "+apiErr.RetryAfter) {
				t.Fatalf("error %q with RetryAfter %q, want it to say when to retry", err, apiErr.RetryAfter)
			}
			if got := srv.RequestCount("POST", merge); got != 1 {
				t.Fatalf("%d requests, want 1 (a wait past MaxWait is not waited for)", got)
			}
		})
	}
	t.Run("403 without rate limit headers", func(t *testing.T) {
		srv, g := newGitea(t)
		srv.InjectFault(forge.Fault{Method: "POST", PathPrefix: merge, Count: 1, Status: 403, Body: `{"message":"user should have a permission to merge","url":"x"}`})
		err := g.MergePullRequest(ctx, 3, "", "x")
		var apiErr *APIError
		if !errors.Is(err, ErrAuthentication) || errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || !apiErr.ResetAt.IsZero() {
			t.Fatalf("MergePullRequest() = %v, want ErrAuthentication without ResetAt", err)
		}
	})
	t.Run("short 429 is waited for", func(t *testing.T) {
		srv, g := newGitea(t)
		srv.InjectFault(forge.Fault{Method: "GET", PathPrefix: "/repos/o/r/commits/", Count: 1, Status: 429, Header: header("Retry-After", "1"), Body: giteaBody})
		start := time.Now()
		if _, err := g.CombinedStatus(ctx, shaMain); err != nil {
			t.Fatalf("CombinedStatus() after a 1s 429 = %v", err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("CombinedStatus() retried after %v, want Retry-After (1s) honoured", d)
		}
	})
}

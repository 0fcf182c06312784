package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// call makes one API request and decodes the JSON answer into a generic value.
func call(t *testing.T, s *Server, method, path, token string, body any) (int, any, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, strings.TrimSuffix(s.URL(), "/")+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func newTestServer(t *testing.T, opts ...Option) *Server {
	s := NewServer(t, opts...)
	s.AddRepo("o/r", map[string]string{"main": shaA, "feature": shaB})
	return s
}

func TestAuthRequired(t *testing.T) {
	s := newTestServer(t)
	if code, _, _ := call(t, s, "GET", "/repos/o/r", "", nil); code != 401 {
		t.Fatalf("GET without token = %d, want 401", code)
	}
	if code, body, _ := call(t, s, "GET", "/repos/o/r", "wrong", nil); code != 401 || body.(map[string]any)["message"] != "Bad credentials" {
		t.Fatalf("GET with a wrong token = %d %v, want 401 Bad credentials", code, body)
	}
	if code, _, _ := call(t, s, "GET", "/repos/o/r", Token, nil); code != 200 {
		t.Fatalf("GET with the token = %d, want 200", code)
	}
	if code, _, _ := call(t, s, "GET", "/repos/o/missing", Token, nil); code != 404 {
		t.Fatalf("GET unknown repo = %d, want 404", code)
	}
}

func TestStatusesStrict(t *testing.T) {
	s := newTestServer(t)
	tests := map[string]struct {
		sha  string
		body any
		want int
	}{
		"missing state":    {shaA, map[string]any{"context": "c"}, 422},
		"invalid state":    {shaA, map[string]any{"state": "ok", "context": "c"}, 422},
		"bad sha":          {"main", map[string]any{"state": "success"}, 422},
		"long description": {shaA, map[string]any{"state": "success", "description": strings.Repeat("x", 141)}, 422},
		"bad target url":   {shaA, map[string]any{"state": "success", "target_url": "javascript:alert(1)"}, 422},
		"not json":         {shaA, "{", 400},
		"ok":               {shaA, map[string]any{"state": "pending", "context": "gitfleet/cluster/a"}, 201},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body := tc.body
			if s, ok := tc.body.(string); ok {
				body = json.RawMessage(s)
			}
			if code, out, _ := call(t, s, "POST", "/repos/o/r/statuses/"+tc.sha, Token, body); code != tc.want {
				t.Fatalf("POST status %v = %d %v, want %d", tc.body, code, out, tc.want)
			}
		})
	}
	call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "success", "context": "gitfleet/cluster/a"})
	call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "failure", "context": "gitfleet/cluster/b"})
	code, out, _ := call(t, s, "GET", "/repos/o/r/commits/main/status", Token, nil)
	cs := out.(map[string]any)
	if code != 200 || cs["state"] != "failure" || cs["total_count"].(float64) != 2 || cs["sha"] != shaA {
		t.Fatalf("GET combined status of main = %d %v, want failure with 2 contexts on %s", code, out, shaA)
	}
	if st, ok := s.LatestStatus("o/r", shaA, "gitfleet/cluster/a"); !ok || st.State != "success" {
		t.Fatalf("LatestStatus(a) = %+v, %v; want success", st, ok)
	}
	if n := len(s.Statuses("o/r", shaA)); n != 3 {
		t.Fatalf("Statuses() has %d entries, want 3", n)
	}
	if code, _, _ := call(t, s, "GET", "/repos/o/r/commits/nope/status", Token, nil); code != 404 {
		t.Fatalf("combined status of a missing branch = %d, want 404", code)
	}
}

func TestPullRequestsStrict(t *testing.T) {
	s := newTestServer(t)
	code, out, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "missing"})
	if code != 422 {
		t.Fatalf("PR into a missing base = %d %v, want 422", code, out)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"head": "feature", "base": "main"}); code != 422 {
		t.Fatalf("PR without title = %d, want 422", code)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "main", "base": "main"}); code != 422 {
		t.Fatalf("PR from main into main = %d, want 422", code)
	}
	code, out, _ = call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main", "body": "b"})
	if code != 201 || out.(map[string]any)["number"].(float64) != 1 {
		t.Fatalf("PR create = %d %v, want 201 #1", code, out)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main"}); code != 422 {
		t.Fatalf("second open PR for the same head = %d, want 422", code)
	}
	code, out, _ = call(t, s, "GET", "/repos/o/r/pulls?state=open&head=o:feature&base=main", Token, nil)
	if list := out.([]any); code != 200 || len(list) != 1 {
		t.Fatalf("list PRs = %d %v, want one", code, out)
	}
	if _, ok := out.([]any)[0].(map[string]any)["merged"]; ok {
		t.Fatalf("list PRs includes merged, GitHub's list does not")
	}
	if code, _, _ := call(t, s, "PUT", "/repos/o/r/pulls/1/merge", Token, map[string]any{"sha": shaA}); code != 409 {
		t.Fatalf("merge with a stale sha = %d, want 409", code)
	}
	f := false
	s.SetMergeable("o/r", 1, &f)
	if code, _, _ := call(t, s, "PUT", "/repos/o/r/pulls/1/merge", Token, map[string]any{"merge_method": "merge"}); code != 405 {
		t.Fatalf("merge of a conflicting PR = %d, want 405", code)
	}
	tr := true
	s.SetMergeable("o/r", 1, &tr)
	if code, out, _ := call(t, s, "PUT", "/repos/o/r/pulls/1/merge", Token, map[string]any{"merge_method": "merge", "commit_title": "Promote"}); code != 200 || out.(map[string]any)["merged"] != true {
		t.Fatalf("merge = %d %v, want 200 merged", code, out)
	}
	if code, _, _ := call(t, s, "PUT", "/repos/o/r/pulls/1/merge", Token, map[string]any{"merge_method": "merge"}); code != 405 {
		t.Fatalf("second merge = %d, want 405", code)
	}
	pr, _ := s.PullRequest("o/r", 1)
	if !pr.Merged || pr.State != "closed" || pr.MergeMessage != "Promote" || pr.HeadSHA != shaB {
		t.Fatalf("PullRequest(1) = %+v, want merged and closed at %s", pr, shaB)
	}
	if code, _, _ := call(t, s, "PATCH", "/repos/o/r/pulls/1", Token, map[string]any{"state": "open"}); code != 422 {
		t.Fatalf("reopen a merged PR = %d, want 422", code)
	}
	if code, _, _ := call(t, s, "GET", "/repos/o/r/pulls/7", Token, nil); code != 404 {
		t.Fatalf("GET a missing PR = %d, want 404", code)
	}
}

func TestCommentsAndLabels(t *testing.T) {
	s := newTestServer(t)
	call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main"})
	if code, _, _ := call(t, s, "POST", "/repos/o/r/issues/1/comments", Token, map[string]any{"body": ""}); code != 422 {
		t.Fatalf("empty comment = %d, want 422", code)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/issues/1/comments", Token, map[string]any{"body": "hello"}); code != 201 {
		t.Fatalf("comment = %d, want 201", code)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/issues/9/comments", Token, map[string]any{"body": "x"}); code != 404 {
		t.Fatalf("comment on a missing PR = %d, want 404", code)
	}
	if c := s.Comments("o/r", 1); len(c) != 1 || c[0].Body != "hello" {
		t.Fatalf("Comments() = %v", c)
	}
	call(t, s, "POST", "/repos/o/r/issues/1/labels", Token, []string{"gitfleet", "stage/prod"})
	code, out, _ := call(t, s, "POST", "/repos/o/r/issues/1/labels", Token, map[string]any{"labels": []string{"gitfleet"}})
	if code != 200 || len(out.([]any)) != 2 {
		t.Fatalf("add labels = %d %v, want the 2 labels", code, out)
	}
	if code, _, _ := call(t, s, "DELETE", "/repos/o/r/issues/1/labels/stage/prod", Token, nil); code != 404 {
		// a slash in a label name must be escaped; unescaped it is another path
		t.Fatalf("DELETE unescaped label path = %d, want 404", code)
	}
	if code, _, _ := call(t, s, "DELETE", "/repos/o/r/issues/1/labels/stage%2Fprod", Token, nil); code != 200 {
		t.Fatalf("DELETE escaped label = %d, want 200", code)
	}
	call(t, s, "POST", "/repos/o/r/issues/1/labels", Token, []string{"stage/prod"})
	if code, _, _ := call(t, s, "DELETE", "/repos/o/r/issues/1/labels/gitfleet", Token, nil); code != 200 {
		t.Fatalf("DELETE label = %d, want 200", code)
	}
	if pr, _ := s.PullRequest("o/r", 1); len(pr.Labels) != 1 || pr.Labels[0] != "stage/prod" {
		t.Fatalf("labels = %v, want [stage/prod]", pr.Labels)
	}
}

func TestFaultsAndRateLimit(t *testing.T) {
	s := newTestServer(t, WithRateLimit(3, time.Hour))
	s.FailNext(2, 503)
	for i, want := range []int{503, 503, 200} {
		if code, _, _ := call(t, s, "GET", "/repos/o/r", Token, nil); code != want {
			t.Fatalf("request %d = %d, want %d", i, code, want)
		}
	}
	s.RateLimitNext(1, 30*time.Second)
	code, _, h := call(t, s, "GET", "/repos/o/r", Token, nil)
	if code != 403 || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("rate limited request = %d %v", code, h)
	}
	// The configured limit of 3: one request was served above, two more, then 403.
	for i, want := range []int{200, 200, 403} {
		if code, _, _ := call(t, s, "GET", "/repos/o/r", Token, nil); code != want {
			t.Fatalf("request %d under the limit = %d, want %d", i, code, want)
		}
	}
	s.InjectFault(Fault{Method: "POST", PathPrefix: "/repos/o/r/statuses/", Count: 1, Status: 502})
	if got := s.RequestCount("GET", "/repos/o/r"); got != 7 {
		t.Fatalf("RequestCount(GET) = %d, want 7", got)
	}
}

// A fault's OnAnswer shapes each answer's header; the fault's own Header is not changed.
func TestFaultOnAnswer(t *testing.T) {
	s := newTestServer(t)
	n := 0
	s.InjectFault(Fault{Method: "GET", Count: 2, Status: 403, Header: http.Header{"X-Fixed": {"yes"}}, OnAnswer: func(h http.Header) {
		n++
		h.Set("X-Answer", strconv.Itoa(n))
	}})
	for i, want := range []string{"1", "2"} {
		code, _, h := call(t, s, "GET", "/repos/o/r", Token, nil)
		if code != 403 || h.Get("X-Answer") != want || h.Get("X-Fixed") != "yes" {
			t.Fatalf("answer %d = %d with X-Answer %q, X-Fixed %q; want 403, %s, yes", i, code, h.Get("X-Answer"), h.Get("X-Fixed"), want)
		}
	}
}

func TestPathPrefixAndPagination(t *testing.T) {
	s := newTestServer(t, WithPathPrefix("/api/v3"))
	if !strings.HasSuffix(s.URL(), "/api/v3/") {
		t.Fatalf("URL() = %s", s.URL())
	}
	for i := 0; i < 5; i++ {
		call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "success", "context": string(rune('a' + i))})
	}
	code, out, h := call(t, s, "GET", "/repos/o/r/commits/"+shaA+"/status?per_page=2", Token, nil)
	if code != 200 || len(out.(map[string]any)["statuses"].([]any)) != 2 || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1 = %d %v %v", code, out, h.Get("Link"))
	}
}

func TestWebhookDelivery(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Hub-Signature-256") != Sign(secret, body) {
			w.WriteHeader(401)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Get("X-GitHub-Event"))
		mu.Unlock()
	}))
	defer recv.Close()
	s := newTestServer(t)
	s.AddWebhook("o/r", recv.URL, secret)
	call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "success"})
	call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main"})
	s.Push("o/r", "main", shaB)
	s.WaitDeliveries()
	if len(s.Deliveries()) != 3 {
		t.Fatalf("Deliveries() = %v, want 3", s.Deliveries())
	}
	for _, d := range s.Deliveries() {
		if d.Status != 200 {
			t.Fatalf("delivery %+v was refused", d)
		}
	}
	resp, err := DeliverWebhook(context.Background(), recv.URL, []byte("wrong"), "ping", map[string]any{"zen": "x"})
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("DeliverWebhook(wrong secret) = %v, %v; want 401", resp, err)
	}
	resp.Body.Close()
}

func TestUseGitDir(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "env/prod")
	run("commit", "-q", "--allow-empty", "-m", "one")
	base := run("rev-parse", "HEAD")
	run("checkout", "-q", "-b", "gitfleet/promote/prod")
	run("commit", "-q", "--allow-empty", "-m", "two")
	head := run("rev-parse", "HEAD")

	s := NewServer(t)
	s.AddRepo("o/r", nil)
	s.UseGitDir("o/r", dir)
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "gitfleet/promote/prod", "base": "env/staging"}); code != 422 {
		t.Fatalf("PR into a branch missing from the git dir = %d, want 422", code)
	}
	code, out, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "gitfleet/promote/prod", "base": "env/prod"})
	if code != 201 || out.(map[string]any)["head"].(map[string]any)["sha"] != head {
		t.Fatalf("PR = %d %v, want 201 with head %s", code, out, head)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/statuses/"+strings.Repeat("c", 40), Token, map[string]any{"state": "success"}); code != 422 {
		t.Fatalf("status on a commit missing from the git dir = %d, want 422", code)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/statuses/"+base, Token, map[string]any{"state": "success"}); code != 201 {
		t.Fatalf("status on a known commit = %d, want 201", code)
	}
	var merged PullRequest
	s.OnMerge(func(_ string, pr PullRequest) (string, error) {
		merged = pr
		return strings.Repeat("d", 40), nil
	})
	if code, out, _ := call(t, s, "PUT", "/repos/o/r/pulls/1/merge", Token, map[string]any{"sha": head}); code != 200 || out.(map[string]any)["sha"] != strings.Repeat("d", 40) {
		t.Fatalf("merge = %d %v", code, out)
	}
	if merged.Number != 1 || merged.HeadSHA != head {
		t.Fatalf("OnMerge got %+v", merged)
	}
}

// GitHub's documented limits: a status context of at most 255 characters, 1000 statuses
// per sha and context, pull request and comment bodies of at most 65536 characters.
func TestGitHubLimits(t *testing.T) {
	s := newTestServer(t)
	post := func(context string) int {
		code, _, _ := call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "success", "context": context})
		return code
	}
	if code := post(strings.Repeat("é", MaxContext)); code != 201 {
		t.Fatalf("status with a %d-character context = %d, want 201", MaxContext, code)
	}
	if code := post("gitfleet/cluster/" + strings.Repeat("c", 253)); code != 422 {
		t.Fatalf("status with a 270-character context = %d, want 422", code)
	}
	for i := 1; i < MaxStatusesPerContext; i++ {
		if code := post("busy"); code != 201 {
			t.Fatalf("status %d of a context = %d, want 201", i, code)
		}
	}
	if code := post("busy"); code != 201 {
		t.Fatalf("status %d of a context = %d, want 201", MaxStatusesPerContext, code)
	}
	code, out, _ := call(t, s, "POST", "/repos/o/r/statuses/"+shaA, Token, map[string]any{"state": "success", "context": "busy"})
	if code != 422 || !strings.Contains(fmt.Sprint(out), "maximum number of statuses") {
		t.Fatalf("status %d of a context = %d %v, want 422", MaxStatusesPerContext+1, code, out)
	}
	if code := post("other"); code != 201 {
		t.Fatalf("status of another context after the limit = %d, want 201", code)
	}

	long := strings.Repeat("x", MaxBody+1)
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main", "body": long}); code != 422 {
		t.Fatalf("PR with a %d-character body = %d, want 422", MaxBody+1, code)
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main", "body": strings.Repeat("é", MaxBody)}); code != 201 {
		t.Fatalf("PR with a %d-character body = %d, want 201", MaxBody, code)
	}
	if code, _, _ := call(t, s, "PATCH", "/repos/o/r/pulls/1", Token, map[string]any{"body": long}); code != 422 {
		t.Fatalf("PR update with a %d-character body = %d, want 422", MaxBody+1, code)
	}
	if pr, _ := s.PullRequest("o/r", 1); len([]rune(pr.Body)) != MaxBody {
		t.Fatalf("a refused update changed the body")
	}
	if code, _, _ := call(t, s, "POST", "/repos/o/r/issues/1/comments", Token, map[string]any{"body": long}); code != 422 {
		t.Fatalf("comment with a %d-character body = %d, want 422", MaxBody+1, code)
	}
}

// Rate limit answers without any wait header, and a fault answered after the request was
// served.
func TestFaultsWithoutRetryAfterAndAfterServing(t *testing.T) {
	s := newTestServer(t)
	s.TooManyRequestsWithoutRetryAfterNext(1)
	s.SecondaryRateLimitWithoutRetryAfterNext(1)
	for _, want := range []int{429, 403} {
		code, _, h := call(t, s, "GET", "/repos/o/r", Token, nil)
		if code != want || h.Get("Retry-After") != "" || h.Get("X-RateLimit-Reset") != "" || h.Get("X-RateLimit-Remaining") != "" {
			t.Fatalf("rate limit without a wait = %d %v, want %d without Retry-After or X-RateLimit-*", code, h, want)
		}
	}
	s.FailNextAfterServing("POST", "/repos/o/r/issues/", 1, 502)
	call(t, s, "POST", "/repos/o/r/pulls", Token, map[string]any{"title": "t", "head": "feature", "base": "main"})
	if code, _, _ := call(t, s, "POST", "/repos/o/r/issues/1/comments", Token, map[string]any{"body": "hello"}); code != 502 {
		t.Fatalf("comment under an after-serving fault = %d, want 502", code)
	}
	if c := s.Comments("o/r", 1); len(c) != 1 {
		t.Fatalf("the comment answered 502 was not stored: %v", c)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 502 || !last.Fault {
		t.Fatalf("last request recorded as %+v, want a 502 fault", last)
	}
}

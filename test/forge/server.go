// Package forge is a strict, stateful GitHub REST API double for tests: an httptest server
// on 127.0.0.1 that implements the endpoints gitfleet's forge clients use (commit statuses,
// combined status, pull requests, issue comments and labels), rejects what GitHub rejects,
// records everything for assertions, injects faults (5xx, rate limits with or without
// Retry-After, answers lost after the request was carried out) on demand and
// delivers signed webhooks.
//
// Typical use:
//
//	srv := forge.NewServer(t)                 // stopped by t.Cleanup
//	srv.AddRepo("fleet/config", map[string]string{"main": sha})
//	gh, _ := gitsource.NewGitHub(srv.URL(), "fleet/config", forge.Token)
//	srv.FailNext(2, 500)                      // the next two requests fail
//	... srv.Statuses("fleet/config", sha)
//
// Branches are either registered with AddRepo/SetBranch or read live from a bare git
// repository with UseGitDir, so pull requests into a missing branch fail with 422 as on
// GitHub.
package forge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the API token every server accepts; AddToken adds more.
const Token = "gitfleet-test-token"

// Request is one request the server received, for assertions.
type Request struct {
	Method, Path, Query string
	// Status is the HTTP status the server answered.
	Status int
	// Fault is true when the answer was an injected fault.
	Fault bool
}

// Fault is an injected failure: the next Count requests matching Method (empty: any) and
// PathPrefix (empty: any) get Status with Header and Body instead of being served.
type Fault struct {
	Method, PathPrefix string
	Count              int
	Status             int
	Header             http.Header
	Body               string
	// OnAnswer, when set, is called with the answer's header (a copy of Header) each time
	// the fault answers, before it is written; it may change it (e.g. a rate limit reset
	// counted from the first refused request).
	OnAnswer func(header http.Header)
	// AfterServing serves the request first (what it creates is stored and its webhooks
	// are delivered) and only then answers with the fault, as a proxy that loses the
	// forge's answer (a 502 after GitHub stored the request) does.
	AfterServing bool
}

// Server is the GitHub API double. All methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	prefix string

	mu        sync.Mutex
	tokens    map[string]bool
	repos     map[string]*repo
	faults    []*Fault
	requests  []Request
	hooks     []webhook
	delivered []Delivery
	rate      rateState
	nextID    int64
	onMerge   func(repo string, pr PullRequest) (string, error)
	now       func() time.Time

	deliveries sync.WaitGroup
}

type rateState struct {
	limit, remaining int
	reset            time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithPathPrefix serves the API under prefix, e.g. "/api/v3" as on GitHub Enterprise
// Server or "/api/v1" as on Gitea.
func WithPathPrefix(prefix string) Option {
	return func(s *Server) { s.prefix = "/" + strings.Trim(prefix, "/") }
}

// WithRateLimit sets the primary rate limit (default 5000 requests an hour). When the
// remaining count reaches 0, requests get 403 with X-RateLimit-Remaining: 0 until reset.
func WithRateLimit(limit int, reset time.Duration) Option {
	return func(s *Server) { s.rate = rateState{limit: limit, remaining: limit, reset: time.Now().Add(reset)} }
}

// New starts a server; Close stops it.
func New(opts ...Option) *Server {
	s := &Server{
		tokens: map[string]bool{Token: true},
		repos:  map[string]*repo{},
		rate:   rateState{limit: 5000, remaining: 5000, reset: time.Now().Add(time.Hour)},
		now:    time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewServer starts a server that t.Cleanup stops (after pending webhook deliveries).
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// Close waits for pending webhook deliveries and stops the server.
func (s *Server) Close() {
	s.deliveries.Wait()
	s.srv.Close()
}

// URL is the API base URL with a trailing slash, e.g. http://127.0.0.1:41234/ (with the
// path prefix, if any).
func (s *Server) URL() string { return s.srv.URL + s.prefix + "/" }

// HTMLURL is the base of the html_url links (pull requests), with a trailing slash.
func (s *Server) HTMLURL() string { return s.srv.URL + "/" }

// AddToken makes token valid.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

// RevokeToken makes token invalid (401 Bad credentials).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// InjectFault queues a fault; faults are consumed in order by matching requests.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n requests fail with status (e.g. 500, 502, 503).
func (s *Server) FailNext(n, status int) {
	s.InjectFault(Fault{Count: n, Status: status, Body: `{"message":"Server Error"}`})
}

// RateLimitNext makes the next n requests fail with GitHub's primary rate limit answer:
// 403, X-RateLimit-Remaining: 0 and X-RateLimit-Reset resetIn from now (rounded up to a
// second).
func (s *Server) RateLimitNext(n int, resetIn time.Duration) {
	reset := s.now().Add(resetIn)
	if reset.Nanosecond() > 0 {
		reset = reset.Truncate(time.Second).Add(time.Second)
	}
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	s.InjectFault(Fault{Count: n, Status: http.StatusForbidden, Header: h,
		Body: `{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`})
}

// SecondaryRateLimitNext makes the next n requests fail with GitHub's secondary rate limit
// answer: 403 with Retry-After (whole seconds).
func (s *Server) SecondaryRateLimitNext(n int, retryAfter time.Duration) {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	s.InjectFault(Fault{Count: n, Status: http.StatusForbidden, Header: h,
		Body: `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`})
}

// SecondaryRateLimitWithoutRetryAfterNext makes the next n requests fail with GitHub's
// secondary rate limit answer without Retry-After or X-RateLimit-* headers (GitHub then
// asks clients to wait at least a minute).
func (s *Server) SecondaryRateLimitWithoutRetryAfterNext(n int) {
	s.InjectFault(Fault{Count: n, Status: http.StatusForbidden,
		Body: `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`})
}

// TooManyRequestsNext makes the next n requests fail with 429 and Retry-After.
func (s *Server) TooManyRequestsNext(n int, retryAfter time.Duration) {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	s.InjectFault(Fault{Count: n, Status: http.StatusTooManyRequests, Header: h, Body: `{"message":"Too Many Requests"}`})
}

// TooManyRequestsWithoutRetryAfterNext makes the next n requests fail with 429 and no
// Retry-After or X-RateLimit-* headers.
func (s *Server) TooManyRequestsWithoutRetryAfterNext(n int) {
	s.InjectFault(Fault{Count: n, Status: http.StatusTooManyRequests, Body: `{"message":"Too Many Requests"}`})
}

// FailNextAfterServing makes the next n requests with method whose path starts with
// pathPrefix (relative to the API root; empty: any) be served (stored, webhooks delivered)
// and then answered with status, as when a proxy loses the forge's answer.
func (s *Server) FailNextAfterServing(method, pathPrefix string, n, status int) {
	s.InjectFault(Fault{Method: method, PathPrefix: pathPrefix, Count: n, Status: status,
		Body: `{"message":"Server Error"}`, AfterServing: true})
}

// ClearFaults drops the faults not consumed yet.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount counts the requests with method (empty: any) whose path starts with
// pathPrefix (relative to the API root, e.g. "/repos/o/r/statuses/").
func (s *Server) RequestCount(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// OnMerge sets a function called when a pull request is merged; it returns the merge
// commit sha (e.g. after merging in a real repository) or an error, answered as 405.
// Without it, the merge commit sha is made up and, for branches registered with
// AddRepo/SetBranch, the base branch moves to it.
func (s *Server) OnMerge(f func(repo string, pr PullRequest) (sha string, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMerge = f
}

// apiError is GitHub's error body.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url,omitempty"`
	code             int
}

type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func errNotFound() *apiError {
	return &apiError{code: 404, Message: "Not Found", DocumentationURL: "https://docs.github.com/rest"}
}

func errValidation(resource, field, code, message string) *apiError {
	return &apiError{code: 422, Message: "Validation Failed",
		Errors: []fieldError{{Resource: resource, Field: field, Code: code, Message: message}}}
}

func errStatus(code int, message string) *apiError { return &apiError{code: code, Message: message} }

// response is what a handler returns: a status and a JSON body, or an error.
type response struct {
	code   int
	body   any
	header http.Header
}

var (
	repoPath = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)(/.*)?$`)
	sha1Re   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if s.prefix != "" {
		if !strings.HasPrefix(path, s.prefix+"/") {
			s.finish(w, r, path, nil, errNotFound(), false)
			return
		}
		path = strings.TrimPrefix(path, s.prefix)
	}
	s.mu.Lock()
	f := s.takeFault(r.Method, path)
	if f != nil && !f.AfterServing {
		s.mu.Unlock()
		s.answerFault(w, r, path, f)
		return
	}
	if e := s.authenticate(r); e != nil {
		s.mu.Unlock()
		s.finish(w, r, path, nil, e, false)
		return
	}
	if e := s.spendRate(w); e != nil {
		s.mu.Unlock()
		s.finish(w, r, path, nil, e, false)
		return
	}
	resp, e, events := s.route(r, path)
	s.mu.Unlock()
	if f != nil {
		s.answerFault(w, r, path, f)
	} else {
		s.finish(w, r, path, resp, e, false)
	}
	for _, ev := range events {
		s.deliver(ev)
	}
}

// answerFault writes a fault's answer.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, path string, f *Fault) {
	for k, v := range f.Header {
		w.Header()[k] = append([]string(nil), v...)
	}
	if f.OnAnswer != nil {
		f.OnAnswer(w.Header())
	}
	s.finish(w, r, path, &response{code: f.Status, body: json.RawMessage(f.Body)}, nil, true)
}

func (s *Server) takeFault(method, path string) *Fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.PathPrefix) {
			f.Count--
			if f.Count <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &apiError{code: 401, Message: "Requires authentication", DocumentationURL: "https://docs.github.com/rest"}
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) || !s.tokens[tok] {
		return &apiError{code: 401, Message: "Bad credentials", DocumentationURL: "https://docs.github.com/rest"}
	}
	return nil
}

func (s *Server) spendRate(w http.ResponseWriter) *apiError {
	now := s.now()
	if now.After(s.rate.reset) {
		s.rate.remaining = s.rate.limit
		s.rate.reset = now.Add(time.Hour)
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rate.limit))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.rate.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if s.rate.remaining <= 0 {
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", strconv.Itoa(s.rate.limit))
		return &apiError{code: 403, Message: "API rate limit exceeded", DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}
	}
	s.rate.remaining--
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.rate.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.rate.limit-s.rate.remaining))
	return nil
}

func (s *Server) finish(w http.ResponseWriter, r *http.Request, path string, resp *response, e *apiError, fault bool) {
	code := http.StatusOK
	var body any
	if e != nil {
		code, body = e.code, e
	} else if resp != nil {
		code, body = resp.code, resp.body
		for k, v := range resp.header {
			w.Header()[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(code)
	if body != nil && code != http.StatusNoContent {
		_ = json.NewEncoder(w).Encode(body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Status: code, Fault: fault})
	s.mu.Unlock()
}

// route dispatches an authenticated request; it runs with s.mu held and returns the
// webhook events to deliver after the lock is released.
func (s *Server) route(r *http.Request, path string) (*response, *apiError, []event) {
	switch {
	case path == "/rate_limit" && r.Method == http.MethodGet:
		return &response{code: 200, body: map[string]any{"resources": map[string]any{"core": map[string]any{
			"limit": s.rate.limit, "remaining": s.rate.remaining, "reset": s.rate.reset.Unix()}}}}, nil, nil
	case path == "/user" && r.Method == http.MethodGet:
		return &response{code: 200, body: map[string]any{"login": "gitfleet-bot", "id": 1}}, nil, nil
	}
	m := repoPath.FindStringSubmatch(path)
	if m == nil {
		return nil, errNotFound(), nil
	}
	name := m[1] + "/" + m[2]
	rp := s.repos[name]
	if rp == nil {
		return nil, errNotFound(), nil
	}
	rest := strings.Split(strings.Trim(m[3], "/"), "/")
	if m[3] == "" || m[3] == "/" {
		rest = nil
	}
	for i, p := range rest {
		if u, err := url.PathUnescape(p); err == nil {
			rest[i] = u
		}
	}
	seg := func(i int) string {
		if i < len(rest) {
			return rest[i]
		}
		return ""
	}
	method := r.Method
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		return &response{code: 200, body: s.repoJSON(rp)}, nil, nil
	case seg(0) == "statuses" && len(rest) == 2 && method == http.MethodPost:
		return s.createStatus(rp, rest[1], r)
	case seg(0) == "commits" && len(rest) >= 3 && rest[len(rest)-1] == "status" && method == http.MethodGet:
		return s.combinedStatus(rp, strings.Join(rest[1:len(rest)-1], "/"), r)
	case seg(0) == "commits" && len(rest) >= 3 && rest[len(rest)-1] == "statuses" && method == http.MethodGet:
		return s.listStatuses(rp, strings.Join(rest[1:len(rest)-1], "/"), r)
	case seg(0) == "pulls" && len(rest) == 1 && method == http.MethodPost:
		return s.createPull(rp, r)
	case seg(0) == "pulls" && len(rest) == 1 && method == http.MethodGet:
		return s.listPulls(rp, r)
	case seg(0) == "pulls" && len(rest) == 2:
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			return nil, errNotFound(), nil
		}
		switch method {
		case http.MethodGet:
			return s.getPull(rp, n)
		case http.MethodPatch:
			return s.updatePull(rp, n, r)
		}
	case seg(0) == "pulls" && len(rest) == 3 && rest[2] == "merge":
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			return nil, errNotFound(), nil
		}
		switch method {
		case http.MethodPut:
			return s.mergePull(rp, n, r)
		case http.MethodGet:
			return s.isMerged(rp, n)
		}
	case seg(0) == "issues" && len(rest) >= 3:
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			return nil, errNotFound(), nil
		}
		switch {
		case rest[2] == "comments" && len(rest) == 3 && method == http.MethodPost:
			return s.createComment(rp, n, r)
		case rest[2] == "comments" && len(rest) == 3 && method == http.MethodGet:
			return s.listComments(rp, n)
		case rest[2] == "labels" && len(rest) == 3 && method == http.MethodPost:
			return s.addLabels(rp, n, r)
		case rest[2] == "labels" && len(rest) == 3 && method == http.MethodGet:
			return s.listLabels(rp, n)
		case rest[2] == "labels" && len(rest) == 4 && method == http.MethodDelete:
			return s.removeLabel(rp, n, rest[3])
		}
	}
	return nil, errNotFound(), nil
}

// decode reads a JSON body into v; GitHub answers 400 to a body that does not parse.
func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &apiError{code: 400, Message: "Problems parsing JSON", DocumentationURL: "https://docs.github.com/rest"}
	}
	return nil
}

// page returns the slice bounds for per_page/page query parameters and the Link header.
func page(r *http.Request, total int) (from, to int, link http.Header) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if p <= 0 {
		p = 1
	}
	from = min((p-1)*per, total)
	to = min(from+per, total)
	if to < total {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p+1))
		q.Set("per_page", strconv.Itoa(per))
		u := *r.URL
		u.RawQuery = q.Encode()
		u.Scheme, u.Host = "http", r.Host
		link = http.Header{}
		link.Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
	}
	return from, to, link
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

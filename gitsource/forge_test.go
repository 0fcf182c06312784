package gitsource

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/google/go-cmp/cmp"
)

const (
	shaMain    = "1111111111111111111111111111111111111111"
	shaPromote = "2222222222222222222222222222222222222222"
)

var fastRetry = WithRetryPolicy(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: 3 * time.Second})

func newGitHubDouble(t *testing.T, opts ...forge.Option) (*forge.Server, *GitHub) {
	t.Helper()
	srv := forge.NewServer(t, opts...)
	srv.AddRepo("fleet/config", map[string]string{"env/prod": shaMain, "gitfleet/promote/prod": shaPromote})
	gh, err := NewGitHub(srv.URL(), "fleet/config", forge.Token, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	return srv, gh
}

func TestGitHubStatuses(t *testing.T) {
	ctx := context.Background()
	srv, gh := newGitHubDouble(t)
	long := strings.Repeat("é", 200)
	for _, st := range []CommitStatus{
		{Context: "gitfleet/cluster/eu-1", State: StatePending, Description: "applying"},
		{Context: "gitfleet/cluster/eu-1", State: StateSuccess, Description: "applied 42 objects, all healthy", TargetURL: "https://fleet.example.com/eu-1"},
		{Context: "gitfleet/cluster/eu-2", State: StateFailure, Description: long},
	} {
		if err := gh.SetStatus(ctx, shaMain, st); err != nil {
			t.Fatalf("SetStatus(%+v) = %v", st, err)
		}
	}
	got, _ := srv.LatestStatus("fleet/config", shaMain, "gitfleet/cluster/eu-2")
	if n := len([]rune(got.Description)); n != MaxStatusDescription || !strings.HasSuffix(got.Description, "…") {
		t.Fatalf("long description sent as %d characters %q, want %d ending with …", n, got.Description, MaxStatusDescription)
	}
	for _, ref := range []string{shaMain, "env/prod"} {
		cs, err := gh.CombinedStatus(ctx, ref)
		if err != nil {
			t.Fatalf("CombinedStatus(%s) = %v", ref, err)
		}
		if cs.SHA != shaMain || cs.State != StateFailure || len(cs.Statuses) != 2 {
			t.Fatalf("CombinedStatus(%s) = %+v, want failure with 2 contexts", ref, cs)
		}
		byCtx := map[string]CommitStatus{}
		for _, s := range cs.Statuses {
			byCtx[s.Context] = s
		}
		if s := byCtx["gitfleet/cluster/eu-1"]; s.State != StateSuccess || s.TargetURL != "https://fleet.example.com/eu-1" || s.UpdatedAt.IsZero() {
			t.Fatalf("CombinedStatus(%s) eu-1 = %+v", ref, s)
		}
	}
	n := srv.RequestCount("", "/")
	if err := gh.SetStatus(ctx, shaMain, CommitStatus{Context: "x", State: "done"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("SetStatus(state done) = %v, want ErrRejected", err)
	}
	if srv.RequestCount("", "/") != n {
		t.Fatalf("an invalid state was sent to the forge")
	}
	if err := gh.SetStatus(ctx, "not-a-sha", CommitStatus{Context: "x", State: StateSuccess}); !errors.Is(err, ErrRejected) {
		t.Fatalf("SetStatus(bad sha) = %v, want ErrRejected (422)", err)
	}
	if _, err := gh.CombinedStatus(ctx, "env/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CombinedStatus(env/none) = %v, want ErrNotFound", err)
	}
	// Pagination: more contexts than one page.
	for i := 0; i < 120; i++ {
		if err := gh.SetStatus(ctx, shaPromote, CommitStatus{Context: "c/" + string(rune('A'+i/26)) + string(rune('a'+i%26)), State: StateSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := gh.CombinedStatus(ctx, shaPromote)
	if err != nil || len(cs.Statuses) != 120 || cs.State != StateSuccess {
		t.Fatalf("CombinedStatus(120 contexts) = %d statuses, %v, %v", len(cs.Statuses), cs.State, err)
	}
}

func TestGitHubPullRequests(t *testing.T) {
	ctx := context.Background()
	srv, gh := newGitHubDouble(t)
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "Promote abc123 to prod", Body: "body", Head: "gitfleet/promote/prod", Base: "env/prod", Labels: []string{"gitfleet", "stage/prod"}})
	if err != nil {
		t.Fatalf("CreatePullRequest() = %v", err)
	}
	want := &PullRequest{Number: 1, URL: srv.HTMLURL() + "fleet/config/pull/1", Title: "Promote abc123 to prod", Body: "body",
		Head: "gitfleet/promote/prod", HeadSHA: shaPromote, Base: "env/prod", State: PROpen, Labels: []string{"gitfleet", "stage/prod"}}
	if diff := cmp.Diff(want, pr, cmpIgnoreMergeable); diff != "" {
		t.Fatalf("CreatePullRequest() (-want +got):\n%s", diff)
	}
	again, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "again", Head: "gitfleet/promote/prod", Base: "env/prod"})
	if err != nil || again.Number != 1 {
		t.Fatalf("CreatePullRequest(duplicate) = %+v, %v; want the open #1", again, err)
	}
	if _, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "x", Head: "gitfleet/promote/prod", Base: "env/missing"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("CreatePullRequest(missing base) = %v, want ErrRejected", err)
	}
	if pr, err = gh.UpdatePullRequest(ctx, 1, "Promote def456 to prod", "new body"); err != nil || pr.Title != "Promote def456 to prod" || pr.Body != "new body" {
		t.Fatalf("UpdatePullRequest() = %+v, %v", pr, err)
	}
	if err := gh.Comment(ctx, 1, "gates passed"); err != nil {
		t.Fatalf("Comment() = %v", err)
	}
	if c := srv.Comments("fleet/config", 1); len(c) != 1 || c[0].Body != "gates passed" {
		t.Fatalf("comments = %+v", c)
	}
	list, err := gh.ListPullRequests(ctx, "gitfleet/promote/prod", "env/prod", "open")
	if err != nil || len(list) != 1 || list[0].Number != 1 {
		t.Fatalf("ListPullRequests(open) = %v, %v", list, err)
	}
	if list, err := gh.ListPullRequests(ctx, "other", "", "all"); err != nil || len(list) != 0 {
		t.Fatalf("ListPullRequests(other head) = %v, %v; want none", list, err)
	}
	if err := gh.MergePullRequest(ctx, 1, shaPromote, "Promote def456 to prod\n\nApproved."); err != nil {
		t.Fatalf("MergePullRequest() = %v", err)
	}
	if got, _ := srv.PullRequest("fleet/config", 1); !got.Merged || got.MergeMessage != "Promote def456 to prod\n\nApproved." {
		t.Fatalf("after merge: %+v", got)
	}
	if err := gh.MergePullRequest(ctx, 1, shaPromote, "again"); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "405") {
		t.Fatalf("second MergePullRequest() = %v, want ErrRejected (405)", err)
	}
	pr, err = gh.GetPullRequest(ctx, 1)
	if err != nil || !pr.Merged || pr.State != PRClosed {
		t.Fatalf("GetPullRequest(merged) = %+v, %v", pr, err)
	}
	list, err = gh.ListPullRequests(ctx, "", "env/prod", "closed")
	if err != nil || len(list) != 1 || !list[0].Merged {
		t.Fatalf("ListPullRequests(closed) = %+v, %v; want #1 merged (from merged_at)", list, err)
	}
	srv.SetBranch("fleet/config", "gitfleet/promote/prod", shaPromote)
	pr2, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "second", Head: "gitfleet/promote/prod", Base: "env/main-x"})
	if !errors.Is(err, ErrRejected) || pr2 != nil {
		t.Fatalf("CreatePullRequest(missing base) = %v, %v", pr2, err)
	}
	srv.SetBranch("fleet/config", "env/staging", shaMain)
	pr2, err = gh.CreatePullRequest(ctx, NewPullRequest{Title: "to staging", Head: "gitfleet/promote/prod", Base: "env/staging"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.ClosePullRequest(ctx, pr2.Number); err != nil {
		t.Fatalf("ClosePullRequest() = %v", err)
	}
	if got, _ := gh.GetPullRequest(ctx, pr2.Number); got.State != PRClosed || got.Merged {
		t.Fatalf("after close: %+v", got)
	}
	if _, err := gh.GetPullRequest(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetPullRequest(99) = %v, want ErrNotFound", err)
	}
	if err := gh.Comment(ctx, 99, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Comment(99) = %v, want ErrNotFound", err)
	}
}

var cmpIgnoreMergeable = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Mergeable" }, cmp.Ignore())

func TestGitHubRetries(t *testing.T) {
	ctx := context.Background()
	st := CommitStatus{Context: "gitfleet/cluster/a", State: StateSuccess}
	t.Run("5xx then success", func(t *testing.T) {
		srv, gh := newGitHubDouble(t)
		srv.FailNext(2, 500)
		if err := gh.SetStatus(ctx, shaMain, st); err != nil {
			t.Fatalf("SetStatus() after two 500s = %v", err)
		}
		if n := srv.RequestCount("POST", "/repos/fleet/config/statuses/"); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
		if n := len(srv.Statuses("fleet/config", shaMain)); n != 1 {
			t.Fatalf("%d statuses recorded, want 1", n)
		}
	})
	t.Run("5xx until attempts run out", func(t *testing.T) {
		srv, gh := newGitHubDouble(t)
		srv.FailNext(10, 502)
		_, err := gh.GetPullRequest(ctx, 1)
		if !errors.Is(err, ErrForgeUnavailable) || !strings.Contains(err.Error(), "502") {
			t.Fatalf("GetPullRequest() under 502s = %v, want ErrForgeUnavailable", err)
		}
		if n := srv.RequestCount("", "/"); n != 4 {
			t.Fatalf("%d requests, want MaxAttempts = 4", n)
		}
	})
	for name, inject := range map[string]func(*forge.Server){
		"primary rate limit":   func(s *forge.Server) { s.RateLimitNext(1, time.Second) },
		"secondary rate limit": func(s *forge.Server) { s.SecondaryRateLimitNext(1, time.Second) },
		"429":                  func(s *forge.Server) { s.TooManyRequestsNext(1, time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			srv, gh := newGitHubDouble(t)
			inject(srv)
			start := time.Now()
			if err := gh.SetStatus(ctx, shaMain, st); err != nil {
				t.Fatalf("SetStatus() after a rate limit = %v", err)
			}
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Fatalf("SetStatus() retried after %v, want the rate limit's wait (about 1s) honoured", d)
			}
			if n := srv.RequestCount("POST", "/repos/"); n != 2 {
				t.Fatalf("%d requests, want 2", n)
			}
		})
	}
	t.Run("rate limit longer than MaxWait", func(t *testing.T) {
		srv, gh := newGitHubDouble(t)
		srv.RateLimitNext(1, time.Hour)
		start := time.Now()
		err := gh.SetStatus(ctx, shaMain, st)
		if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("SetStatus() = %v, want ErrRateLimited", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("SetStatus() waited %v for an hour-long rate limit, want an immediate failure", d)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.RetryAfter == "" {
			t.Fatalf("error %#v, want an *APIError with status 403 and RetryAfter", err)
		}
		// The double's reset is an hour ahead, rounded up to a second.
		if d := time.Until(apiErr.ResetAt); d < time.Hour-5*time.Second || d > time.Hour+2*time.Second {
			t.Fatalf("ResetAt = %v (in %v), want X-RateLimit-Reset, about an hour ahead", apiErr.ResetAt, d)
		}
		if want := apiErr.ResetAt.UTC().Format("15:04:05Z"); apiErr.RetryAfter != want || !strings.HasSuffix(err.Error(), "retry after "+want) {
			t.Fatalf("RetryAfter = %q, error %q; want the reset time %s", apiErr.RetryAfter, err, want)
		}
		// go-github remembers the limit: no request is made before the reset.
		n := srv.RequestCount("", "/")
		if err := gh.SetStatus(ctx, shaMain, st); !errors.Is(err, ErrRateLimited) || srv.RequestCount("", "/") != n {
			t.Fatalf("second SetStatus() = %v with %d new requests, want ErrRateLimited without a request", err, srv.RequestCount("", "/")-n)
		}
	})
	for name, tc := range map[string]struct {
		inject func(*forge.Server)
		status int
	}{
		"secondary rate limit longer than MaxWait": {func(s *forge.Server) { s.SecondaryRateLimitNext(1, 2*time.Minute) }, 403},
		"429 longer than MaxWait":                  {func(s *forge.Server) { s.TooManyRequestsNext(1, 2*time.Minute) }, 429},
	} {
		t.Run(name, func(t *testing.T) {
			srv, gh := newGitHubDouble(t)
			tc.inject(srv)
			start := time.Now()
			err := gh.SetStatus(ctx, shaMain, st)
			var apiErr *APIError
			if !errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Fatalf("SetStatus() = %v, want an *APIError %d wrapping ErrRateLimited", err, tc.status)
			}
			if d := apiErr.ResetAt.Sub(start); d < 2*time.Minute || d > 2*time.Minute+5*time.Second {
				t.Fatalf("ResetAt = %v, %v after the call; want Retry-After (2m) after it", apiErr.ResetAt, d)
			}
			if apiErr.RetryAfter != "2m0s" {
				t.Fatalf("RetryAfter = %q, want 2m0s", apiErr.RetryAfter)
			}
			if n := srv.RequestCount("POST", "/repos/"); n != 1 {
				t.Fatalf("%d requests, want 1 (a wait past MaxWait is not waited for)", n)
			}
		})
	}
	t.Run("not a rate limit", func(t *testing.T) {
		srv, gh := newGitHubDouble(t)
		srv.FailNext(10, 503)
		var apiErr *APIError
		if err := gh.SetStatus(ctx, shaMain, st); !errors.As(err, &apiErr) || errors.Is(err, ErrRateLimited) || !apiErr.ResetAt.IsZero() {
			t.Fatalf("SetStatus() under 503s = %v, want an *APIError without ResetAt, not ErrRateLimited", err)
		}
	})
	t.Run("context cancelled while backing off", func(t *testing.T) {
		srv, _ := newGitHubDouble(t)
		gh, _ := NewGitHub(srv.URL(), "fleet/config", forge.Token, WithRetryPolicy(RetryPolicy{MaxAttempts: 10, BaseDelay: 5 * time.Second}))
		srv.FailNext(10, 500)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := gh.SetStatus(cctx, shaMain, st); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("SetStatus() = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("SetStatus() returned after %v, want soon after the deadline", d)
		}
	})
}

func TestGitHubAuthAndNotFound(t *testing.T) {
	ctx := context.Background()
	srv := forge.NewServer(t)
	srv.AddRepo("fleet/config", map[string]string{"main": shaMain})
	const token = "ghp_supersecrettoken"
	gh, _ := NewGitHub(srv.URL(), "fleet/config", token, fastRetry)
	err := gh.SetStatus(ctx, shaMain, CommitStatus{Context: "c", State: StateSuccess})
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("SetStatus(bad token) = %v, want ErrAuthentication (401)", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(fmtErr(err), token) {
		t.Fatalf("error %q leaks the token", err)
	}
	other, _ := NewGitHub(srv.URL(), "fleet/missing", forge.Token, fastRetry)
	if _, err := other.GetPullRequest(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetPullRequest(missing repo) = %v, want ErrNotFound", err)
	}
}

func fmtErr(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Message + apiErr.Op
	}
	return ""
}

func TestNewForge(t *testing.T) {
	srv := forge.NewServer(t, forge.WithPathPrefix("/api/v3"))
	srv.AddRepo("fleet/config", map[string]string{"main": shaMain})
	// A GitHub Enterprise style URL, without the trailing slash.
	f, err := NewForge(v1alpha1.ForgeGitHub, strings.TrimSuffix(srv.URL(), "/"), "fleet/config", forge.Token, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetStatus(context.Background(), shaMain, CommitStatus{Context: "c", State: StateSuccess}); err != nil {
		t.Fatalf("SetStatus() through %s = %v", srv.HTMLURL(), err)
	}
	if f, err := NewForge(v1alpha1.ForgeGitea, "https://gitea.example.com/api/v1", "o/r", "t"); err != nil || f.(*Gitea).client.BaseURL.String() != "https://gitea.example.com/api/v1/" {
		t.Fatalf("NewForge(gitea) = %v, %v", f, err)
	}
	if f, err := NewForge(v1alpha1.ForgeGitHub, "", "o/r", "t"); err != nil || f.(*GitHub).client.BaseURL.String() != DefaultGitHubAPIURL {
		t.Fatalf("NewForge(github, default URL) = %v, %v", f, err)
	}
	if _, err := NewForge(v1alpha1.ForgeGitea, "", "o/r", "t"); err == nil {
		t.Fatalf("NewForge(gitea without URL) succeeded")
	}
	if _, err := NewForge(v1alpha1.ForgeGitHub, "", "not-a-repo", "t"); err == nil {
		t.Fatalf("NewForge(github, bad repository) succeeded")
	}
	if _, err := NewForge("gitlab", "", "o/r", "t"); err == nil {
		t.Fatalf("NewForge(gitlab) succeeded")
	}
	for _, typ := range []v1alpha1.ForgeType{v1alpha1.ForgeNone, ""} {
		f, err := NewForge(typ, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := f.SetStatus(ctx, shaMain, CommitStatus{State: StateSuccess}); err != nil {
			t.Fatalf("NopForge.SetStatus() = %v", err)
		}
		if _, err := f.CreatePullRequest(ctx, NewPullRequest{}); !errors.Is(err, ErrNoForge) {
			t.Fatalf("NopForge.CreatePullRequest() = %v, want ErrNoForge", err)
		}
	}
}

func TestForgeForSource(t *testing.T) {
	source := func(url string, f *v1alpha1.ForgeSpec) *v1alpha1.GitSource {
		src := &v1alpha1.GitSource{Spec: v1alpha1.GitSourceSpec{URL: url, Forge: f}}
		src.Name = "fleet"
		return src
	}
	for name, tc := range map[string]struct {
		src      *v1alpha1.GitSource
		wantNil  bool
		wantRepo string
		wantErr  string
	}{
		"no forge":          {src: source("https://github.com/o/r.git", nil), wantNil: true},
		"type none":         {src: source("https://github.com/o/r.git", &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeNone}), wantNil: true},
		"repository of URL": {src: source("https://github.com/o/r.git", &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeGitHub}), wantRepo: "o/r"},
		"repository given":  {src: source("https://github.com/o/r.git", &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeGitHub, Repository: "a/b"}), wantRepo: "a/b"},
		"URL without owner": {src: source("https://github.com/r", &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeGitHub}), wantErr: "the path has no owner/name"},
		"gitea without API": {src: source("https://gitea.example.com/o/r.git", &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeGitea}), wantErr: "forge of GitSource fleet: "},
	} {
		f, err := ForgeForSource(tc.src, "t")
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: ForgeForSource() = %v, %v, want an error with %q", name, f, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: ForgeForSource() = %v", name, err)
		case tc.wantNil:
			if f != nil {
				t.Errorf("%s: ForgeForSource() = %v, want nil", name, f)
			}
		default:
			if gh, ok := f.(*GitHub); !ok || gh.owner+"/"+gh.repo != tc.wantRepo {
				t.Errorf("%s: ForgeForSource() = %#v, want GitHub %s", name, f, tc.wantRepo)
			}
		}
	}
}

func TestRepositoryFromURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/fleet/config.git":        "fleet/config",
		"https://github.com/fleet/config":            "fleet/config",
		"https://u:p@gitea.example.com/git/o/r.git/": "o/r",
		"ssh://git@github.com/fleet/config.git":      "fleet/config",
		"git@github.com:fleet/config.git":            "fleet/config",
	} {
		if got, err := RepositoryFromURL(in); err != nil || got != want {
			t.Errorf("RepositoryFromURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := RepositoryFromURL("https://github.com/onlyowner"); err == nil {
		t.Errorf("RepositoryFromURL(no name) succeeded")
	}
}

// A rate limit answer that does not say how long to wait is waited out for at least a
// minute (GitHub's rule), never retried at once.
func TestGitHubRateLimitWithoutWait(t *testing.T) {
	ctx := context.Background()
	st := CommitStatus{Context: "gitfleet/cluster/a", State: StateSuccess}
	for name, inject := range map[string]func(*forge.Server){
		"429":                  func(s *forge.Server) { s.TooManyRequestsWithoutRetryAfterNext(10) },
		"secondary rate limit": func(s *forge.Server) { s.SecondaryRateLimitWithoutRetryAfterNext(10) },
	} {
		t.Run(name+" past MaxWait", func(t *testing.T) {
			srv, gh := newGitHubDouble(t) // MaxWait 3s: a minute is not waited for
			inject(srv)
			start := time.Now()
			err := gh.SetStatus(ctx, shaMain, st)
			if !errors.Is(err, ErrRateLimited) {
				t.Fatalf("SetStatus() = %v, want ErrRateLimited", err)
			}
			if n := srv.RequestCount("", "/"); n != 1 || time.Since(start) > time.Second {
				t.Fatalf("%d requests in %v, want 1 at once (no retry before a minute)", n, time.Since(start))
			}
			if d, ok := RateLimitDelay(err, time.Now()); !ok || d < time.Minute {
				t.Fatalf("RateLimitDelay() = %v, %v; want at least a minute", d, ok)
			}
		})
		t.Run(name+" within MaxWait", func(t *testing.T) {
			srv, _ := newGitHubDouble(t)
			gh, _ := NewGitHub(srv.URL(), "fleet/config", forge.Token) // MaxWait 60s
			inject(srv)
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := gh.SetStatus(cctx, shaMain, st); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrRateLimited) {
				t.Fatalf("SetStatus() = %v, want it still waiting at the deadline", err)
			}
			if n := srv.RequestCount("", "/"); n != 1 {
				t.Fatalf("%d requests within 2s, want 1 (the next one a minute later)", n)
			}
		})
	}
	t.Run("doubling", func(t *testing.T) {
		tr := &retryTransport{policy: RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Second, MaxWait: 3 * time.Minute}, now: time.Now}
		req, _ := http.NewRequest("POST", "http://127.0.0.1/repos/o/r/statuses/x", nil)
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}}
		for blind, want := range []time.Duration{time.Minute, 2 * time.Minute} {
			if wait, retry, isBlind := tr.shouldRetry(req, resp, nil, time.Millisecond, blind); wait != want || !retry || !isBlind {
				t.Fatalf("shouldRetry(after %d) = %v, %v, %v; want %v, true, true", blind, wait, retry, isBlind, want)
			}
		}
		if _, retry, _ := tr.shouldRetry(req, resp, nil, time.Millisecond, 2); retry {
			t.Fatalf("shouldRetry(third) retried, want a 4m wait refused (MaxWait 3m)")
		}
		if got := blindRateLimitWait(20); got != time.Hour {
			t.Fatalf("blindRateLimitWait(20) = %v, want 1h", got)
		}
	})
}

// A 502 answered after the forge stored the request does not make gitfleet create things
// twice: pull requests, comments and merges are checked before they are sent again.
func TestGitHubLostAnswers(t *testing.T) {
	ctx := context.Background()
	const posts = "/repos/fleet/config/"
	srv, gh := newGitHubDouble(t)
	srv.FailNextAfterServing("POST", posts+"pulls", 1, 502)
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "Promote", Head: "gitfleet/promote/prod", Base: "env/prod"})
	if err != nil || pr.Number != 1 {
		t.Errorf("CreatePullRequest() after a lost answer = %+v, %v; want #1", pr, err)
	}
	if n, posted := len(srv.PullRequests("fleet/config")), srv.RequestCount("POST", posts+"pulls"); n != 1 || posted != 1 {
		t.Errorf("%d pull requests from %d POSTs, want 1 from 1 (the open one found before re-posting)", n, posted)
	}

	srv.FailNextAfterServing("POST", posts+"issues/1/comments", 1, 502)
	if err := gh.Comment(ctx, 1, "gates passed"); err != nil {
		t.Errorf("Comment() after a lost answer = %v", err)
	}
	if c := srv.Comments("fleet/config", 1); len(c) != 1 {
		t.Errorf("%d comments, want 1", len(c))
	}
	srv.FailNext(1, 502) // lost before it was stored: sent again
	if err := gh.Comment(ctx, 1, "merged"); err != nil {
		t.Errorf("Comment() after a 502 = %v", err)
	}
	if c := srv.Comments("fleet/config", 1); len(c) != 2 {
		t.Errorf("%d comments, want 2 (the second comment posted again after a 502 that stored nothing)", len(c))
	}

	// A status is posted again: the same newest status, one more entry.
	srv.FailNextAfterServing("POST", posts+"statuses/", 1, 502)
	if err := gh.SetStatus(ctx, shaMain, CommitStatus{Context: "gitfleet/stage/prod", State: StateSuccess}); err != nil {
		t.Errorf("SetStatus() after a lost answer = %v", err)
	}
	if st, _ := srv.LatestStatus("fleet/config", shaMain, "gitfleet/stage/prod"); st.State != "success" || len(srv.Statuses("fleet/config", shaMain)) != 2 {
		t.Errorf("statuses = %+v, want success posted twice", srv.Statuses("fleet/config", shaMain))
	}

	srv.FailNextAfterServing("PUT", posts+"pulls/1/merge", 1, 502)
	if err := gh.MergePullRequest(ctx, 1, shaPromote, "Promote"); err != nil {
		t.Errorf("MergePullRequest() after a lost answer = %v, want nil (merged at the reviewed head)", err)
	}
	if n := srv.RequestCount("PUT", posts+"pulls/1/merge"); n != 1 {
		t.Errorf("%d merge requests, want 1", n)
	}
	// A merge whose answer is lost and that did not happen is sent again.
	srv.SetBranch("fleet/config", "gitfleet/promote/prod", shaMain)
	srv.SetBranch("fleet/config", "env/staging", shaPromote)
	pr2, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "Promote", Head: "gitfleet/promote/prod", Base: "env/staging"})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(1, 503)
	if err := gh.MergePullRequest(ctx, pr2.Number, shaMain, "Promote"); err != nil {
		t.Errorf("MergePullRequest() after a 503 = %v", err)
	}
}

// A pull request whose head moved since it was reviewed is not merged, with an error that
// says so.
func TestGitHubMergeHeadMoved(t *testing.T) {
	ctx := context.Background()
	srv, gh := newGitHubDouble(t)
	if _, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "Promote", Head: "gitfleet/promote/prod", Base: "env/prod"}); err != nil {
		t.Fatal(err)
	}
	const pushed = "3333333333333333333333333333333333333333"
	srv.SetBranch("fleet/config", "gitfleet/promote/prod", pushed)
	err := gh.MergePullRequest(ctx, 1, shaPromote, "Promote")
	if !errors.Is(err, ErrHeadMoved) || !errors.Is(err, ErrRejected) {
		t.Fatalf("MergePullRequest(reviewed head) after a push = %v, want ErrHeadMoved and ErrRejected", err)
	}
	for _, want := range []string{"409", shaPromote, pushed, "approve again"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	if pr, _ := srv.PullRequest("fleet/config", 1); pr.Merged {
		t.Fatalf("the pull request was merged at %s", pr.HeadSHA)
	}
	if err := gh.MergePullRequest(ctx, 1, pushed, "Promote"); err != nil {
		t.Fatalf("MergePullRequest(new head) = %v", err)
	}
}

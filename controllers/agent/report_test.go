package agent

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
)

// TestStatusReporterWaitsForRateLimitReset: a commit status refused by the forge's rate
// limit is retried once the limit resets, not with backoff before it (each early retry
// would be refused too and spend the next window's requests), and people are told it is
// a rate limit.
func TestStatusReporterWaitsForRateLimitReset(t *testing.T) {
	const repo, sha = "fleet/env", "0123456789abcdef0123456789abcdef01234567"
	gh := forge.NewServer(t)
	gh.AddRepo(repo, map[string]string{"env/dev": sha})
	// The client itself waits out rate limits up to MaxWait; this one resets later.
	f, err := gitsource.NewForge(v1alpha1.ForgeGitHub, gh.URL(), repo, forge.Token,
		gitsource.WithRetryPolicy(gitsource.RetryPolicy{MaxAttempts: 1, MaxWait: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	rep := newStatusReporter(types.NamespacedName{Namespace: "fleet", Name: "dev-1"}, clock.RealClock{})
	defer rep.stop()
	type report struct {
		err     error
		retryIn time.Duration
	}
	var mu sync.Mutex
	var reports []report
	rep.configure(f, "key", v1alpha1.ClusterStatusContextPrefix+"dev-1", "")
	rep.mu.Lock()
	rep.onError = func(err error, retryIn time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, report{err, retryIn})
	}
	rep.mu.Unlock()

	const resetIn = 4 * time.Second
	gh.RateLimitNext(1, resetIn)
	start := time.Now()
	rep.set(desiredStatus{sha: sha, state: gitsource.StateSuccess, description: "applied 1 object"})

	// Refused once; nothing more is sent until the reset.
	deadline := start.Add(resetIn - 500*time.Millisecond)
	for time.Now().Before(deadline) {
		if n := len(gh.Requests()); n > 1 {
			t.Fatalf("%d requests within %s of a rate limit resetting in %s, want 1: %+v", n, time.Since(start).Round(time.Millisecond), resetIn, gh.Requests())
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, 10*time.Second, func() bool {
		st, ok := gh.LatestStatus(repo, sha, v1alpha1.ClusterStatusContextPrefix+"dev-1")
		return ok && st.State == "success"
	})

	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 {
		t.Fatalf("onError called %d times, want once: %v", len(reports), reports)
	}
	r := reports[0]
	if !errors.Is(r.err, gitsource.ErrRateLimited) || !strings.Contains(r.err.Error(), "rate limit") {
		t.Errorf("reported error %v, want a rate limit", r.err)
	}
	if r.retryIn < resetIn-time.Second || r.retryIn > resetIn+2*time.Second {
		t.Errorf("retry in %s, want about %s (the reset, plus a second at most)", r.retryIn, resetIn)
	}
}

// TestStatusReporterBacksOffOnOutage: a 5xx outage is retried with growing backoff and
// reported once, not as a rate limit.
func TestStatusReporterBacksOffOnOutage(t *testing.T) {
	const repo, sha = "fleet/env", "89abcdef0123456789abcdef0123456789abcdef"
	gh := forge.NewServer(t)
	gh.AddRepo(repo, map[string]string{"env/dev": sha})
	f, err := gitsource.NewForge(v1alpha1.ForgeGitHub, gh.URL(), repo, forge.Token,
		gitsource.WithRetryPolicy(gitsource.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	rep := newStatusReporter(types.NamespacedName{Namespace: "fleet", Name: "dev-1"}, clock.RealClock{})
	defer rep.stop()
	var mu sync.Mutex
	var errs []error
	rep.configure(f, "key", v1alpha1.ClusterStatusContextPrefix+"dev-1", "")
	rep.mu.Lock()
	rep.onError = func(err error, _ time.Duration) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	rep.mu.Unlock()

	gh.FailNext(2, 503)
	rep.set(desiredStatus{sha: sha, state: gitsource.StatePending, description: "applying 1 object"})
	// Backoff 1 s, then 2 s: posted after about 3 s.
	waitFor(t, 10*time.Second, func() bool {
		_, ok := gh.LatestStatus(repo, sha, v1alpha1.ClusterStatusContextPrefix+"dev-1")
		return ok
	})
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || errors.Is(errs[0], gitsource.ErrRateLimited) || !errors.Is(errs[0], gitsource.ErrForgeUnavailable) {
		t.Fatalf("reported %v, want one ErrForgeUnavailable", errs)
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %s", timeout)
}

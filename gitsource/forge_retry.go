package gitsource

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// RetryPolicy says how forge clients retry 5xx responses, rate limits and connection
// failures.
type RetryPolicy struct {
	// MaxAttempts is the number of tries of one request, the first included (default 5).
	MaxAttempts int
	// BaseDelay is the first backoff delay; it doubles on each retry, with jitter
	// (default 500ms).
	BaseDelay time.Duration
	// MaxDelay caps one backoff delay (default 30s).
	MaxDelay time.Duration
	// MaxWait is the longest wait honoured for a rate limit (Retry-After or
	// X-RateLimit-Reset); a longer one is not waited for and the call fails with
	// ErrRateLimited at once (default 60s).
	MaxWait time.Duration
}

// DefaultRetryPolicy is the policy of forge clients created without WithRetryPolicy.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second, MaxWait: time.Minute}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetryPolicy.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetryPolicy.MaxDelay
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultRetryPolicy.MaxWait
	}
	return p
}

// retryTransport retries requests below go-github, so every forge call gets the same
// policy. It logs retries (method, path, status, delay) at V(1) of the context's logger,
// never headers or bodies.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
}

// idempotentKey marks a call whose request may be sent again after a 5xx or a broken
// connection although its method is not GET: repeating it changes nothing more (a commit
// status, labels, a pull request's title, body or state).
type idempotentKey struct{}

// idempotentCall returns ctx marked so that the retry transport repeats the call's
// requests after a 5xx or a broken connection.
func idempotentCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// RoundTrip sends req, retrying as the policy says; the body is replayed with GetBody.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	delay := t.policy.BaseDelay
	blind := 0 // rate limit answers so far that did not say how long to wait
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.Body != nil && req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.base.RoundTrip(r)
		wait, retry, isBlind := t.shouldRetry(req, resp, err, delay, blind)
		if isBlind {
			blind++
		}
		if !retry || attempt >= t.policy.MaxAttempts || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		logr.FromContextOrDiscard(ctx).V(1).Info("forge request retried",
			"method", req.Method, "path", req.URL.Path, "status", status, "attempt", attempt, "delay", wait)
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
		delay = min(delay*2, t.policy.MaxDelay)
	}
}

// shouldRetry decides whether to try again and after how long. blind counts the earlier
// rate limit answers of this call that did not say how long to wait; isBlind reports
// whether this answer is one more.
//
// A rate limit answer without Retry-After or X-RateLimit-Reset is waited out for a minute,
// doubling for each further such answer (GitHub asks for at least a minute, exponentially
// more while the limit goes on, and may ban integrations that retry sooner); like every
// rate limit wait, one longer than the policy's MaxWait is not waited for.
func (t *retryTransport) shouldRetry(req *http.Request, resp *http.Response, err error, delay time.Duration, blind int) (wait time.Duration, retry, isBlind bool) {
	backoff := delay/2 + rand.N(delay/2+1)
	// A request that reached the server may have been carried out: it is repeated only
	// when that is harmless (GET, or a call marked idempotent).
	safe := idempotent(req.Method) || req.Context().Value(idempotentKey{}) != nil
	if err != nil {
		if req.Context().Err() != nil {
			return 0, false, false
		}
		// A request that never reached the server is safe to repeat.
		if errors.Is(err, syscall.ECONNREFUSED) || isDialError(err) || safe {
			return backoff, true, false
		}
		return 0, false, false
	}
	switch {
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return backoff, safe, false
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusForbidden && isRateLimited(resp):
		// A rate limited request was not carried out: it is always safe to repeat.
		wait, ok := rateLimitWait(resp, t.now())
		if !ok {
			wait, isBlind = blindRateLimitWait(blind), true
		}
		if wait > t.policy.MaxWait {
			return 0, false, isBlind
		}
		return wait, true, isBlind
	}
	return 0, false, false
}

// blindRateLimitWait is the wait after the n+1-th rate limit answer of a call that did not
// say how long to wait: a minute, doubling with each one, at most an hour.
func blindRateLimitWait(n int) time.Duration {
	return min(unknownRateLimitDelay<<min(n, 6), maxRateLimitDelay)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// idempotent reports whether a request with method may be repeated whatever the server
// did with it. PUT and DELETE are not counted: a repeated merge (PUT) is refused once the
// first one went through.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// sendOnce sends a request that must not be repeated blindly because it creates something
// (a pull request, a comment, a merge). When its answer is lost (a 5xx, or a connection
// that broke after sending: ErrForgeUnavailable), the forge may have carried it out, so
// done is asked first and the request is sent again only when done reports false, with
// the policy's backoff and attempts. When done itself fails, send's error is returned.
func sendOnce(ctx context.Context, p RetryPolicy, send func() error, done func() (bool, error)) error {
	delay := p.BaseDelay
	for attempt := 1; ; attempt++ {
		err := send()
		if err == nil || !errors.Is(err, ErrForgeUnavailable) || attempt >= p.MaxAttempts || ctx.Err() != nil {
			return err
		}
		if ok, derr := done(); derr != nil {
			return err
		} else if ok {
			logr.FromContextOrDiscard(ctx).V(1).Info("forge request carried out although its answer was lost", "error", err.Error())
			return nil
		}
		if err := sleepCtx(ctx, delay/2+rand.N(delay/2+1)); err != nil {
			return err
		}
		delay = min(delay*2, p.MaxDelay)
	}
}

// isRateLimited reports whether a 403 is a rate limit rather than a permission problem.
func isRateLimited(resp *http.Response) bool {
	return resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0"
}

// rateLimitWait reads Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (unix
// seconds) when the remaining count is 0.
func rateLimitWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0), true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if v := resp.Header.Get("X-RateLimit-Reset"); v != "" {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil {
				// The reset time has one-second resolution: add a second.
				return max(time.Unix(s, 0).Sub(now)+time.Second, 0), true
			}
		}
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// Errors forge clients wrap besides ErrNotFound and ErrAuthentication (401, and 403 that is
// not a rate limit).
var (
	// ErrRateLimited: the forge's rate limit was hit and did not reset within the retry
	// policy's MaxWait. Retry later (APIError.RetryAfter says when, if known).
	ErrRateLimited = errors.New("forge rate limit exceeded")
	// ErrForgeUnavailable: the forge answered 5xx, or could not be reached, on every attempt.
	ErrForgeUnavailable = errors.New("forge unavailable")
	// ErrRejected: the forge refused the request as invalid or not allowed in the current
	// state (400, 405, 409, 422), e.g. merging a merged pull request or a pull request
	// into a missing branch. Retrying the same request will not help.
	ErrRejected = errors.New("forge rejected the request")
	// ErrNoForge: the operation needs a forge and the forge type is none.
	ErrNoForge = errors.New("no forge configured (forge type none)")
)

// APIError is a failed forge API call. It unwraps to one of ErrNotFound, ErrAuthentication,
// ErrRateLimited, ErrForgeUnavailable or ErrRejected (when one applies) and to the cause.
type APIError struct {
	// Forge is github or gitea; Op says what was attempted, e.g. `merge pull request #3`.
	Forge, Op string
	// Repository is owner/name.
	Repository string
	// StatusCode is the HTTP status, 0 when no response came back.
	StatusCode int
	// Message is the forge's message (never a credential).
	Message string
	// RetryAfter, for rate limits, is how long to wait when the forge said so.
	RetryAfter string
	// ResetAt, for rate limits, is when the forge said the limit resets: the primary
	// limit's reset time (X-RateLimit-Reset), or the time of the error plus the wait of a
	// secondary limit or a 429 (Retry-After). Zero when the forge did not say.
	ResetAt time.Time

	kind  error
	cause error
}

// Error formats the error without request headers or the token.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s in %s", e.Forge, e.Op, e.Repository)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	} else if e.StatusCode == 0 && e.cause != nil {
		fmt.Fprintf(&b, ": %s", e.cause)
	}
	if e.kind != nil {
		fmt.Fprintf(&b, " (%s)", e.kind)
	}
	if e.RetryAfter != "" {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause.
func (e *APIError) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// wrap turns a go-github error into an *APIError; nil stays nil.
func (g *GitHub) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s in %s: %w", g.kind, op, g.Repository(), err)
	}
	e := &APIError{Forge: g.kind, Op: op, Repository: g.Repository(), cause: err}
	var resp *http.Response
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	now := time.Now()
	switch {
	case errors.As(err, &rl):
		resp, e.Message, e.kind = rl.Response, rl.Message, ErrRateLimited
		if !rl.Rate.Reset.IsZero() {
			e.ResetAt = rl.Rate.Reset.Time
			e.RetryAfter = rl.Rate.Reset.Time.UTC().Format("15:04:05Z")
		}
	case errors.As(err, &abuse):
		resp, e.Message, e.kind = abuse.Response, abuse.Message, ErrRateLimited
		if abuse.RetryAfter != nil {
			e.ResetAt = now.Add(max(*abuse.RetryAfter, 0))
			e.RetryAfter = abuse.RetryAfter.String()
		}
	case errors.As(err, &er):
		resp, e.Message = er.Response, errorMessage(er)
	default:
		e.kind = ErrForgeUnavailable
		return e
	}
	if resp != nil {
		e.StatusCode = resp.StatusCode
	}
	if e.kind == nil {
		e.kind = kindOf(resp)
	}
	if errors.Is(e.kind, ErrRateLimited) && e.ResetAt.IsZero() && resp != nil {
		// A 429, or a 403 with rate limit headers that go-github does not recognise as
		// one (Gitea's answers): read the wait from the headers.
		if wait, ok := rateLimitWait(resp, now); ok {
			e.ResetAt = now.Add(wait)
			if e.RetryAfter == "" {
				e.RetryAfter = wait.String()
			}
		}
	}
	return e
}

func kindOf(resp *http.Response) error {
	if resp == nil {
		return ErrForgeUnavailable
	}
	switch c := resp.StatusCode; {
	case c == http.StatusNotFound:
		return ErrNotFound
	case c == http.StatusUnauthorized:
		return ErrAuthentication
	case c == http.StatusTooManyRequests, c == http.StatusForbidden && isRateLimited(resp):
		return ErrRateLimited
	case c == http.StatusForbidden:
		return ErrAuthentication
	case c >= 500:
		return ErrForgeUnavailable
	case c == http.StatusBadRequest, c == http.StatusMethodNotAllowed, c == http.StatusConflict,
		c == http.StatusUnprocessableEntity, c == http.StatusGone:
		return ErrRejected
	}
	return nil
}

// errorMessage joins the forge's message and its validation details.
func errorMessage(er *github.ErrorResponse) string {
	msg := er.Message
	var details []string
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			details = append(details, e.Message)
		case e.Field != "":
			details = append(details, fmt.Sprintf("%s %s %s", e.Resource, e.Field, e.Code))
		}
	}
	if len(details) > 0 {
		msg += " [" + strings.Join(details, "; ") + "]"
	}
	return msg
}

// Bounds of RateLimitDelay.
const (
	minRateLimitDelay = time.Second
	maxRateLimitDelay = time.Hour
	// unknownRateLimitDelay is the wait when the forge did not say when its limit resets.
	unknownRateLimitDelay = time.Minute
)

// RateLimitDelay reports whether err is a forge rate limit (ErrRateLimited) and, if so,
// how long to wait before calling the forge again: until the announced reset plus a
// second (forges give reset times to the second), within [1s, 1h]; a minute when the forge
// did not say. Callers wait that long instead of backing off, so a rate-limited client
// does not spend the next window's requests on retries.
func RateLimitDelay(err error, now time.Time) (time.Duration, bool) {
	if !errors.Is(err, ErrRateLimited) {
		return 0, false
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.ResetAt.IsZero() {
		return unknownRateLimitDelay, true
	}
	return min(max(apiErr.ResetAt.Sub(now)+time.Second, minRateLimitDelay), maxRateLimitDelay), true
}

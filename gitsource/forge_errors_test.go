package gitsource

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRateLimitDelay(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	limited := func(resetAt time.Time) error {
		return fmt.Errorf("posting a status: %w", &APIError{Forge: "github", Op: "create status", StatusCode: 403, kind: ErrRateLimited, ResetAt: resetAt})
	}
	for _, tc := range []struct {
		name    string
		err     error
		want    time.Duration
		limited bool
	}{
		{name: "not a rate limit", err: &APIError{StatusCode: 503, kind: ErrForgeUnavailable}},
		{name: "plain error", err: errors.New("connection refused")},
		{name: "resets in 42 s", err: limited(now.Add(42 * time.Second)), want: 43 * time.Second, limited: true},
		{name: "reset just passed", err: limited(now.Add(-5 * time.Second)), want: time.Second, limited: true},
		{name: "reset far away", err: limited(now.Add(3 * time.Hour)), want: time.Hour, limited: true},
		{name: "reset unknown", err: limited(time.Time{}), want: time.Minute, limited: true},
		{name: "bare sentinel", err: ErrRateLimited, want: time.Minute, limited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, limited := RateLimitDelay(tc.err, now)
			if got != tc.want || limited != tc.limited {
				t.Errorf("RateLimitDelay() = %s, %v; want %s, %v", got, limited, tc.want, tc.limited)
			}
		})
	}
}

package hub

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitfleet/gitfleet/gitsource"
)

// Defaults of WebhookLimits.
const (
	DefaultWebhookMaxConcurrent      = 4
	DefaultWebhookMaxInFlightBytes   = 40 << 20
	DefaultWebhookRefusalLogInterval = 10 * time.Second
)

// WebhookLimits bounds what unauthenticated senders can make the receiver hold: a body
// is only known to be genuine once it was read whole and its signature checked.
type WebhookLimits struct {
	// MaxConcurrent bounds the bodies read at once; a request beyond it gets 503 at once,
	// its body unread. Default DefaultWebhookMaxConcurrent.
	MaxConcurrent int
	// MaxInFlightBytes bounds the bytes of all bodies being read or held at once: a
	// request whose Content-Length does not fit gets 503 before its body is read, a body
	// without Content-Length when it outgrows what is left. Default
	// DefaultWebhookMaxInFlightBytes (a body is at most gitsource.MaxWebhookPayload).
	MaxInFlightBytes int64
	// RefusalLogInterval: at most one log line per interval for refused webhooks (bad
	// signature, too large, over the limits); the line counts those not logged. Default
	// DefaultWebhookRefusalLogInterval.
	RefusalLogInterval time.Duration
}

func (l WebhookLimits) withDefaults() WebhookLimits {
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = DefaultWebhookMaxConcurrent
	}
	if l.MaxInFlightBytes <= 0 {
		l.MaxInFlightBytes = DefaultWebhookMaxInFlightBytes
	}
	if l.RefusalLogInterval <= 0 {
		l.RefusalLogInterval = DefaultWebhookRefusalLogInterval
	}
	return l
}

// webhookGate holds the receiver's shared limits.
type webhookGate struct {
	slots chan struct{}
	bytes *byteBudget
	log   refusalLog
}

func newWebhookGate(l WebhookLimits) *webhookGate {
	l = l.withDefaults()
	return &webhookGate{
		slots: make(chan struct{}, l.MaxConcurrent),
		bytes: &byteBudget{free: l.MaxInFlightBytes},
		log:   refusalLog{interval: l.RefusalLogInterval},
	}
}

// tryEnter takes a slot without waiting.
func (g *webhookGate) tryEnter() bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g *webhookGate) leave() { <-g.slots }

// byteBudget is a count of bytes that may still be reserved.
type byteBudget struct {
	mu   sync.Mutex
	free int64
}

func (b *byteBudget) tryReserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
}

// errOverBudget is returned by a budgetReader whose body outgrew the in-flight budget.
var errOverBudget = errors.New("webhook bodies in flight over the byte limit")

// budgetedBody wraps a request body: it reserves the bytes it passes on from budget,
// all at once when the length is known, else in steps as they arrive, and releases them
// when the request is done.
type budgetedBody struct {
	io.ReadCloser
	budget   *byteBudget
	reserved int64
	read     int64
	known    bool // the length was reserved up front
}

// budgetStep is how much a body of unknown length reserves at a time.
const budgetStep = 256 << 10

func (b *budgetedBody) Read(p []byte) (int, error) {
	if !b.known && b.read+int64(len(p)) > b.reserved {
		step := max(int64(budgetStep), int64(len(p)))
		// Never reserve beyond what the parser reads (MaxWebhookPayload+1).
		step = min(step, gitsource.MaxWebhookPayload+1-b.reserved)
		if step <= 0 || !b.budget.tryReserve(step) {
			if step <= 0 {
				return 0, io.EOF // the parser sees the cap reached and refuses
			}
			return 0, errOverBudget
		}
		b.reserved += step
	}
	if !b.known && int64(len(p)) > b.reserved-b.read {
		p = p[:b.reserved-b.read]
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *budgetedBody) done() { b.budget.release(b.reserved) }

// refusalLog writes at most one line per interval about refused webhooks.
type refusalLog struct {
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// info logs msg unless a line was written less than interval before now; the next line
// written says how many were not.
func (l *refusalLog) info(log logr.Logger, now time.Time, msg string, kv ...any) {
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		kv = append(kv, "refusedNotLogged", n, "since", fmt.Sprint(l.interval))
	}
	log.Info(msg, kv...)
}

package envtest

import (
	"time"

	"github.com/onsi/gomega"
)

// Default durations for Gomega's Eventually and Consistently in gitfleet's tests, and for
// the waits of this package. They leave room for slow, busy two-core machines.
const (
	// EventuallyTimeout is how long Eventually waits.
	EventuallyTimeout = 30 * time.Second
	// EventuallyPolling is how often Eventually tries.
	EventuallyPolling = 100 * time.Millisecond
	// ConsistentlyDuration is how long Consistently checks.
	ConsistentlyDuration = 2 * time.Second
	// ConsistentlyPolling is how often Consistently checks.
	ConsistentlyPolling = 100 * time.Millisecond
)

// SetDefaultEventually sets the durations above as the defaults of Gomega's global
// Eventually and Consistently (those Ginkgo suites use, and those of every
// gomega.NewWithT made afterwards). Call it in TestMain or BeforeSuite.
func SetDefaultEventually() {
	gomega.SetDefaultEventuallyTimeout(EventuallyTimeout)
	gomega.SetDefaultEventuallyPollingInterval(EventuallyPolling)
	gomega.SetDefaultConsistentlyDuration(ConsistentlyDuration)
	gomega.SetDefaultConsistentlyPollingInterval(ConsistentlyPolling)
}

// NewWithT returns gomega.NewWithT(t) with the durations above as its defaults, without
// touching Gomega's global defaults.
func NewWithT(t TB) *gomega.WithT {
	g := gomega.NewWithT(t)
	g.SetDefaultEventuallyTimeout(EventuallyTimeout)
	g.SetDefaultEventuallyPollingInterval(EventuallyPolling)
	g.SetDefaultConsistentlyDuration(ConsistentlyDuration)
	g.SetDefaultConsistentlyPollingInterval(ConsistentlyPolling)
	return g
}

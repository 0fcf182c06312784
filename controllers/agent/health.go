package agent

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitfleet/gitfleet/controllers/agent/health"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// reconcileHealth reads the readiness of every applied object from the watches (or,
// before they have synced, from the apply's answer). Objects not ready are polled
// every HealthPoll besides their watch events, until the health timeout.
func (r *Reconciler) reconcileHealth(_ context.Context, p *pass) error {
	st := p.st
	var h healthSummary
	for k := range st.inventory {
		rec := st.records[k]
		if rec == nil || rec.failed {
			continue // not applied by this agent since it started, or failed: reported by the apply
		}
		h.total++
		res := health.Check(liveOrApplied(st, k, rec))
		switch res.Status {
		case health.Current:
			h.ready++
		case health.Failed:
			h.failed = append(h.failed, objectHealth{key: k, res: res})
		default:
			h.notReady = append(h.notReady, objectHealth{key: k, res: res})
		}
	}
	sortHealth(h.notReady)
	sortHealth(h.failed)
	st.health = h
	if !h.allReady() && !p.healthTimedOut() {
		p.after(r.Options.HealthPoll)
	}
	return nil
}

func liveOrApplied(st *syncState, k manifest.Key, rec *record) *unstructured.Unstructured {
	obj, found, ok := st.watches.get(rec.gvr, k)
	switch {
	case !ok:
		return rec.applied
	case !found:
		return nil
	case rec.applied != nil && obj.GetGeneration() < rec.applied.GetGeneration():
		// The watch has not delivered the apply yet: its copy still shows the old spec with
		// the status that was current for it. The apply's answer (the new generation, a
		// status not observed for it) is what counts until the watch catches up.
		return rec.applied
	}
	return obj
}

func sortHealth(list []objectHealth) {
	sort.Slice(list, func(i, j int) bool { return list[i].key.Less(list[j].key) })
}

// healthTimeout is the ClusterSync's applyPolicy.healthTimeout.
func (p *pass) healthTimeout() time.Duration {
	if t := p.cs.Spec.ApplyPolicy.HealthTimeout; t != nil && t.Duration > 0 {
		return t.Duration
	}
	return DefaultHealthTimeout
}

// healthTimedOut reports whether the objects have had their health timeout since the
// last apply that changed something.
func (p *pass) healthTimedOut() bool {
	return !p.st.appliedAt.IsZero() && p.now.Sub(p.st.appliedAt) >= p.healthTimeout()
}

// describeHealth names up to n objects with their state, e.g.
// "Deployment web/api (1/2 replicas available)".
func describeHealth(list []objectHealth, n int) string {
	items := make([]string, 0, len(list))
	for _, o := range list {
		items = append(items, fmt.Sprintf("%s (%s)", o.key, o.res.Message))
	}
	return firstN(items, n)
}

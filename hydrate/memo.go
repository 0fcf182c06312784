package hydrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/render"
)

// Memo remembers each (placement, cluster) render of the previous passes with the inputs
// it came from, so that a pass after a change re-renders only the pairs the change
// touches: a new commit that edits one cluster's override re-patches that cluster, not the
// fleet. The inputs are the source's content (render.Source.ContentKey), the placement's
// spec without its override rules, the override rules that select the cluster, the
// cluster's facts and its replica share. A Memo is safe for concurrent use.
type Memo struct {
	mu           sync.Mutex
	entries      map[string]memoEntry
	hits, misses uint64
	passes       uint64
}

type memoEntry struct {
	key  string
	objs []render.Object
	pass uint64
}

// nextPass numbers a hydration pass.
func (m *Memo) nextPass() uint64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.passes++
	return m.passes
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{entries: map[string]memoEntry{}} }

func (m *Memo) get(pair, key string, pass uint64) ([]render.Object, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[pair]
	if !ok || e.key != key {
		m.misses++
		return nil, false
	}
	m.hits++
	e.pass = pass
	m.entries[pair] = e
	return e.objs, true
}

func (m *Memo) put(pair, key string, objs []render.Object, pass uint64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[pair] = memoEntry{key: key, objs: objs, pass: pass}
}

// keepPasses is how many passes an unused pair stays remembered: one reconcile may
// hydrate several revisions (one per stage), each a pass over part of the pairs.
const keepPasses = 16

// sweep forgets the pairs no recent pass used (placements or clusters that left).
func (m *Memo) sweep(pass uint64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.entries {
		if e.pass+keepPasses < pass {
			delete(m.entries, k)
		}
	}
}

// Stats returns how many pairs were reused (hits) and rendered (misses) so far.
func (m *Memo) Stats() (hits, misses uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses
}

// Len is the number of remembered pairs.
func (m *Memo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// placementKeys holds what is hashed once per placement for pair keys.
type placementKeys struct {
	spec  string
	rules []ruleKey
}

type ruleKey struct {
	selector labels.Selector // nil: every cluster
	hash     string
}

func newPlacementKeys(p *fleetv1alpha1.Placement, overrides []fleetv1alpha1.Override) placementKeys {
	spec := p.Spec.DeepCopy()
	spec.Overrides = nil
	pk := placementKeys{spec: hashJSON(spec)}
	add := func(origin string, r fleetv1alpha1.OverrideRule) {
		rk := ruleKey{hash: hashJSON(struct {
			Origin string
			Rule   fleetv1alpha1.OverrideRule
		}{origin, r})}
		if r.ClusterSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(r.ClusterSelector)
			if err != nil {
				sel = labels.Everything() // the renderer reports the bad selector
			}
			rk.selector = sel
		}
		pk.rules = append(pk.rules, rk)
	}
	for _, r := range p.Spec.Overrides {
		add("inline", r)
	}
	for _, o := range overrides {
		for _, r := range o.Spec.Rules {
			add("Override/"+o.Name, r)
		}
	}
	return pk
}

// pairKey is the memo key of one placement on one cluster.
func (pk placementKeys) pairKey(content string, c render.Cluster, factsHash string) string {
	h := sha256.New()
	h.Write([]byte(content))
	h.Write([]byte{0})
	h.Write([]byte(pk.spec))
	h.Write([]byte{0})
	h.Write([]byte(factsHash))
	if c.Replicas != nil {
		h.Write([]byte{0, byte(*c.Replicas >> 24), byte(*c.Replicas >> 16), byte(*c.Replicas >> 8), byte(*c.Replicas)})
	}
	set := labels.Set(c.Labels)
	for _, r := range pk.rules {
		if r.selector == nil || r.selector.Matches(set) {
			h.Write([]byte{1})
			h.Write([]byte(r.hash))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// factsHash hashes what the renderer can see of a cluster, but its replica share.
func factsHash(c render.Cluster) string {
	c.Replicas = nil
	return hashJSON(c)
}

func hashJSON(v any) string {
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

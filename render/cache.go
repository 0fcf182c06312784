package render

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// cacheVersion is part of every cache key: bump it when rendering changes its output.
const cacheVersion = "1"

// Default bounds of a Cache.
const (
	// DefaultCacheEntries is the default number of renders a Cache keeps.
	DefaultCacheEntries = 1024
	// DefaultCacheBytes is the default total size (JSON bytes) of the renders a Cache keeps.
	DefaultCacheBytes = 256 << 20
)

// rendered is one cached render: the objects as the source produced them, before any
// override patch, namespace or annotation. It is shared and never changed.
type rendered struct {
	objs      []*unstructured.Unstructured
	crdScoped map[schema.GroupKind]bool
	size      int64
}

// CacheStats are a Cache's counters, for metrics.
type CacheStats struct {
	// Hits counts renders served from the cache (including callers that waited for the
	// same render running in another goroutine).
	Hits uint64
	// Misses counts renders that ran.
	Misses uint64
	// Evictions counts entries dropped to stay within the bounds.
	Evictions uint64
	// Entries and Bytes are the current size.
	Entries int
	Bytes   int64
}

// Cache is a bounded, thread-safe LRU cache of renders, keyed by the content hash of the
// source, the effective values and the cluster facts the source can see. Concurrent
// requests for the same key render once. One Cache may serve several Renderers.
type Cache struct {
	maxEntries int
	maxBytes   int64

	mu       sync.Mutex
	ll       *list.List // front: most recently used; values are *cacheEntry
	items    map[string]*list.Element
	inflight map[string]*flight
	bytes    int64
	stats    CacheStats
}

type cacheEntry struct {
	key string
	val *rendered
}

type flight struct {
	done chan struct{}
	val  *rendered
	err  error
}

// NewCache returns a Cache holding at most maxEntries renders of at most maxBytes in
// total (a render larger than maxBytes is not kept). Zero or negative bounds take the
// defaults.
func NewCache(maxEntries int, maxBytes int64) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &Cache{
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		ll:         list.New(),
		items:      map[string]*list.Element{},
		inflight:   map[string]*flight{},
	}
}

// Stats returns the counters and the current size.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.ll.Len()
	s.Bytes = c.bytes
	return s
}

// Purge drops every entry (the counters stay).
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[string]*list.Element{}
	c.bytes = 0
}

// get returns the render for key, running fn when no entry or running render has it.
// Errors are not cached.
func (c *Cache) get(ctx context.Context, key string, fn func() (*rendered, error)) (*rendered, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.stats.Hits++
		c.mu.Unlock()
		return el.Value.(*cacheEntry).val, nil
	}
	if f, ok := c.inflight[key]; ok {
		c.stats.Hits++
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.val, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.stats.Misses++
	c.mu.Unlock()

	func() {
		defer func() {
			if p := recover(); p != nil {
				f.val, f.err = nil, fmt.Errorf("%w: panic while rendering: %v", ErrRender, p)
			}
		}()
		f.val, f.err = fn()
	}()

	c.mu.Lock()
	delete(c.inflight, key)
	if f.err == nil {
		c.add(key, f.val)
	}
	c.mu.Unlock()
	close(f.done)
	return f.val, f.err
}

// add stores an entry and evicts the least recently used ones beyond the bounds; c.mu
// is held.
func (c *Cache) add(key string, val *rendered) {
	if val.size > c.maxBytes {
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, val: val})
	c.bytes += val.size
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.bytes -= e.val.size
		c.stats.Evictions++
	}
}

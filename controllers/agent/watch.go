package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
)

// watchSet holds one informer per resource that a ClusterSync applied objects of,
// filtered by the ClusterSync's label, so that a change by anyone is seen at once and
// health and drift are read from memory. Managed fields are dropped from the cached
// objects to save memory.
type watchSet struct {
	dyn      dynamic.Interface
	selector string
	onEvent  func(gvr schema.GroupVersionResource, key manifest.Key)

	mu        sync.Mutex
	informers map[schema.GroupVersionResource]*informer
}

type informer struct {
	inf    cache.SharedIndexInformer
	cancel context.CancelFunc
	kind   schema.GroupKind
}

func newWatchSet(dyn dynamic.Interface, selector string, onEvent func(schema.GroupVersionResource, manifest.Key)) *watchSet {
	return &watchSet{dyn: dyn, selector: selector, onEvent: onEvent, informers: map[schema.GroupVersionResource]*informer{}}
}

// ensure starts informers for the resources in want that have none and stops those
// not in want. want maps each resource to its kind.
func (w *watchSet) ensure(want map[schema.GroupVersionResource]schema.GroupKind) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for gvr, inf := range w.informers {
		if _, ok := want[gvr]; !ok {
			inf.cancel()
			delete(w.informers, gvr)
		}
	}
	for gvr, gk := range want {
		if _, ok := w.informers[gvr]; ok {
			continue
		}
		w.informers[gvr] = w.start(gvr, gk)
	}
}

func (w *watchSet) start(gvr schema.GroupVersionResource, gk schema.GroupKind) *informer {
	gi := dynamicinformer.NewFilteredDynamicInformer(w.dyn, gvr, metav1.NamespaceAll, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = w.selector })
	inf := gi.Informer()
	_ = inf.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			u.SetManagedFields(nil)
		}
		return obj, nil
	})
	notify := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			w.onEvent(gvr, manifest.Key{Group: gk.Group, Kind: gk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()})
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: notify,
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*unstructured.Unstructured)
			n, ok2 := newObj.(*unstructured.Unstructured)
			if ok1 && ok2 && o.GetResourceVersion() == n.GetResourceVersion() {
				return
			}
			notify(newObj)
		},
		DeleteFunc: notify,
	})
	ctx, cancel := context.WithCancel(context.Background())
	go inf.RunWithContext(ctx)
	return &informer{inf: inf, cancel: cancel, kind: gk}
}

// waitSynced waits until every informer has listed its objects, or timeout passes.
func (w *watchSet) waitSynced(ctx context.Context, timeout time.Duration) error {
	w.mu.Lock()
	var synced []cache.InformerSynced
	for _, inf := range w.informers {
		synced = append(synced, inf.inf.HasSynced)
	}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("watches did not sync within %s", timeout)
	}
	return nil
}

// get returns the cached object of gvr with key. ok is false when the informer is
// missing or not synced yet (the cache cannot tell); found is false when the object
// does not exist or lacks the label.
func (w *watchSet) get(gvr schema.GroupVersionResource, key manifest.Key) (obj *unstructured.Unstructured, found, ok bool) {
	w.mu.Lock()
	inf := w.informers[gvr]
	w.mu.Unlock()
	if inf == nil || !inf.inf.HasSynced() {
		return nil, false, false
	}
	k := key.Name
	if key.Namespace != "" {
		k = key.Namespace + "/" + key.Name
	}
	item, exists, err := inf.inf.GetStore().GetByKey(k)
	if err != nil || !exists {
		return nil, false, true
	}
	u, _ := item.(*unstructured.Unstructured)
	return u, u != nil, true
}

// keys returns the keys of every cached object of every synced informer: the objects
// that carry the ClusterSync's label.
func (w *watchSet) keys() map[manifest.Key]schema.GroupVersionResource {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[manifest.Key]schema.GroupVersionResource{}
	for gvr, inf := range w.informers {
		if !inf.inf.HasSynced() {
			continue
		}
		for _, item := range inf.inf.GetStore().List() {
			if u, ok := item.(*unstructured.Unstructured); ok {
				out[manifest.Key{Group: inf.kind.Group, Kind: inf.kind.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}] = gvr
			}
		}
	}
	return out
}

// stop stops every informer.
func (w *watchSet) stop() {
	w.ensure(nil)
}

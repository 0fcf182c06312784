package outcome

import (
	"context"
	"errors"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Object is an API object with conditions, as every gitfleet kind is.
type Object interface {
	client.Object
	Conditioned
}

// End ends one pass over one object: Begin it right after reading the object, defer its
// Finish. It keeps a copy of the object as read, the base of the status patch.
type End struct {
	client client.Client
	obj    Object
	base   Object
	// applyTypes, when set, are the only condition types written, by server-side apply
	// under applyManager (see ApplyConditions).
	applyTypes   []string
	applyManager string
	written      bool
}

// Option configures an End.
type Option func(*End)

// ApplyConditions makes the End write only the listed condition types, by server-side
// apply under fieldManager (taking them over from other managers), instead of
// merge-patching the whole status: for objects whose status another writer shares (the
// agent writes the rest of a MemberCluster's status).
func ApplyConditions(fieldManager string, types ...string) Option {
	return func(e *End) { e.applyManager, e.applyTypes = fieldManager, types }
}

// Begin starts the end of a pass over obj, as just read with c. With a nil obj the pass
// has no status of its own (what it reports goes elsewhere): Finish only records the
// outcome and returns the result.
func Begin(c client.Client, obj Object, opts ...Option) *End {
	e := &End{client: c, obj: obj}
	if obj != nil {
		e.base = obj.DeepCopyObject().(Object)
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Summary says how a reconciler ends its passes.
type Summary struct {
	// ReadyMessage is Ready's message when the pass succeeded.
	ReadyMessage string
	// Conditions, when set, sets the conditions itself (Ready included) from what the pass
	// observed, instead of Finish deriving them from the pass's error.
	Conditions func()
	// ObservedGeneration, when set, points at the object's status.observedGeneration: it
	// is set to the object's generation when the pass ends Ready, and only then.
	ObservedGeneration *int64
	// RequeueAfter is when to come back after a pass without error (0: not by the clock).
	RequeueAfter time.Duration
	// Now stamps the conditions whose status changes; the zero time means now.
	Now time.Time
	// Observe, when set, records the pass's outcome (metrics) from its error.
	Observe func(err error)
}

// Finish ends the pass that failed with err (nil: it succeeded): it summarises the
// conditions (see Finish and Summary.Conditions), writes observedGeneration when the
// object is Ready, patches the status when it changed (an object deleted meanwhile is no
// error), records the outcome and returns what controller-runtime should do next (see
// Result; a failed status patch is retried with backoff).
func (e *End) Finish(ctx context.Context, err error, s Summary) (ctrl.Result, error) {
	var perr error
	if e.obj != nil {
		if s.Conditions != nil {
			s.Conditions()
		} else {
			FinishAt(e.obj, err, s.ReadyMessage, s.Now)
		}
		if s.ObservedGeneration != nil && IsReady(e.obj) {
			*s.ObservedGeneration = e.obj.GetGeneration()
		}
		if perr = e.patch(ctx); perr != nil {
			perr = fmt.Errorf("patching the status of %s: %w", client.ObjectKeyFromObject(e.obj), perr)
			ctrl.LoggerFrom(ctx).Error(perr, "status not written")
		}
	}
	if s.Observe != nil {
		s.Observe(err)
	}
	return Result(errors.Join(err, perr), s.RequeueAfter)
}

// Written reports whether Finish sent a status patch (the status changed).
func (e *End) Written() bool { return e.written }

// Original is the object as read (the base of the status patch).
func (e *End) Original() Object { return e.base }

// MarkReconciling writes Reconciling=True with msg at once, mid-pass (before a long
// apply, so that people and kstatus see the work in progress); the final patch is then
// computed against what is stored. A failure is returned to be logged: the pass goes on.
func (e *End) MarkReconciling(ctx context.Context, msg string) error {
	now := e.obj.DeepCopyObject().(Object)
	before := now.DeepCopyObject().(Object)
	MarkReconciling(now, msg)
	if err := e.client.Status().Patch(ctx, now, client.MergeFrom(before)); err != nil {
		return err
	}
	e.base.SetConditions(now.GetConditions())
	e.base.SetResourceVersion(now.GetResourceVersion())
	e.obj.SetResourceVersion(now.GetResourceVersion())
	return nil
}

// patch writes the status changes since Begin, if any.
func (e *End) patch(ctx context.Context) error {
	if e.applyTypes != nil {
		return e.applyConditions(ctx)
	}
	p := client.MergeFrom(e.base)
	data, err := p.Data(e.obj)
	if err != nil {
		return err
	}
	if string(data) == "{}" {
		return nil
	}
	if err := e.client.Status().Patch(ctx, e.obj, p); err != nil {
		return client.IgnoreNotFound(err)
	}
	e.written = true
	return nil
}

// applyConditions server-side applies the conditions of applyTypes, when one changed.
func (e *End) applyConditions(ctx context.Context) error {
	var conds []any
	changed := false
	for _, t := range e.applyTypes {
		c := apimeta.FindStatusCondition(e.obj.GetConditions(), t)
		if c == nil {
			continue
		}
		if old := apimeta.FindStatusCondition(e.base.GetConditions(), t); old == nil || old.Status != c.Status ||
			old.Reason != c.Reason || old.Message != c.Message || old.ObservedGeneration != c.ObservedGeneration {
			changed = true
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
		if err != nil {
			return err
		}
		conds = append(conds, m)
	}
	if !changed {
		return nil
	}
	gvk, err := apiutil.GVKForObject(e.obj, e.client.Scheme())
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvk.GroupVersion().String(), "kind": gvk.Kind,
		"metadata": map[string]any{"name": e.obj.GetName(), "namespace": e.obj.GetNamespace()},
		"status":   map[string]any{"conditions": conds},
	}}
	if err := e.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), &client.SubResourceApplyOptions{
		ApplyOptions: client.ApplyOptions{FieldManager: e.applyManager, Force: ptr.To(true)},
	}); err != nil {
		return client.IgnoreNotFound(err)
	}
	e.written = true
	return nil
}

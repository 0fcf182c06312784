package outcome

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// TestEndFinish: the deferred end of a pass derives Ready from the pass's error, writes
// observedGeneration only when the pass ends Ready, patches only a changed status,
// records the outcome and returns Result's answer.
func TestEndFinish(t *testing.T) {
	for name, tc := range map[string]struct {
		err            error
		stored         []metav1.Condition // the object's conditions as read
		wantReady      metav1.ConditionStatus
		wantReason     string
		wantStalled    bool
		wantGeneration int64
		wantWritten    bool
		wantErr        bool
		wantRequeue    time.Duration
	}{
		"success": {
			wantReady: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantGeneration: 2, wantWritten: true, wantRequeue: time.Minute,
		},
		"success, nothing changed": {
			stored:    []metav1.Condition{{Type: fleetv1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: fleetv1alpha1.SucceededReason, Message: "ready", ObservedGeneration: 2}},
			wantReady: metav1.ConditionTrue, wantReason: fleetv1alpha1.SucceededReason, wantGeneration: 2, wantRequeue: time.Minute,
		},
		"waiting": {
			err:       Waiting(fleetv1alpha1.FetchFailedReason, 5*time.Minute, errors.New("unreachable")),
			wantReady: metav1.ConditionFalse, wantReason: fleetv1alpha1.FetchFailedReason, wantWritten: true, wantRequeue: 5 * time.Minute,
		},
		"stalling": {
			err:       Stalling(fleetv1alpha1.DependencyNotReadyReason, errors.New("bad spec")),
			wantReady: metav1.ConditionFalse, wantReason: fleetv1alpha1.DependencyNotReadyReason, wantStalled: true, wantWritten: true, wantErr: true,
		},
		"transient": {
			err:       errors.New("connection reset"),
			wantReady: metav1.ConditionFalse, wantReason: fleetv1alpha1.FailedReason, wantWritten: true, wantErr: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", Generation: 2}}
			src.Status.Conditions = tc.stored
			if tc.stored != nil {
				src.Status.ObservedGeneration = 2
			}
			c := newClient(t, src)
			obj := &fleetv1alpha1.GitSource{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(src), obj); err != nil {
				t.Fatal(err)
			}
			end := Begin(c, obj)
			var observed error
			res, err := end.Finish(ctx, tc.err, Summary{
				ReadyMessage: "ready", ObservedGeneration: &obj.Status.ObservedGeneration, RequeueAfter: time.Minute,
				Observe: func(err error) { observed = err },
			})
			if (err != nil) != tc.wantErr || res.RequeueAfter != tc.wantRequeue {
				t.Errorf("Finish(%v) = %+v, %v; want requeue %v, error %v", tc.err, res, err, tc.wantRequeue, tc.wantErr)
			}
			if tc.wantStalled != errors.Is(err, reconcile.TerminalError(nil)) {
				t.Errorf("Finish(%v) error = %v, want terminal: %v", tc.err, err, tc.wantStalled)
			}
			if !errors.Is(observed, tc.err) || !errors.Is(tc.err, observed) {
				t.Errorf("Observe got %v, want %v", observed, tc.err)
			}
			if end.Written() != tc.wantWritten {
				t.Errorf("Written() = %v, want %v", end.Written(), tc.wantWritten)
			}
			stored := &fleetv1alpha1.GitSource{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(src), stored); err != nil {
				t.Fatal(err)
			}
			ready := apimeta.FindStatusCondition(stored.Status.Conditions, fleetv1alpha1.ReadyCondition)
			if ready == nil || ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("stored Ready = %+v, want %s %s", ready, tc.wantReady, tc.wantReason)
			}
			if got := apimeta.IsStatusConditionTrue(stored.Status.Conditions, fleetv1alpha1.StalledCondition); got != tc.wantStalled {
				t.Errorf("stored Stalled = %v, want %v", got, tc.wantStalled)
			}
			if stored.Status.ObservedGeneration != tc.wantGeneration {
				t.Errorf("stored observedGeneration = %d, want %d", stored.Status.ObservedGeneration, tc.wantGeneration)
			}
		})
	}
}

// TestEndFinishOwnConditions: a reconciler that derives its conditions itself keeps
// them; observedGeneration follows Ready, not the error.
func TestEndFinishOwnConditions(t *testing.T) {
	ctx := context.Background()
	cs := &fleetv1alpha1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Generation: 4}}
	c := newClient(t, cs)
	end := Begin(c, cs)
	_, err := end.Finish(ctx, nil, Summary{
		Conditions: func() {
			SetCondition(cs, fleetv1alpha1.ReadyCondition, metav1.ConditionUnknown, fleetv1alpha1.ProgressingReason, "waiting for health")
		},
		ObservedGeneration: &cs.Status.ObservedGeneration,
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := &fleetv1alpha1.ClusterSync{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cs), stored); err != nil {
		t.Fatal(err)
	}
	if r := apimeta.FindStatusCondition(stored.Status.Conditions, fleetv1alpha1.ReadyCondition); r == nil || r.Status != metav1.ConditionUnknown {
		t.Errorf("stored Ready = %+v, want Unknown as the reconciler set it", r)
	}
	if stored.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration = %d, want 0 (the pass did not end Ready)", stored.Status.ObservedGeneration)
	}
}

// TestEndFinishPatchFails: a failed status patch is retried with backoff, also after a
// pass that was waiting; an object deleted meanwhile is no error.
func TestEndFinishPatchFails(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		patchErr error
		wantErr  bool
	}{
		"conflict": {patchErr: errors.New("the object has been modified"), wantErr: true},
		"deleted":  {patchErr: notFound()},
	} {
		t.Run(name, func(t *testing.T) {
			src := &fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", Generation: 1}}
			c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(src).WithStatusSubresource(src).
				WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
					return tc.patchErr
				}}).Build()
			end := Begin(c, src)
			res, err := end.Finish(ctx, Waiting(fleetv1alpha1.FetchFailedReason, time.Hour, errors.New("later")), Summary{})
			if (err != nil) != tc.wantErr {
				t.Errorf("Finish() = %+v, %v; want error: %v", res, err, tc.wantErr)
			}
			if !tc.wantErr && res.RequeueAfter != time.Hour {
				t.Errorf("Finish().RequeueAfter = %v, want 1h (the waiting error's delay)", res.RequeueAfter)
			}
		})
	}
}

// TestEndMarkReconciling: Reconciling=True is stored at once, and the final patch, made
// against what is stored then, removes it.
func TestEndMarkReconciling(t *testing.T) {
	ctx := context.Background()
	cs := &fleetv1alpha1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", Generation: 1}}
	c := newClient(t, cs)
	obj := &fleetv1alpha1.ClusterSync{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cs), obj); err != nil {
		t.Fatal(err)
	}
	end := Begin(c, obj)
	if err := end.MarkReconciling(ctx, "applying"); err != nil {
		t.Fatal(err)
	}
	stored := &fleetv1alpha1.ClusterSync{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cs), stored); err != nil {
		t.Fatal(err)
	}
	if !apimeta.IsStatusConditionTrue(stored.Status.Conditions, fleetv1alpha1.ReconcilingCondition) {
		t.Fatalf("stored conditions %+v, want Reconciling=True", stored.Status.Conditions)
	}
	if _, err := end.Finish(ctx, nil, Summary{ReadyMessage: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cs), stored); err != nil {
		t.Fatal(err)
	}
	if apimeta.FindStatusCondition(stored.Status.Conditions, fleetv1alpha1.ReconcilingCondition) != nil || !apimeta.IsStatusConditionTrue(stored.Status.Conditions, fleetv1alpha1.ReadyCondition) {
		t.Errorf("stored conditions %+v, want Ready=True and no Reconciling", stored.Status.Conditions)
	}
}

// TestEndWithoutObject: a pass with no status of its own still gets Result's answer and
// records its outcome.
func TestEndWithoutObject(t *testing.T) {
	var observed error
	pass := errors.New("forge down")
	_, err := Begin(nil, nil).Finish(context.Background(), pass, Summary{Observe: func(err error) { observed = err }})
	if !errors.Is(err, pass) || !errors.Is(observed, pass) {
		t.Errorf("Finish() = %v, observed %v; want %v both", err, observed, pass)
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := fleetv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newClient(t *testing.T, objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).WithStatusSubresource(objs...).Build()
}

func notFound() error {
	return apierrors.NewNotFound(schema.GroupResource{Group: fleetv1alpha1.GroupVersion.Group, Resource: "gitsources"}, "s")
}

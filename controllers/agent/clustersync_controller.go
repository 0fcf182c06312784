package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/internal/finalizer"
	"github.com/gitfleet/gitfleet/gitsource"
)

// ControllerName names the controller, its event source and its logger.
const ControllerName = "gitfleet-agent"

// Defaults of Options.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultHealthPoll        = 5 * time.Second
	DefaultHealthTimeout     = 5 * time.Minute
	DefaultInterval          = 15 * time.Second
	DefaultTimeout           = 5 * time.Minute
)

// EventRecorder records Kubernetes events (events.k8s.io) on ClusterSyncs.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// ForgeFactory makes a forge client (gitsource.NewForge).
type ForgeFactory func(typ v1alpha1.ForgeType, apiURL, repository, token string) (gitsource.Forge, error)

// Options tunes the Reconciler.
type Options struct {
	// WorkDir keeps one Git checkout per ClusterSync; default a folder in os.TempDir().
	WorkDir string
	// ApplyConcurrency bounds the objects applied at once; default apply.DefaultConcurrency.
	ApplyConcurrency int
	// MaxConcurrentReconciles bounds the ClusterSyncs reconciled at once; default 2.
	MaxConcurrentReconciles int
	// HeartbeatInterval is how often the hub's MemberCluster gets a heartbeat; default 30s.
	HeartbeatInterval time.Duration
	// HubKubeconfig, when set, is a kubeconfig file for the hub used instead of the
	// Secret named in spec.hub.
	HubKubeconfig string
	// HealthPoll is how often health is re-read while objects are not ready, besides the
	// watch events; default 5s.
	HealthPoll time.Duration
}

// Reconciler reconciles ClusterSyncs: it fetches the branch, applies the cluster's
// folder, prunes, checks health and drift, and reports. Build it with fields set, then
// call SetupWithManager.
type Reconciler struct {
	// Client reads ClusterSyncs (cached) and writes their status.
	Client client.Client
	// APIReader reads Secrets, ConfigMaps, nodes and pods without caching them.
	APIReader client.Reader
	// Dynamic, Metadata and Mapper apply, watch and prune arbitrary kinds.
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
	Mapper   meta.RESTMapper
	// Discovery reads the member's version and API versions for the hub.
	Discovery discovery.DiscoveryInterface
	// Recorder records events on ClusterSyncs.
	Recorder EventRecorder
	// NewForge makes forge clients; nil means gitsource.NewForge.
	NewForge ForgeFactory
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// Options tunes the reconciler.
	Options Options

	applier *apply.Applier
	mu      sync.Mutex
	states  map[types.NamespacedName]*syncState
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	queueMu sync.Mutex
}

var _ reconcile.Reconciler = (*Reconciler)(nil)

// SetupWithManager fills the dependencies the manager provides and registers the
// controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	var err error
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Mapper == nil {
		r.Mapper = mgr.GetRESTMapper()
	}
	cfg := mgr.GetConfig()
	if r.Dynamic == nil {
		if r.Dynamic, err = dynamic.NewForConfigAndClient(cfg, mgr.GetHTTPClient()); err != nil {
			return fmt.Errorf("creating the dynamic client: %w", err)
		}
	}
	if r.Metadata == nil {
		if r.Metadata, err = metadata.NewForConfigAndClient(cfg, mgr.GetHTTPClient()); err != nil {
			return fmt.Errorf("creating the metadata client: %w", err)
		}
	}
	if r.Discovery == nil {
		if r.Discovery, err = discovery.NewDiscoveryClientForConfigAndClient(cfg, mgr.GetHTTPClient()); err != nil {
			return fmt.Errorf("creating the discovery client: %w", err)
		}
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(ControllerName)
	}
	if err := r.init(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1alpha1.ClusterSync{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(source.Func(r.captureQueue)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Options.MaxConcurrentReconciles, 2)}).
		Complete(r)
}

// init checks the dependencies and sets defaults. SetupWithManager calls it.
func (r *Reconciler) init() error {
	if r.Client == nil || r.APIReader == nil || r.Dynamic == nil || r.Metadata == nil || r.Mapper == nil {
		return errors.New("agent reconciler: Client, APIReader, Dynamic, Metadata and Mapper are required")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.NewForge == nil {
		r.NewForge = defaultForgeFactory
	}
	if r.Options.WorkDir == "" {
		r.Options.WorkDir = filepath.Join(os.TempDir(), "gitfleet-agent")
	}
	if r.Options.HeartbeatInterval <= 0 {
		r.Options.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if r.Options.HealthPoll <= 0 {
		r.Options.HealthPoll = DefaultHealthPoll
	}
	r.applier = &apply.Applier{Dynamic: r.Dynamic, Metadata: r.Metadata, Mapper: r.Mapper, Concurrency: r.Options.ApplyConcurrency}
	r.states = map[types.NamespacedName]*syncState{}
	return nil
}

// captureQueue is a source that keeps the controller's queue, so that watch events on
// applied objects enqueue their ClusterSync directly (the queue merges duplicates).
func (r *Reconciler) captureQueue(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	r.queueMu.Lock()
	r.queue = q
	r.queueMu.Unlock()
	return nil
}

func (r *Reconciler) enqueue(nn types.NamespacedName) {
	r.queueMu.Lock()
	q := r.queue
	r.queueMu.Unlock()
	if q != nil {
		q.Add(reconcile.Request{NamespacedName: nn})
	}
}

// step is one stage of a pass. It records what it saw in p; an error stops the pass
// (the deferred status update still runs) and is retried with backoff.
type step func(ctx context.Context, p *pass) error

// Reconcile runs one pass over a ClusterSync: fetch the branch, watch the applied
// kinds, apply, prune, record the inventory, check health and drift (correcting it when
// the policy says so), then report as commit status and to the hub. The deferred finish
// derives the conditions from what the steps saw and patches the status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	cs := &v1alpha1.ClusterSync{}
	if err := r.Client.Get(ctx, req.NamespacedName, cs); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading ClusterSync %s: %w", req.NamespacedName, err)
	}
	if !cs.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, cs) // delete.go
	}
	if err := finalizer.Ensure(ctx, r.Client, cs); err != nil {
		return ctrl.Result{}, err
	}

	p := r.newPass(ctx, cs)
	defer func() { result, retErr = r.finish(ctx, p, retErr) }()

	for _, s := range []step{
		r.reconcileSource,
		r.reconcileWatches,
		r.reconcileApply,
		r.reconcilePrune,
		r.reconcileInventory,
		r.reconcileHealth,
		r.reconcileDrift,
		r.reconcileCommitStatus,
		r.reconcileHub,
	} {
		if err := s(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// forget drops the in-memory state of a deleted ClusterSync and stops its watches (what
// happens to the objects it applied is finalize's business).
func (r *Reconciler) forget(nn types.NamespacedName) {
	r.mu.Lock()
	st := r.states[nn]
	delete(r.states, nn)
	r.mu.Unlock()
	if st != nil {
		st.close()
		forgetMetrics(nn)
	}
}

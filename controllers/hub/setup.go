package hub

import (
	"context"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
	"github.com/gitfleet/gitfleet/render"
)

// Options configures the hub's controllers.
type Options struct {
	// DataDir holds Git clones (DataDir/clones) and revision snapshots (DataDir/snapshots).
	DataDir string
	// WebhookAddr is the listen address of the webhook receiver; empty disables it.
	WebhookAddr string
	Clock       clock.PassiveClock
	Metrics     *Metrics
	Committer   gitsource.Signature
	// Renderer defaults to a render.Renderer with the default cache bounds.
	Renderer *render.Renderer
	// WebhookParser defaults to gitsource's GitHub/Gitea parser.
	WebhookParser gitsource.WebhookParser
	// PipelinePoll is how often pipelines re-read stage branches and cluster health when
	// nothing wakes them (default DefaultPipelinePoll).
	PipelinePoll time.Duration
	// PreviewPoll is how often open pull requests into GitSources with
	// spec.previewPullRequests are listed when no webhook comes (default DefaultPreviewPoll).
	PreviewPoll time.Duration
	// ForgeRetry is the retry policy of the hub's forge clients (zero fields:
	// gitsource.DefaultRetryPolicy's). A rate limit resetting later than its MaxWait is not
	// waited for inline: the pipeline says ForgeRateLimited and retries after the reset.
	ForgeRetry gitsource.RetryPolicy
	// BeforePipelinePass is the Pipeline controller's BeforePass: a test hook, nil in the
	// hub.
	BeforePipelinePass func(ctx context.Context, pipeline types.NamespacedName)
}

// Signature is the author of environment-branch commits.
func Signature(name, email string) gitsource.Signature {
	return gitsource.Signature{Name: name, Email: email}
}

// Setup registers every hub controller (and the webhook receiver) with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Renderer == nil {
		o.Renderer = render.New(render.Options{})
	}
	o.Metrics.watchCache(o.Renderer.Cache())
	if o.WebhookParser == nil {
		o.WebhookParser = gitsource.NewWebhookParser()
	}
	if o.Committer.Name == "" {
		o.Committer = gitsource.DefaultSignature
	}
	snaps := &Snapshots{Root: filepath.Join(o.DataDir, "snapshots")}
	c := mgr.GetClient()
	if err := (&GitSourceReconciler{
		Client: c, Snapshots: snaps, CacheDir: filepath.Join(o.DataDir, "clones"), Clock: o.Clock,
		Recorder: mgr.GetEventRecorder("gitfleet-hub"), Metrics: o.Metrics,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&MemberClusterReconciler{Client: c, Clock: o.Clock}).SetupWithManager(mgr); err != nil {
		return err
	}
	writer := gitsource.NewWriter()
	pipelineEvents := make(chan event.GenericEvent, 64)
	hydrationEvents := make(chan event.GenericEvent, 64)
	hydration := &HydrationReconciler{
		Client: c, Snapshots: snaps, Writer: writer, Renderer: o.Renderer,
		Versions: hydrate.ToolVersions(), Clock: o.Clock, Recorder: mgr.GetEventRecorder("gitfleet-hub"), Metrics: o.Metrics,
		Committer: o.Committer, PipelineEvents: pipelineEvents, Events: hydrationEvents,
	}
	if err := hydration.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	forgeRetry := gitsource.WithRetryPolicy(o.ForgeRetry)
	if err := (&PipelineReconciler{
		Client: c, Records: mgr.GetAPIReader(), Writer: writer, Snapshots: snaps, Clock: o.Clock, Recorder: mgr.GetEventRecorder("gitfleet-hub"),
		Metrics: o.Metrics, Events: pipelineEvents, HydrationEvents: hydrationEvents, Poll: o.PipelinePoll, BeforePass: o.BeforePipelinePass,
		NewForge: func(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error) {
			return ForgeForSource(ctx, c, src, forgeRetry)
		},
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	previewEvents := make(chan event.GenericEvent, 16)
	if err := (&PreviewReconciler{
		Client: c, Hydration: hydration, Clock: o.Clock, Recorder: mgr.GetEventRecorder("gitfleet-hub"), Metrics: o.Metrics,
		WorkDir: filepath.Join(o.DataDir, "previews"), Events: previewEvents, Poll: o.PreviewPoll,
		NewForge: func(ctx context.Context, src *fleetv1alpha1.GitSource) (gitsource.Forge, error) {
			return ForgeForSource(ctx, c, src, forgeRetry)
		},
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if o.WebhookAddr != "" {
		if err := mgr.Add(&webhookServer{addr: o.WebhookAddr, handler: &WebhookReceiver{Client: c, Parser: o.WebhookParser, Clock: o.Clock, PreviewEvents: previewEvents}}); err != nil {
			return err
		}
	}
	return nil
}

package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
)

// WebhookPathPrefix is where the receiver listens: POST /hook/<namespace>/<gitsource>.
const WebhookPathPrefix = "/hook/"

// WebhookReceiver takes forge webhooks (GitHub and Gitea) for GitSources. A request whose
// HMAC-SHA256 signature does not match the GitSource's webhook secret gets 401 and changes
// nothing; a push to the source's branch sets the reconcile.fluxcd.io/requestedAt
// annotation, so the source is fetched at once; pull_request and status events set it on
// the namespace's Pipelines, so promotions react to a merge, a close or an agent's report
// within seconds (polling is the fallback).
type WebhookReceiver struct {
	Client client.Client
	Parser gitsource.WebhookParser
	Clock  clock.PassiveClock
	// PreviewEvents, when set, receives the GitSource of a pull_request event into its
	// branch, so that the pull request is previewed at once.
	PreviewEvents chan<- event.GenericEvent
	// Limits bound the bodies read at once and their bytes; zero fields take defaults.
	Limits WebhookLimits
	// Log receives the receiver's lines; default ctrl.Log.WithName("webhook").
	Log logr.Logger

	once sync.Once
	gate *webhookGate
}

// refuse answers a request without reading (more of) its body, and logs it at most once
// per Limits.RefusalLogInterval.
func (h *WebhookReceiver) refuse(w http.ResponseWriter, code int, answer, why, source string) {
	w.Header().Set("Connection", "close")
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	http.Error(w, answer, code)
	h.gate.log.info(h.Log, h.Clock.Now(), "webhook refused: "+why, "gitsource", source, "code", code)
}

// setup makes the shared limits and the default logger, once.
func (h *WebhookReceiver) setup() {
	h.once.Do(func() {
		h.gate = newWebhookGate(h.Limits)
		if h.Log.GetSink() == nil {
			h.Log = ctrl.Log.WithName("webhook")
		}
	})
}

// ServeHTTP handles one delivery.
func (h *WebhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.setup()
	log := h.Log
	if r.Method != http.MethodPost {
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	ns, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, WebhookPathPrefix), "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		http.Error(w, "path must be /hook/<namespace>/<gitsource>", http.StatusNotFound)
		return
	}
	if r.ContentLength > gitsource.MaxWebhookPayload {
		h.refuse(w, http.StatusRequestEntityTooLarge, "payload too large", "payload too large", ns+"/"+name)
		return
	}
	ctx := r.Context()
	src := &fleetv1alpha1.GitSource{}
	if err := h.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, src); err != nil {
		// The same answer as a bad signature: do not tell strangers which sources exist.
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if src.Spec.WebhookSecretRef == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	sec := &corev1.Secret{}
	if err := h.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: src.Spec.WebhookSecretRef.Name}, sec); err != nil || len(sec.Data["token"]) == 0 {
		h.refuse(w, http.StatusUnauthorized, "unauthorized", "webhook secret missing or without key token", ns+"/"+name)
		return
	}
	ev, err := h.parse(w, r, sec.Data["token"])
	switch {
	case errors.Is(err, errRefused):
		return
	case errors.Is(err, gitsource.ErrBadSignature):
		h.refuse(w, http.StatusUnauthorized, "unauthorized", "bad or missing signature", ns+"/"+name)
		return
	case errors.Is(err, gitsource.ErrPayloadTooLarge):
		h.refuse(w, http.StatusRequestEntityTooLarge, "payload too large", "payload too large", ns+"/"+name)
		return
	case errors.Is(err, errOverBudget):
		h.refuse(w, http.StatusServiceUnavailable, "too many webhook bytes at once", "webhook bytes in flight over the limit", ns+"/"+name)
		return
	case err != nil:
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if ev.Type == "pull_request" && ev.PullRequest != nil && ev.PullRequest.Base == src.Spec.Branch && h.PreviewEvents != nil && src.Spec.PreviewPullRequests {
		select {
		case h.PreviewEvents <- event.GenericEvent{Object: src}:
		default: // a preview pass is queued already
		}
	}
	if ev.Type == "pull_request" || ev.Type == "status" {
		// An approval pull request was merged or closed, or an agent reported: the
		// namespace's pipelines look again now rather than at their next poll.
		if err := h.requestPipelines(ctx, ns); err != nil {
			http.Error(w, "could not trigger the pipelines", http.StatusInternalServerError)
			return
		}
		log.V(1).Info("forge event received, reconciling pipelines", "gitsource", ns+"/"+name, "event", ev.Type, "action", ev.Action)
		w.WriteHeader(http.StatusOK)
		return
	}
	if ev.Type != "push" || ev.Ref != "refs/heads/"+src.Spec.Branch {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := RequestReconcile(ctx, h.Client, src, h.Clock.Now()); err != nil {
		http.Error(w, "could not trigger a fetch", http.StatusInternalServerError)
		return
	}
	log.Info("push received, fetching", "gitsource", ns+"/"+name, "after", ev.After)
	w.WriteHeader(http.StatusOK)
}

// WebhookBodyTimeout bounds the time a request may take to send its body once it holds a
// slot.
const WebhookBodyTimeout = 30 * time.Second

// errRefused says parse answered the request already.
var errRefused = errors.New("refused")

// parse checks and parses the body within the limits: a free slot, and room for its
// bytes among the bodies in flight; otherwise it answers 503 and returns errRefused.
func (h *WebhookReceiver) parse(w http.ResponseWriter, r *http.Request, secret []byte) (*gitsource.WebhookEvent, error) {
	src := strings.TrimPrefix(r.URL.Path, WebhookPathPrefix)
	if !h.gate.tryEnter() {
		h.refuse(w, http.StatusServiceUnavailable, "too many webhooks at once", "too many webhooks at once", src)
		return nil, errRefused
	}
	defer h.gate.leave()
	// A slow sender keeps its slot and bytes no longer than this.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(WebhookBodyTimeout))
	body := &budgetedBody{ReadCloser: r.Body, budget: h.gate.bytes}
	if r.ContentLength >= 0 {
		if !h.gate.bytes.tryReserve(r.ContentLength) {
			h.refuse(w, http.StatusServiceUnavailable, "too many webhook bytes at once", "webhook bytes in flight over the limit", src)
			return nil, errRefused
		}
		body.known, body.reserved = true, r.ContentLength
	}
	defer body.done()
	r.Body = body
	return h.Parser.ParseWebhook(r, secret)
}

// requestPipelines asks every Pipeline of the namespace to reconcile now.
func (h *WebhookReceiver) requestPipelines(ctx context.Context, ns string) error {
	var list fleetv1alpha1.PipelineList
	if err := h.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	now := h.Clock.Now()
	for i := range list.Items {
		if err := RequestReconcile(ctx, h.Client, &list.Items[i], now); err != nil {
			return fmt.Errorf("pipeline %s: %w", list.Items[i].Name, err)
		}
	}
	return nil
}

// RequestReconcile sets the reconcile.fluxcd.io/requestedAt annotation, as `flux
// reconcile` and `gitfleet` commands do.
func RequestReconcile(ctx context.Context, c client.Client, obj client.Object, now time.Time) error {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	fleetv1alpha1.RequestReconcile(obj, now)
	return c.Patch(ctx, obj, patch)
}

// webhookServer runs the receiver until ctx ends.
type webhookServer struct {
	addr    string
	handler http.Handler
}

// Start implements manager.Runnable.
func (s *webhookServer) Start(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle(WebhookPathPrefix, s.handler)
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	ctrl.Log.WithName("webhook").Info("receiving forge webhooks", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NeedLeaderElection is false: every replica may take webhooks; they only set annotations.
func (s *webhookServer) NeedLeaderElection() bool { return false }

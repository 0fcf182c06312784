package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
)

// Timing of the commit status poster.
const (
	postTimeout    = 20 * time.Second
	postRetryFirst = time.Second
	postRetryMax   = time.Minute
)

// desiredStatus is a commit status to post.
type desiredStatus struct {
	sha         string
	state       gitsource.CommitState
	description string
}

func pendingStatus(objects int) desiredStatus {
	return desiredStatus{state: gitsource.StatePending, description: fmt.Sprintf("applying %d objects", objects)}
}

func driftStatus(objects int) desiredStatus {
	return desiredStatus{state: gitsource.StateFailure,
		description: fmt.Sprintf("drift: %d %s", objects, v1alpha1.Plural(objects, "object differs", "objects differ"))}
}

// statusReporter posts the commit statuses of one ClusterSync in the background, in
// order, so that a slow or failing forge never holds up applying. It posts only when the
// state or description changes for a commit (also across restarts: the first post on a
// commit reads the forge's current status first). While the forge fails, only the
// newest status is kept and retried with backoff until the forge answers.
type statusReporter struct {
	nn    types.NamespacedName
	clock clock.PassiveClock

	mu        sync.Mutex
	forge     gitsource.Forge
	forgeKey  string
	context   string
	targetURL string
	queue     []desiredStatus
	posted    map[string]desiredStatus // by sha
	checked   map[string]bool          // shas whose status on the forge was read
	lastErr   error
	onError   func(err error, retryIn time.Duration)
	onRecover func()

	wake   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func newStatusReporter(nn types.NamespacedName, c clock.PassiveClock) *statusReporter {
	s := &statusReporter{nn: nn, clock: c, posted: map[string]desiredStatus{}, checked: map[string]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// configure sets the forge client; a nil forge drops what is queued.
func (s *statusReporter) configure(f gitsource.Forge, key, context, targetURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != s.forgeKey {
		s.posted, s.checked = map[string]desiredStatus{}, map[string]bool{}
	}
	s.forge, s.forgeKey, s.context, s.targetURL = f, key, context, targetURL
	if f == nil {
		s.queue = nil
	}
}

// set queues st unless it is what was last queued or posted for its commit.
func (s *statusReporter) set(st desiredStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forge == nil || st.sha == "" {
		return
	}
	last, ok := s.posted[st.sha]
	if n := len(s.queue); n > 0 {
		last, ok = s.queue[n-1], true
	}
	if ok && last == st {
		return
	}
	s.queue = append(s.queue, st)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *statusReporter) stop() { s.closed.Do(func() { close(s.done) }) }

func (s *statusReporter) run() {
	backoff := postRetryFirst
	for {
		s.mu.Lock()
		var next *desiredStatus
		if len(s.queue) > 0 {
			next = &s.queue[0]
		}
		forge, ctxName, target := s.forge, s.context, s.targetURL
		s.mu.Unlock()
		if next == nil {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		st := *next
		err := s.post(forge, ctxName, target, st)
		s.mu.Lock()
		if err != nil {
			// Keep only the newest status; retry it later: when a rate limit resets, or
			// with backoff.
			s.queue = s.queue[len(s.queue)-1:]
			wait, limited := gitsource.RateLimitDelay(err, s.clock.Now())
			// People hear of the first failure, and again when it turns into (or out of)
			// a rate limit.
			tell := s.lastErr == nil || limited != errors.Is(s.lastErr, gitsource.ErrRateLimited)
			s.lastErr = err
			onErr := s.onError
			s.mu.Unlock()
			if !limited {
				wait = backoff
				backoff = min(backoff*2, postRetryMax)
			}
			if tell && onErr != nil {
				onErr(err, wait)
			}
			select {
			case <-time.After(wait):
			case <-s.done:
				return
			}
			continue
		}
		backoff = postRetryFirst
		if len(s.queue) > 0 && s.queue[0] == st {
			s.queue = s.queue[1:]
		}
		s.posted[st.sha] = st
		recovered := s.lastErr != nil
		s.lastErr = nil
		onRec := s.onRecover
		s.mu.Unlock()
		if recovered && onRec != nil {
			onRec()
		}
	}
}

func (s *statusReporter) post(f gitsource.Forge, ctxName, target string, st desiredStatus) error {
	if f == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
	defer cancel()
	s.mu.Lock()
	checked := s.checked[st.sha]
	s.mu.Unlock()
	if !checked {
		// After a restart, the forge may already show this status.
		if cs, err := f.CombinedStatus(ctx, st.sha); err == nil {
			s.mu.Lock()
			s.checked[st.sha] = true
			s.mu.Unlock()
			for _, have := range cs.Statuses {
				if have.Context == ctxName && have.State == st.state && have.Description == st.description && have.TargetURL == target {
					return nil
				}
			}
		} else if !errors.Is(err, gitsource.ErrNotFound) {
			return fmt.Errorf("reading the statuses of %s: %w", v1alpha1.ShortSHA(st.sha), err)
		}
	}
	err := f.SetStatus(ctx, st.sha, gitsource.CommitStatus{Context: ctxName, State: st.state, Description: st.description, TargetURL: target})
	if err != nil {
		return fmt.Errorf("posting status %s on %s: %w", st.state, v1alpha1.ShortSHA(st.sha), err)
	}
	return nil
}

// postStatus queues a commit status on the pass's commit, after making sure the forge
// client matches the spec. Forge problems are logged and reported as events; they never
// fail the pass.
func (r *Reconciler) postStatus(ctx context.Context, p *pass, st desiredStatus) {
	if !r.configureForge(ctx, p) {
		return
	}
	st.sha = p.st.commit
	p.st.reporter.set(st)
}

// configureForge gives the reporter a forge client for the ClusterSync's forge spec; it
// returns false when there is no forge (type none, or not usable).
func (r *Reconciler) configureForge(ctx context.Context, p *pass) bool {
	cs, rep := p.cs, p.st.reporter
	fs := cs.Spec.Forge
	if fs == nil || fs.Type == "" || fs.Type == v1alpha1.ForgeNone {
		rep.configure(nil, "", "", "")
		return false
	}
	repo := fs.Repository
	if repo == "" {
		var err error
		if repo, err = gitsource.RepositoryFromURL(cs.Spec.URL); err != nil {
			ctrl.LoggerFrom(ctx).Info("commit statuses disabled: set spec.forge.repository", "error", err.Error())
			rep.configure(nil, "", "", "")
			return false
		}
	}
	token := ""
	if fs.SecretRef != nil {
		s, err := r.secret(ctx, cs.Namespace, fs.SecretRef.Name)
		if err == nil {
			token, err = gitsource.TokenFromSecret(s)
		}
		if err != nil {
			ctrl.LoggerFrom(ctx).Info("commit statuses disabled: forge credentials unusable", "error", err.Error())
			rep.configure(nil, "", "", "")
			return false
		}
	}
	key := strings.Join([]string{string(fs.Type), fs.APIURL, repo, tokenDigest(token), cs.Spec.ClusterName}, "|")
	rep.mu.Lock()
	same := rep.forgeKey == key && rep.forge != nil
	rep.mu.Unlock()
	if same {
		rep.mu.Lock()
		rep.targetURL = fs.TargetURL
		rep.mu.Unlock()
		return true
	}
	f, err := r.NewForge(fs.Type, fs.APIURL, repo, token)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("commit statuses disabled: forge client", "error", err.Error())
		rep.configure(nil, "", "", "")
		return false
	}
	rep.configure(f, key, v1alpha1.ClusterStatusContext(cs.Spec.ClusterName), fs.TargetURL)
	cs0 := cs.DeepCopy()
	rep.mu.Lock()
	rep.onError = func(err error, retryIn time.Duration) {
		if errors.Is(err, gitsource.ErrRateLimited) {
			r.event(cs0, "Warning", v1alpha1.ForgeRateLimitedReason, "PostStatus", "commit status not posted: the forge's rate limit is exhausted; retrying in %s: %s",
				retryIn.Round(time.Second), oneLine(err.Error()))
			return
		}
		r.event(cs0, "Warning", v1alpha1.ForgeUnavailableReason, "PostStatus", "commit status not posted yet, retrying: %s", oneLine(err.Error()))
	}
	rep.onRecover = func() {
		r.event(cs0, "Normal", "ForgeAvailable", "PostStatus", "commit statuses posted again")
	}
	rep.mu.Unlock()
	return true
}

// reconcileCommitStatus posts the commit status that the pass's outcome calls for.
func (r *Reconciler) reconcileCommitStatus(ctx context.Context, p *pass) error {
	state, desc, ok := commitStatus(r.observe(p))
	if !ok {
		return nil
	}
	r.postStatus(ctx, p, desiredStatus{state: gitsource.CommitState(state), description: desc})
	return nil
}

func tokenDigest(token string) string {
	if token == "" {
		return ""
	}
	return fmt.Sprintf("%x", fnv32(token))
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// defaultForgeFactory is gitsource.NewForge.
func defaultForgeFactory(typ v1alpha1.ForgeType, apiURL, repository, token string) (gitsource.Forge, error) {
	return gitsource.NewForge(typ, apiURL, repository, token)
}

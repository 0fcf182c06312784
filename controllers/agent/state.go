package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent/apply"
	"github.com/gitfleet/gitfleet/controllers/agent/drift"
	"github.com/gitfleet/gitfleet/controllers/agent/health"
	"github.com/gitfleet/gitfleet/controllers/agent/manifest"
	"github.com/gitfleet/gitfleet/controllers/internal/outcome"
)

// syncState is what the agent remembers of one ClusterSync between passes: the last
// commit and its objects, what the last apply returned for each object (the base of
// drift detection), the watches, and the reporters. It is lost on restart; the first
// pass after a restart applies everything again (a no-op for the API server when
// nothing changed) and rebuilds it.
type syncState struct {
	nn      types.NamespacedName
	ownerID string
	dir     string
	watches *watchSet

	// Source.
	lastFetch      time.Time
	fetchedGen     int64
	requestedAt    string
	commit         string
	revision       string
	sourceRevision string
	objects        *manifest.Set
	fetchErr       error

	// Apply.
	appliedGen      int64
	appliedCommit   string
	appliedRevision string
	appliedSource   string
	appliedAt       time.Time // last time an apply changed something (health timeout base)
	lastAppliedTime time.Time
	applyComplete   bool // the last full apply of commit left nothing failed or refused
	pruneComplete   bool // the last prune deleted everything it had to
	records         map[manifest.Key]*record
	results         map[manifest.Key]apply.Result // last result per object (full apply, prune)
	inventory       map[manifest.Key]v1alpha1.ObjectReference
	inventoryLoaded bool

	// Drift and health.
	drifted     map[manifest.Key][]drift.Diff
	corrected   []driftEntry
	correctedAt time.Time
	health      healthSummary

	reporter *statusReporter
	hub      *hubReporter
}

// record is what gitfleet applied for one object.
type record struct {
	gvr     schema.GroupVersionResource
	applied *unstructured.Unstructured // the API server's answer, without managed fields
	owned   *fieldpath.Set
	adopted bool
	desired *unstructured.Unstructured // the object in Git
	// failed is true when the newest apply of the object failed (e.g. a field conflict
	// under conflicts: Report): drift still compares the live object with what was last
	// applied, so a change made since is reported, but health and "unchanged" skip it.
	failed bool
}

// driftEntry is one drifted field of one object.
type driftEntry struct {
	key  manifest.Key
	ref  v1alpha1.ObjectReference
	diff drift.Diff
}

// healthSummary is the readiness of the inventory.
type healthSummary struct {
	total    int
	ready    int
	notReady []objectHealth // InProgress, Terminating, NotFound
	failed   []objectHealth // Failed
}

type objectHealth struct {
	key manifest.Key
	res health.Result
}

func (h healthSummary) allReady() bool { return h.total == h.ready }

func newSyncState(nn types.NamespacedName, workDir string) *syncState {
	return &syncState{
		nn:        nn,
		ownerID:   OwnerLabelValue(nn),
		dir:       filepath.Join(workDir, nn.Namespace, nn.Name),
		records:   map[manifest.Key]*record{},
		results:   map[manifest.Key]apply.Result{},
		inventory: map[manifest.Key]v1alpha1.ObjectReference{},
		drifted:   map[manifest.Key][]drift.Diff{},
	}
}

func (st *syncState) close() {
	if st.watches != nil {
		st.watches.stop()
	}
	if st.reporter != nil {
		st.reporter.stop()
	}
}

// state returns the in-memory state of a ClusterSync, creating it on first use.
func (r *Reconciler) state(cs *v1alpha1.ClusterSync) *syncState {
	nn := types.NamespacedName{Namespace: cs.Namespace, Name: cs.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.states[nn]
	if st == nil {
		st = newSyncState(nn, r.Options.WorkDir)
		st.watches = newWatchSet(r.Dynamic, v1alpha1.ClusterSyncLabel+"="+st.ownerID,
			func(schema.GroupVersionResource, manifest.Key) { r.enqueue(nn) })
		st.reporter = newStatusReporter(nn, r.Clock)
		st.hub = &hubReporter{}
		r.states[nn] = st
	}
	return st
}

// OwnerLabelValue is the value of the label fleet.gitfleet.dev/cluster-sync on the
// objects a ClusterSync applied: "<namespace>.<name>", or, when that is longer than a
// label value may be (63), its first 54 characters, a dash and 8 hex digits of its
// SHA-256.
func OwnerLabelValue(nn types.NamespacedName) string {
	v := nn.Namespace + "." + nn.Name
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	prefix := v[:54]
	for len(prefix) > 0 && !alnum(prefix[len(prefix)-1]) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "-" + hex.EncodeToString(sum[:4])
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// owner returns the labels and the ownership test of a ClusterSync's objects.
func (st *syncState) owner() apply.Owner { return ownerOf(st.ownerID) }

// ownerOf returns the labels and the ownership test of the objects of the ClusterSync
// whose OwnerLabelValue is id.
func ownerOf(id string) apply.Owner {
	return apply.Owner{
		Labels: map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.ClusterSyncLabel: id},
		Label:  v1alpha1.ClusterSyncLabel,
		Value:  id,
	}
}

// pass holds what the steps of one Reconcile saw and did.
type pass struct {
	cs *v1alpha1.ClusterSync
	// orig is cs as read (and as marked Reconciling), the base of the status patch end
	// makes.
	orig    *v1alpha1.ClusterSync
	end     *outcome.End
	st      *syncState
	now     time.Time
	requeue time.Duration
	suspend bool

	// reconcileSource
	fetched bool
	// sourceErr is a fetch or load failure, of one of outcome's kinds: it gives the
	// reason, and Stalled=True when stalling. It does not end the pass (what was applied
	// is still watched for drift, the hub still gets heartbeats); the fetch is retried at
	// the interval.
	sourceErr error

	// reconcileApply
	applied      bool // a full apply ran
	applyResults []apply.Result
	transient    error
	intended     map[manifest.Key]bool // inventory entries stored before their first apply

	// reconcilePrune
	pruneResults []apply.Result
	pruneSkipped string // why nothing was pruned

	// reconcileDrift
	driftFound     []driftEntry
	driftCorrected []driftEntry
}

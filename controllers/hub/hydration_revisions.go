package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/hydrate"
)

// The fleet at an older dry revision: the later stages of a pipeline are rendered at the
// revision they hold, from that revision's snapshot (restored from the source branch's
// history when the hub lost it) and fleet objects.

// fleetAt replaces f's Placements and Overrides of src with those the revision in root
// declares (see placementsAt, overridesAt), when src has a fleetPath.
func fleetAt(src *fleetv1alpha1.GitSource, f *hydrate.Fleet, root string) error {
	if src.Spec.FleetPath == "" {
		return nil
	}
	at, err := hydrate.LoadFleetDir(root, src.Spec.FleetPath)
	if err != nil {
		return err
	}
	f.Placements = placementsAt(src, at.Placements, f.Placements)
	f.Overrides = overridesAt(src, at.Overrides, f.Overrides)
	return nil
}

// revisionPlan is the hydration of the fleet at one dry revision.
type revisionPlan struct {
	fleet *hydrate.Fleet
	plan  *hydrate.Plan
	err   error
}

// planAt hydrates the fleet at an older revision, for the later stages that hold it: the
// revision's sources (charts, kustomizations, files) and, when the source has a fleetPath,
// the revision's Placements and Overrides, so that neither an app change nor a placement
// or override change reaches a stage before it is promoted. MemberClusters and Pipelines
// are today's (they are facts about the fleet, not content of a release).
func (r *HydrationReconciler) planAt(ctx context.Context, src *fleetv1alpha1.GitSource, head *hydrate.Fleet, rev string) *revisionPlan {
	root, err := r.Snapshots.Require(src.Namespace, src.Name, rev)
	if errors.Is(err, ErrRevisionGone) {
		root, err = r.restoreRevision(ctx, src, rev, err)
	}
	if err != nil {
		return &revisionPlan{err: err}
	}
	return r.planAtRoot(ctx, src, head, root, rev)
}

// restoreRetry is how long a revision that could not be fetched again is not tried again.
const restoreRetry = 5 * time.Minute

// restoreRevision brings back the snapshot of a revision that a stage holds but the hub
// no longer has (it restarted on an empty data dir, e.g. an emptyDir volume): it reads the
// recent history of the source branch and stores the revision's files again. gone is the
// error to return, with the reason, when the revision is not there (rewritten away, or
// older than gitsource.DefaultHistoryDepth commits).
func (r *HydrationReconciler) restoreRevision(ctx context.Context, src *fleetv1alpha1.GitSource, rev string, gone error) (string, error) {
	key := src.Namespace + "/" + src.Name + "@" + rev
	if at, ok := r.unrestorable.Load(key); ok && r.Clock.Since(at.(time.Time)) < restoreRetry {
		return "", gone
	}
	start := r.Clock.Now()
	url, auth, err := sourceAccess(ctx, r.Client, src)
	if err != nil {
		return "", err
	}
	hist, err := gitsource.LoadHistory(ctx, url, src.Spec.Branch, auth, 0)
	if err != nil {
		return "", fmt.Errorf("%w; reading %s again failed: %w", gone, src.Spec.Branch, err)
	}
	if err := os.MkdirAll(r.Snapshots.Root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(r.Snapshots.Root, ".restore-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := hist.Export(rev, tmp); err != nil {
		r.unrestorable.Store(key, r.Clock.Now())
		return "", fmt.Errorf("%w; it is not in the last %d commits of %s either", gone, len(hist.Commits), src.Spec.Branch)
	}
	root, err := r.Snapshots.Store(src.Namespace, src.Name, rev, tmp)
	if err != nil {
		return "", err
	}
	r.unrestorable.Delete(key)
	ctrl.LoggerFrom(ctx).Info("restored a revision a stage holds from the source branch's history", "revision", fleetv1alpha1.ShortSHA(rev), "duration", r.Clock.Since(start).Round(time.Millisecond).String())
	return root, nil
}

// planAtRoot is planAt for the files of rev in root (a snapshot, or the checkout of a pull
// request being previewed).
func (r *HydrationReconciler) planAtRoot(ctx context.Context, src *fleetv1alpha1.GitSource, head *hydrate.Fleet, root, rev string) *revisionPlan {
	f := *head
	f.Root, f.SourceCommit = root, rev
	if err := fleetAt(src, &f, root); err != nil {
		return &revisionPlan{err: fmt.Errorf("fleet objects of revision %s: %w", fleetv1alpha1.ShortSHA(rev), err)}
	}
	return &revisionPlan{fleet: &f, plan: hydrate.Hydrate(ctx, &f, r.Renderer)}
}

// placementsAt returns the placements of src as a revision declares them, with the live
// placements' status (their current decisions keep scheduling stable), plus the live
// placements of src that were not applied from its fleetPath (made by hand), sorted by
// name.
func placementsAt(src *fleetv1alpha1.GitSource, declared, live []fleetv1alpha1.Placement) []fleetv1alpha1.Placement {
	status := map[string]fleetv1alpha1.PlacementStatus{}
	for _, p := range live {
		status[p.Name] = p.Status
	}
	var out []fleetv1alpha1.Placement
	for _, p := range declared {
		if p.Spec.SourceRef.Name != src.Name {
			continue
		}
		p.Namespace = src.Namespace
		p.Labels = withFleetSourceLabel(p.Labels, src.Name)
		p.Status = status[p.Name]
		out = append(out, p)
	}
	for _, p := range live {
		if p.Labels[fleetv1alpha1.FleetSourceLabel] != src.Name {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return dedupeByName(out, func(p fleetv1alpha1.Placement) string { return p.Name })
}

// overridesAt returns the overrides a revision declares plus the live ones not applied
// from src's fleetPath (by hand, or from another GitSource), sorted by name.
func overridesAt(src *fleetv1alpha1.GitSource, declared, live []fleetv1alpha1.Override) []fleetv1alpha1.Override {
	var out []fleetv1alpha1.Override
	for _, o := range declared {
		o.Namespace = src.Namespace
		o.Labels = withFleetSourceLabel(o.Labels, src.Name)
		out = append(out, o)
	}
	for _, o := range live {
		if o.Labels[fleetv1alpha1.FleetSourceLabel] != src.Name {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return dedupeByName(out, func(o fleetv1alpha1.Override) string { return o.Name })
}

// withFleetSourceLabel returns labels plus fleetv1alpha1.FleetSourceLabel=source, as applying the
// object from the fleetPath sets them (a copy: declared objects share their maps).
func withFleetSourceLabel(labels map[string]string, source string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[fleetv1alpha1.FleetSourceLabel] = source
	return out
}

// dedupeByName keeps the first of each name in a sorted list (a declared object wins over
// one made by hand with the same name: applying the revision will take it over).
func dedupeByName[T any](sorted []T, name func(T) string) []T {
	out := sorted[:0]
	for i, x := range sorted {
		if i > 0 && name(x) == name(sorted[i-1]) {
			continue
		}
		out = append(out, x)
	}
	return out
}

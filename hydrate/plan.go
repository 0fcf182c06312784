package hydrate

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/render"
	"github.com/gitfleet/gitfleet/scheduler"
	"github.com/gitfleet/gitfleet/scheduler/property"
)

// DefaultStage is the stage of placements without a pipeline; its branch is
// DefaultBranch.
const DefaultStage = "default"

// DefaultBranch is the branch of the default stage, env/default.
const DefaultBranch = fleetv1alpha1.EnvBranchPrefix + DefaultStage

// Fleet is everything one source's hydration reads.
type Fleet struct {
	// Root is the checkout (snapshot) of the source at SourceCommit.
	Root string
	// SourceURL, SourceBranch and SourceCommit identify the dry revision.
	SourceURL, SourceBranch, SourceCommit string
	// Placements of the source, Overrides and Pipelines of the namespace, and the
	// MemberClusters of the fleet.
	Placements []fleetv1alpha1.Placement
	Overrides  []fleetv1alpha1.Override
	Pipelines  []fleetv1alpha1.Pipeline
	Clusters   []fleetv1alpha1.MemberCluster
	// Now is the scheduling time (heartbeat checks).
	Now time.Time
	// Workers bounds concurrent renders; 0 means GOMAXPROCS.
	Workers int
	// Memo, when set, reuses the renders of earlier passes whose inputs did not change.
	Memo *Memo
}

// Revision is the dry revision as status and annotations show it.
func (f *Fleet) Revision() string { return f.SourceBranch + "@sha1:" + f.SourceCommit }

// Plan is the outcome of hydrating a fleet.
type Plan struct {
	// Placements by name.
	Placements map[string]*PlacementPlan
	// Branches by branch name, each the desired content of one environment branch.
	Branches map[string]*Branch
}

// Failures lists what did not render, one line per placement ("web: …") or placement
// and cluster ("web on eu-1: …"), sorted.
func (p *Plan) Failures() []string {
	var out []string
	for name, pp := range p.Placements {
		if pp.Err != nil {
			out = append(out, fmt.Sprintf("%s: %v", name, pp.Err))
		}
		for c, cp := range pp.Clusters {
			if cp.Err != nil {
				out = append(out, fmt.Sprintf("%s on %s: %v", name, c, cp.Err))
			}
		}
	}
	sort.Strings(out)
	return out
}

// PlacementPlan is what happened to one placement.
type PlacementPlan struct {
	Placement *fleetv1alpha1.Placement
	Schedule  scheduler.Result
	// Err is a placement-wide problem (e.g. its pipeline is missing); nothing of the
	// placement is written then, and the branches keep its last good files.
	Err error
	// Clusters by name, for every selected cluster.
	Clusters map[string]*ClusterPlan
}

// ClusterPlan is one placement on one cluster.
type ClusterPlan struct {
	Cluster string
	// Stage and Branch the cluster belongs to; empty when no stage selects it.
	Stage, Branch string
	// Objects rendered, when Err is nil.
	Objects []render.Object
	// Err is why rendering failed; the branch keeps the last good files of the pair.
	Err error
}

// Branch is the desired content of one environment branch.
type Branch struct {
	Name, Stage string
	// Pipelines whose stage maps to this branch (sorted).
	Pipelines []string
	// Pairs are the (cluster, placement) folders this branch holds.
	Pairs []Pair
	// Files are the rendered files of pairs that rendered, by path.
	Files map[string][]byte
	// Failed are the pairs whose last good files must be kept from the current tree.
	Failed []Pair
}

// Pair is one placement's folder for one cluster.
type Pair struct{ Cluster, Placement string }

// Dir is the pair's folder in the branch, clusters/<cluster>/<placement>.
func (p Pair) Dir() string { return render.PlacementDir(p.Cluster, p.Placement) }

// Hydrate schedules and renders every placement of the fleet. An error of one placement
// or one cluster is recorded in the plan and never stops the others. It runs in phases:
// schedule the placements, load their sources, pair each placement with the clusters
// (and branches) it goes to, render the pairs, and assemble the branches.
func Hydrate(ctx context.Context, f *Fleet, r *render.Renderer) *Plan {
	h := newHydration(f)
	plan := &Plan{Placements: map[string]*PlacementPlan{}, Branches: map[string]*Branch{}}
	loads := h.schedule(plan)
	h.load(ctx, r, loads)
	jobs := h.pair(loads)
	h.render(ctx, jobs)
	plan.assemble(jobs)
	return plan
}

// hydration is one Hydrate call: the fleet, its pipelines and clusters by name, and how
// many renders may run at once.
type hydration struct {
	f         *Fleet
	pipelines map[string]*fleetv1alpha1.Pipeline
	clusters  map[string]*fleetv1alpha1.MemberCluster
	workers   int
}

// placementLoad is a scheduled placement and its source, once loaded.
type placementLoad struct {
	pp   *PlacementPlan
	keys placementKeys
	in   render.Input
	src  *render.Source
	err  error
}

// pairJob is one placement on one cluster of a branch. It is rendered when src is set;
// without src (its source failed to load) the branch keeps the pair's last good files.
type pairJob struct {
	pp  *PlacementPlan
	cp  *ClusterPlan
	src *render.Source
	rc  render.Cluster
	key string
}

func newHydration(f *Fleet) *hydration {
	h := &hydration{f: f, pipelines: map[string]*fleetv1alpha1.Pipeline{}, clusters: map[string]*fleetv1alpha1.MemberCluster{}, workers: f.Workers}
	for i := range f.Pipelines {
		h.pipelines[f.Pipelines[i].Name] = &f.Pipelines[i]
	}
	for i := range f.Clusters {
		h.clusters[f.Clusters[i].Name] = &f.Clusters[i]
	}
	if h.workers <= 0 {
		h.workers = runtime.GOMAXPROCS(0)
	}
	return h
}

// schedule records a PlacementPlan for every placement and schedules those that are not
// suspended and whose pipeline exists (a missing pipeline or a scheduling error is the
// placement's Err). It returns the scheduled placements, to be loaded.
func (h *hydration) schedule(plan *Plan) []*placementLoad {
	var loads []*placementLoad
	snapshot := scheduler.NewFleet(h.f.Clusters)
	for i := range h.f.Placements {
		p := &h.f.Placements[i]
		pp := &PlacementPlan{Placement: p, Clusters: map[string]*ClusterPlan{}}
		plan.Placements[p.Name] = pp
		if p.Spec.Suspend {
			continue
		}
		if p.Spec.PipelineRef != nil && h.pipelines[p.Spec.PipelineRef.Name] == nil {
			pp.Err = fmt.Errorf("pipeline %q not found", p.Spec.PipelineRef.Name)
			continue
		}
		res, err := scheduler.Schedule(scheduler.Input{
			Policy: p.EffectivePolicy(), Fleet: snapshot, Current: p.Status.Decisions,
			PreviousPolicyHash: p.Status.SchedulingPolicyHash, Now: h.f.Now,
		})
		if err != nil {
			pp.Err = err
			continue
		}
		pp.Schedule = res
		overrides := matchingOverrides(p, h.f.Overrides)
		loads = append(loads, &placementLoad{pp: pp, keys: newPlacementKeys(p, overrides), in: render.Input{Root: h.f.Root, Placement: p.Name, Spec: &p.Spec,
			Overrides: overrides, SourceRevision: h.f.Revision()}})
	}
	return loads
}

// load reads the source of every scheduled placement (its chart, kustomization or
// directory, values and overrides) on up to h.workers goroutines.
func (h *hydration) load(ctx context.Context, r *render.Renderer, loads []*placementLoad) {
	parallel(len(loads), h.workers, func(i int) {
		loads[i].src, loads[i].err = r.Load(ctx, loads[i].in)
	})
}

// pair records a ClusterPlan for every selected cluster of every loaded placement, with
// the stage and branch the cluster belongs to, and returns a job for each pair that has
// a branch: with the cluster's facts and the memo key when the source loaded, else
// (the load error is the pair's Err) only to keep the pair's last good files.
func (h *hydration) pair(loads []*placementLoad) []pairJob {
	var jobs []pairJob
	facts := map[string]string{} // facts hash by cluster
	for _, l := range loads {
		p := l.pp.Placement
		var pipe *fleetv1alpha1.Pipeline
		if p.Spec.PipelineRef != nil {
			pipe = h.pipelines[p.Spec.PipelineRef.Name]
		}
		for _, name := range l.pp.Schedule.Selected {
			mc := h.clusters[name]
			if mc == nil {
				continue
			}
			stage, branch := stageOf(pipe, mc)
			cp := &ClusterPlan{Cluster: name, Stage: stage, Branch: branch, Err: l.err}
			l.pp.Clusters[name] = cp
			switch {
			case branch == "":
			case l.err != nil:
				jobs = append(jobs, pairJob{pp: l.pp, cp: cp})
			default:
				jobs = append(jobs, l.job(cp, mc, facts))
			}
		}
	}
	return jobs
}

// job is the render job of the loaded placement on cluster mc: its facts (with its
// replica share) and its memo key. facts caches the facts hash of each cluster.
func (l *placementLoad) job(cp *ClusterPlan, mc *fleetv1alpha1.MemberCluster, facts map[string]string) pairJob {
	var replicas *int32
	if n, ok := l.pp.Schedule.Replicas[mc.Name]; ok {
		replicas = &n
	}
	rc := ClusterFacts(mc, replicas)
	fh, ok := facts[mc.Name]
	if !ok {
		fh = factsHash(rc)
		facts[mc.Name] = fh
	}
	return pairJob{pp: l.pp, cp: cp, src: l.src, rc: rc, key: l.keys.pairKey(l.src.ContentKey(), rc, fh)}
}

// render renders every job whose source loaded, on up to h.workers goroutines, reusing
// the memo's objects of a pair whose key did not change and storing the new ones; the
// memo then forgets the pairs this pass did not see.
func (h *hydration) render(ctx context.Context, jobs []pairJob) {
	memo := h.f.Memo
	pass := memo.nextPass()
	parallel(len(jobs), h.workers, func(i int) {
		j := jobs[i]
		if j.src == nil {
			return
		}
		pair := j.pp.Placement.Namespace + "/" + j.pp.Placement.Name + "/" + j.cp.Cluster
		if objs, ok := memo.get(pair, j.key, pass); ok {
			j.cp.Objects = objs
			return
		}
		j.cp.Objects, j.cp.Err = j.src.Render(ctx, j.rc)
		if j.cp.Err == nil {
			memo.put(pair, j.key, j.cp.Objects, pass)
		}
	})
	memo.sweep(pass)
}

// assemble lays the jobs out as branches: each branch's pipelines, its pairs, the files
// of the pairs that rendered and the pairs that failed, sorted by folder.
func (p *Plan) assemble(jobs []pairJob) {
	for _, j := range jobs {
		b := p.branch(j.cp.Branch, j.cp.Stage)
		if j.pp.Placement.Spec.PipelineRef != nil {
			b.addPipeline(j.pp.Placement.Spec.PipelineRef.Name)
		}
		pair := Pair{Cluster: j.cp.Cluster, Placement: j.pp.Placement.Name}
		b.Pairs = append(b.Pairs, pair)
		if j.cp.Err != nil {
			b.Failed = append(b.Failed, pair)
			continue
		}
		for _, o := range j.cp.Objects {
			b.Files[o.FilePath(j.cp.Cluster, pair.Placement)] = o.YAML
		}
	}
	for _, b := range p.Branches {
		sort.Slice(b.Pairs, func(i, k int) bool { return b.Pairs[i].Dir() < b.Pairs[k].Dir() })
		sort.Slice(b.Failed, func(i, k int) bool { return b.Failed[i].Dir() < b.Failed[k].Dir() })
	}
}

// parallel runs fn(0..n-1) on up to workers goroutines.
func parallel(n, workers int, fn func(int)) {
	var wg sync.WaitGroup
	ch := make(chan int)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

func (p *Plan) branch(name, stage string) *Branch {
	b := p.Branches[name]
	if b == nil {
		b = &Branch{Name: name, Stage: stage, Files: map[string][]byte{}}
		p.Branches[name] = b
	}
	return b
}

func (b *Branch) addPipeline(name string) {
	i := sort.SearchStrings(b.Pipelines, name)
	if i < len(b.Pipelines) && b.Pipelines[i] == name {
		return
	}
	b.Pipelines = append(b.Pipelines, "")
	copy(b.Pipelines[i+1:], b.Pipelines[i:])
	b.Pipelines[i] = name
}

// stageOf returns the first stage of the pipeline whose selector matches the cluster, or
// the default stage without a pipeline. A cluster no stage selects gets no branch.
func stageOf(pipe *fleetv1alpha1.Pipeline, mc *fleetv1alpha1.MemberCluster) (stage, branch string) {
	if pipe == nil {
		return DefaultStage, DefaultBranch
	}
	for _, s := range pipe.Spec.Stages {
		sel, err := metav1.LabelSelectorAsSelector(&s.ClusterSelector)
		if err != nil {
			continue
		}
		if sel.Matches(labels.Set(mc.Labels)) {
			return s.Name, s.StageBranch()
		}
	}
	return "", ""
}

// StageOf is stageOf for callers outside the package (status, CLI).
func StageOf(pipe *fleetv1alpha1.Pipeline, mc *fleetv1alpha1.MemberCluster) (stage, branch string) {
	return stageOf(pipe, mc)
}

// matchingOverrides returns the Override objects whose placementSelector selects the
// placement, ordered by name.
func matchingOverrides(p *fleetv1alpha1.Placement, all []fleetv1alpha1.Override) []fleetv1alpha1.Override {
	var out []fleetv1alpha1.Override
	for _, o := range all {
		sel, err := metav1.LabelSelectorAsSelector(&o.Spec.PlacementSelector)
		if err != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// MatchingOverrides is matchingOverrides for the Override status.
func MatchingOverrides(p *fleetv1alpha1.Placement, all []fleetv1alpha1.Override) []fleetv1alpha1.Override {
	return matchingOverrides(p, all)
}

// ClusterFacts is what rendering may know of a cluster: labels, properties (the same
// effective set the scheduler's selectors see: static, then reported ones over them),
// Kubernetes version and API versions, and its replica share.
func ClusterFacts(mc *fleetv1alpha1.MemberCluster, replicas *int32) render.Cluster {
	props := property.FromMemberCluster(mc).Strings()
	version := mc.Spec.KubernetesVersion
	if mc.Status.KubernetesVersion != "" {
		version = mc.Status.KubernetesVersion
	}
	return render.Cluster{
		Name: mc.Name, Labels: mc.Labels, Properties: props,
		KubernetesVersion: version, APIVersions: mc.Status.APIVersions, Replicas: replicas,
	}
}

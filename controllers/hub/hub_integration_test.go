//go:build integration

package hub_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestMain gives controller-runtime a logger (silent unless GITFLEET_TEST_VERBOSE is set;
// without one it prints a stack trace after 30 s) and Gomega its default waits.
func TestMain(m *testing.M) {
	ctrl.SetLogger(envtest.Logger(os.Stderr))
	envtest.SetDefaultEventually()
	os.Exit(m.Run())
}

// hubEnv is one hub: an API server, a git server holding the fleet config repo, and the
// hub's controllers running in a manager.
type hubEnv struct {
	cluster *envtest.Cluster
	git     *gitserver.Server
	c       client.Client
	ns      string
}

// runHub runs the hub's controllers against the API server cl until the test ends (opts'
// Clock is set here, and DataDir when it is empty).
func runHub(t *testing.T, cl *envtest.Cluster, opts hub.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Several tests start a hub in one process: the controllers' names repeat.
	mgr, err := ctrl.NewManager(cl.Config, ctrl.Options{Scheme: cl.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.Clock = clock.RealClock{}
	if err := hub.Setup(ctx, mgr, opts); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

func startHub(t *testing.T) *hubEnv {
	t.Helper()
	return startHubWith(t, "testdata/fleet", hub.Options{})
}

// startHubWith starts a hub whose fleet config repo is seeded from seed, with opts (its
// Clock is set here, and DataDir when it is empty).
func startHubWith(t *testing.T, seed string, opts hub.Options) *hubEnv {
	t.Helper()
	cl := envtest.StartForTest(t, envtest.Options{Name: "hub", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	gs := gitserver.StartForTest(t, gitserver.Options{})
	if err := gs.SeedRepo("fleet", seed); err != nil {
		t.Fatal(err)
	}
	runHub(t, cl, opts)
	ns := envtest.NewNamespace(t, cl.Client)
	src := &fleetv1alpha1.GitSource{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: fleetv1alpha1.GitSourceSpec{URL: gs.RepoURL("fleet"), Branch: "main",
			Interval: metav1.Duration{Duration: time.Hour}, FleetPath: "fleet"},
	}
	if err := cl.Client.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return &hubEnv{cluster: cl, git: gs, c: cl.Client, ns: ns}
}

// push commits to main of the fleet repo and makes the hub fetch at once (as a webhook
// would).
func (h *hubEnv) push(t *testing.T, c gitserver.Commit) string {
	t.Helper()
	ctx := context.Background()
	c.Branch = "main"
	sha, err := h.git.Push(ctx, "fleet", c)
	if err != nil {
		t.Fatal(err)
	}
	src := &fleetv1alpha1.GitSource{}
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
		t.Fatal(err)
	}
	if err := hub.RequestReconcile(ctx, h.c, src, time.Now()); err != nil {
		t.Fatal(err)
	}
	return sha
}

// waitRendered waits until every placement has rendered sha and every stage holds it, and
// returns the branch heads.
func (h *hubEnv) waitRendered(t *testing.T, sha string) map[string]string {
	t.Helper()
	ctx := context.Background()
	NewWithT(t).Eventually(func(g Gomega) {
		var list fleetv1alpha1.PlacementList
		g.Expect(h.c.List(ctx, &list, client.InNamespace(h.ns))).To(Succeed())
		g.Expect(list.Items).NotTo(BeEmpty(), "placements")
		for _, p := range list.Items {
			g.Expect(p.Status.ObservedSourceRevision).To(HaveSuffix(sha), "placements rendered: %s", describe(list.Items))
		}
		h.stagesAt(g, sha, list.Items)
	}).WithTimeout(90*time.Second).Should(Succeed(), "placements and stages at %s", sha)
	heads, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	return heads
}

// stagesAt checks that every stage of every pipeline holds sha (later stages reach it by
// promotion), and every placement's clusters report the commits the stages hold.
func (h *hubEnv) stagesAt(g Gomega, sha string, placements []fleetv1alpha1.Placement) {
	var pipes fleetv1alpha1.PipelineList
	g.Expect(h.c.List(context.Background(), &pipes, client.InNamespace(h.ns))).To(Succeed())
	heads := map[string]string{}
	for _, p := range pipes.Items {
		g.Expect(p.Status.Stages).To(HaveLen(len(p.Spec.Stages)), "stages of pipeline %s", p.Name)
		for _, st := range p.Status.Stages {
			g.Expect(st).To(And(HaveField("CurrentRevision", sha), HaveField("TargetRevision", "")), "stage %s of pipeline %s", st.Name, p.Name)
			heads[st.Name] = st.RenderedCommit
		}
	}
	for _, p := range placements {
		for _, c := range p.Status.Clusters {
			if head, ok := heads[c.Stage]; ok {
				g.Expect(c.RenderedCommit).To(Equal(head), "placement %s on %s (stage %s)", p.Name, c.ClusterName, c.Stage)
			}
		}
	}
}

// hydrated creates an Override that selects nothing and waits until hydration has run
// for it: a pass known to have run, for tests that show what it did not do.
func (h *hubEnv) hydrated(t *testing.T, name string) {
	t.Helper()
	o := &fleetv1alpha1.Override{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
		Spec: fleetv1alpha1.OverrideSpec{PlacementSelector: metav1.LabelSelector{MatchLabels: map[string]string{"none": "none"}},
			Rules: []fleetv1alpha1.OverrideRule{{Name: "r", Target: &fleetv1alpha1.ResourceSelector{Kind: "ConfigMap"}, Delete: true}}}}
	if err := h.c.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func(g Gomega) {
		got := &fleetv1alpha1.Override{}
		g.Expect(h.c.Get(context.Background(), client.ObjectKeyFromObject(o), got)).To(Succeed())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation), "Override %s observedGeneration", name)
	}).Should(Succeed(), "hydration did not run for the new Override %s", name)
}

// passGate holds the Pipeline controller before its passes while it is closed (it is the
// hub's Options.BeforePipelinePass), so that a test can act while the pipeline's status
// stays as it is.
type passGate struct {
	mu     sync.Mutex
	hold   chan struct{} // nil: passes run; else they wait until it is closed
	parked chan struct{} // signalled when a pass starts waiting
}

func newPassGate(t *testing.T) *passGate {
	g := &passGate{parked: make(chan struct{}, 1)}
	t.Cleanup(g.open)
	return g
}

func (pg *passGate) before(ctx context.Context, _ types.NamespacedName) {
	pg.mu.Lock()
	hold := pg.hold
	pg.mu.Unlock()
	if hold == nil {
		return
	}
	select {
	case pg.parked <- struct{}{}:
	default:
	}
	select {
	case <-hold:
	case <-ctx.Done():
	}
}

// close holds the next passes of pipeline and returns once one waits at the gate: no pass
// of the controller runs then (they run one at a time), and none starts until open.
func (pg *passGate) close(t *testing.T, h *hubEnv, pipeline string) {
	t.Helper()
	pg.mu.Lock()
	pg.hold = make(chan struct{})
	pg.mu.Unlock()
	if err := hub.RequestReconcile(context.Background(), h.c, h.pipeline(t, pipeline), time.Now()); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(pg.parked).WithTimeout(60*time.Second).Should(Receive(), "no pass of pipeline %s reached the gate", pipeline)
}

// open lets the held pass and the next ones run.
func (pg *passGate) open() {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.hold != nil {
		close(pg.hold)
		pg.hold = nil
	}
}

func describe(ps []fleetv1alpha1.Placement) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s: revision %q summary %q", p.Name, p.Status.ObservedSourceRevision, p.Status.Summary)
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(&b, "\n    %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	return b.String()
}

// TestHydration follows a fleet config repo through the changes the issue lists: the first
// render (golden files), a no-op reconcile, one override changed, a placement deleted, a
// cluster leaving, and bad input that keeps the last good files.
func TestHydration(t *testing.T) {
	h := startHub(t)
	ctx := context.Background()
	heads0, err := h.git.Branches(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	sha := heads0["main"]
	heads := h.waitRendered(t, sha)

	t.Run("golden", func(t *testing.T) {
		for _, branch := range []string{"env/default", "env/dev", "env/prod"} {
			files, err := h.git.ReadBranch(ctx, "fleet", branch)
			if err != nil {
				t.Fatalf("ReadBranch(%s) = %v", branch, err)
			}
			compareGolden(t, branch, normalize(files, sha, h.git.RepoURL("fleet")))
		}
		// raw has no pipeline: it goes to the default stage only.
		def := readBranches(t, h)["env/default"]
		for p := range def {
			if strings.HasPrefix(p, "clusters/") && !strings.HasPrefix(p, "clusters/prod-eu/raw/") {
				t.Errorf("env/default holds %s; only raw (no pipeline) belongs there", p)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		p := &fleetv1alpha1.Placement{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "shop"}, p); err != nil {
			t.Fatal(err)
		}
		if got := p.Status.Summary; got != "2/2 committed" {
			t.Errorf("shop summary = %q, want %q", got, "2/2 committed")
		}
		var selected []string
		for _, d := range p.Status.Decisions {
			if d.Selected {
				selected = append(selected, d.ClusterName)
			}
		}
		if diff := cmp.Diff([]string{"prod-eu", "prod-us"}, selected); diff != "" {
			t.Errorf("shop selected clusters (-want +got):\n%s", diff)
		}
		for _, c := range p.Status.Clusters {
			for _, typ := range []string{fleetv1alpha1.ScheduledCondition, fleetv1alpha1.RenderedCondition, fleetv1alpha1.CommittedCondition} {
				if !apimeta.IsStatusConditionTrue(c.Conditions, typ) {
					t.Errorf("shop on %s: condition %s not True: %v", c.ClusterName, typ, c.Conditions)
				}
			}
		}
		if !apimeta.IsStatusConditionTrue(p.Status.Conditions, fleetv1alpha1.ReadyCondition) {
			t.Errorf("shop Ready not True: %v", p.Status.Conditions)
		}
	})

	t.Run("reconcile again makes no commit", func(t *testing.T) {
		src := &fleetv1alpha1.GitSource{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "fleet"}, src); err != nil {
			t.Fatal(err)
		}
		if err := hub.RequestReconcile(ctx, h.c, src, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Hydration runs again for certain, and nothing moves meanwhile.
		h.hydrated(t, "noop")
		NewWithT(t).Consistently(func() (map[string]string, error) { return h.git.Branches(ctx, "fleet") }).
			WithTimeout(3*time.Second).Should(Equal(heads), "branch heads on a reconcile without changes")
	})

	t.Run("one override changes one cluster", func(t *testing.T) {
		before := readBranches(t, h)
		sha := h.push(t, gitserver.Commit{Files: map[string]string{"fleet/overrides.yaml": strings.Replace(mustRead(t, "testdata/fleet/fleet/overrides.yaml"),
			"matchLabels: {region: eu}", "matchLabels: {region: us}", 1)}})
		h.waitRendered(t, sha)
		after := readBranches(t, h)
		changed := changedClusters(before, after)
		// The rule moved from eu to us: prod-eu and dev-1 lose it, prod-us gains it.
		if diff := cmp.Diff([]string{"env/dev:dev-1", "env/prod:prod-eu", "env/prod:prod-us"}, changed); diff != "" {
			t.Errorf("clusters whose files changed (-want +got):\n%s", diff)
		}
	})

	t.Run("deleting a placement removes its files", func(t *testing.T) {
		sha := h.push(t, gitserver.Commit{Delete: []string{"fleet/raw.yaml"}})
		h.waitRendered(t, sha)
		for p := range readBranches(t, h)["env/default"] {
			if strings.HasPrefix(p, "clusters/") {
				t.Errorf("env/default still holds %s after its only placement was deleted", p)
			}
		}
	})

	t.Run("a cluster leaving removes its folder", func(t *testing.T) {
		clusters := strings.Replace(mustRead(t, "testdata/fleet/fleet/clusters.yaml"), "  name: prod-us\n  labels: {stage: prod, region: us}\nspec:\n",
			"  name: prod-us\n  labels: {stage: prod, region: us}\nspec:\n  state: Leave\n", 1)
		sha := h.push(t, gitserver.Commit{Files: map[string]string{"fleet/clusters.yaml": clusters}})
		h.waitRendered(t, sha)
		files := readBranches(t, h)["env/prod"]
		for p := range files {
			if strings.HasPrefix(p, "clusters/prod-us/") {
				t.Errorf("env/prod still holds %s after prod-us left", p)
			}
		}
		// shop is PickN 2: with prod-us gone it takes dev-1, the only other cluster.
		if _, ok := readBranches(t, h)["env/dev"]["clusters/dev-1/shop/shop/deployment-shop.yaml"]; !ok {
			t.Errorf("shop was not moved to dev-1 after prod-us left")
		}
	})

	t.Run("a template error keeps the last good files", func(t *testing.T) {
		before := readBranches(t, h)
		sha := h.push(t, gitserver.Commit{Files: map[string]string{"apps/web/chart/templates/broken.yaml": "{{ .Values.nope.deeper }}\n"}})
		h.waitRendered(t, sha)
		after := readBranches(t, h)
		for branch, files := range before {
			for p, data := range files {
				if strings.Contains(p, "/web/") && after[branch][p] != data {
					t.Errorf("%s:%s changed although web failed to render", branch, p)
				}
			}
		}
		p := &fleetv1alpha1.Placement{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "web"}, p); err != nil {
			t.Fatal(err)
		}
		ready := apimeta.FindStatusCondition(p.Status.Conditions, fleetv1alpha1.ReadyCondition)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != fleetv1alpha1.RenderFailedReason || !strings.Contains(ready.Message, "broken.yaml") {
			t.Errorf("web Ready = %+v, want False/RenderFailed naming broken.yaml", ready)
		}
		meta := after["env/prod"]["gitfleet.json"]
		if !strings.Contains(meta, `"stale"`) || !strings.Contains(meta, "prod-eu/web") {
			t.Errorf("gitfleet.json does not list the stale web folders:\n%s", meta)
		}
	})
}

func readBranches(t *testing.T, h *hubEnv) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, b := range []string{"env/default", "env/dev", "env/prod"} {
		files, err := h.git.ReadBranch(context.Background(), "fleet", b)
		if err != nil {
			t.Fatalf("ReadBranch(%s) = %v", b, err)
		}
		out[b] = files
	}
	return out
}

// changedClusters lists branch:cluster for every cluster folder that differs.
func changedClusters(before, after map[string]map[string]string) []string {
	set := map[string]bool{}
	for branch := range after {
		for _, m := range []map[string]string{before[branch], after[branch]} {
			for p := range m {
				if !strings.HasPrefix(p, "clusters/") || before[branch][p] == after[branch][p] {
					continue
				}
				c, _, _ := strings.Cut(strings.TrimPrefix(p, "clusters/"), "/")
				set[branch+":"+c] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var digestRE = regexp.MustCompile(`"digest": "sha256:[0-9a-f]+"`)

// normalize replaces what differs between runs (the seeded commit, the server's port).
func normalize(files map[string]string, sha, url string) map[string]string {
	out := map[string]string{}
	for p, data := range files {
		data = strings.ReplaceAll(data, sha, "<SOURCE_COMMIT>")
		data = strings.ReplaceAll(data, url, "<SOURCE_URL>")
		// Digests hash the real commit; their determinism is a unit test of package hydrate.
		data = digestRE.ReplaceAllString(data, `"digest": "sha256:<DIGEST>"`)
		out[p] = data
	}
	return out
}

func compareGolden(t *testing.T, branch string, files map[string]string) {
	t.Helper()
	dir := filepath.Join("testdata", "golden", strings.ReplaceAll(branch, "/", "-"))
	if *update {
		_ = os.RemoveAll(dir)
		for p, data := range files {
			f := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want, err := gitserver.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading golden files (run with -update to create them): %v", err)
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("%s differs from %s (-want +got; rerun with -update if the change is intended):\n%s", branch, dir, diff)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

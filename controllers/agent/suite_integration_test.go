//go:build integration

package agent_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/forge"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// The shared member cluster, git server (behind a proxy that tests can cut) and GitHub
// double, with one agent manager running against them.
var (
	member   *envtest.Cluster
	gitSrv   *gitserver.Server
	gitProxy *proxy
	gh       *forge.Server
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	if os.Getenv("GITFLEET_TEST_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	ctx := context.Background()
	var err error
	member, err = envtest.Start(ctx, envtest.Options{Name: "member", AddToScheme: []func(*runtime.Scheme) error{v1alpha1.AddToScheme}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the member API server:", err)
		return 1
	}
	defer func() { _ = member.Stop() }()
	gitSrv, err = gitserver.Start(gitserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the git server:", err)
		return 1
	}
	defer gitSrv.Stop()
	gitProxy, err = newProxy(strings.TrimPrefix(gitSrv.URL(), "http://"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the git proxy:", err)
		return 1
	}
	defer gitProxy.close()
	gh = forge.New()
	defer gh.Close()

	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done, err := startAgent(mctx, member, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the agent:", err)
		return 1
	}
	code := m.Run()
	cancel()
	<-done
	return code
}

// startAgent runs an agent manager against cluster until ctx ends; done closes after.
// Each of tune, when given, changes the agent's rest config first.
func startAgent(ctx context.Context, cluster *envtest.Cluster, workDir string, tune ...func(*rest.Config)) (chan struct{}, error) {
	cfg := *cluster.Config
	cfg.QPS, cfg.Burst = 200, 400
	for _, f := range tune {
		f(&cfg)
	}
	mgr, err := ctrl.NewManager(&cfg, ctrl.Options{
		Scheme:                 cluster.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	if workDir == "" {
		workDir, err = os.MkdirTemp("", "gitfleet-agent-test-")
		if err != nil {
			return nil, err
		}
	}
	r := &agent.Reconciler{Options: agent.Options{WorkDir: workDir, HeartbeatInterval: 2 * time.Second, HealthPoll: 500 * time.Millisecond}}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer os.RemoveAll(workDir)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "agent manager:", err)
		}
	}()
	return done, nil
}

// fixture is one test's repository, forge repository and ClusterSync namespace.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	c       client.Client
	repo    string // org/name on the git server and the forge
	ns      string // namespace of the ClusterSync
	prefix  string // prefix of the namespaces the tree uses
	cluster string
	sync    *v1alpha1.ClusterSync
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// fixtureRuns counts the fixtures made per name.
var (
	fixtureRunsMu sync.Mutex
	fixtureRuns   = map[string]int{}
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	envtest.SkipIfShort(t)
	g := NewWithT(t)
	name := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	// Another run of the same test (-count) gets its own repository and namespaces.
	fixtureRunsMu.Lock()
	fixtureRuns[name]++
	if n := fixtureRuns[name]; n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	fixtureRunsMu.Unlock()
	f := &fixture{t: t, ctx: context.Background(), c: member.Client, repo: "org/" + name, prefix: name, cluster: "c-" + name}
	f.ns = envtest.NewNamespace(t, member.Client)
	g.Expect(gitSrv.InitRepo(f.repo, nil, "env/dev")).To(Succeed())
	gh.AddRepo(f.repo, nil)
	gh.UseGitDir(f.repo, filepath.Join(gitSrv.Root(), f.repo))
	return f
}

// repoURL is the repository's URL through the proxy.
func (f *fixture) repoURL() string { return "http://" + gitProxy.addr() + "/" + f.repo }

// push commits files (relative to the cluster folder; nil content deletes) and returns
// the commit.
func (f *fixture) push(files map[string]string, deletes ...string) string {
	f.t.Helper()
	c := gitserver.Commit{Branch: "env/dev", Files: map[string]string{}}
	for p, content := range files {
		if p == "gitfleet.json" {
			c.Files[p] = content
			continue
		}
		c.Files["clusters/"+f.cluster+"/"+p] = content
	}
	for _, d := range deletes {
		c.Delete = append(c.Delete, "clusters/"+f.cluster+"/"+d)
	}
	sha, err := gitSrv.Push(f.ctx, f.repo, c)
	if err != nil {
		f.t.Fatalf("pushing to %s: %v", f.repo, err)
	}
	return sha
}

// createSync creates the ClusterSync with a 1s interval and the GitHub double as forge.
func (f *fixture) createSync(mutate func(*v1alpha1.ClusterSync)) *v1alpha1.ClusterSync {
	f.t.Helper()
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "forge"}, StringData: map[string]string{"token": forge.Token}}
	NewWithT(f.t).Expect(f.c.Create(f.ctx, token)).To(Succeed())
	cs := &v1alpha1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "fleet"},
		Spec: v1alpha1.ClusterSyncSpec{
			ClusterName: f.cluster,
			URL:         f.repoURL(),
			Branch:      "env/dev",
			Interval:    metav1.Duration{Duration: time.Second},
			Forge: &v1alpha1.ForgeSpec{Type: v1alpha1.ForgeGitHub, APIURL: gh.URL(), Repository: f.repo,
				SecretRef: &v1alpha1.LocalObjectReference{Name: "forge"}, TargetURL: "https://grafana.example.com/d/gitfleet"},
		},
	}
	if mutate != nil {
		mutate(cs)
	}
	NewWithT(f.t).Expect(f.c.Create(f.ctx, cs)).To(Succeed())
	f.sync = cs
	return cs
}

// get reads the ClusterSync.
func (f *fixture) get() *v1alpha1.ClusterSync {
	cs := &v1alpha1.ClusterSync{}
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "fleet"}, cs); err != nil {
		return &v1alpha1.ClusterSync{}
	}
	return cs
}

// condition returns "Status/Reason: message" of a condition, for Eventually.
func (f *fixture) condition(t string) func() string {
	return func() string {
		c := apimeta.FindStatusCondition(f.get().Status.Conditions, t)
		if c == nil {
			return "<none>"
		}
		return string(c.Status) + "/" + c.Reason + ": " + c.Message
	}
}

// waitApplied waits until the ClusterSync applied sha (Applied=True).
func (f *fixture) waitApplied(sha string) *v1alpha1.ClusterSync {
	f.t.Helper()
	g := NewWithT(f.t)
	g.Eventually(func() string {
		cs := f.get()
		c := apimeta.FindStatusCondition(cs.Status.Conditions, v1alpha1.AppliedCondition)
		if c == nil {
			return "no Applied condition; summary " + cs.Status.Summary
		}
		return fmt.Sprintf("%s %s/%s: %s", cs.Status.AppliedCommit, c.Status, c.Reason, c.Message)
	}, envtest.EventuallyTimeout, envtest.EventuallyPolling).Should(HavePrefix(sha + " True/"))
	return f.get()
}

// obj reads an object; nil when missing.
func (f *fixture) obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		return nil
	}
	return u
}

// latestStatus returns "state: description" of the newest commit status of the agent.
func (f *fixture) latestStatus(sha string) func() string {
	return func() string {
		st, ok := gh.LatestStatus(f.repo, sha, v1alpha1.ClusterStatusContextPrefix+f.cluster)
		if !ok {
			return "<none>"
		}
		return st.State + ": " + st.Description
	}
}

// events lists "Reason: note" of the events on the ClusterSync.
func (f *fixture) events() []string {
	list := &corev1.EventList{}
	if err := f.c.List(f.ctx, list, client.InNamespace(f.ns)); err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == "fleet" {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// Manifests.

func namespaceYAML(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

func configMapYAML(ns, name string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n", name, ns)
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

func deploymentYAML(ns, name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      containers:
      - name: app
        image: %[4]s
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
`, ns, name, replicas, image)
}

func serviceYAML(ns, name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  selector:
    app: %[2]s
  ports:
  - port: 80
    targetPort: 8080
`, ns, name)
}

// proxy is a TCP proxy that can be cut: while down it refuses connections and drops
// the open ones, as a server that went away.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, up)
		p.mu.Unlock()
		up.Close()
	}()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
}

// setDown cuts (true) or restores (false) the proxy.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) close() { p.ln.Close() }

func mustDecode(y string) *unstructured.Unstructured {
	objs, err := envtest.DecodeYAML(strings.NewReader(y))
	if err != nil || len(objs) != 1 {
		panic(fmt.Sprintf("decoding %q: %v", y, err))
	}
	return objs[0]
}

func kubeconfigBytes() ([]byte, error) { return os.ReadFile(member.Kubeconfig) }

func secret(ns, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

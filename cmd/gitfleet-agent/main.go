// Command gitfleet-agent is gitfleet's member agent: a controller-runtime manager in a
// member cluster that reconciles ClusterSync objects. Each ClusterSync names an
// environment branch and folder; the agent fetches it, applies it with server-side
// apply, prunes what left Git, watches for drift, and reports as commit statuses, as the
// ClusterSync's status and, with a hub kubeconfig, as its MemberCluster's status on the
// hub.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/agent"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gitfleet-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr, probeAddr  string
		leaderElect             bool
		leaderElectionNamespace string
		watchNamespace          string
		hubKubeconfig           string
		workDir                 string
		applyConcurrency        int
		maxConcurrentReconciles int
		heartbeat               time.Duration
		qps                     float64
		burst                   int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the agent's namespace).")
	flag.StringVar(&watchNamespace, "watch-namespace", "", "Only reconcile ClusterSyncs of this namespace (default: all).")
	flag.StringVar(&hubKubeconfig, "hub-kubeconfig", "", "Kubeconfig file of the hub; used instead of the Secret named in spec.hub.")
	flag.StringVar(&workDir, "work-dir", "", "Folder for the Git checkouts (default: a folder in the temp dir).")
	flag.IntVar(&applyConcurrency, "apply-concurrency", 16, "Objects applied at once within an apply phase.")
	flag.IntVar(&maxConcurrentReconciles, "concurrent", 2, "ClusterSyncs reconciled at once.")
	flag.DurationVar(&heartbeat, "hub-heartbeat-interval", agent.DefaultHeartbeatInterval, "How often the MemberCluster on the hub gets a heartbeat.")
	flag.Float64Var(&qps, "kube-api-qps", 100, "Client-side queries per second to the member API server.")
	flag.IntVar(&burst, "kube-api-burst", 200, "Client-side burst of queries to the member API server.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("member cluster config: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(qps), burst

	opts := ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "gitfleet-agent.fleet.gitfleet.dev",
		LeaderElectionNamespace: leaderElectionNamespace,
	}
	if watchNamespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{watchNamespace: {}}}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	r := &agent.Reconciler{Options: agent.Options{
		WorkDir:                 workDir,
		ApplyConcurrency:        applyConcurrency,
		MaxConcurrentReconciles: maxConcurrentReconciles,
		HeartbeatInterval:       heartbeat,
		HubKubeconfig:           hubKubeconfig,
	}}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ClusterSync controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the ready check: %w", err)
	}
	log.Info("starting gitfleet-agent", "metrics", metricsAddr, "probes", probeAddr, "leaderElection", leaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}

// Command gitfleet-hub runs the hub: it follows GitSources, applies their fleet objects,
// schedules and renders every Placement for its clusters, and commits the results to
// environment branches. It never connects to a member cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
)

func main() {
	var (
		metricsAddr   = flag.String("metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
		probeAddr     = flag.String("health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
		webhookAddr   = flag.String("webhook-bind-address", ":9292", "address of the forge webhook receiver (POST /hook/<namespace>/<gitsource>); empty disables it")
		leaderElect   = flag.Bool("leader-elect", false, "use leader election, for running more than one replica")
		namespace     = flag.String("namespace", "", "watch only this namespace (the fleet namespace); empty watches all")
		dataDir       = flag.String("data-dir", defaultDataDir(), "folder for Git clones and revision snapshots")
		committerName = flag.String("committer-name", "gitfleet", "author name of environment-branch commits")
		committerMail = flag.String("committer-email", "gitfleet@gitfleet.dev", "author email of environment-branch commits")
	)
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("gitfleet-hub")

	if err := run(ctrl.SetupSignalHandler(), config{
		metricsAddr: *metricsAddr, probeAddr: *probeAddr, webhookAddr: *webhookAddr, leaderElect: *leaderElect,
		namespace: *namespace, dataDir: *dataDir, committerName: *committerName, committerEmail: *committerMail,
	}); err != nil {
		log.Error(err, "hub stopped")
		os.Exit(1)
	}
}

type config struct {
	metricsAddr, probeAddr, webhookAddr string
	leaderElect                         bool
	namespace, dataDir                  string
	committerName, committerEmail       string
}

func run(ctx context.Context, cfg config) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(fleetv1alpha1.AddToScheme(scheme))

	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: cfg.metricsAddr},
		HealthProbeBindAddress: cfg.probeAddr,
		LeaderElection:         cfg.leaderElect,
		LeaderElectionID:       "gitfleet-hub.fleet.gitfleet.dev",
	}
	if cfg.namespace != "" {
		mgrOpts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{cfg.namespace: {}}}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mgrOpts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := hub.Setup(ctx, mgr, hub.Options{
		DataDir:     cfg.dataDir,
		WebhookAddr: cfg.webhookAddr,
		Clock:       clock.RealClock{},
		Metrics:     hub.NewMetrics(metrics.Registry),
		Committer:   hub.Signature(cfg.committerName, cfg.committerEmail),
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("starting gitfleet-hub", "namespace", cfg.namespace, "dataDir", cfg.dataDir)
	return mgr.Start(ctx)
}

func defaultDataDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gitfleet-hub")
	}
	return filepath.Join(os.TempDir(), "gitfleet-hub")
}

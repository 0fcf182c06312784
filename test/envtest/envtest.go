// Package envtest starts real Kubernetes API servers (kube-apiserver and etcd, built from
// the Go module proxy by package binaries) for gitfleet's integration and end-to-end tests,
// and holds the helpers those tests share: a namespace per test, server-side apply of YAML
// files, creating and waiting for objects, and Gomega's default timeouts.
//
// A hub and several member clusters can run side by side in one test process:
//
//	clusters, err := envtest.StartMany(ctx, envtest.Options{}, "hub", "member-1", "member-2")
//	...
//	defer envtest.StopAll(clusters...)
//
// Every server listens on 127.0.0.1 only, keeps its data in a temporary folder and is
// stopped by Cluster.Stop. Their output is discarded unless GITFLEET_TEST_VERBOSE=1.
package envtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitfleet/gitfleet/test/binaries"
)

// DefaultStartTimeout bounds the start of etcd and of kube-apiserver (each) when
// Options.StartTimeout is zero. It is generous because several servers often start at
// once on a two-core machine.
const DefaultStartTimeout = 90 * time.Second

// DefaultStopTimeout bounds the graceful stop of each process before it is killed.
const DefaultStopTimeout = 30 * time.Second

// Options configures one API server started by Start.
type Options struct {
	// Name names the cluster in the kubeconfig (cluster, user and context) and in error
	// messages. It defaults to "envtest".
	Name string

	// CRDDirectoryPaths are folders (or files) of CRD manifests installed before Start
	// returns. When nil, the repository's config/crd/bases is used if it exists.
	// Set it to an empty, non-nil slice to install no CRDs from files.
	CRDDirectoryPaths []string

	// CRDs are additional CRDs installed before Start returns.
	CRDs []*apiextensionsv1.CustomResourceDefinition

	// ErrorIfCRDPathMissing makes Start fail when one of CRDDirectoryPaths does not
	// exist. The default folder is never an error when missing.
	ErrorIfCRDPathMissing bool

	// Scheme is the scheme of the cluster's client. When nil, a new scheme is made; in
	// both cases client-go's built-in types and apiextensions.k8s.io/v1 are added to it.
	Scheme *runtime.Scheme

	// AddToScheme functions are applied to the scheme, e.g. v1alpha1.AddToScheme.
	AddToScheme []func(*runtime.Scheme) error

	// APIServerFlags are extra kube-apiserver flags, without the leading dashes, e.g.
	// {"feature-gates": "X=true"}. They replace envtest's value for the same flag.
	APIServerFlags map[string]string

	// StartTimeout bounds the start of each process; zero means DefaultStartTimeout.
	StartTimeout time.Duration

	// Output receives the output of kube-apiserver and etcd. When nil it goes to
	// os.Stderr if GITFLEET_TEST_VERBOSE is set, and is otherwise discarded except for the
	// last lines, which Cluster.OutputTail returns and a failed start reports.
	Output io.Writer
}

// Cluster is one running API server with its etcd.
type Cluster struct {
	// Name is the cluster's name (Options.Name).
	Name string
	// Config is an admin (system:masters) configuration for the API server.
	Config *rest.Config
	// Client is a controller-runtime client (not cached) using Scheme.
	Client client.Client
	// Scheme is the client's scheme. More types may be added to it before use.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file for the admin user, for kubectl or
	// for programs run as separate processes. It is removed by Stop.
	Kubeconfig string
	// Env is the underlying controller-runtime environment, e.g. to add users with
	// Env.AddUser or to read the installed CRDs in Env.CRDs.
	Env *crenvtest.Environment

	dir      string
	output   *outputs
	stopOnce sync.Once
	stopErr  error
}

// Assets returns a folder holding the kube-apiserver and etcd binaries, building them
// from the Go module proxy into the user cache dir on first use (several minutes; build
// progress is printed to os.Stderr) and finding them at once afterwards.
func Assets(ctx context.Context) (string, error) {
	dir, err := binaries.EnvtestAssets(ctx, os.Stderr)
	if err != nil {
		return "", fmt.Errorf("preparing kube-apiserver and etcd: %w", err)
	}
	return dir, nil
}

// Start starts etcd and kube-apiserver on 127.0.0.1, installs the CRDs, and returns once
// the API server serves requests. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "envtest"
	}
	assets, err := Assets(ctx)
	if err != nil {
		return nil, err
	}
	scheme, err := buildScheme(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", opts.Name, err)
	}
	crdPaths, err := crdPaths(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", opts.Name, err)
	}

	// A port taken by someone else between our pick and the server's bind makes the
	// start fail; pick fresh ports and try again. (controller-runtime retries other
	// failures itself.)
	const attempts = 3
	var errs []error
	for range attempts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		c, err := startOnce(ctx, opts, assets, scheme, crdPaths)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("starting cluster %s: %w", opts.Name, errors.Join(errs...))
}

func startOnce(ctx context.Context, opts Options, assets string, scheme *runtime.Scheme, crdPaths []string) (*Cluster, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	out := &outputs{api: newTailBuffer(8 << 10), etcd: newTailBuffer(4 << 10)}
	apiW, etcdW := io.Writer(out.api), io.Writer(out.etcd)
	switch {
	case opts.Output != nil:
		apiW, etcdW = io.MultiWriter(apiW, opts.Output), io.MultiWriter(etcdW, opts.Output)
	case Verbose():
		apiW = io.MultiWriter(apiW, prefixWriter(os.Stderr, "["+opts.Name+" kube-apiserver] "))
		etcdW = io.MultiWriter(etcdW, prefixWriter(os.Stderr, "["+opts.Name+" etcd] "))
	}

	etcd := &crenvtest.Etcd{
		URL: loopbackURL(ports[0]),
		Out: etcdW,
		Err: etcdW,
	}
	peer := loopbackURL(ports[1]).String()
	etcd.Configure().
		Set("listen-peer-urls", peer).
		Set("initial-advertise-peer-urls", peer).
		Set("initial-cluster", "default="+peer)

	api := &crenvtest.APIServer{
		SecureServing: crenvtest.SecureServing{
			ListenAddr: crenvtest.ListenAddr{Address: loopback, Port: fmt.Sprint(ports[2])},
		},
		Out: apiW,
		Err: apiW,
	}
	api.Configure().Set("advertise-address", loopback)
	// The endpoint reconciler refuses a loopback advertise address; nothing here needs the
	// kubernetes Service endpoints, so it is turned off.
	api.Configure().Set("endpoint-reconciler-type", "none")
	for k, v := range opts.APIServerFlags {
		api.Configure().Set(k, v)
	}

	startTimeout := opts.StartTimeout
	if startTimeout == 0 {
		startTimeout = DefaultStartTimeout
	}
	env := &crenvtest.Environment{
		ControlPlane:             crenvtest.ControlPlane{APIServer: api, Etcd: etcd},
		Scheme:                   scheme,
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        crdPaths,
		CRDs:                     opts.CRDs,
		ErrorIfCRDPathMissing:    opts.ErrorIfCRDPathMissing,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  DefaultStopTimeout,
	}

	// Environment.Start does not take a context; stop the servers if ctx ends first.
	type result struct {
		cfg *rest.Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := env.Start()
		done <- result{cfg, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res = <-done
		if res.err == nil {
			res.err = ctx.Err()
		}
	}
	if res.err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("%w\n%s", res.err, out)
	}

	c := &Cluster{Name: opts.Name, Config: res.cfg, Scheme: scheme, Env: env, output: out}
	if err := c.finish(); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// finish makes the client and writes the kubeconfig file.
func (c *Cluster) finish() error {
	var err error
	c.Client, err = client.New(c.Config, client.Options{Scheme: c.Scheme})
	if err != nil {
		return fmt.Errorf("creating a client for cluster %s: %w", c.Name, err)
	}
	c.dir, err = os.MkdirTemp("", "gitfleet-envtest-"+sanitize(c.Name, 30)+"-")
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(KubeconfigFor(c.Name, c.Config), c.Kubeconfig); err != nil {
		return fmt.Errorf("writing the kubeconfig of cluster %s: %w", c.Name, err)
	}
	return nil
}

// Stop stops kube-apiserver and etcd (by their own process ids) and removes their data
// and the kubeconfig file. It may be called more than once.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() {
		if c.Env != nil {
			if err := c.Env.Stop(); err != nil {
				c.stopErr = fmt.Errorf("stopping cluster %s: %w", c.Name, err)
			}
		}
		if c.dir != "" {
			_ = os.RemoveAll(c.dir)
		}
	})
	return c.stopErr
}

// OutputTail returns the last lines written by kube-apiserver and etcd, for failure
// messages.
func (c *Cluster) OutputTail() string {
	return c.output.String()
}

// outputs keeps the last output of each process of a cluster.
type outputs struct {
	api, etcd *tailBuffer
}

// String returns the kept output of both processes, each under a header.
func (o *outputs) String() string {
	if o == nil {
		return ""
	}
	return "--- last output of kube-apiserver ---\n" + o.api.String() +
		"--- last output of etcd ---\n" + o.etcd.String()
}

// StartMany starts one cluster per name in parallel, all with opts (whose Name is
// replaced by each name), and returns them in the order of names. If any fails to
// start, the others are stopped and the errors are returned together.
func StartMany(ctx context.Context, opts Options, names ...string) ([]*Cluster, error) {
	// Build (or find) the binaries once, before the parallel starts.
	if _, err := Assets(ctx); err != nil {
		return nil, err
	}
	clusters := make([]*Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		o := opts
		o.Name = name
		wg.Go(func() { clusters[i], errs[i] = Start(ctx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = StopAll(clusters...)
		return nil, err
	}
	return clusters, nil
}

// StopAll stops the clusters in parallel and returns their errors together. Nil
// clusters are skipped.
func StopAll(clusters ...*Cluster) error {
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() { errs[i] = c.Stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// KubeconfigFor returns a kubeconfig whose cluster, user and context are all called name
// and which is the current context.
func KubeconfigFor(name string, cfg *rest.Config) clientcmdapi.Config {
	server := cfg.Host
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   server + cfg.APIPath,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
		InsecureSkipTLSVerify:    cfg.Insecure,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		ClientCertificate:     cfg.CertFile,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return *kc
}

func buildScheme(opts Options) (*runtime.Scheme, error) {
	s := opts.Scheme
	if s == nil {
		s = runtime.NewScheme()
	}
	adds := append([]func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme}, opts.AddToScheme...)
	for _, add := range adds {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// crdPaths returns the CRD folders to install: the given ones, or the repository's
// config/crd/bases when it exists.
func crdPaths(opts Options) ([]string, error) {
	if opts.CRDDirectoryPaths != nil {
		return opts.CRDDirectoryPaths, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "config", "crd", "bases")
	if _, err := os.Stat(dir); err != nil {
		return nil, nil
	}
	return []string{dir}, nil
}

// RepoRoot returns the folder holding go.mod, found by walking up from the working
// directory (a test's working directory is its package folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// Package demo runs gitfleet end to end on one machine, with no cluster, Docker or
// network: a hub API server and three member API servers (kube-apiserver + etcd built by
// package binaries), a git server holding a sample fleet config repo, the real
// gitfleet-hub and one gitfleet-agent per member as separate processes, and a story of
// steps that each wait for what the user should see. `make demo` and the end-to-end test
// both run it.
//
// The member clusters are API servers only: no kube-controller-manager and no kubelet run
// pods. The demo plays the controller-manager's part for Deployments (it sets their status
// to available once they are applied), so that health and promotion gates behave as on a
// real cluster.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/binaries"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/gitea"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// Namespace is the hub's fleet namespace in the demo.
const Namespace = "fleet-system"

// AgentNamespace is where each member's agent and ClusterSync live.
const AgentNamespace = "gitfleet-system"

// Member is one member cluster of the demo.
type Member struct {
	Name, Stage string
	Cluster     *envtest.Cluster
}

// Options configures a demo.
type Options struct {
	// BinDir holds gitfleet-hub and gitfleet-agent (make build puts them in bin/).
	BinDir string
	// LogDir receives the hub's and agents' logs; a new temp folder when empty.
	LogDir string
	// Out receives the progress output.
	Out io.Writer
	// Forge is "gitea" (the default: a local Gitea holds the fleet repo, gets the commit
	// statuses, and prod needs its approval pull request merged) or "none" (a plain git
	// server; prod is promoted automatically).
	Forge string
}

// Demo is a running demo.
type Demo struct {
	opts    Options
	Hub     *envtest.Cluster
	Members []Member
	Git     *gitserver.Server
	Gitea   *gitea.Server
	RepoURL string
	// Repo is owner/name on Gitea.
	Repo string

	procs   []*exec.Cmd
	hubArgs []string
	// ctx lives as long as the demo (until Stop): what a member needs for its lifetime.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start brings everything up. The caller must call Stop, also when Start fails.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Forge == "" {
		opts.Forge = "gitea"
	}
	if opts.Forge != "none" && opts.Forge != "gitea" {
		return nil, fmt.Errorf("DEMO_FORGE=%s: use gitea (the default) or none", opts.Forge)
	}
	if opts.LogDir == "" {
		dir, err := os.MkdirTemp("", "gitfleet-demo-")
		if err != nil {
			return nil, err
		}
		opts.LogDir = dir
	}
	d := &Demo{opts: opts}
	ctx, d.cancel = context.WithCancel(ctx)
	d.ctx = ctx
	d.say("logs of the hub and agents go to %s", opts.LogDir)

	d.say("starting 4 API servers (hub, dev-eu, staging-us, prod-eu) on 127.0.0.1...")
	names := []string{"hub", "dev-eu", "staging-us", "prod-eu"}
	stages := map[string]string{"dev-eu": "dev", "staging-us": "staging", "prod-eu": "prod"}
	clusters, err := envtest.StartMany(ctx, envtest.Options{AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}}, names...)
	if err != nil {
		return d, fmt.Errorf("starting API servers: %w", err)
	}
	d.Hub = clusters[0]
	for i, c := range clusters[1:] {
		d.Members = append(d.Members, Member{Name: names[i+1], Stage: stages[names[i+1]], Cluster: c})
	}

	files, err := fleetFiles(opts.Forge)
	if err != nil {
		return d, err
	}
	if err := d.startGit(ctx, files); err != nil {
		return d, err
	}

	if err := d.setupHub(ctx); err != nil {
		return d, err
	}
	for _, m := range d.Members {
		if err := d.setupMember(ctx, m); err != nil {
			return d, err
		}
	}
	if err := d.startProcesses(); err != nil {
		return d, err
	}
	for _, m := range d.Members {
		d.wg.Add(1)
		go func(m Member) {
			defer d.wg.Done()
			playControllerManager(ctx, m.Cluster.Client)
		}(m)
	}
	return d, nil
}

// fleetFiles reads the sample fleet repo; with no forge, prod is promoted automatically.
func fleetFiles(forge string) (map[string]string, error) {
	dir, err := fixtureDir()
	if err != nil {
		return nil, err
	}
	files, err := gitserver.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if forge == "none" {
		files["fleet/pipeline.yaml"] = strings.Replace(files["fleet/pipeline.yaml"], "promotion: PullRequest", "promotion: Auto", 1)
	}
	return files, nil
}

func fixtureDir() (string, error) {
	root, err := envtest.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "demo", "fleet"), nil
}

// startGit starts the forge (Gitea) or a plain git server and seeds the fleet repo.
func (d *Demo) startGit(ctx context.Context, files map[string]string) error {
	if d.opts.Forge == "none" {
		d.say("starting a git server and seeding the fleet config repo (a Helm app, a Kustomize app with overlays, a dev → staging → prod pipeline)...")
		var err error
		if d.Git, err = gitserver.Start(gitserver.Options{}); err != nil {
			return err
		}
		if err := d.Git.InitRepo("fleet", files, "main"); err != nil {
			return err
		}
		d.RepoURL = d.Git.RepoURL("fleet")
		return nil
	}
	d.say("starting Gitea %s on 127.0.0.1 (built once from the Go module proxy, then cached)...", binaries.Gitea.Version)
	bin, err := binaries.Gitea.Path(ctx, d.opts.Out)
	if err != nil {
		return err
	}
	giteaDir := filepath.Join(d.opts.LogDir, "gitea")
	if err := os.MkdirAll(giteaDir, 0o755); err != nil {
		return err
	}
	if d.Gitea, err = gitea.Start(ctx, bin, giteaDir); err != nil {
		return err
	}
	if d.Repo, err = d.Gitea.CreateRepo(ctx, "fleet"); err != nil {
		return err
	}
	d.RepoURL = d.Gitea.RepoURL(d.Repo)
	d.say("seeding %s with the fleet config repo (a Helm app, a Kustomize app with overlays, dev → staging → prod with prod behind a pull request)", d.Gitea.URL+d.Repo)
	d.say("Gitea login: %s / %s", gitea.AdminUser, gitea.AdminPassword)
	_, err = gitserver.Push(ctx, d.RepoURL, d.Gitea.Auth(), gitserver.Commit{Branch: "main", Files: files, Message: "fleet: podinfo and guestbook on dev, staging and prod"})
	return err
}

// secrets are the credentials the hub and agents get for Gitea.
func (d *Demo) secrets(ns string) []*corev1.Secret {
	if d.Gitea == nil {
		return nil
	}
	return []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "git"}, StringData: map[string]string{"username": gitea.AdminUser, "password": gitea.AdminPassword}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forge"}, StringData: map[string]string{"token": d.Gitea.Token}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "webhook"}, StringData: map[string]string{"token": webhookSecret}},
	}
}

// webhookSecret is the HMAC secret of Gitea's webhooks to the hub.
const webhookSecret = "gitfleet-demo-webhook"

func (d *Demo) forgeSpec() *fleetv1alpha1.ForgeSpec {
	if d.Gitea == nil {
		return nil
	}
	return &fleetv1alpha1.ForgeSpec{Type: fleetv1alpha1.ForgeGitea, APIURL: d.Gitea.APIURL(), Repository: d.Repo,
		SecretRef: &fleetv1alpha1.LocalObjectReference{Name: "forge"}}
}

func (d *Demo) setupHub(ctx context.Context) error {
	c := d.Hub.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil {
		return err
	}
	for _, s := range d.secrets(Namespace) {
		if err := c.Create(ctx, s); err != nil {
			return err
		}
	}
	src := &fleetv1alpha1.GitSource{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: Namespace},
		Spec: fleetv1alpha1.GitSourceSpec{URL: d.RepoURL, Branch: "main", FleetPath: "fleet",
			Interval: metav1.Duration{Duration: 10 * time.Second}, Forge: d.forgeSpec()},
	}
	if d.Gitea != nil {
		src.Spec.SecretRef = &fleetv1alpha1.LocalObjectReference{Name: "git"}
		src.Spec.WebhookSecretRef = &fleetv1alpha1.LocalObjectReference{Name: "webhook"}
		// Pull requests to the fleet repo get gitfleet/render and a comment with the diff.
		src.Spec.PreviewPullRequests = true
	}
	return c.Create(ctx, src)
}

// registerWebhook makes Gitea tell the hub about pushes, pull requests and statuses.
func (d *Demo) registerWebhook(ctx context.Context, hubAddr string) error {
	if d.Gitea == nil {
		return nil
	}
	return d.Gitea.Do(ctx, "POST", "repos/"+d.Repo+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request", "status"},
		"config": map[string]string{"url": "http://" + hubAddr + "/hook/" + Namespace + "/fleet", "content_type": "json", "secret": webhookSecret},
	}, nil)
}

// setupMember creates the agent's namespace, the hub kubeconfig Secret and the ClusterSync.
func (d *Demo) setupMember(ctx context.Context, m Member) error {
	c := m.Cluster.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: AgentNamespace}}); err != nil {
		return err
	}
	hubKubeconfig, err := os.ReadFile(d.Hub.Kubeconfig)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hub-kubeconfig", Namespace: AgentNamespace},
		Data: map[string][]byte{"kubeconfig": hubKubeconfig}}); err != nil {
		return err
	}
	for _, s := range d.secrets(AgentNamespace) {
		if err := c.Create(ctx, s); err != nil {
			return err
		}
	}
	cs := &fleetv1alpha1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: AgentNamespace},
		Spec: fleetv1alpha1.ClusterSyncSpec{ClusterName: m.Name, URL: d.RepoURL, Branch: "env/" + m.Stage,
			Interval: metav1.Duration{Duration: 3 * time.Second}, Forge: d.forgeSpec(),
			Hub: &fleetv1alpha1.HubSpec{KubeconfigSecretRef: fleetv1alpha1.LocalObjectReference{Name: "hub-kubeconfig"}, Namespace: Namespace}},
	}
	if d.Gitea != nil {
		cs.Spec.SecretRef = &fleetv1alpha1.LocalObjectReference{Name: "git"}
	}
	return c.Create(ctx, cs)
}

func (d *Demo) startProcesses() error {
	hubData := filepath.Join(d.opts.LogDir, "hub-data")
	webhook, err := freePort()
	if err != nil {
		return err
	}
	hubAddr := "127.0.0.1:" + strconv.Itoa(webhook)
	if err := d.registerWebhook(context.Background(), hubAddr); err != nil {
		return fmt.Errorf("registering Gitea's webhook to the hub: %w", err)
	}
	d.hubArgs = []string{"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--webhook-bind-address=" + hubAddr, "--namespace=" + Namespace, "--data-dir=" + hubData}
	if _, err := d.start("gitfleet-hub", d.Hub.Kubeconfig, d.hubArgs...); err != nil {
		return err
	}
	for _, m := range d.Members {
		if _, err := d.start("gitfleet-agent", m.Cluster.Kubeconfig, "--metrics-bind-address=0", "--health-probe-bind-address=0",
			"--work-dir="+filepath.Join(d.opts.LogDir, "agent-"+m.Name)); err != nil {
			return err
		}
	}
	return nil
}

func (d *Demo) start(bin, kubeconfig string, args ...string) (*exec.Cmd, error) {
	path := filepath.Join(d.opts.BinDir, bin)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s not found in %s (run make build): %w", bin, d.opts.BinDir, err)
	}
	name := bin
	for _, m := range d.Members {
		if m.Cluster.Kubeconfig == kubeconfig {
			name = bin + "-" + m.Name
		}
	}
	logFile, err := os.OpenFile(filepath.Join(d.opts.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d.say("started %s (pid %d, log %s)", name, cmd.Process.Pid, logFile.Name())
	d.procs = append(d.procs, cmd)
	return cmd, nil
}

// RestartHub stops the hub process (SIGTERM, by its PID) and starts it again with the same
// data folder, as a rolling update or a crash would.
func (d *Demo) RestartHub() error {
	hub := d.procs[0]
	_ = hub.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = hub.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = hub.Process.Kill()
		<-done
	}
	cmd, err := d.start("gitfleet-hub", d.Hub.Kubeconfig, d.hubArgs...)
	if err != nil {
		return err
	}
	d.procs[0] = cmd
	d.procs = d.procs[:len(d.procs)-1]
	return nil
}

// Stop ends the processes the demo started (by their PIDs) and the servers.
func (d *Demo) Stop() {
	if d.cancel != nil {
		d.cancel()
	}
	for _, p := range d.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range d.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
		}
	}
	d.wg.Wait()
	if d.Git != nil {
		d.Git.Stop()
	}
	if d.Gitea != nil {
		d.Gitea.Stop()
	}
	var all []*envtest.Cluster
	if d.Hub != nil {
		all = append(all, d.Hub)
	}
	for _, m := range d.Members {
		all = append(all, m.Cluster)
	}
	_ = envtest.StopAll(all...)
}

func (d *Demo) say(format string, args ...any) {
	fmt.Fprintf(d.opts.Out, "  "+format+"\n", args...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// member returns the named member.
func (d *Demo) member(name string) (Member, error) {
	for _, m := range d.Members {
		if m.Name == name {
			return m, nil
		}
	}
	return Member{}, errors.New("no member " + name)
}

// Package binaries builds the third-party programs the tests and the demo run for real
// (kube-apiserver, etcd, Gitea, the helm CLI) from the Go module proxy, once, into a
// versioned folder of the user cache dir. Nothing is downloaded from anywhere else.
//
// Builds are safe to run concurrently from several processes: each tool is built in a
// private temporary folder, and the finished binary is moved into place with an atomic
// rename while an exclusive file lock is held. A second call finds the binary with one
// stat and returns at once.
package binaries

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Tool describes one program built from a module on the proxy.
type Tool struct {
	// Name is the binary's file name in the cache folder.
	Name string
	// Module and Version are required by the throw-away wrapper module.
	Module, Version string
	// Package is the import path of the main package to build.
	Package string
	// StagingVersion maps Kubernetes' local staging replaces
	// (./staging/src/k8s.io/X) to k8s.io/X at this version (e.g. v0.37.0).
	StagingVersion string
	// Tags are build tags; CGO enables cgo (Gitea's SQLite driver needs it).
	Tags []string
	CGO  bool
}

// The tools gitfleet's tests and demo use, at versions known to build with Go 1.26.
var (
	KubeAPIServer = Tool{Name: "kube-apiserver", Module: "k8s.io/kubernetes", Version: "v1.37.0",
		Package: "k8s.io/kubernetes/cmd/kube-apiserver", StagingVersion: "v0.37.0"}
	Etcd = Tool{Name: "etcd", Module: "go.etcd.io/etcd/server/v3", Version: "v3.6.16",
		Package: "go.etcd.io/etcd/server/v3"}
	Gitea = Tool{Name: "gitea", Module: "code.gitea.io/gitea", Version: "v1.26.0",
		Package: "code.gitea.io/gitea", Tags: []string{"sqlite", "sqlite_unlock_notify"}, CGO: true}
	Helm = Tool{Name: "helm", Module: "helm.sh/helm/v3", Version: "v3.22.0",
		Package: "helm.sh/helm/v3/cmd/helm"}
)

// CacheRoot is the folder that holds every versioned tool folder. GITFLEET_CACHE_DIR
// overrides it; the default is <user cache dir>/gitfleet.
func CacheRoot() (string, error) {
	if d := os.Getenv("GITFLEET_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir: %w", err)
	}
	return filepath.Join(d, "gitfleet"), nil
}

// Dir is the versioned folder that holds this tool's binary.
func (t Tool) Dir() (string, error) {
	root, err := CacheRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", t.Name+"-"+t.Version), nil
}

// Path returns the cached binary, building it first when it is missing. Progress of a
// build goes to log (which may be nil).
func (t Tool) Path(ctx context.Context, log io.Writer) (string, error) {
	dir, err := t.Dir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, t.Name)
	if isExecutable(bin) {
		return bin, nil
	}
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(bin) { // another process built it while we waited for the lock
		return bin, nil
	}
	start := time.Now()
	fmt.Fprintf(log, "building %s %s from the module proxy (cached in %s afterwards)...\n", t.Name, t.Version, dir)
	if err := t.build(ctx, dir, bin, log); err != nil {
		return "", fmt.Errorf("building %s %s: %w", t.Name, t.Version, err)
	}
	fmt.Fprintf(log, "built %s in %s\n", t.Name, time.Since(start).Round(time.Second))
	return bin, nil
}

// EnvtestAssets returns a folder holding kube-apiserver and etcd side by side, the layout
// controller-runtime's envtest expects in BinaryAssetsDirectory / KUBEBUILDER_ASSETS.
func EnvtestAssets(ctx context.Context, log io.Writer) (string, error) {
	api, err := KubeAPIServer.Path(ctx, log)
	if err != nil {
		return "", err
	}
	etcd, err := Etcd.Path(ctx, log)
	if err != nil {
		return "", err
	}
	root, err := CacheRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "envtest", KubeAPIServer.Version+"-"+Etcd.Version)
	for name, target := range map[string]string{"kube-apiserver": api, "etcd": etcd} {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		tmp := fmt.Sprintf("%s.%d.tmp", link, os.Getpid())
		_ = os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (t Tool) build(ctx context.Context, dir, bin string, log io.Writer) error {
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	replaces, err := t.replaces(ctx, work)
	if err != nil {
		return err
	}
	var mod strings.Builder
	fmt.Fprintf(&mod, "module gitfleet.local/build/%s\n\ngo 1.26.0\n\nrequire %s %s\n", t.Name, t.Module, t.Version)
	for _, r := range replaces {
		fmt.Fprintf(&mod, "replace %s\n", r)
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(mod.String()), 0o644); err != nil {
		return err
	}
	// A blank import keeps the required module in the build list while -mod=mod fills go.sum.
	tools := fmt.Sprintf("//go:build tools\n\npackage tools\n\nimport _ %q\n", t.Package)
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(tools), 0o644); err != nil {
		return err
	}
	out := filepath.Join(work, t.Name)
	args := []string{"build", "-mod=mod", "-trimpath", "-ldflags=-s -w", "-o", out}
	if len(t.Tags) > 0 {
		args = append(args, "-tags", strings.Join(t.Tags, " "))
	}
	args = append(args, t.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	if t.CGO {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	} else {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var stderr bytes.Buffer
	cmd.Stdout = log
	cmd.Stderr = io.MultiWriter(log, &stderr)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return os.Rename(out, bin)
}

var localStaging = regexp.MustCompile(`^(\S+)\s+=>\s+\./staging/src/(\S+)$`)

// replaces copies the replace directives of the tool's own go.mod that point at other
// modules, maps Kubernetes' local staging folders to the published staging modules, and
// drops other local-path replaces (the published modules stand in for them).
func (t Tool) replaces(ctx context.Context, work string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", t.Module+"@"+t.Version)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s@%s: %w", t.Module, t.Version, err)
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("reading go mod download output: %w", err)
	}
	if info.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %s", t.Module, t.Version, info.Error)
	}
	f, err := os.Open(info.GoMod)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	return parseReplaces(f, t.StagingVersion)
}

func parseReplaces(r io.Reader, stagingVersion string) ([]string, error) {
	var out []string
	inBlock := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "replace (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "replace "):
			line = strings.TrimSpace(strings.TrimPrefix(line, "replace "))
		case !inBlock:
			continue
		}
		if line == "" {
			continue
		}
		if m := localStaging.FindStringSubmatch(line); m != nil {
			if stagingVersion != "" {
				out = append(out, fmt.Sprintf("%s => %s %s", m[1], m[2], stagingVersion))
			}
			continue
		}
		parts := strings.SplitN(line, "=>", 2)
		if len(parts) != 2 {
			continue
		}
		target := strings.TrimSpace(parts[1])
		if strings.HasPrefix(target, ".") || strings.HasPrefix(target, "/") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

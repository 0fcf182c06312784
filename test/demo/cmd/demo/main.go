// Command demo runs gitfleet's demo (make demo): a hub and three member clusters on this
// machine, the story of a release from dev to prod, and drift corrected in prod. It keeps
// everything running until Ctrl-C, or exits with the story's result when DEMO_EXIT=1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gitfleet/gitfleet/test/binaries"
	"github.com/gitfleet/gitfleet/test/demo"
)

func main() {
	binDir := flag.String("bin", "bin", "folder with gitfleet, gitfleet-hub and gitfleet-agent (make build)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exitAfter := os.Getenv("DEMO_EXIT") == "1"
	bin, _ := filepath.Abs(*binDir)

	fmt.Println("==> gitfleet demo: preparing kube-apiserver and etcd (built once from the Go module proxy, then cached)")
	if _, err := binaries.EnvtestAssets(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Println("==> Starting a hub and three member API servers, Gitea (or a git server with DEMO_FORGE=none), gitfleet-hub and three gitfleet-agents")
	start := time.Now()
	d, err := demo.Start(ctx, demo.Options{BinDir: bin, Out: os.Stdout, Forge: os.Getenv("DEMO_FORGE"), LogDir: os.Getenv("DEMO_LOG_DIR")})
	defer func() {
		if d != nil {
			fmt.Println("==> Stopping the demo")
			d.Stop()
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Printf("  up in %s; hub kubeconfig: %s\n", time.Since(start).Round(time.Second), d.Hub.Kubeconfig)
	fmt.Printf("  fleet config repo: %s  (git clone it, change it, push: the hub picks it up within 10s)\n", d.RepoURL)
	storyErr := d.RunStory(ctx)
	if storyErr != nil {
		fmt.Fprintln(os.Stderr, "\ndemo failed:", storyErr)
	} else {
		fmt.Printf("\n==> Every step of the story happened (%s in all).\n", time.Since(start).Round(time.Second))
	}
	if exitAfter {
		if storyErr != nil {
			d.Stop()
			d = nil
			os.Exit(1)
		}
		return
	}
	fmt.Println("\nEverything keeps running; try `bin/gitfleet status --kubeconfig " + d.Hub.Kubeconfig + " -n " + demo.Namespace + "`. Ctrl-C stops it.")
	<-ctx.Done()
}

// Command ensure-binaries builds (or finds in the cache) the real components the tests and
// the demo run: kube-apiserver and etcd always, and Gitea and the helm CLI when asked.
//
//	go run ./test/cmd/ensure-binaries [-gitea] [-helm]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/gitfleet/gitfleet/test/binaries"
)

func main() {
	gitea := flag.Bool("gitea", false, "also build Gitea "+binaries.Gitea.Version)
	helm := flag.Bool("helm", false, "also build the helm CLI "+binaries.Helm.Version+" (the parity tests' oracle)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	dir, err := binaries.EnvtestAssets(ctx, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Printf("envtest assets: %s\n", dir)
	for _, t := range []struct {
		on   bool
		tool binaries.Tool
	}{{*gitea, binaries.Gitea}, {*helm, binaries.Helm}} {
		if !t.on {
			continue
		}
		p, err := t.tool.Path(ctx, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %s\n", t.tool.Name, p)
	}
}

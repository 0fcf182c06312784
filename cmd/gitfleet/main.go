// Command gitfleet is gitfleet's command line:
//
//	gitfleet render DIR --cluster NAME | --all [--out DIR]   render a fleet config checkout locally
//	gitfleet diff --base REV --head REV [--format markdown]  which clusters and objects a change touches
//	gitfleet status [-o json|yaml]                           placements × clusters × stages on the hub
//	gitfleet promote STAGE [--revision SHA] [--skip-gates --reason TEXT]
//	gitfleet approve STAGE                                   merge the open approval pull request
//	gitfleet rollback STAGE --to REV [--reason TEXT]         pull request restoring an earlier render
//	gitfleet version
//
// render and diff run the hub's own scheduling and rendering code, with no cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/gitfleet/gitfleet/hydrate"
)

// command is one subcommand: it parses its own flags and returns the exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(context.Context, []string, io.Writer, io.Writer) int) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gitfleet: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "gitfleet: GitOps for fleets of Kubernetes clusters.\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'gitfleet COMMAND -h' for a command's flags.")
}

func init() {
	register("version", "print gitfleet's version", func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		fmt.Fprintln(stdout, "gitfleet", hydrate.Version)
		return 0
	})
}

// errorLines prints one line per joined error.
func errorLines(w io.Writer, prefix string, err error) {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		for _, e := range j.Unwrap() {
			errorLines(w, prefix, e)
		}
		return
	}
	fmt.Fprintf(w, "%s%s\n", prefix, strings.TrimSpace(err.Error()))
}

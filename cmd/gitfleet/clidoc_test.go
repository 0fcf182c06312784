package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gitfleet/gitfleet/test/docs"
)

var updateCLIDoc = flag.Bool("update", false, "rewrite docs/cli.md from the commands' help output")

// cliDoc is the generated page; test/docs reads its commands and flags to check the other
// pages, so it must always match the CLI.
const cliDoc = "../../docs/cli.md"

// TestCLIReference fails when docs/cli.md is not what the CLI prints for `gitfleet -h` and
// `gitfleet COMMAND -h`. Regenerate it with
//
//	go test ./cmd/gitfleet -run TestCLIReference -update
func TestCLIReference(t *testing.T) {
	docs.Generated(t, cliDoc, cliReference(t), *updateCLIDoc, "go test ./cmd/gitfleet -run TestCLIReference -update")
}

// cliReference renders docs/cli.md from the help output of the real commands.
func cliReference(t *testing.T) string {
	t.Helper()
	help := func(args ...string) string {
		var out, errOut bytes.Buffer
		run(context.Background(), args, &out, &errOut)
		return strings.TrimRight(out.String()+errOut.String(), "\n")
	}
	var b strings.Builder
	b.WriteString("# The `gitfleet` command line\n\n")
	b.WriteString("<!-- Generated from the commands' own help output by\n" +
		"     go test ./cmd/gitfleet -run TestCLIReference -update\n" +
		"     Do not edit: the test fails when this file and the CLI differ. -->\n\n")
	b.WriteString("`gitfleet` is built by `make build` (`cmd/gitfleet`). What each command does, in context:\n" +
		"[promotion.md](promotion.md) (`promote`, `approve`, `rollback`), [concepts.md](concepts.md)\n" +
		"(`render`, `diff`), [troubleshooting.md](troubleshooting.md) (`status`).\n\n")
	fmt.Fprintf(&b, "```text\n$ gitfleet -h\n%s\n```\n", help("-h"))
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\n## gitfleet %s\n\n%s.\n\n", n, upperFirst(commands[n].summary))
		fmt.Fprintf(&b, "```text\n$ gitfleet %s -h\n%s\n```\n", n, help(n, "-h"))
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

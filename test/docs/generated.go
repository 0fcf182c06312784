package docs

import (
	"os"
	"strings"
	"testing"
)

// Generated compares a generated page with its file, or rewrites the file when update is
// set. regenerate is the command that rewrites it, for the failure message.
func Generated(t testing.TB, file, got string, update bool, regenerate string) {
	t.Helper()
	if update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v (generate it: %s)", file, err, regenerate)
	}
	if string(want) != got {
		t.Errorf("%s is stale: run '%s' and commit it. Lines (-in the file +generated):\n%s",
			file, regenerate, DiffLines(strings.Split(string(want), "\n"), strings.Split(got, "\n")))
	}
}

// DiffLines lists the lines only in want (-) and only in got (+), in order.
func DiffLines(want, got []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, s := range want {
		if !g[s] {
			b.WriteString("- " + s + "\n")
		}
	}
	for _, s := range got {
		if !w[s] {
			b.WriteString("+ " + s + "\n")
		}
	}
	return b.String()
}

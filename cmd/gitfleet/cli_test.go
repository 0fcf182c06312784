package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitfleet/gitfleet/test/gitserver"
)

const fixture = "../../controllers/hub/testdata/fleet"

// repoFromFixture makes a git repository holding the hub's test fleet, and returns it
// with a function that commits a change.
func repoFromFixture(t *testing.T) (string, func(files map[string]string)) {
	t.Helper()
	dir := t.TempDir()
	files, err := gitserver.ReadDir(fixture)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(files map[string]string) {
		for p, data := range files {
			f := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		wt, err := repo.Worktree()
		if err != nil {
			t.Fatal(err)
		}
		if err := wt.AddGlob("."); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Commit("change", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(files)
	return dir, commit
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestRender(t *testing.T) {
	out, stderr, code := runCLI(t, "render", fixture, "--all")
	if code != 0 {
		t.Fatalf("render --all = exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{"shop       prod-us  prod     env/prod     4        ok", "raw        prod-eu  default  env/default  2        ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("render --all output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "render", fixture, "--cluster", "prod-us")
	if code != 0 || !strings.Contains(out, "name: web-legacy") || strings.Contains(out, "PodDisruptionBudget") {
		t.Errorf("render --cluster prod-us (Kubernetes 1.36) = exit %d, want the legacy ConfigMap and no PodDisruptionBudget:\n%s", code, out)
	}
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, "render", fixture, "--all", "--out", dir); code != 0 {
		t.Fatalf("render --out = exit %d: %s", code, stderr)
	}
	for _, p := range []string{"env/prod/gitfleet.json", "env/prod/README.md", "env/prod/clusters/prod-us/shop/shop/deployment-shop.yaml", "env/dev/clusters/dev-1/web/web/deployment-web.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("render --out did not write %s: %v", p, err)
		}
	}
}

func TestRenderReportsErrors(t *testing.T) {
	dir, commit := repoFromFixture(t)
	commit(map[string]string{"apps/web/chart/templates/broken.yaml": "{{ .Values.nope.deeper }}\n"})
	_, stderr, code := runCLI(t, "render", dir, "--all")
	if code != 1 || !strings.Contains(stderr, "placement web on prod-eu: ") || !strings.Contains(stderr, "broken.yaml") {
		t.Errorf("render of a broken chart = exit %d, stderr:\n%s\nwant exit 1 naming the placement, cluster and template", code, stderr)
	}
}

func TestDiff(t *testing.T) {
	dir, commit := repoFromFixture(t)
	overrides, err := os.ReadFile(filepath.Join(dir, "fleet/overrides.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	commit(map[string]string{"fleet/overrides.yaml": strings.Replace(string(overrides), "{region: eu}", "{region: us}", 1)})

	out, stderr, code := runCLI(t, "diff", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD", "--exit-code")
	if code != 1 {
		t.Fatalf("diff --exit-code = exit %d (stderr %s), want 1 for a change", code, stderr)
	}
	for _, want := range []string{"env/prod: cluster prod-us", "+    mirror: mirror.us.example.com", "-    mirror: mirror.eu.example.com", "5 objects differ on 3 clusters"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}
	md, _, _ := runCLI(t, "diff", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD", "--format", "markdown")
	if !strings.Contains(md, "| `env/prod` | prod-us | 0 | 2 | 0 |") || !strings.Contains(md, "<details>") {
		t.Errorf("markdown diff lacks the per-cluster table or the collapsed diffs:\n%s", md)
	}
	out, _, code = runCLI(t, "diff", "--repo", dir, "--base", "HEAD", "--head", "HEAD", "--exit-code")
	if code != 0 || !strings.Contains(out, "no cluster is affected") {
		t.Errorf("diff of a revision with itself = exit %d, %q; want 0 and no change", code, out)
	}
}

// TestRenderRefusesInvalidFleetFiles: a misspelled field fails `gitfleet render` (as the API
// server would refuse the file) with a message naming the file and the field path, instead
// of rendering with the field silently dropped.
func TestRenderRefusesInvalidFleetFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	typo := `apiVersion: fleet.gitfleet.dev/v1alpha1
kind: Placement
metadata: {name: typo}
spec:
  sourceRef: {name: fleet}
  directory: {path: apps/web}
  targetNamespce: web
`
	if err := os.WriteFile(filepath.Join(dir, "fleet", "typo.yaml"), []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "render", dir, "--all")
	if code == 0 || !strings.Contains(stderr, `fleet/typo.yaml: Placement "typo" is invalid: unknown field "spec.targetNamespce"`) {
		t.Errorf("render of a misspelled field = exit %d, stderr %q; want a failure naming the file and field", code, stderr)
	}
}

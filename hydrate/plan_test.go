package hydrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitfleet/gitfleet/render"
)

func TestPlanFailures(t *testing.T) {
	p := &Plan{Placements: map[string]*PlacementPlan{
		"web": {Clusters: map[string]*ClusterPlan{"eu-1": {Err: errors.New("bad template")}, "us-1": {}}},
		"api": {Err: errors.New("pipeline missing")},
		"ok":  {Clusters: map[string]*ClusterPlan{"eu-1": {}}},
	}}
	got := p.Failures()
	want := []string{"api: pipeline missing", "web on eu-1: bad template"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Failures() = %q, want %q", got, want)
	}
}

// TestHydratePhases hydrates the hub's test fleet with one placement whose source does
// not load and one whose pipeline is missing: each failure is recorded where it belongs
// (the pair, the placement) and the other placements render as usual.
func TestHydratePhases(t *testing.T) {
	f, err := LoadFleetDir("../controllers/hub/testdata/fleet", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	f.SourceBranch, f.SourceCommit, f.Now = "main", "1111111", time.Now()
	for i := range f.Placements {
		switch p := &f.Placements[i]; p.Name {
		case "raw":
			p.Spec.Directory.Path = "apps/missing"
		case "shop":
			p.Spec.PipelineRef.Name = "gone"
		}
	}
	plan := Hydrate(context.Background(), f, render.New(render.Options{}))

	// The placement's load error is its pair's error; the pair keeps its last good files.
	raw := plan.Placements["raw"]
	if raw.Err != nil || raw.Clusters["prod-eu"] == nil || raw.Clusters["prod-eu"].Err == nil {
		t.Errorf("raw with a missing directory: placement error %v, clusters %v; want the load error on prod-eu", raw.Err, raw.Clusters)
	}
	if b := plan.Branches["env/default"]; b == nil {
		t.Errorf("no env/default branch, want it with the failed pair prod-eu/raw")
	} else if fmt.Sprint(b.Pairs) != "[{prod-eu raw}]" || fmt.Sprint(b.Failed) != "[{prod-eu raw}]" || len(b.Files) != 0 {
		t.Errorf("env/default: pairs %v, failed %v, %d files; want the pair prod-eu/raw failed, with no files", b.Pairs, b.Failed, len(b.Files))
	}
	// A missing pipeline stops its placement before scheduling.
	if shop := plan.Placements["shop"]; shop.Err == nil || !strings.Contains(shop.Err.Error(), `pipeline "gone" not found`) || len(shop.Clusters) != 0 {
		t.Errorf("shop with a missing pipeline: error %v, clusters %v; want the pipeline error and no clusters", shop.Err, shop.Clusters)
	}
	// web renders on every cluster, in the branch of its stage, its pairs sorted.
	for branch, want := range map[string]string{"env/dev": "[{dev-1 web}]", "env/prod": "[{prod-eu web} {prod-us web}]"} {
		b := plan.Branches[branch]
		if b == nil {
			t.Fatalf("no %s branch", branch)
		}
		if fmt.Sprint(b.Pairs) != want || len(b.Failed) != 0 || fmt.Sprint(b.Pipelines) != "[default]" {
			t.Fatalf("%s: pairs %v, failed %v, pipelines %v; want pairs %s of pipeline default, none failed", branch, b.Pairs, b.Failed, b.Pipelines, want)
		}
		for _, pair := range b.Pairs {
			found := false
			for p := range b.Files {
				found = found || strings.HasPrefix(p, pair.Dir()+"/")
			}
			if !found {
				t.Errorf("%s has no files under %s", branch, pair.Dir())
			}
		}
	}
}

package hydrate

import (
	"context"
	"testing"
	"time"

	"github.com/gitfleet/gitfleet/render"
)

// TestMemo hydrates the hub's test fleet twice: unchanged, every pair is reused; after
// one Override rule moves from region eu to region us, only the pairs that rule selected
// before or after render again.
func TestMemo(t *testing.T) {
	f, err := LoadFleetDir("../controllers/hub/testdata/fleet", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	f.SourceBranch, f.SourceCommit, f.Now, f.Memo = "main", "1111111", time.Now(), NewMemo()
	r := render.New(render.Options{})
	first := Hydrate(context.Background(), f, r)
	_, misses := f.Memo.Stats()
	if misses != 6 {
		t.Fatalf("first pass rendered %d pairs, want 6 (web×3, shop×2, raw×1)", misses)
	}

	f.SourceCommit = "2222222"
	Hydrate(context.Background(), f, r)
	hits, misses := f.Memo.Stats()
	if hits != 6 || misses != 6 {
		t.Errorf("unchanged second pass: hits %d, misses %d; want every pair reused (6 hits, no new miss)", hits, misses)
	}

	f.Overrides[0].Spec.Rules[0].ClusterSelector.MatchLabels = map[string]string{"region": "us"}
	third := Hydrate(context.Background(), f, r)
	hits2, misses2 := f.Memo.Stats()
	// web on dev-1, prod-eu, prod-us and shop on prod-eu, prod-us change; raw (not a
	// frontend) is reused.
	if misses2-misses != 5 || hits2-hits != 1 {
		t.Errorf("after moving one rule: %d pairs rendered, %d reused; want 5 and 1", misses2-misses, hits2-hits)
	}
	// Reused pairs give exactly the objects of a fresh render.
	if a, b := first.Placements["raw"].Clusters["prod-eu"].Objects, third.Placements["raw"].Clusters["prod-eu"].Objects; len(a) != len(b) || string(a[0].YAML) != string(b[0].YAML) {
		t.Errorf("reused raw objects differ from the first render")
	}
}

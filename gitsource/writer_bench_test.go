package gitsource

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// fleetTree returns clusters × placements files of about 1 KiB each, in the environment
// branch layout, with gen mixed into the files of cluster changed (or every cluster when
// changed < 0).
func fleetTree(clusters, placements, changed, gen int) map[string][]byte {
	f := make(map[string][]byte, clusters*placements+2)
	body := strings.Repeat("    key: value-with-some-length\n", 30)
	for c := 0; c < clusters; c++ {
		for p := 0; p < placements; p++ {
			g := 0
			if changed < 0 || c == changed {
				g = gen
			}
			f[fmt.Sprintf("clusters/cluster-%04d/app-%02d/default/configmap-app-%02d.yaml", c, p, p)] =
				[]byte(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-%02d\n  annotations:\n    gen: %q\ndata:\n%s", p, fmt.Sprint(g), body))
		}
	}
	f["gitfleet.json"] = []byte(fmt.Sprintf("{\"gen\": %d}\n", gen))
	f["README.md"] = []byte("# env/dev\n")
	return f
}

// BenchmarkWriter measures the environment branch writer on a 1000 clusters × 10
// placements tree (10,002 files, ~11 MB) pushed to a local bare repository:
//
//	go test ./gitsource -run '^$' -bench BenchmarkWriter -benchtime 3x
func BenchmarkWriter(b *testing.B) {
	ctx := context.Background()
	const clusters, placements = 1000, 10
	b.Run("initial-10k-files", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			_, url := newBareRepo(b)
			tree := fleetTree(clusters, placements, -1, 0)
			b.StartTimer()
			if _, err := NewWriter().Write(ctx, writeReq(url, "env/dev", tree)); err != nil {
				b.Fatal(err)
			}
		}
	})
	_, url := newBareRepo(b)
	w := NewWriter()
	if _, err := w.Write(ctx, writeReq(url, "env/dev", fleetTree(clusters, placements, -1, 0))); err != nil {
		b.Fatal(err)
	}
	gen := 0
	b.Run("one-cluster-change", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			gen++
			tree := fleetTree(clusters, placements, gen%clusters, gen)
			b.StartTimer()
			res, err := w.Write(ctx, writeReq(url, "env/dev", tree))
			if err != nil || !res.Committed {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		tree := fleetTree(clusters, placements, gen%clusters, gen)
		if _, err := w.Write(ctx, writeReq(url, "env/dev", tree)); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := w.Write(ctx, writeReq(url, "env/dev", tree))
			if err != nil || res.Committed {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("one-cluster-change-cold-writer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			gen++
			tree := fleetTree(clusters, placements, gen%clusters, gen)
			b.StartTimer()
			if _, err := NewWriter().Write(ctx, writeReq(url, "env/dev", tree)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update-one-placement", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			gen++
			req := writeReq(url, "env/dev", nil)
			req.Scope = []string{"clusters/"}
			req.Update = func(cur map[string][]byte) (map[string][]byte, error) {
				cur["clusters/cluster-0007/app-03/default/configmap-app-03.yaml"] = []byte(fmt.Sprint("update ", gen))
				return cur, nil
			}
			if _, err := w.Write(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFetch measures Fetch of the 10,002-file branch: a cold shallow clone, and an
// incremental fetch + hard reset after a one-cluster change:
//
//	go test ./gitsource -run '^$' -bench BenchmarkFetch -benchtime 3x
func BenchmarkFetch(b *testing.B) {
	ctx := context.Background()
	_, url := newBareRepo(b)
	w := NewWriter()
	if _, err := w.Write(ctx, writeReq(url, "env/dev", fleetTree(1000, 10, -1, 0))); err != nil {
		b.Fatal(err)
	}
	b.Run("cold-clone-10k-files", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	dir := b.TempDir()
	if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir}); err != nil {
		b.Fatal(err)
	}
	gen := 0
	b.Run("incremental-one-cluster-change", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			gen++
			res, err := w.Write(ctx, writeReq(url, "env/dev", fleetTree(1000, 10, gen%1000, gen)))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			co, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir})
			if err != nil || co.Commit != res.Commit {
				b.Fatal(co, err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Fetch(ctx, FetchOptions{URL: url, Branch: "env/dev", Dir: dir}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

//go:build integration

package binaries

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentBuilds builds one small tool from the module proxy from several goroutines
// at once into an empty cache: it is built once, every caller gets the same executable,
// and a later call finds it without building.
func TestConcurrentBuilds(t *testing.T) {
	t.Setenv("GITFLEET_CACHE_DIR", t.TempDir())
	tool := Tool{Name: "controller-gen", Module: "sigs.k8s.io/controller-tools", Version: "v0.23.0",
		Package: "sigs.k8s.io/controller-tools/cmd/controller-gen"}
	var mu sync.Mutex
	var logs bytes.Buffer
	paths := make([]string, 4)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			p, err := tool.Path(context.Background(), &buf)
			if err != nil {
				t.Errorf("Path() = %v", err)
			}
			mu.Lock()
			logs.Write(buf.Bytes())
			mu.Unlock()
			paths[i] = p
		}()
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "building controller-gen"); n != 1 {
		t.Errorf("%d builds for 4 concurrent callers, want 1:\n%s", n, logs.String())
	}
	for _, p := range paths[1:] {
		if p != paths[0] || !isExecutable(p) {
			t.Errorf("paths = %v, want one executable", paths)
		}
	}
	var again bytes.Buffer
	if _, err := tool.Path(context.Background(), &again); err != nil || again.Len() != 0 {
		t.Errorf("second Path() = %v, output %q; want no build", err, again.String())
	}
}

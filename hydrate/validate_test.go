package hydrate

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/validate.golden")

// writeFleet lays files out under a new root's fleet/ folder and returns the root.
func writeFleet(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, "fleet", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestInvalidFleetFiles: every invalid fleet file is refused, no object of it is kept,
// the message names the file and the API server's field path, and the messages are the
// golden ones (go test ./hydrate -run TestInvalidFleetFiles -update rewrites them).
func TestInvalidFleetFiles(t *testing.T) {
	if len(invalidFleetCases) < 25 {
		t.Fatalf("only %d cases", len(invalidFleetCases))
	}
	var golden []string
	for _, tc := range invalidFleetCases {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFleet(t, tc.files)
			objs, err := ReadFleetObjects(root, "fleet", "fleet-system")
			if err == nil {
				t.Fatalf("accepted")
			}
			if len(objs) != 0 {
				t.Errorf("kept %d objects of an invalid fleet", len(objs))
			}
			msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
			if tc.field != "" && !strings.Contains(msg, tc.field) {
				t.Errorf("message does not name %s: %s", tc.field, msg)
			}
			named := false
			for file := range tc.files {
				named = named || strings.Contains(msg, filepath.Join("fleet", filepath.FromSlash(file)))
			}
			if !named {
				t.Errorf("message names no file: %s", msg)
			}
			golden = append(golden, "== "+tc.name+"\n"+msg+"\n")
		})
	}
	sort.Strings(golden)
	got := strings.Join(golden, "")
	path := filepath.Join("testdata", "validate.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s (rerun with -update and review the diff):\n%s", path, got)
	}
}

// TestSamplesAreValid: the fleet kinds among config/samples pass the local validation.
func TestSamplesAreValid(t *testing.T) {
	for _, s := range fleetSamples(t) {
		if errs := ValidateFleetObject(s.Object); len(errs) > 0 {
			t.Errorf("%s: %v", s.File, errs)
		}
	}
}

// fleetSamples reads the fleet kinds among config/samples.
func fleetSamples(t *testing.T) []FleetObject {
	t.Helper()
	var out []FleetObject
	for _, kind := range []string{"placement", "override", "pipeline", "membercluster"} {
		file := "fleet_v1alpha1_" + kind + ".yaml"
		data, err := os.ReadFile(filepath.Join("..", "config", "samples", file))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeObjects(data)
		if err != nil || len(objs) == 0 {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range objs {
			out = append(out, FleetObject{Object: o, File: file})
		}
	}
	return out
}

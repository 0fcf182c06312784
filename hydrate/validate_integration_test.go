//go:build integration

package hydrate

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// TestMain gives controller-runtime a logger (silent unless GITFLEET_TEST_VERBOSE is set).
func TestMain(m *testing.M) {
	ctrl.SetLogger(envtest.Logger(os.Stderr))
	os.Exit(m.Run())
}

// TestInvalidFleetFilesMatchAPIServer: for every object of the invalid-fleet table and of
// config/samples, the local verdict (ValidateFleetObject) is the verdict of a real API
// server's server-side dry-run create with strict field validation, with the CRDs of
// config/crd/bases installed: refused by both or accepted by both, and where the case
// names a field path, both messages name it.
func TestInvalidFleetFilesMatchAPIServer(t *testing.T) {
	hub := envtest.StartForTest(t, envtest.Options{Name: "hub", AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	ns := envtest.NewNamespace(t, hub.Client)
	ctx := context.Background()

	verdicts := func(t *testing.T, fo FleetObject) (local, server string) {
		t.Helper()
		o := fo.Object.DeepCopy()
		o.SetNamespace(ns)
		if errs := ValidateFleetObject(o); len(errs) > 0 {
			local = formatFieldErrors(errs)
		}
		if err := hub.Client.Create(ctx, o, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			server = err.Error()
		}
		return local, server
	}

	for _, tc := range invalidFleetCases {
		if tc.localOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			names := make([]string, 0, len(tc.files))
			for n := range tc.files {
				names = append(names, n)
			}
			sort.Strings(names)
			refused := 0
			for _, n := range names {
				objs, err := decodeObjects([]byte(tc.files[n]))
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				for _, o := range objs {
					local, server := verdicts(t, FleetObject{Object: o, File: n})
					if (local != "") != (server != "") {
						t.Errorf("%s %q: local verdict %q, API server verdict %q", o.GetKind(), o.GetName(), local, server)
						continue
					}
					if server == "" {
						continue
					}
					refused++
					if tc.field != "" && (!strings.Contains(server, tc.field) || !strings.Contains(local, tc.field)) {
						t.Errorf("field %s not named by both:\n local:  %s\n server: %s", tc.field, local, server)
					}
					t.Logf("API server: %s", server)
				}
			}
			if refused == 0 {
				t.Errorf("the API server accepted every object of the case")
			}
		})
	}

	t.Run("samples", func(t *testing.T) {
		for _, s := range fleetSamples(t) {
			if local, server := verdicts(t, s); local != "" || server != "" {
				t.Errorf("%s: local %q, API server %q", s.File, local, server)
			}
		}
	})
}

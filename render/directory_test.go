package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func dirSpec(path string, recurse bool) *fleetv1.PlacementSpec {
	return &fleetv1.PlacementSpec{Directory: &fleetv1.DirectorySource{Path: path, Recurse: recurse}}
}

func TestDirectory(t *testing.T) {
	for name, tc := range map[string]struct {
		spec *fleetv1.PlacementSpec
		want []string
	}{
		"top level only": {
			spec: dirSpec("manifests", false),
			want: []string{"v1 Namespace team-a", "scheduling.k8s.io/v1 PriorityClass team-a-high"},
		},
		"recursive, json and multi-document yaml": {
			spec: dirSpec("manifests", true),
			want: []string{
				"v1 Namespace team-a",
				"scheduling.k8s.io/v1 PriorityClass team-a-high",
				"v1 ConfigMap api-config",
				"v1 Service api",
				"apps/v1 Deployment api",
			},
		},
		"targetNamespace on namespaced objects only": {
			spec: func() *fleetv1.PlacementSpec { s := dirSpec("manifests", true); s.TargetNamespace = "team-a"; return s }(),
			want: []string{
				"v1 Namespace team-a",
				"scheduling.k8s.io/v1 PriorityClass team-a-high",
				"v1 ConfigMap team-a/api-config",
				"v1 Service team-a/api",
				"apps/v1 Deployment team-a/api",
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			objs := mustRender(t, New(Options{}), input("team-a", tc.spec), newCluster)
			if diff := cmp.Diff(tc.want, ids(objs)); diff != "" {
				t.Errorf("Render(directory) objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDirectoryYAMLIsCanonical(t *testing.T) {
	objs := mustRender(t, New(Options{}), input("team-a", dirSpec("manifests", true)), newCluster)
	got := string(mustFindObject(t, objs, "ConfigMap", "api-config").YAML)
	want := `apiVersion: v1
data:
  mode: fast
  workers: "4"
kind: ConfigMap
metadata:
  annotations:
    fleet.gitfleet.dev/placement: team-a
    fleet.gitfleet.dev/source-revision: ` + testRevision + `
  labels:
    app: api
  name: api-config
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigMap YAML (-want +got):\n%s", diff)
	}
	if got, want := FilePath("eu-1", "team-a", objs[2].ID), "clusters/eu-1/team-a/_cluster/configmap-api-config.yaml"; got != want {
		t.Errorf("FilePath(%s) = %q, want %q", objs[2].ID, got, want)
	}
}

func mustFindObject(t testing.TB, objs []Object, kind, name string) *Object {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("output has no %s %s; it has %v", kind, name, ids(objs))
	}
	return o
}

func TestDirectoryErrors(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nokind/a.yaml", "apiVersion: v1\nmetadata:\n  name: x\n")
	write("scalar/a.yaml", "just a string\n")
	write("noname/a.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n")
	write("dup/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	write("badname/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../x\n")
	outside := filepath.Join(filepath.Dir(root), "outside-"+filepath.Base(root)+".yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(outside) })
	if err := os.MkdirAll(filepath.Join(root, "symlink"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "symlink", "stolen.yaml")); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		root, path string
		target     error
		fragments  []string
	}{
		"malformed YAML": {
			root: testRoot, path: "bad-yaml", target: ErrRender,
			fragments: []string{"bad-yaml/broken.yaml: document 1: malformed YAML", "yaml: line"},
		},
		"no kind": {
			root: root, path: "nokind", target: ErrRender,
			fragments: []string{"nokind/a.yaml: document 1: not a Kubernetes object: kind is missing"},
		},
		"not a mapping": {
			root: root, path: "scalar", target: ErrRender,
			fragments: []string{"scalar/a.yaml: document 1: not a Kubernetes object"},
		},
		"generateName": {
			root: root, path: "noname", target: ErrRender,
			fragments: []string{`batch/v1 Job (generateName "migrate-"): metadata.name is required`},
		},
		"duplicate": {
			root: root, path: "dup", target: ErrRender,
			fragments: []string{"the output holds v1 ConfigMap x twice"},
		},
		"name that is a path": {
			root: root, path: "badname", target: ErrRender,
			fragments: []string{"cannot be a file name"},
		},
		"symlink out of the tree": {
			root: root, path: "symlink", target: ErrOutsideRoot,
			fragments: []string{"symlink/stolen.yaml", "path escapes the source tree"},
		},
		"folder outside the tree": {
			root: root, path: "..", target: ErrOutsideRoot,
			fragments: []string{`directory ..: "..": path escapes the source tree`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := Input{Root: tc.root, Placement: "p", Spec: dirSpec(tc.path, true)}
			err := renderErr(t, New(Options{}), in, newCluster)
			wantErr(t, err, tc.target, tc.fragments...)
		})
	}
}

func TestSecrets(t *testing.T) {
	for name, tc := range map[string]struct {
		spec  *fleetv1.PlacementSpec
		frags []string
	}{
		"plaintext Secret": {
			spec:  dirSpec("secret", false),
			frags: []string{"SecretRefused: Secret db-credentials holds plaintext data (data.user, stringData.password) and the placement does not set allowSecrets"},
		},
		"kustomize secretGenerator": {
			spec:  kustomizeSpec("kustomize/secret-generator"),
			frags: []string{"SecretRefused: Secret db-", "(data.password)"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := renderErr(t, New(Options{}), input("db", tc.spec), newCluster)
			wantErr(t, err, ErrSecretRefused, tc.frags...)
			for _, secret := range []string{"hunter2", "YWRtaW4=", "aHVudGVyMg=="} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals the Secret's value %q", err, secret)
				}
			}
			if got := Reason(err); got != fleetv1.SecretRefusedReason {
				t.Errorf("Reason = %q, want %q", got, fleetv1.SecretRefusedReason)
			}

			tc.spec.AllowSecrets = true
			objs := mustRender(t, New(Options{}), input("db", tc.spec), newCluster)
			if len(objs) != 1 || objs[0].ID.Kind != "Secret" {
				t.Errorf("allowSecrets: objects %v, want the Secret", ids(objs))
			}
		})
	}
}

func TestSecretDeletedByOverrideIsFine(t *testing.T) {
	spec := dirSpec("secret", false)
	spec.Overrides = []fleetv1.OverrideRule{{
		Name: "drop-secret", Delete: true, Target: &fleetv1.ResourceSelector{Version: "v1", Kind: "Secret"},
	}}
	objs := mustRender(t, New(Options{}), input("db", spec), newCluster)
	if len(objs) != 0 {
		t.Errorf("objects %v, want none after the delete", ids(objs))
	}
}

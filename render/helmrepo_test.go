package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// packageChart packages the testdata chart folder into a .tgz and returns its bytes.
func packageChart(t testing.TB, dir string) ([]byte, string) {
	t.Helper()
	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("loading %s: %v", dir, err)
	}
	out := t.TempDir()
	file, err := chartutil.Save(ch, out)
	if err != nil {
		t.Fatalf("packaging %s: %v", dir, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data, filepath.Base(file)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chartRepo serves index.yaml and the packaged common chart; digest overrides the digest
// the index claims (empty: the real one).
func chartRepo(t *testing.T, digest string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	tgz, name := packageChart(t, filepath.Join(testRoot, "charts", "common"))
	ch, err := loader.LoadArchive(strings.NewReader(string(tgz)))
	if err != nil {
		t.Fatal(err)
	}
	if digest == "" {
		digest = sha256Hex(tgz)
	}
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(ch.Metadata, "packages/"+name, "", digest); err != nil {
		t.Fatal(err)
	}
	index, err := yaml.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/stable/index.yaml", func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write(index)
	})
	mux.HandleFunc("/stable/packages/"+name, func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write(tgz)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestHelmHTTPChartRepository(t *testing.T) {
	srv, requests := chartRepo(t, "")
	r := New(Options{})
	spec := helmSpec(&fleetv1.HelmSource{RepoURL: srv.URL + "/stable", Chart: "common", Version: "0.2.1",
		Values: rawJSON(t, map[string]any{"greeting": "hi"})})
	spec.TargetNamespace = "apps"
	objs := mustRender(t, r, input("greeter", spec), newCluster)
	cm := mustFind(t, objs, "ConfigMap", "greeter-common")
	if got := str(t, cm, "data", "greeting"); got != "hi" {
		t.Errorf("greeting = %q, want the placement's value hi", got)
	}
	if o := find(objs, "ConfigMap", "greeter-common"); o.ID.Namespace != "apps" {
		t.Errorf("namespace = %q, want apps", o.ID.Namespace)
	}
	mustRender(t, r, input("greeter", spec), oldCluster)
	if got := requests.Load(); got != 2 {
		t.Errorf("two loads of a pinned chart made %d requests, want 2 (index and archive, once)", got)
	}
	if s := statsOf(r); s.Misses != 2 {
		t.Errorf("stats %+v, want 2 renders (two kube versions)", s)
	}

	for name, tc := range map[string]struct {
		url, chart, version string
		fragments           []string
	}{
		"missing version": {url: srv.URL + "/stable", chart: "common", version: "9.9.9",
			fragments: []string{`chart "common" has no version 9.9.9 in ` + srv.URL + "/stable/index.yaml"}},
		"missing chart": {url: srv.URL + "/stable", chart: "nope", version: "1.0.0",
			fragments: []string{`chart "nope" not found`}},
		"missing repository": {url: srv.URL + "/nowhere", chart: "common", version: "0.2.1",
			fragments: []string{"fetching " + srv.URL + "/nowhere/index.yaml", "404"}},
	} {
		t.Run(name, func(t *testing.T) {
			spec := helmSpec(&fleetv1.HelmSource{RepoURL: tc.url, Chart: tc.chart, Version: tc.version})
			err := renderErr(t, New(Options{}), input("greeter", spec), newCluster)
			wantErr(t, err, ErrRender, tc.fragments...)
		})
	}
}

func TestHelmHTTPChartDigestMismatch(t *testing.T) {
	srv, _ := chartRepo(t, strings.Repeat("0", 64))
	spec := helmSpec(&fleetv1.HelmSource{RepoURL: srv.URL + "/stable", Chart: "common", Version: "0.2.1"})
	err := renderErr(t, New(Options{}), input("greeter", spec), newCluster)
	wantErr(t, err, ErrRender, "does not match the index's "+strings.Repeat("0", 64))
}

// ociRegistry serves one chart the way an OCI registry does, for Helm's registry client.
func ociRegistry(t *testing.T, repository, tag string, tgz []byte) *httptest.Server {
	t.Helper()
	ch, err := loader.LoadArchive(strings.NewReader(string(tgz)))
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(ch.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"sha256:" + sha256Hex(config): config, "sha256:" + sha256Hex(tgz): tgz}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": registry.ConfigMediaType, "digest": "sha256:" + sha256Hex(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": registry.ChartLayerMediaType, "digest": "sha256:" + sha256Hex(tgz), "size": len(tgz)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest := "sha256:" + sha256Hex(manifest)
	prefix := "/v2/" + repository + "/"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := req.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(p, prefix+"manifests/"):
			ref := strings.TrimPrefix(p, prefix+"manifests/")
			if ref != tag && ref != manifestDigest {
				http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", manifestDigest)
			w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
			if req.Method != http.MethodHead {
				_, _ = w.Write(manifest)
			}
		case strings.HasPrefix(p, prefix+"blobs/"):
			b, ok := blobs[strings.TrimPrefix(p, prefix+"blobs/")]
			if !ok {
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			if req.Method != http.MethodHead {
				_, _ = w.Write(b)
			}
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHelmOCIChartRepository(t *testing.T) {
	tgz, _ := packageChart(t, filepath.Join(testRoot, "charts", "common"))
	srv := ociRegistry(t, "charts/common", "0.2.1", tgz)
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptWriter(io.Discard),
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "registry.json")))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{RegistryClient: client})
	host := strings.TrimPrefix(srv.URL, "http://")
	spec := helmSpec(&fleetv1.HelmSource{RepoURL: "oci://" + host + "/charts", Chart: "common", Version: "0.2.1"})
	objs := mustRender(t, r, input("greeter", spec), newCluster)
	if got := str(t, mustFind(t, objs, "ConfigMap", "greeter-common"), "data", "greeting"); got != "hello" {
		t.Errorf("greeting = %q, want the chart default hello", got)
	}

	spec.Helm.Version = "0.3.0"
	err = renderErr(t, r, input("greeter", spec), newCluster)
	wantErr(t, err, ErrRender, "helm chart oci://"+host+"/charts/common@0.3.0", "pulling oci://"+host+"/charts/common:0.3.0")
}

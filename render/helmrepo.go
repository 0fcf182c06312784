package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// defaultChartTimeout bounds every request to a chart repository.
const defaultChartTimeout = 2 * time.Minute

// maxFetchedCharts is how many fetched chart archives the Renderer keeps in memory; a
// pinned chart version is immutable, so they are not fetched again.
const maxFetchedCharts = 64

// fetchChart returns the packaged chart (.tgz) of chart at version from the HTTP(S) or
// OCI chart repository repoURL.
func (r *Renderer) fetchChart(ctx context.Context, repoURL, chartName, version string) ([]byte, error) {
	key := repoURL + "\x00" + chartName + "\x00" + version
	r.chartsMu.Lock()
	data, ok := r.charts[key]
	r.chartsMu.Unlock()
	if ok {
		return data, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var err error
	switch {
	case strings.HasPrefix(repoURL, "oci://"):
		data, err = r.pullOCI(repoURL, chartName, version)
	case strings.HasPrefix(repoURL, "https://"), strings.HasPrefix(repoURL, "http://"):
		data, err = r.fetchHTTP(repoURL, chartName, version)
	default:
		err = fmt.Errorf("repoURL %q: only https://, http:// and oci:// chart repositories are supported", repoURL)
	}
	if err != nil {
		return nil, err
	}
	r.chartsMu.Lock()
	defer r.chartsMu.Unlock()
	if _, ok := r.charts[key]; !ok {
		if len(r.chartOrder) >= maxFetchedCharts {
			delete(r.charts, r.chartOrder[0])
			r.chartOrder = r.chartOrder[1:]
		}
		r.charts[key] = data
		r.chartOrder = append(r.chartOrder, key)
	}
	return data, nil
}

func (r *Renderer) httpGetter() (getter.Getter, error) {
	timeout := r.opts.ChartRepositoryTimeout
	if timeout == 0 {
		timeout = defaultChartTimeout
	}
	opts := []getter.Option{getter.WithTimeout(timeout)}
	if r.opts.ChartRepositoryTransport != nil {
		opts = append(opts, getter.WithTransport(r.opts.ChartRepositoryTransport))
	}
	return getter.NewHTTPGetter(opts...)
}

// fetchHTTP reads the repository's index.yaml, finds the pinned version and downloads its
// archive, checking the digest the index gives.
func (r *Renderer) fetchHTTP(repoURL, chartName, version string) ([]byte, error) {
	g, err := r.httpGetter()
	if err != nil {
		return nil, err
	}
	indexURL := strings.TrimSuffix(repoURL, "/") + "/index.yaml"
	buf, err := g.Get(indexURL)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", indexURL, err)
	}
	var index repo.IndexFile
	if err := yaml.Unmarshal(buf.Bytes(), &index); err != nil {
		return nil, fmt.Errorf("reading %s: %w", indexURL, err)
	}
	for name, versions := range index.Entries {
		kept := versions[:0]
		for _, v := range versions {
			if v != nil && v.Metadata != nil {
				kept = append(kept, v)
			}
		}
		index.Entries[name] = kept
	}
	index.SortEntries()
	var entry *repo.ChartVersion
	for _, v := range index.Entries[chartName] {
		if v.Version == version || "v"+v.Version == version || v.Version == "v"+version {
			entry = v
			break
		}
	}
	if entry == nil {
		if _, ok := index.Entries[chartName]; !ok {
			return nil, fmt.Errorf("chart %q not found in %s", chartName, indexURL)
		}
		return nil, fmt.Errorf("chart %q has no version %s in %s", chartName, version, indexURL)
	}
	if len(entry.URLs) == 0 {
		return nil, fmt.Errorf("chart %q version %s has no download URL in %s", chartName, version, indexURL)
	}
	chartURL, err := repo.ResolveReferenceURL(repoURL, entry.URLs[0])
	if err != nil {
		return nil, err
	}
	buf, err = g.Get(chartURL)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", chartURL, err)
	}
	data := buf.Bytes()
	if entry.Digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, strings.TrimPrefix(entry.Digest, "sha256:")) {
			return nil, fmt.Errorf("%s: digest sha256:%s does not match the index's %s", chartURL, got, entry.Digest)
		}
	}
	return data, nil
}

// pullOCI pulls chart:version from the OCI registry repository repoURL (oci://host/path).
func (r *Renderer) pullOCI(repoURL, chartName, version string) ([]byte, error) {
	client := r.opts.RegistryClient
	if client == nil {
		var err error
		if client, err = registry.NewClient(registry.ClientOptWriter(io.Discard)); err != nil {
			return nil, fmt.Errorf("creating the OCI registry client: %w", err)
		}
	}
	// OCI tags cannot hold "+": Helm pushes build metadata with "_" instead.
	ref := strings.TrimSuffix(strings.TrimPrefix(repoURL, "oci://"), "/") + "/" + chartName + ":" + strings.ReplaceAll(version, "+", "_")
	res, err := client.Pull(ref, registry.PullOptWithChart(true))
	if err != nil {
		return nil, fmt.Errorf("pulling oci://%s: %w", ref, err)
	}
	if res.Chart == nil || len(res.Chart.Data) == 0 {
		return nil, errors.New("pulling oci://" + ref + ": the manifest holds no chart")
	}
	return res.Chart.Data, nil
}

package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// defaultHelmNamespace is the release namespace when the placement sets no targetNamespace.
const defaultHelmNamespace = "default"

// helmSource is a loaded Helm source: the chart's files (or archive), the values from
// valuesFiles and spec.values, and the release.
type helmSource struct {
	// display names the chart in errors: its path in the repository, or repo/chart@version.
	display string
	// files of a chart folder, with the file:// dependencies it resolved; nil for an archive.
	files *chartFiles
	// archive is a packaged chart (.tgz) fetched from a chart repository.
	archive []byte
	// hash is the content hash of files or archive.
	hash string
	// values are valuesFiles merged in order, then spec.values (not the chart defaults).
	values map[string]any
	// releaseName and namespace of the release.
	releaseName, namespace string
	skipCRDs               bool
}

// chartFiles holds the files of a chart folder and the charts of its file:// dependencies
// that are not vendored under charts/.
type chartFiles struct {
	files []*loader.BufferedFile
	deps  []*chartFiles
}

// loadHelm reads a Helm source: the chart folder (or the archive from the chart
// repository), the values files, and checks the release name.
func (r *Renderer) loadHelm(ctx context.Context, t *tree, in *Input) (*helmSource, error) {
	spec := in.Spec.Helm
	h := &helmSource{
		releaseName: spec.ReleaseName,
		namespace:   in.Spec.TargetNamespace,
		skipCRDs:    spec.SkipCRDs,
	}
	if h.releaseName == "" {
		h.releaseName = in.Placement
	}
	if h.namespace == "" {
		h.namespace = defaultHelmNamespace
	}
	if err := chartutil.ValidateReleaseName(h.releaseName); err != nil {
		return nil, fmt.Errorf("helm release name %q (set helm.releaseName when the placement name is not a valid release name): %w", h.releaseName, err)
	}
	valuesBase := "" // values files are relative to the chart folder, or to the root
	switch {
	case spec.Path != "" && spec.RepoURL != "":
		return nil, errors.New("helm: set either path or repoURL, not both")
	case spec.Path != "":
		h.display = path.Clean(filepath.ToSlash(spec.Path))
		files, err := loadChartFolder(t, spec.Path, nil)
		if err != nil {
			return nil, fmt.Errorf("helm chart %s: %w", h.display, err)
		}
		h.files = files
		h.hash = files.hash()
		valuesBase = spec.Path
	case spec.RepoURL != "":
		if spec.Chart == "" || spec.Version == "" {
			return nil, errors.New("helm: chart and version are required with repoURL")
		}
		h.display = strings.TrimSuffix(spec.RepoURL, "/") + "/" + spec.Chart + "@" + spec.Version
		data, err := r.fetchChart(ctx, spec.RepoURL, spec.Chart, spec.Version)
		if err != nil {
			return nil, fmt.Errorf("helm chart %s: %w", h.display, err)
		}
		h.archive = data
		sum := sha256.Sum256(data)
		h.hash = hex.EncodeToString(sum[:])
		if _, err := loader.LoadArchive(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("helm chart %s: %w", h.display, err)
		}
	default:
		return nil, errors.New("helm: one of path and repoURL is required")
	}
	values := map[string]any{}
	for i, vf := range spec.ValuesFiles {
		p := path.Join(filepath.ToSlash(valuesBase), filepath.ToSlash(vf))
		data, err := t.readFile(p)
		if err != nil {
			return nil, fmt.Errorf("helm valuesFiles[%d] %q: %w", i, vf, err)
		}
		v, err := chartutil.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("helm valuesFiles[%d] %q: malformed YAML: %w", i, vf, err)
		}
		values = mergeMaps(values, v)
	}
	if spec.Values != nil && len(spec.Values.Raw) > 0 {
		v, err := chartutil.ReadValues(spec.Values.Raw)
		if err != nil {
			return nil, fmt.Errorf("helm values: %w", err)
		}
		values = mergeMaps(values, v)
	}
	h.values = values
	return h, nil
}

// loadChartFolder reads the files of the chart folder dir the way Helm's loader does
// (.helmignore honoured), confined to the tree, and resolves the dependencies of
// Chart.yaml that are not vendored under charts/ but point at a folder of the tree
// (file://). seen guards against dependency cycles.
func loadChartFolder(t *tree, dir string, seen map[string]bool) (*chartFiles, error) {
	resolved, err := t.resolve(dir)
	if err != nil {
		return nil, err
	}
	if seen[resolved] {
		return nil, fmt.Errorf("file:// dependency cycle through %s", t.rel(resolved))
	}
	if seen == nil {
		seen = map[string]bool{}
	}
	seen[resolved] = true
	defer delete(seen, resolved)

	rules := ignore.Empty()
	if data, err := t.readFile(filepath.Join(resolved, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	rules.AddDefaults()

	entries, err := t.walk(resolved, true, func(rel string, info fs.FileInfo) bool { return rules.Ignore(rel, info) })
	if err != nil {
		return nil, err
	}
	cf := &chartFiles{}
	for _, e := range entries {
		if e.err != nil {
			return nil, fmt.Errorf("%s: %w", e.rel, e.err)
		}
		if rules.Ignore(e.rel, e.info) {
			continue
		}
		if !e.info.Mode().IsRegular() {
			return nil, fmt.Errorf("cannot load irregular file %s", e.rel)
		}
		if e.info.Size() > loader.MaxDecompressedFileSize {
			return nil, fmt.Errorf("chart file %s is larger than %d bytes", e.rel, loader.MaxDecompressedFileSize)
		}
		data, err := t.readFile(e.real)
		if err != nil {
			return nil, err
		}
		cf.files = append(cf.files, &loader.BufferedFile{Name: e.rel, Data: bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))})
	}
	ch, err := loader.LoadFiles(cf.files)
	if err != nil {
		return nil, err
	}
	vendored := map[string]bool{}
	for _, d := range ch.Dependencies() {
		vendored[d.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if dep == nil || vendored[dep.Name] {
			continue
		}
		local, ok := strings.CutPrefix(dep.Repository, "file://")
		if !ok {
			repo := dep.Repository
			if repo == "" {
				repo = "no repository"
			}
			return nil, fmt.Errorf("dependency %q (%s, version %q) is not vendored under charts/ and %w: run `helm dependency build` and commit the charts/ folder", dep.Name, repo, dep.Version, ErrNeedsNetwork)
		}
		sub, err := loadChartFolder(t, filepath.Join(resolved, filepath.FromSlash(local)), seen)
		if err != nil {
			return nil, fmt.Errorf("dependency %q (%s): %w", dep.Name, dep.Repository, err)
		}
		subChart, err := sub.build()
		if err != nil {
			return nil, fmt.Errorf("dependency %q (%s): %w", dep.Name, dep.Repository, err)
		}
		if subChart.Name() != dep.Name {
			return nil, fmt.Errorf("dependency %q (%s) holds chart %q", dep.Name, dep.Repository, subChart.Name())
		}
		if dep.Version != "" {
			c, err := semver.NewConstraint(dep.Version)
			if err != nil {
				return nil, fmt.Errorf("dependency %q: version %q: %w", dep.Name, dep.Version, err)
			}
			v, err := semver.NewVersion(subChart.Metadata.Version)
			if err != nil || !c.Check(v) {
				return nil, fmt.Errorf("dependency %q (%s) has version %s, which does not satisfy %q", dep.Name, dep.Repository, subChart.Metadata.Version, dep.Version)
			}
		}
		vendored[dep.Name] = true
		cf.deps = append(cf.deps, sub)
	}
	return cf, nil
}

// build makes a fresh chart from the files: Helm's dependency processing changes the chart
// it works on, so every render builds its own.
func (cf *chartFiles) build() (*chart.Chart, error) {
	ch, err := loader.LoadFiles(cf.files)
	if err != nil {
		return nil, err
	}
	for _, d := range cf.deps {
		sub, err := d.build()
		if err != nil {
			return nil, err
		}
		ch.AddDependency(sub)
	}
	return ch, nil
}

// hash is the content hash of the files and, in order, of the file:// dependencies.
func (cf *chartFiles) hash() string {
	h := sha256.New()
	var write func(c *chartFiles)
	write = func(c *chartFiles) {
		files := append([]*loader.BufferedFile(nil), c.files...)
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		fmt.Fprintf(h, "files %d\n", len(files))
		for _, f := range files {
			fmt.Fprintf(h, "%q %d\n", f.Name, len(f.Data))
			h.Write(f.Data)
		}
		fmt.Fprintf(h, "deps %d\n", len(c.deps))
		for _, d := range c.deps {
			write(d)
		}
	}
	write(cf)
	return hex.EncodeToString(h.Sum(nil))
}

// capabilities builds Helm's .Capabilities from the cluster facts: the reported API
// versions replace Helm's default set (as `helm install` against the cluster would see
// them); without a report Helm's defaults (those of `helm template`) stay.
func capabilities(c *Cluster) (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	if c.KubernetesVersion != "" {
		kv, err := chartutil.ParseKubeVersion(c.KubernetesVersion)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: kubernetes version %q: %w", c.Name, c.KubernetesVersion, err)
		}
		caps.KubeVersion = *kv
	}
	if len(c.APIVersions) > 0 {
		caps.APIVersions = chartutil.VersionSet(sortedUnique(c.APIVersions))
	}
	return caps, nil
}

// render renders the chart with the effective values for the cluster's capabilities:
// the manifests, the CRDs of crds/ (unless skipCRDs) and every hook except test hooks.
// crds are the chart's CRDs, also when skipped: their scopes tell the namespace rule which
// custom kinds are cluster scoped.
func (h *helmSource) render(values map[string]any, caps *chartutil.Capabilities) (objs, crds []*unstructured.Unstructured, err error) {
	var ch *chart.Chart
	if h.archive != nil {
		ch, err = loader.LoadArchive(bytes.NewReader(h.archive))
	} else {
		ch, err = h.files.build()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading chart: %w", err)
	}
	values = copyValues(values)
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, nil, fmt.Errorf("processing dependencies: %w", err)
	}
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, nil, fmt.Errorf("chart requires kubeVersion %s, which is incompatible with Kubernetes %s", ch.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	opts := chartutil.ReleaseOptions{Name: h.releaseName, Namespace: h.namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values, opts, caps, false)
	if err != nil {
		return nil, nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, nil, err
	}
	var out []*unstructured.Unstructured
	for _, crd := range ch.CRDObjects() {
		docs, err := decodeManifests(crd.Filename, crd.File.Data)
		if err != nil {
			return nil, nil, err
		}
		crds = append(crds, docs...)
	}
	if !h.skipCRDs {
		out = append(out, crds...)
	}
	for _, m := range manifests {
		docs, err := decodeManifests(m.Name, []byte(m.Content))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, docs...)
	}
	for _, hk := range hooks {
		if isTestHook(hk) {
			continue
		}
		docs, err := decodeManifests(hk.Path, []byte(hk.Manifest))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, docs...)
	}
	return out, crds, nil
}

// isTestHook reports whether a hook runs for `helm test` (helm.sh/hook: test, or the
// Helm 2 test-success and test-failure): those are left out of the output.
func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

// effectiveValues merges the override rules' helmValues (already substituted) over the
// source's values.
func (h *helmSource) effectiveValues(overrides []map[string]any) map[string]any {
	v := h.values
	for _, o := range overrides {
		v = mergeMaps(v, o)
	}
	return v
}

// cacheKey is the render cache key of the chart with the effective values and the
// capabilities.
func (h *helmSource) cacheKey(values map[string]any, caps *chartutil.Capabilities) (string, error) {
	vj, err := canonicalJSON(values)
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	k := sha256.New()
	fmt.Fprintf(k, "helm\x00%s\x00%s\x00%s\x00%s\x00%t\x00%s\x00", cacheVersion, h.hash, h.releaseName, h.namespace, h.skipCRDs, caps.KubeVersion.Version)
	for _, v := range caps.APIVersions {
		fmt.Fprintf(k, "%s\x00", v)
	}
	k.Write([]byte{0})
	k.Write(vj)
	return hex.EncodeToString(k.Sum(nil)), nil
}

// mergeMaps merges b over a the way Helm merges -f files and --set: maps merge
// recursively, any other value of b replaces a's. Neither input is changed.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// copyValues deep-copies a values tree (maps and slices; other values are immutable).
func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return copyValues(t)
	case chartutil.Values:
		return copyValues(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = copyValue(e)
		}
		return s
	default:
		return x
	}
}

func sortedUnique(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	j := 0
	for i, s := range out {
		if i > 0 && s == out[j-1] {
			continue
		}
		out[j] = s
		j++
	}
	return out[:j]
}

package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// kustomizeSource is a loaded kustomization: its folder and the content hash of every
// kustomization folder it reaches.
type kustomizeSource struct {
	display string // path in the repository
	dir     string // real path of the kustomization folder
	hash    string
}

// loadKustomize checks the kustomization graph rooted at path for remote references and
// references leaving the tree, and hashes the folders it reaches.
func loadKustomize(t *tree, p string) (*kustomizeSource, error) {
	display := filepath.ToSlash(filepath.Clean(p))
	dir, err := t.resolve(p)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", display, err)
	}
	dirs, err := scanKustomizations(t, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", display, err)
	}
	hash, err := hashFolders(t, dirs)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", display, err)
	}
	return &kustomizeSource{display: display, dir: dir, hash: hash}, nil
}

// render runs krusty on the kustomization with a file system confined to the tree.
func (k *kustomizeSource) render(t *tree) ([]*unstructured.Unstructured, error) {
	fsys := newConfinedFS(t)
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	resMap, err := krusty.MakeKustomizer(opts).Run(fsys, k.dir)
	if err != nil {
		if esc := fsys.escape(); esc != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", k.display, esc)
		}
		return nil, fmt.Errorf("kustomize build %s: %w", k.display, &pathsError{err: err, root: t.root})
	}
	data, err := resMap.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", k.display, err)
	}
	return decodeManifests("kustomize build "+k.display, data)
}

func (k *kustomizeSource) cacheKey() string {
	h := sha256.Sum256([]byte("kustomize\x00" + cacheVersion + "\x00" + k.display + "\x00" + k.hash))
	return hex.EncodeToString(h[:])
}

// pathsError shows an error with the tree's absolute root stripped from the paths it
// names, so messages name files as they are in the repository.
type pathsError struct {
	err  error
	root string
}

// Error returns the message with the root stripped.
func (e *pathsError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.root+string(filepath.Separator), "")
}

// Unwrap returns the original error.
func (e *pathsError) Unwrap() error { return e.err }

// kustomizationFile returns the kustomization file of dir, or "" when it has none.
func kustomizationFile(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// scpLike matches git's user@host:path addresses, as kustomize reads them.
var scpLike = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@[^/:]+:`)

// isRemote reports whether a kustomization entry is a reference kustomize would fetch: a
// URL (any scheme, git:: prefix included), an scp-like git address, or github.com/...
func isRemote(ref string) bool {
	r := strings.TrimSpace(ref)
	if l := strings.ToLower(r); strings.HasPrefix(l, "git::") {
		return true
	}
	if u, err := url.Parse(r); err == nil && u.Scheme != "" && strings.Contains(r, "://") {
		return true
	}
	l := strings.ToLower(r)
	return scpLike.MatchString(r) || strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "github.com:")
}

// kustRef is one path-like entry of a kustomization.
type kustRef struct {
	field string
	value string
	// base entries may name another kustomization folder.
	base bool
	// plugin entries may name a plugin configuration file whose path fields are checked.
	plugin bool
}

func kustomizationRefs(k *types.Kustomization) []kustRef {
	var refs []kustRef
	add := func(field string, base, plugin bool, values ...string) {
		for _, v := range values {
			if v != "" {
				refs = append(refs, kustRef{field: field, value: v, base: base, plugin: plugin})
			}
		}
	}
	add("resources", true, false, k.Resources...)
	add("bases", true, false, k.Bases...) //nolint:staticcheck // deprecated, but krusty still reads it: its paths are checked too
	add("components", true, false, k.Components...)
	add("generators", true, true, k.Generators...)
	add("transformers", true, true, k.Transformers...)
	add("validators", true, true, k.Validators...)
	add("crds", false, false, k.Crds...)
	add("configurations", false, false, k.Configurations...)
	for _, p := range k.PatchesStrategicMerge { //nolint:staticcheck // deprecated, but krusty still reads it: its paths are checked too
		if !strings.Contains(string(p), "\n") {
			add("patchesStrategicMerge", false, false, string(p))
		}
	}
	for _, p := range k.Patches {
		add("patches.path", false, false, p.Path)
	}
	for _, p := range k.PatchesJson6902 { //nolint:staticcheck // deprecated, but krusty still reads it: its paths are checked too
		add("patchesJson6902.path", false, false, p.Path)
	}
	for _, r := range k.Replacements {
		add("replacements.path", false, false, r.Path)
	}
	if p, ok := k.OpenAPI["path"]; ok {
		add("openapi.path", false, false, p)
	}
	kv := func(field string, s types.KvPairSources) {
		for _, f := range s.FileSources {
			if _, file, ok := strings.Cut(f, "="); ok {
				f = file
			}
			add(field+".files", false, false, f)
		}
		add(field+".envs", false, false, s.EnvSources...)
		add(field+".env", false, false, s.EnvSource)
	}
	for _, g := range k.ConfigMapGenerator {
		kv("configMapGenerator", g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		kv("secretGenerator", g.KvPairSources)
	}
	return refs
}

// scanKustomizations walks the kustomization graph from dir (resources, bases, components,
// generators, transformers and validators that are folders) and returns the real paths of
// every kustomization folder reached. It refuses remote references, Helm chart
// inflation and folders leaving the tree; errors it cannot judge (a malformed file, a
// missing one) are left to kustomize, which reports them in its own words.
func scanKustomizations(t *tree, dir string) ([]string, error) {
	seen := map[string]bool{}
	queue := []string{dir}
	var dirs []string
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		dirs = append(dirs, d)
		file := kustomizationFile(d)
		if file == "" {
			continue
		}
		data, err := t.readFile(file)
		if err != nil {
			return nil, err
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			continue
		}
		shown := t.rel(file)
		if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 || k.HelmGlobals != nil {
			return nil, fmt.Errorf("%s: helmCharts are not supported in kustomizations: render the chart with a helm placement", shown)
		}
		for _, ref := range kustomizationRefs(&k) {
			if strings.Contains(ref.value, "\n") { // an inline plugin configuration
				if err := checkPluginConfig(shown, ref, []byte(ref.value)); err != nil {
					return nil, err
				}
				continue
			}
			if isRemote(ref.value) {
				return nil, fmt.Errorf("%s: %s entry %q: %w; vendor it into the repository", shown, ref.field, ref.value, ErrRemoteRefused)
			}
			if filepath.IsAbs(ref.value) {
				continue // kustomize refuses absolute paths itself
			}
			target := filepath.Join(d, filepath.FromSlash(ref.value))
			resolved, err := t.resolve(target)
			if err != nil {
				if errors.Is(err, ErrOutsideRoot) {
					return nil, fmt.Errorf("%s: %s entry %q: %w", shown, ref.field, ref.value, ErrOutsideRoot)
				}
				continue
			}
			fi, err := os.Stat(resolved)
			if err != nil {
				continue
			}
			switch {
			case fi.IsDir() && ref.base:
				queue = append(queue, resolved)
			case !fi.IsDir() && ref.plugin:
				data, err := t.readFile(resolved)
				if err != nil {
					return nil, err
				}
				if err := checkPluginConfig(shown, ref, data); err != nil {
					return nil, err
				}
			}
		}
	}
	return dirs, nil
}

// checkPluginConfig refuses a plugin configuration (a generator, transformer or validator
// given as a file or inline) whose path fields are remote.
func checkPluginConfig(shown string, ref kustRef, data []byte) error {
	docs, err := decodeManifests(shown, data)
	if err != nil {
		return nil // kustomize reports it
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for key, val := range x {
				if s, ok := val.(string); ok && (key == "path" || key == "paths") && isRemote(s) {
					return fmt.Errorf("%s: %s entry: path %q: %w; vendor it into the repository", shown, ref.field, s, ErrRemoteRefused)
				}
				if l, ok := val.([]any); ok && key == "paths" {
					for _, e := range l {
						if s, ok := e.(string); ok && isRemote(s) {
							return fmt.Errorf("%s: %s entry: path %q: %w; vendor it into the repository", shown, ref.field, s, ErrRemoteRefused)
						}
					}
				}
				if err := walk(val); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, d := range docs {
		if err := walk(d.Object); err != nil {
			return err
		}
	}
	return nil
}

// hashFolders hashes every file below the folders (real paths), each file once. With
// kustomize's LoadRestrictionsRootOnly a kustomization reads only files below its own
// folder, so these files are all a build can see. Symlinks leading outside the tree are
// hashed by name: the build refuses them if it reads them.
func hashFolders(t *tree, dirs []string) (string, error) {
	sorted := append([]string(nil), dirs...)
	sort.Strings(sorted)
	var roots []string
	for _, d := range sorted {
		if len(roots) > 0 && within(roots[len(roots)-1], d) {
			continue
		}
		roots = append(roots, d)
	}
	h := sha256.New()
	for _, d := range roots {
		entries, err := t.walk(d, true, func(rel string, _ fs.FileInfo) bool { return filepath.Base(rel) == ".git" })
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "dir %q %d\n", t.rel(d), len(entries))
		for _, e := range entries {
			if e.err != nil {
				fmt.Fprintf(h, "unreadable %q\n", e.rel)
				continue
			}
			data, err := os.ReadFile(e.real)
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", t.rel(e.real), unwrapPathError(err))
			}
			fmt.Fprintf(h, "file %q %d\n", e.rel, len(data))
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

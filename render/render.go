package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/registry"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Options configure a Renderer. The zero value is usable.
type Options struct {
	// Cache holds renders; several Renderers may share one. Nil means a new Cache with the
	// default bounds.
	Cache *Cache
	// ChartRepositoryTransport, when set, carries the requests to HTTP(S) chart
	// repositories (proxies, custom CAs).
	ChartRepositoryTransport *http.Transport
	// ChartRepositoryTimeout bounds each request to an HTTP(S) chart repository; zero
	// means two minutes.
	ChartRepositoryTimeout time.Duration
	// RegistryClient pulls charts from oci:// repositories. Nil means an anonymous client
	// (Helm's and Docker's stored credentials are honoured) speaking HTTPS.
	RegistryClient *registry.Client
}

// Renderer renders placements for clusters. It is safe for concurrent use.
type Renderer struct {
	opts  Options
	cache *Cache

	chartsMu   sync.Mutex
	charts     map[string][]byte // fetched chart archives by repo, chart and version
	chartOrder []string
}

// New returns a Renderer.
func New(opts Options) *Renderer {
	c := opts.Cache
	if c == nil {
		c = NewCache(0, 0)
	}
	return &Renderer{opts: opts, cache: c, charts: map[string][]byte{}}
}

// Cache returns the Renderer's cache (for its Stats).
func (r *Renderer) Cache() *Cache { return r.cache }

// maxBases bounds how many finished outputs (one per distinct render) a Source keeps to
// share between clusters.
const maxBases = 64

// Source is a placement's source loaded at one revision: read, hashed and checked once,
// then rendered for each cluster. It is safe for concurrent use; it does not watch the
// tree, so load again after the checkout changes.
type Source struct {
	r    *Renderer
	t    *tree
	helm *helmSource
	kust *kustomizeSource
	dir  *directorySource

	rules           []*rule
	placement       string
	revision        string
	targetNamespace string
	allowSecrets    bool

	mu    sync.Mutex
	bases map[*rendered][]Object
}

// Render loads the input's source and renders it for one cluster: Load then
// Source.Render. Prefer Load once and Source.Render per cluster for many clusters.
func (r *Renderer) Render(ctx context.Context, in Input, c Cluster) ([]Object, error) {
	src, err := r.Load(ctx, in)
	if err != nil {
		return nil, err
	}
	return src.Render(ctx, c)
}

// Load reads and checks the placement's source: the chart folder and values files (or
// the chart from its repository), the kustomization graph, or the manifest folder, all
// confined to in.Root; and it compiles the override rules. Errors wrap ErrRender, or
// ErrOverride for a malformed rule.
func (r *Renderer) Load(ctx context.Context, in Input) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Spec == nil {
		return nil, asRender(errors.New("placement spec is nil"))
	}
	if in.Placement == "" {
		return nil, asRender(errors.New("placement name is empty"))
	}
	set := 0
	for _, b := range []bool{in.Spec.Helm != nil, in.Spec.Kustomize != nil, in.Spec.Directory != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, asRender(errors.New("exactly one of helm, kustomize and directory must be set"))
	}
	t, err := newTree(in.Root)
	if err != nil {
		return nil, asRender(err)
	}
	s := &Source{
		r:               r,
		t:               t,
		placement:       in.Placement,
		revision:        in.SourceRevision,
		targetNamespace: in.Spec.TargetNamespace,
		allowSecrets:    in.Spec.AllowSecrets,
		bases:           map[*rendered][]Object{},
	}
	switch {
	case in.Spec.Helm != nil:
		if s.helm, err = r.loadHelm(ctx, t, &in); err != nil {
			return nil, asRender(err)
		}
		s.targetNamespace = s.helm.namespace
	case in.Spec.Kustomize != nil:
		if s.kust, err = loadKustomize(t, in.Spec.Kustomize.Path); err != nil {
			return nil, asRender(err)
		}
	default:
		if s.dir, err = loadDirectory(t, in.Spec.Directory.Path, in.Spec.Directory.Recurse); err != nil {
			return nil, asRender(err)
		}
	}
	if s.rules, err = compileRules(&in, s.helm != nil); err != nil {
		return nil, asOverride(err)
	}
	return s, nil
}

// Render renders the source for one cluster: the helmValues of the rules selecting the
// cluster merged before rendering (through the cache), then their JSON patches and
// deletes in order, the namespace, the provenance annotations and the Secret check. The
// objects come back sorted: CRDs, Namespaces, other cluster-scoped objects, namespaced
// objects, each by group, kind, namespace and name.
//
// Errors wrap ErrRender, ErrOverride (naming the rule) or ErrSecretRefused; Reason maps
// them to condition reasons.
func (s *Source) Render(ctx context.Context, c Cluster) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rules []*rule
	for _, r := range s.rules {
		if r.selects(&c) {
			rules = append(rules, r)
		}
	}
	key, fn, err := s.renderFunc(rules, &c)
	if err != nil {
		return nil, err
	}
	rd, err := s.r.cache.get(ctx, key, fn)
	if err != nil {
		return nil, asRender(err)
	}
	base, err := s.base(rd)
	if err != nil {
		return nil, asRender(err)
	}
	out, err := s.applyOverrides(rules, &c, rd, base)
	if err != nil {
		return nil, err
	}
	if err := checkSecrets(out, s.allowSecrets); err != nil {
		return nil, err
	}
	return out, nil
}

// renderFunc returns the cache key and the render function for the cluster.
func (s *Source) renderFunc(rules []*rule, c *Cluster) (string, func() (*rendered, error), error) {
	switch {
	case s.helm != nil:
		var overrides []map[string]any
		for _, r := range rules {
			if r.helmValues == nil {
				continue
			}
			v, err := r.helmValuesFor(c)
			if err != nil {
				return "", nil, err
			}
			overrides = append(overrides, v)
		}
		values := s.helm.effectiveValues(overrides)
		caps, err := capabilities(c)
		if err != nil {
			return "", nil, asRender(err)
		}
		key, err := s.helm.cacheKey(values, caps)
		if err != nil {
			return "", nil, asRender(fmt.Errorf("helm chart %s: %w", s.helm.display, err))
		}
		return key, func() (*rendered, error) {
			objs, crds, err := s.helm.render(values, caps)
			if err != nil {
				return nil, fmt.Errorf("helm chart %s: %w", s.helm.display, err)
			}
			return newRendered(objs, crds...)
		}, nil
	case s.kust != nil:
		return s.kust.cacheKey(), func() (*rendered, error) {
			objs, err := s.kust.render(s.t)
			if err != nil {
				return nil, err
			}
			return newRendered(objs)
		}, nil
	default:
		return s.dir.cacheKey(), func() (*rendered, error) {
			objs, err := s.dir.render()
			if err != nil {
				return nil, err
			}
			return newRendered(objs)
		}, nil
	}
}

// newRendered wraps a render's objects. Scopes of custom kinds come from the CRDs among
// them and from crds (CRDs the source holds but does not output, e.g. with skipCRDs).
func newRendered(objs []*unstructured.Unstructured, crds ...*unstructured.Unstructured) (*rendered, error) {
	rd := &rendered{objs: objs, crdScoped: ClusterScopedCRDKinds(append(append([]*unstructured.Unstructured(nil), objs...), crds...))}
	for _, u := range objs {
		data, err := json.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", objectID(u), err)
		}
		rd.size += int64(len(data))
	}
	return rd, nil
}

// base returns the finished objects of a render (namespace, provenance, YAML) before
// patches, shared by every cluster of the source with the same render.
func (s *Source) base(rd *rendered) ([]Object, error) {
	s.mu.Lock()
	b, ok := s.bases[rd]
	s.mu.Unlock()
	if ok {
		return b, nil
	}
	b = make([]Object, 0, len(rd.objs))
	for _, u := range rd.objs {
		o, err := finishObject(u.DeepCopy(), s.targetNamespace, s.placement, s.revision, rd.crdScoped)
		if err != nil {
			return nil, err
		}
		b = append(b, o)
	}
	sortObjects(b)
	if err := checkDuplicates(b); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.bases) < maxBases {
		s.bases[rd] = b
	}
	s.mu.Unlock()
	return b, nil
}

// applyOverrides runs the rules' JSON patches and deletes, in order, on copies of the
// targeted objects.
func (s *Source) applyOverrides(rules []*rule, c *Cluster, rd *rendered, base []Object) ([]Object, error) {
	type item struct {
		obj              Object
		changed, deleted bool
	}
	var items []item
	for _, r := range rules {
		if r.helmValues != nil {
			continue
		}
		if items == nil {
			items = make([]item, len(base))
			for i := range base {
				items[i].obj = base[i]
			}
		}
		var cp *clusterPatch
		if len(r.patch) > 0 {
			var err error
			if cp, err = r.patchFor(c); err != nil {
				return nil, err
			}
		}
		for i := range items {
			it := &items[i]
			if it.deleted || !r.targets(it.obj.Object) {
				continue
			}
			if r.delete {
				it.deleted = true
				continue
			}
			patched, err := r.apply(cp, it.obj.Object)
			if err != nil {
				return nil, err
			}
			it.obj.Object = patched
			it.changed = true
		}
	}
	if items == nil {
		return append([]Object(nil), base...), nil
	}
	out := make([]Object, 0, len(items))
	changed := false
	for _, it := range items {
		if it.deleted {
			continue
		}
		if it.changed {
			changed = true
			o, err := finishObject(it.obj.Object, s.targetNamespace, s.placement, s.revision, rd.crdScoped)
			if err != nil {
				return nil, asOverride(fmt.Errorf("after the overrides: %w", err))
			}
			it.obj = o
		}
		out = append(out, it.obj)
	}
	if changed {
		sortObjects(out)
		if err := checkDuplicates(out); err != nil {
			return nil, asOverride(fmt.Errorf("after the overrides: %w", err))
		}
	}
	return out, nil
}

// ContentKey identifies what the loaded source renders from: the content hash of the
// chart (or archive), kustomization tree or manifest folder, and for Helm the merged
// valuesFiles and values. Two Loads with the same ContentKey, spec and cluster render the
// same objects, so callers can reuse a render across revisions that did not touch it.
func (s *Source) ContentKey() string {
	switch {
	case s.helm != nil:
		values, _ := json.Marshal(s.helm.values)
		sum := sha256.Sum256(values)
		return "helm:" + s.helm.hash + ":" + hex.EncodeToString(sum[:])
	case s.kust != nil:
		return "kustomize:" + s.kust.hash
	case s.dir != nil:
		return "directory:" + s.dir.hash
	}
	return ""
}

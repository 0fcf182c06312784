package render

import (
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// rule is a compiled override rule.
type rule struct {
	name   string
	origin string // "Placement web" or "Override eu-images"
	// clusters selects the clusters; nil selects all.
	clusters labels.Selector

	helmValues any // decoded JSON, variables not yet substituted

	target  *fleetv1.ResourceSelector
	objects labels.Selector // target.labelSelector; nil selects all
	patch   []patchOp
	delete  bool
}

// patchOp is one JSON patch operation with its value decoded.
type patchOp struct {
	Op       string
	Path     string
	From     string
	Value    any
	HasValue bool
}

// describe names the rule in errors: override rule "eu-mirror" (Override eu-images).
func (r *rule) describe() string {
	return fmt.Sprintf("override rule %q (%s)", r.name, r.origin)
}

// compileRules compiles the placement's inline rules, then the Override objects' rules.
// helmValues in an Override's rule are skipped for a placement that is not Helm (the
// Override may select placements of every kind); in an inline rule they are an error.
func compileRules(in *Input, isHelm bool) ([]*rule, error) {
	var rules []*rule
	for i := range in.Spec.Overrides {
		r, err := compileRule(&in.Spec.Overrides[i], "Placement "+in.Placement)
		if err != nil {
			return nil, err
		}
		if r.helmValues != nil && !isHelm {
			return nil, fmt.Errorf("%s: helmValues only apply to helm placements", r.describe())
		}
		rules = append(rules, r)
	}
	for _, o := range in.Overrides {
		for i := range o.Spec.Rules {
			r, err := compileRule(&o.Spec.Rules[i], "Override "+o.Name)
			if err != nil {
				return nil, err
			}
			if r.helmValues != nil && !isHelm {
				continue
			}
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func compileRule(in *fleetv1.OverrideRule, origin string) (*rule, error) {
	r := &rule{name: in.Name, origin: origin, target: in.Target, delete: in.Delete}
	hasValues := in.HelmValues != nil && len(in.HelmValues.Raw) > 0
	set := 0
	for _, b := range []bool{hasValues, len(in.JSONPatch) > 0, in.Delete} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("%s: exactly one of helmValues, jsonPatch and delete must be set", r.describe())
	}
	if in.ClusterSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(in.ClusterSelector)
		if err != nil {
			return nil, fmt.Errorf("%s: clusterSelector: %w", r.describe(), err)
		}
		r.clusters = sel
	}
	if hasValues {
		if in.Target != nil {
			return nil, fmt.Errorf("%s: target is not allowed with helmValues", r.describe())
		}
		var v any
		if err := utiljson.Unmarshal(in.HelmValues.Raw, &v); err != nil {
			return nil, fmt.Errorf("%s: helmValues: %w", r.describe(), err)
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: helmValues must be an object", r.describe())
		}
		r.helmValues = v
		return r, nil
	}
	if in.Target == nil || in.Target.Kind == "" {
		return nil, fmt.Errorf("%s: target with a kind is required with jsonPatch and delete", r.describe())
	}
	if in.Target.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(in.Target.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("%s: target.labelSelector: %w", r.describe(), err)
		}
		r.objects = sel
	}
	for i, op := range in.JSONPatch {
		p := patchOp{Op: string(op.Op), Path: op.Path, From: op.From}
		switch p.Op {
		case "add", "replace", "test":
			if op.Value == nil || len(op.Value.Raw) == 0 {
				return nil, fmt.Errorf("%s: jsonPatch[%d] %s %s: value is required", r.describe(), i, p.Op, p.Path)
			}
		case "move", "copy":
			if op.From == "" {
				return nil, fmt.Errorf("%s: jsonPatch[%d] %s %s: from is required", r.describe(), i, p.Op, p.Path)
			}
		case "remove":
		default:
			return nil, fmt.Errorf("%s: jsonPatch[%d]: unknown op %q", r.describe(), i, p.Op)
		}
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			return nil, fmt.Errorf("%s: jsonPatch[%d] %s %s: path must be a JSON pointer starting with /", r.describe(), i, p.Op, p.Path)
		}
		if op.Value != nil && len(op.Value.Raw) > 0 {
			if err := utiljson.Unmarshal(op.Value.Raw, &p.Value); err != nil {
				return nil, fmt.Errorf("%s: jsonPatch[%d] %s %s: value: %w", r.describe(), i, p.Op, p.Path, err)
			}
			p.HasValue = true
		}
		r.patch = append(r.patch, p)
	}
	return r, nil
}

// selects reports whether the rule applies to the cluster.
func (r *rule) selects(c *Cluster) bool {
	return r.clusters == nil || r.clusters.Matches(labels.Set(c.Labels))
}

// targets reports whether the object is one of the rule's targets.
func (r *rule) targets(u *unstructured.Unstructured) bool {
	t := r.target
	gvk := u.GroupVersionKind()
	if t.Kind != gvk.Kind || t.Group != gvk.Group {
		return false
	}
	if t.Version != "" && t.Version != gvk.Version {
		return false
	}
	if t.Namespace != "" && t.Namespace != u.GetNamespace() {
		return false
	}
	if t.Name != "" && t.Name != u.GetName() {
		return false
	}
	return r.objects == nil || r.objects.Matches(labels.Set(u.GetLabels()))
}

// helmValuesFor returns the rule's helmValues with the cluster's variables substituted,
// as Helm reads values (numbers as float64).
func (r *rule) helmValuesFor(c *Cluster) (map[string]any, error) {
	v, err := substitute(r.helmValues, c)
	if err != nil {
		return nil, asOverride(fmt.Errorf("%s: helmValues: %w", r.describe(), err))
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, asOverride(fmt.Errorf("%s: helmValues: %w", r.describe(), err))
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, asOverride(fmt.Errorf("%s: helmValues: %w", r.describe(), err))
	}
	return m, nil
}

// clusterPatch is a rule's JSON patch with the cluster's variables substituted.
type clusterPatch struct {
	ops   []patchOp
	patch jsonpatch.Patch
}

// patchFor substitutes the cluster's variables into the rule's patch values.
func (r *rule) patchFor(c *Cluster) (*clusterPatch, error) {
	cp := &clusterPatch{ops: make([]patchOp, len(r.patch))}
	raw := make([]map[string]any, len(r.patch))
	for i, op := range r.patch {
		cp.ops[i] = op
		m := map[string]any{"op": op.Op, "path": op.Path}
		if op.From != "" {
			m["from"] = op.From
		}
		if op.HasValue {
			v, err := substitute(op.Value, c)
			if err != nil {
				return nil, asOverride(fmt.Errorf("%s: jsonPatch %s %s: %w", r.describe(), op.Op, op.Path, err))
			}
			cp.ops[i].Value = v
			m["value"] = v
		}
		raw[i] = m
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, asOverride(fmt.Errorf("%s: jsonPatch: %w", r.describe(), err))
	}
	if cp.patch, err = jsonpatch.DecodePatch(data); err != nil {
		return nil, asOverride(fmt.Errorf("%s: jsonPatch: %w", r.describe(), err))
	}
	return cp, nil
}

// apply patches a copy of u. On failure it finds the operation that failed and names it.
func (r *rule) apply(cp *clusterPatch, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	id := objectID(u)
	doc, err := json.Marshal(u.Object)
	if err != nil {
		return nil, asOverride(fmt.Errorf("%s: on %s: %w", r.describe(), id, err))
	}
	out, err := cp.patch.Apply(doc)
	if err != nil {
		// Replay one operation at a time to name the one that failed.
		cur := doc
		for i, op := range cp.ops {
			next, opErr := cp.patch[i : i+1].Apply(cur)
			if opErr != nil {
				return nil, asOverride(fmt.Errorf("%s: jsonPatch %s %s on %s: %w", r.describe(), op.Op, op.Path, id, opErr))
			}
			cur = next
		}
		return nil, asOverride(fmt.Errorf("%s: jsonPatch on %s: %w", r.describe(), id, err))
	}
	var m map[string]any
	if err := utiljson.Unmarshal(out, &m); err != nil {
		return nil, asOverride(fmt.Errorf("%s: jsonPatch on %s: result is not an object: %w", r.describe(), id, err))
	}
	res := &unstructured.Unstructured{Object: m}
	if res.GetKind() == "" || res.GetAPIVersion() == "" || res.GetName() == "" {
		return nil, asOverride(fmt.Errorf("%s: jsonPatch on %s: the result has no apiVersion, kind or name", r.describe(), id))
	}
	if _, ok := m["metadata"].(map[string]any); !ok {
		return nil, asOverride(fmt.Errorf("%s: jsonPatch on %s: the result's metadata is not an object", r.describe(), id))
	}
	return res, nil
}

// Package drift compares live objects with what gitfleet applied, field by field, over
// the fields gitfleet owns: the field set of its server-side apply, as the API server
// recorded it in managedFields. Fields set by defaults, by controllers or by other field
// managers are not compared, so they are never drift.
package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// MaxValueLength bounds the JSON of a value in a Diff (the API keeps at most 1024
// characters).
const MaxValueLength = 1000

// Diff is one field that differs between the cluster and Git.
type Diff struct {
	// Path of the field, e.g. .spec.replicas or .spec.containers[name=app].image.
	Path string
	// InCluster is the live value as JSON; empty when the field is missing.
	InCluster string
	// InGit is the applied value as JSON; empty when Git removes the field.
	InGit string
}

// OwnedFields returns the fields that manager owns in obj through server-side apply
// (operation Apply, main resource), or nil when it owns none.
func OwnedFields(obj *unstructured.Unstructured, manager string) (*fieldpath.Set, error) {
	var owned *fieldpath.Set
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.GetRawBytes())); err != nil {
			return nil, fmt.Errorf("reading the managed fields of %s: %w", manager, err)
		}
		if owned == nil {
			owned = s
		} else {
			owned = owned.Union(s)
		}
	}
	return owned, nil
}

// Options tunes Compare.
type Options struct {
	// Ignore lists path patterns (see ParsePatterns) whose fields are not compared.
	Ignore []Pattern
	// Redact replaces values by a fixed text (for Secrets).
	Redact bool
}

// Compare returns the fields of owned (the leaves gitfleet applied) whose value in live
// differs from their value in applied (the object as the API server returned it after
// gitfleet's apply, so with the server's normalisation). A missing list item or map entry
// is reported once, at its own path. A nil live means the object is gone: one Diff with
// the path ".". Diffs are sorted by path.
func Compare(owned *fieldpath.Set, applied, live *unstructured.Unstructured, opts Options) []Diff {
	if live == nil {
		return []Diff{{Path: ".", InGit: "(object)"}}
	}
	if owned == nil || applied == nil {
		return nil
	}
	seen := map[string]bool{}
	var diffs []Diff
	owned.Leaves().Iterate(func(p fieldpath.Path) {
		if ignored(p, opts.Ignore) {
			return
		}
		want, depthW := lookup(applied.Object, p)
		if depthW < len(p) {
			return // not in the applied object: nothing to compare with
		}
		got, depthL := lookup(live.Object, p)
		if depthL < len(p) {
			// Report the first missing element, once.
			missing := p[:depthL+1]
			key := Format(missing)
			if seen[key] {
				return
			}
			seen[key] = true
			w, _ := lookup(applied.Object, missing)
			diffs = append(diffs, Diff{Path: key, InGit: render(w, opts.Redact)})
			return
		}
		if equalLeaf(want, got) {
			return
		}
		key := Format(p)
		if seen[key] {
			return
		}
		seen[key] = true
		diffs = append(diffs, Diff{Path: key, InCluster: render(got, opts.Redact), InGit: render(want, opts.Redact)})
	})
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Path < diffs[j].Path })
	return diffs
}

// lookup follows p in obj and returns the value found and how many elements of p
// were followed (len(p) when found).
func lookup(obj any, p fieldpath.Path) (any, int) {
	cur := obj
	for i, pe := range p {
		next, ok := step(cur, pe)
		if !ok {
			return nil, i
		}
		cur = next
	}
	return cur, len(p)
}

func step(cur any, pe fieldpath.PathElement) (any, bool) {
	switch {
	case pe.FieldName != nil:
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[*pe.FieldName]
		return v, ok
	case pe.Key != nil:
		l, ok := cur.([]any)
		if !ok {
			return nil, false
		}
		for _, item := range l {
			m, ok := item.(map[string]any)
			if ok && keyMatches(m, *pe.Key) {
				return item, true
			}
		}
		return nil, false
	case pe.Value != nil:
		l, ok := cur.([]any)
		if !ok {
			return nil, false
		}
		for _, item := range l {
			if value.Equals(value.NewValueInterface(item), *pe.Value) {
				return item, true
			}
		}
		return nil, false
	case pe.Index != nil:
		l, ok := cur.([]any)
		if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
			return nil, false
		}
		return l[*pe.Index], true
	}
	return nil, false
}

func keyMatches(m map[string]any, key value.FieldList) bool {
	for _, f := range key {
		v, ok := m[f.Name]
		if !ok || !value.Equals(value.NewValueInterface(v), f.Value) {
			return false
		}
	}
	return true
}

// equalLeaf compares two leaf values. An empty map in Git only says that the map
// exists (e.g. emptyDir: {}), so whatever others put in it is not drift.
func equalLeaf(want, got any) bool {
	if m, ok := want.(map[string]any); ok && len(m) == 0 {
		_, isMap := got.(map[string]any)
		return isMap || got == nil
	}
	return Equal(want, got)
}

// Equal compares two JSON-like values, treating numbers of different Go types as equal
// when their values are.
func Equal(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !Equal(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !Equal(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	if x, ok := toFloat(a); ok {
		y, ok := toFloat(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// render returns v as JSON, cut to MaxValueLength.
func render(v any, redact bool) string {
	if v == nil {
		return ""
	}
	if redact {
		return `"(redacted)"`
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) > MaxValueLength {
		return string(b[:MaxValueLength]) + "..."
	}
	return string(b)
}

// Format writes p for people: .spec.replicas, .metadata.labels["app.kubernetes.io/name"],
// .spec.containers[name=app].image, .spec.ports[port=80,protocol=TCP], .finalizers[=x],
// .spec.args[0].
func Format(p fieldpath.Path) string {
	if len(p) == 0 {
		return "."
	}
	var b strings.Builder
	for _, pe := range p {
		b.WriteString(formatElement(pe))
	}
	return b.String()
}

func formatElement(pe fieldpath.PathElement) string {
	switch {
	case pe.FieldName != nil:
		return formatField(*pe.FieldName)
	case pe.Key != nil:
		parts := make([]string, 0, len(*pe.Key))
		for _, f := range *pe.Key {
			parts = append(parts, f.Name+"="+scalar(f.Value))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case pe.Value != nil:
		return "[=" + scalar(*pe.Value) + "]"
	case pe.Index != nil:
		return fmt.Sprintf("[%d]", *pe.Index)
	}
	return "[?]"
}

func formatField(name string) string {
	if plainName(name) {
		return "." + name
	}
	q, _ := json.Marshal(name)
	return "[" + string(q) + "]"
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '_' && r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func scalar(v value.Value) string {
	if v.IsString() {
		return v.AsString()
	}
	return value.ToString(v)
}

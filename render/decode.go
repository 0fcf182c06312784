package render

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// decodeManifests parses a stream of YAML documents (or one JSON document) into objects.
// Empty documents (blank or comments only) are skipped, a List's items are expanded.
// Errors name the source (a file name) and the document's position.
func decodeManifests(source string, data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading document %d: %w", source, doc, err)
		}
		objs, err := decodeDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// decodeDocument parses one YAML or JSON document: nil for an empty one.
func decodeDocument(raw []byte) ([]*unstructured.Unstructured, error) {
	if isEmptyDocument(raw) {
		return nil, nil
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed YAML: %w", err)
	}
	js = bytes.TrimSpace(js)
	if bytes.Equal(js, []byte("null")) {
		return nil, nil
	}
	if len(js) == 0 || js[0] != '{' {
		return nil, fmt.Errorf("not a Kubernetes object: a YAML mapping with apiVersion and kind is required")
	}
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	u := &unstructured.Unstructured{Object: m}
	// The messages below never quote the document: it may be a Secret.
	if _, ok := m["kind"].(string); !ok || u.GetKind() == "" {
		return nil, fmt.Errorf("not a Kubernetes object: kind is missing")
	}
	if _, ok := m["apiVersion"].(string); !ok || u.GetAPIVersion() == "" {
		return nil, fmt.Errorf("%s %q: apiVersion is missing", u.GetKind(), u.GetName())
	}
	if md, ok := m["metadata"]; ok && md != nil {
		if _, ok := md.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: metadata is not a mapping", u.GetKind())
		}
	}
	if u.GetKind() == "List" && u.GetAPIVersion() == "v1" {
		items, _, err := unstructured.NestedSlice(u.Object, "items")
		if err != nil {
			return nil, fmt.Errorf("v1 List: %w", err)
		}
		var out []*unstructured.Unstructured
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("v1 List: items[%d] is not an object", i)
			}
			item := &unstructured.Unstructured{Object: m}
			if item.GetKind() == "" || item.GetAPIVersion() == "" {
				return nil, fmt.Errorf("v1 List: items[%d] has no apiVersion or kind", i)
			}
			out = append(out, item)
		}
		return out, nil
	}
	return []*unstructured.Unstructured{u}, nil
}

// isEmptyDocument reports whether a YAML document holds only blanks, comments and
// document markers.
func isEmptyDocument(raw []byte) bool {
	for _, line := range strings.Split(string(raw), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") || l == "---" || l == "..." {
			continue
		}
		return false
	}
	return true
}

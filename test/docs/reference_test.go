package docs

import (
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

var update = flag.Bool("update", false, "rewrite docs/api/reference.md from the CRDs")

// TestAPIReference fails when docs/api/reference.md is not what the CRDs in
// config/crd/bases say. Regenerate it with
//
//	go test ./test/docs -run TestAPIReference -update
func TestAPIReference(t *testing.T) {
	crds, err := readCRDs(filepath.Join(root, "config", "crd", "bases"))
	if err != nil {
		t.Fatal(err)
	}
	Generated(t, filepath.Join(root, "docs", "api", "reference.md"), apiReference(crds), *update,
		"go test ./test/docs -run TestAPIReference -update")
}

// apiReference renders the reference page: per kind, every field of spec and status with
// its type, constraints and description, as the CRD's openAPIV3Schema has them.
func apiReference(crds []*apiextensionsv1.CustomResourceDefinition) string {
	var b strings.Builder
	b.WriteString("# API reference: every field (generated)\n\n")
	b.WriteString("<!-- Generated from the CRDs in config/crd/bases by\n" +
		"     go test ./test/docs -run TestAPIReference -update\n" +
		"     Do not edit: the test fails when this file and the CRDs differ. -->\n\n")
	b.WriteString("Every field of every kind, as the API server validates it: the CRDs' schemas, which\n" +
		"`make generate` builds from the Go types in `api/v1alpha1`. The pages per kind\n" +
		"([README.md](README.md)) explain what the fields do; this page is the exhaustive list.\n" +
		"A list's items are written `[]` (`spec.stages[].name`).\n\n")
	for _, crd := range crds {
		fmt.Fprintf(&b, "- [%s](#%s)\n", crd.Spec.Names.Kind, strings.ToLower(crd.Spec.Names.Kind))
	}
	for _, crd := range crds {
		schema := servedSchema(crd)
		n := crd.Spec.Names
		fmt.Fprintf(&b, "\n## %s\n\n", n.Kind)
		version := ""
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				version = v.Name
			}
		}
		fmt.Fprintf(&b, "`%s/%s`, %s, plural `%s`", crd.Spec.Group, version, strings.ToLower(string(crd.Spec.Scope)), n.Plural)
		if len(n.ShortNames) > 0 {
			fmt.Fprintf(&b, ", short name `%s`", strings.Join(n.ShortNames, "`, `"))
		}
		b.WriteString(".\n\n")
		if schema == nil {
			continue
		}
		b.WriteString(oneLine(schema.Description) + "\n\n")
		b.WriteString("| Field | Type | Description |\n|---|---|---|\n")
		required := map[string]bool{}
		var rows []string
		visit := func(path string, p apiextensionsv1.JSONSchemaProps) {
			for _, r := range p.Required {
				prefix := path
				if prefix != "" {
					prefix += "."
				}
				required[prefix+r] = true
			}
		}
		visit("", *schema)
		walkSchema("", *schema, func(path string, p apiextensionsv1.JSONSchemaProps) {
			visit(path, p)
			if p.Items != nil && p.Items.Schema != nil {
				visit(path+"[]", *p.Items.Schema)
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", path, typeOf(p, required[path]), cell(p.Description)))
		})
		b.WriteString(strings.Join(rows, "\n") + "\n")
	}
	return b.String()
}

// typeOf is a field's type with its constraints: "string, required, enum: `A`, `B`".
func typeOf(p apiextensionsv1.JSONSchemaProps, required bool) string {
	t := p.Type
	switch {
	case t == "array" && p.Items != nil && p.Items.Schema != nil:
		t = "[]" + p.Items.Schema.Type
	case t == "object" && p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil:
		t = "map[string]" + p.AdditionalProperties.Schema.Type
	case t == "" && p.XIntOrString:
		t = "int or string"
	case t == "" && p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields:
		t = "any"
	}
	if p.Format != "" {
		t += " (" + p.Format + ")"
	}
	parts := []string{t}
	if required {
		parts = append(parts, "required")
	}
	if p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields && t != "any" {
		parts = append(parts, "any fields")
	}
	if len(p.Enum) > 0 {
		var vals []string
		for _, e := range p.Enum {
			vals = append(vals, "`"+strings.Trim(string(e.Raw), `"`)+"`")
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	if p.Default != nil {
		parts = append(parts, "default `"+compactJSON(p.Default.Raw)+"`")
	}
	if p.Pattern != "" {
		parts = append(parts, "pattern `"+strings.ReplaceAll(p.Pattern, "|", `\|`)+"`")
	}
	for _, bound := range []struct {
		name string
		v    *int64
	}{{"min length", p.MinLength}, {"max length", p.MaxLength}, {"min items", p.MinItems}, {"max items", p.MaxItems}} {
		if bound.v != nil {
			parts = append(parts, fmt.Sprintf("%s %d", bound.name, *bound.v))
		}
	}
	if p.Minimum != nil {
		parts = append(parts, fmt.Sprintf("minimum %g", *p.Minimum))
	}
	if p.Maximum != nil {
		parts = append(parts, fmt.Sprintf("maximum %g", *p.Maximum))
	}
	if p.XListType != nil {
		lt := "list type " + *p.XListType
		if len(p.XListMapKeys) > 0 {
			lt += " (key `" + strings.Join(p.XListMapKeys, "`, `") + "`)"
		}
		parts = append(parts, lt)
	}
	for _, r := range p.XValidations {
		parts = append(parts, "rule: "+cell(r.Message))
	}
	return strings.Join(parts, ", ")
}

func compactJSON(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.Marshal(v)
	return strings.ReplaceAll(string(out), "|", `\|`)
}

// oneLine joins a description's lines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cell makes a description safe inside a table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(oneLine(s), "|", `\|`), "<", "&lt;")
}

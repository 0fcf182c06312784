package drift

import (
	"fmt"
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Pattern is a parsed path pattern: a path whose fields, and everything under them, are
// ignored. Elements are written as Format writes them; [*] matches any list item.
type Pattern []string

// ParsePatterns parses a comma separated list of paths, as in the annotation
// fleet.gitfleet.dev/drift-ignore-fields. Each path may be written as Format writes
// it (.spec.replicas, .spec.containers[name=app].image, .metadata.labels["a.b/c"]),
// without the leading dot (spec.replicas), or as a JSON pointer (/spec/replicas).
// [*] stands for any list item. Paths that cannot be parsed are returned as errors and
// left out.
func ParsePatterns(list string) ([]Pattern, []error) {
	var pats []Pattern
	var errs []error
	for _, raw := range splitTop(list) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		p, err := ParsePattern(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pats = append(pats, p)
	}
	return pats, errs
}

// splitTop splits s at commas outside brackets and quotes.
func splitTop(s string) []string {
	var parts []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// ParsePattern parses one path (see ParsePatterns).
func ParsePattern(s string) (Pattern, error) {
	if strings.HasPrefix(s, "/") {
		var p Pattern
		for _, seg := range strings.Split(s[1:], "/") {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
			if isIndex(seg) || seg == "*" {
				p = append(p, "["+seg+"]")
				continue
			}
			p = append(p, formatField(seg))
		}
		return p, nil
	}
	if !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "[") {
		s = "." + s
	}
	var p Pattern
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("path %q: empty field name at %d", s, i)
			}
			p = append(p, formatField(s[i+1:j]))
			i = j
		case '[':
			j, quoted := i+1, false
			for ; j < len(s); j++ {
				if s[j] == '"' && s[j-1] != '\\' {
					quoted = !quoted
				}
				if s[j] == ']' && !quoted {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("path %q: unclosed [ at %d", s, i)
			}
			elem := s[i : j+1]
			if strings.HasPrefix(elem, `["`) {
				var name string
				if _, err := fmt.Sscanf(elem[1:len(elem)-1], "%q", &name); err != nil {
					return nil, fmt.Errorf("path %q: bad quoted field %s", s, elem)
				}
				elem = formatField(name)
			}
			p = append(p, elem)
			i = j + 1
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at %d", s, s[i], i)
		}
	}
	return p, nil
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Matches reports whether path p is the pattern's path or lies under it.
func (pat Pattern) Matches(p fieldpath.Path) bool {
	if len(pat) > len(p) {
		return false
	}
	for i, want := range pat {
		if want == "[*]" {
			if p[i].FieldName != nil {
				return false
			}
			continue
		}
		if formatElement(p[i]) != want {
			return false
		}
	}
	return true
}

// String writes the pattern back.
func (pat Pattern) String() string { return strings.Join(pat, "") }

func ignored(p fieldpath.Path, pats []Pattern) bool {
	for _, pat := range pats {
		if pat.Matches(p) {
			return true
		}
	}
	return false
}

package render

import (
	"fmt"
	"strconv"
	"strings"
)

// The variables override values may use.
const (
	varClusterName     = "CLUSTER_NAME"
	varClusterLabel    = "CLUSTER_LABEL"
	varClusterProperty = "CLUSTER_PROPERTY"
	varClusterReplicas = "CLUSTER_REPLICAS"
)

// replicasVariable is the one value that becomes a number when it is the whole string.
const replicasVariable = "${" + varClusterReplicas + "}"

// substitute returns a copy of v (a decoded JSON value) with the cluster variables
// replaced in every string (map keys are left alone). A string that is exactly
// ${CLUSTER_REPLICAS} becomes the number.
func substitute(v any, c *Cluster) (any, error) {
	switch x := v.(type) {
	case string:
		return expand(x, c)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			s, err := substitute(e, c)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			s, err := substitute(e, c)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	default:
		return v, nil
	}
}

// expand replaces the variables of s. A variable is ${NAME} or ${NAME[arg]} where NAME
// starts with an upper-case letter and holds only upper-case letters, digits and
// underscores; any other ${...} is left as it is. $${ is a literal ${.
func expand(s string, c *Cluster) (any, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	if s == replicasVariable {
		if c.Replicas == nil {
			return nil, fmt.Errorf("%s: %w: the placement divides no replicas (policy.replicas)", replicasVariable, ErrMissingVariable)
		}
		return int64(*c.Replicas), nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		name, arg, hasArg, n := parseVariable(s[i+2:])
		if n < 0 {
			b.WriteString("${")
			i += 2
			continue
		}
		ref := s[i : i+2+n]
		val, err := lookupVariable(name, arg, hasArg, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		b.WriteString(val)
		i += 2 + n
	}
	return b.String(), nil
}

// parseVariable parses NAME} or NAME[arg]} at the start of s. n is the length consumed
// (through the closing brace), or -1 when s does not start a variable reference.
func parseVariable(s string) (name, arg string, hasArg bool, n int) {
	i := 0
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_' || (i > 0 && s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	if i == 0 || s[0] == '_' {
		return "", "", false, -1
	}
	name = s[:i]
	if i < len(s) && s[i] == '[' {
		end := strings.Index(s[i:], "]}")
		if end < 0 {
			return "", "", false, -1
		}
		return name, s[i+1 : i+end], true, i + end + 2
	}
	if i < len(s) && s[i] == '}' {
		return name, "", false, i + 1
	}
	return "", "", false, -1
}

func lookupVariable(name, arg string, hasArg bool, c *Cluster) (string, error) {
	switch name {
	case varClusterName:
		if hasArg {
			return "", fmt.Errorf("%w: %s takes no [argument]", ErrUnknownVariable, name)
		}
		return c.Name, nil
	case varClusterReplicas:
		if hasArg {
			return "", fmt.Errorf("%w: %s takes no [argument]", ErrUnknownVariable, name)
		}
		if c.Replicas == nil {
			return "", fmt.Errorf("%w: the placement divides no replicas (policy.replicas)", ErrMissingVariable)
		}
		return strconv.Itoa(int(*c.Replicas)), nil
	case varClusterLabel:
		if !hasArg || arg == "" {
			return "", fmt.Errorf("%w: %s needs a label key, as in ${%s[region]}", ErrUnknownVariable, name, name)
		}
		v, ok := c.Labels[arg]
		if !ok {
			return "", fmt.Errorf("%w: cluster %s has no label %q", ErrMissingVariable, c.Name, arg)
		}
		return v, nil
	case varClusterProperty:
		if !hasArg || arg == "" {
			return "", fmt.Errorf("%w: %s needs a property name, as in ${%s[cost]}", ErrUnknownVariable, name, name)
		}
		v, ok := c.Properties[arg]
		if !ok {
			return "", fmt.Errorf("%w: cluster %s has no property %q", ErrMissingVariable, c.Name, arg)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%w (known: ${CLUSTER_NAME}, ${CLUSTER_LABEL[key]}, ${CLUSTER_PROPERTY[name]}, ${CLUSTER_REPLICAS})", ErrUnknownVariable)
	}
}

// Package property parses, compares and collects the properties of member clusters.
//
// A property is a named value. Most are Kubernetes quantities (4, 500m, 16Gi, 0.023);
// the property k8s.io/kubernetes-version is a version (1.37.0, v1.37) and compares as
// one. A cluster's properties come from its spec (static ones set by the fleet admin)
// and from its status (reported by its agent); see FromMemberCluster.
package property

import (
	"cmp"
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Kind is the type of a property value.
type Kind int

// The kinds of property values.
const (
	// Invalid marks a value that could not be parsed.
	Invalid Kind = iota
	// Quantity is a Kubernetes quantity such as 4, 500m or 16Gi.
	Quantity
	// Version is a version such as 1.37.0.
	Version
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Quantity:
		return "quantity"
	case Version:
		return "version"
	default:
		return "invalid"
	}
}

// IsVersion reports whether the property name holds a version rather than a quantity.
// Only k8s.io/kubernetes-version does.
func IsVersion(name string) bool {
	return name == v1alpha1.KubernetesVersionProperty
}

// Value is a parsed property value. The zero Value is Invalid.
type Value struct {
	raw  string
	name string // for Err, on Invalid values only
	kind Kind
	q    resource.Quantity
	// ver holds a version's numeric components (major, minor, patch, and a fourth);
	// missing ones are 0, as in Kubernetes' generic versions.
	ver [4]uint32
	f   float64
}

// Parse parses raw as the value of the property name: a version for
// k8s.io/kubernetes-version, a quantity otherwise. On failure it returns an Invalid
// Value that remembers the raw text, and the error.
func Parse(name, raw string) (Value, error) {
	if IsVersion(name) {
		ver, err := parseVersion(raw)
		if err != nil {
			return Value{raw: raw, name: name}, fmt.Errorf("property %s: %q is not a version: %w", name, raw, err)
		}
		return Value{raw: raw, kind: Version, ver: ver, f: versionFloat(ver)}, nil
	}
	q, err := resource.ParseQuantity(raw)
	if err != nil {
		return Value{raw: raw, name: name}, fmt.Errorf("property %s: %q is not a quantity: %w", name, raw, err)
	}
	return Value{raw: raw, kind: Quantity, q: q, f: q.AsApproximateFloat64()}, nil
}

// FromQuantity returns a quantity Value.
func FromQuantity(q resource.Quantity) Value {
	return Value{kind: Quantity, q: q, f: q.AsApproximateFloat64()}
}

// Kind returns the value's kind; Invalid when it could not be parsed.
func (v Value) Kind() Kind { return v.kind }

// Valid reports whether the value was parsed.
func (v Value) Valid() bool { return v.kind != Invalid }

// Err returns the parse error of an Invalid value from Parse, or nil.
func (v Value) Err() error {
	if v.kind != Invalid || v.name == "" {
		return nil
	}
	_, err := Parse(v.name, v.raw)
	return err
}

// Float returns the value as a float64 for scaling in property sorters: the
// approximate number for a quantity, major*1e6+minor*1e3+patch for a version, and 0
// for an Invalid value.
func (v Value) Float() float64 { return v.f }

// String returns the value as written (or the canonical form of a quantity built by
// FromQuantity).
func (v Value) String() string {
	if v.raw != "" {
		return v.raw
	}
	switch v.kind {
	case Quantity:
		return v.q.String()
	default:
		return ""
	}
}

// Compare returns -1, 0 or 1 as v is less than, equal to or greater than o. It fails
// when either value is Invalid or their kinds differ.
func (v Value) Compare(o Value) (int, error) {
	switch {
	case !v.Valid():
		return 0, fmt.Errorf("cannot compare invalid value %q", v.raw)
	case !o.Valid():
		return 0, fmt.Errorf("cannot compare invalid value %q", o.raw)
	case v.kind != o.kind:
		return 0, fmt.Errorf("cannot compare %s %q with %s %q", v.kind, v.String(), o.kind, o.String())
	case v.kind == Version:
		for i := range v.ver {
			if c := cmp.Compare(v.ver[i], o.ver[i]); c != 0 {
				return c, nil
			}
		}
		return 0, nil
	default:
		return v.q.Cmp(o.q), nil
	}
}

// Match reports whether "have op want" holds, e.g. have=8, op=Gt, want=4 is true. It
// fails for an unknown operator or values that cannot be compared.
func Match(have Value, op v1alpha1.PropertySelectorOperator, want Value) (bool, error) {
	c, err := have.Compare(want)
	if err != nil {
		return false, err
	}
	switch op {
	case v1alpha1.PropertyGt:
		return c > 0, nil
	case v1alpha1.PropertyGe:
		return c >= 0, nil
	case v1alpha1.PropertyEq:
		return c == 0, nil
	case v1alpha1.PropertyNe:
		return c != 0, nil
	case v1alpha1.PropertyLt:
		return c < 0, nil
	case v1alpha1.PropertyLe:
		return c <= 0, nil
	default:
		return false, fmt.Errorf("unknown property operator %q (want one of Gt, Ge, Eq, Ne, Lt, Le)", op)
	}
}

// ValidOperator reports whether op is one of Gt, Ge, Eq, Ne, Lt, Le.
func ValidOperator(op v1alpha1.PropertySelectorOperator) bool {
	switch op {
	case v1alpha1.PropertyGt, v1alpha1.PropertyGe, v1alpha1.PropertyEq,
		v1alpha1.PropertyNe, v1alpha1.PropertyLt, v1alpha1.PropertyLe:
		return true
	}
	return false
}

// versionFloat maps a version onto a number that preserves the order of versions whose
// minor and patch components stay below 1000.
func versionFloat(ver [4]uint32) float64 {
	return float64(ver[0])*1e6 + float64(ver[1])*1e3 + float64(ver[2])
}

// parseVersion reads a version like Kubernetes' generic versions: an optional "v", two
// or more dot-separated numbers (the first without leading zeros), and anything after
// them ignored (1.30.1-gke.100 is 1.30.1). Components after the fourth are ignored.
func parseVersion(s string) ([4]uint32, error) {
	var ver [4]uint32
	// Fast path: v?N.N(.N)(.N), the common case, without the regular expression.
	t := strings.TrimPrefix(s, "v")
	n, i := 0, 0
	for n < len(ver) {
		start := i
		var x uint64
		for i < len(t) && t[i] >= '0' && t[i] <= '9' && i-start < 9 {
			x = x*10 + uint64(t[i]-'0')
			i++
		}
		if i == start || (i < len(t) && t[i] >= '0' && t[i] <= '9') || (n == 0 && t[start] == '0' && i-start > 1) {
			break
		}
		ver[n] = uint32(x)
		n++
		if i == len(t) || t[i] != '.' {
			break
		}
		i++
	}
	if n >= 2 && i == len(t) {
		return ver, nil
	}
	v, err := version.ParseGeneric(s)
	if err != nil {
		return [4]uint32{}, err
	}
	ver = [4]uint32{}
	for k, c := range v.Components() {
		if k < len(ver) {
			ver[k] = uint32(min(c, math.MaxUint32))
		}
	}
	return ver, nil
}

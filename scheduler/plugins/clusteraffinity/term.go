package clusteraffinity

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/scheduler/framework"
	"github.com/gitfleet/gitfleet/scheduler/property"
)

// term is a compiled ClusterSelectorTerm. Its failure reasons are built once per cycle,
// so that matching a cluster allocates nothing.
type term struct {
	labels []labelRequirement
	props  []propertyRequirement
	sorter *v1alpha1.PropertySorter
}

type labelRequirement struct {
	req    labels.Requirement
	reason string
}

type propertyRequirement struct {
	name           string
	op             v1alpha1.PropertySelectorOperator
	want           property.Value
	missingReason  string
	failedReason   string
	unusableReason string
}

// compileTerm compiles a term; path names it in errors, e.g.
// policy.affinity.clusterAffinity.required.clusterSelectorTerms[0].
func compileTerm(path string, t *v1alpha1.ClusterSelectorTerm) (*term, error) {
	out := &term{sorter: t.PropertySorter}
	if t.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.labelSelector: %w", framework.ErrInvalidPolicy, path, err)
		}
		reqs, _ := sel.Requirements()
		for _, r := range reqs {
			out.labels = append(out.labels, labelRequirement{
				req:    r,
				reason: fmt.Sprintf("label requirement %q is not met", r.String()),
			})
		}
	}
	if ps := t.PropertySelector; ps != nil {
		for i, e := range ps.MatchExpressions {
			pr, err := compilePropertyRequirement(e)
			if err != nil {
				return nil, fmt.Errorf("%w: %s.propertySelector.matchExpressions[%d]: %w", framework.ErrInvalidPolicy, path, i, err)
			}
			out.props = append(out.props, pr)
		}
	}
	if s := t.PropertySorter; s != nil {
		if s.Name == "" {
			return nil, fmt.Errorf("%w: %s.propertySorter: name is empty", framework.ErrInvalidPolicy, path)
		}
		if s.SortOrder != v1alpha1.Ascending && s.SortOrder != v1alpha1.Descending {
			return nil, fmt.Errorf("%w: %s.propertySorter: unknown sortOrder %q (want Ascending or Descending)", framework.ErrInvalidPolicy, path, s.SortOrder)
		}
	}
	return out, nil
}

func compilePropertyRequirement(e v1alpha1.PropertySelectorRequirement) (propertyRequirement, error) {
	if e.Name == "" {
		return propertyRequirement{}, fmt.Errorf("name is empty")
	}
	if !property.ValidOperator(e.Operator) {
		return propertyRequirement{}, fmt.Errorf("unknown operator %q (want one of Gt, Ge, Eq, Ne, Lt, Le)", e.Operator)
	}
	if len(e.Values) != 1 {
		return propertyRequirement{}, fmt.Errorf("values must hold exactly one value, has %d", len(e.Values))
	}
	want, err := property.Parse(e.Name, e.Values[0])
	if err != nil {
		return propertyRequirement{}, err
	}
	expr := fmt.Sprintf("%s %s %s", e.Name, e.Operator, e.Values[0])
	return propertyRequirement{
		name:           e.Name,
		op:             e.Operator,
		want:           want,
		missingReason:  fmt.Sprintf("property %s is missing (wanted %s)", e.Name, expr),
		failedReason:   fmt.Sprintf("property requirement %q is not met", expr),
		unusableReason: fmt.Sprintf("property %s has a value that is not a %s", e.Name, want.Kind()),
	}, nil
}

// match reports whether the cluster matches the term's label and property selectors
// (not its sorter); if not, it says why (quoting an unusable value only with explain).
func (t *term) match(c *framework.ClusterInfo, explain bool) (bool, string) {
	for i := range t.labels {
		if !t.labels[i].req.Matches(c.Labels) {
			return false, t.labels[i].reason
		}
	}
	for i := range t.props {
		pr := &t.props[i]
		have, ok := c.Properties.Get(pr.name)
		if !ok {
			return false, pr.missingReason
		}
		if !have.Valid() {
			if !explain {
				return false, pr.unusableReason
			}
			return false, unusableReason(pr.name, have)
		}
		ok, err := property.Match(have, pr.op, pr.want)
		if err != nil { // not reached: both values are valid and of the kind the name implies
			return false, pr.unusableReason
		}
		if !ok {
			return false, pr.failedReason
		}
	}
	return true, ""
}

// unusableReason explains why a cluster's property value cannot be compared.
func unusableReason(name string, v property.Value) string {
	kind := property.Quantity
	if property.IsVersion(name) {
		kind = property.Version
	}
	return fmt.Sprintf("property %s is %q, which is not a %s", name, v.String(), kind)
}

// requiredFailure explains why a cluster matches none of the required terms.
func requiredFailure(reasons ...string) string {
	if len(reasons) == 1 {
		return "does not match the required affinity: " + reasons[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "matches none of the %d required affinity terms: ", len(reasons))
	for i, r := range reasons {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "term %d: %s", i+1, r)
	}
	return b.String()
}

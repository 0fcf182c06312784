package property_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitfleet/gitfleet/api/v1alpha1"
	fx "github.com/gitfleet/gitfleet/scheduler/internal/fixtures"
	"github.com/gitfleet/gitfleet/scheduler/property"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		name, raw string
		kind      property.Kind
		float     float64
	}{
		"integer":           {"x", "4", property.Quantity, 4},
		"milli":             {"x", "500m", property.Quantity, 0.5},
		"binary suffix":     {"x", "2Ki", property.Quantity, 2048},
		"decimal":           {"x", "0.023", property.Quantity, 0.023},
		"version":           {v1alpha1.KubernetesVersionProperty, "1.37.2", property.Version, 1037002},
		"version with v":    {v1alpha1.KubernetesVersionProperty, "v1.30", property.Version, 1030000},
		"version with tail": {v1alpha1.KubernetesVersionProperty, "1.30.1-gke.100", property.Version, 1030001},
		"not a quantity":    {"x", "lots", property.Invalid, 0},
		"empty":             {"x", "", property.Invalid, 0},
		"not a version":     {v1alpha1.KubernetesVersionProperty, "latest", property.Invalid, 0},
		"version-like text": {"x", "1.2.3", property.Invalid, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := property.Parse(tc.name, tc.raw)
			if v.Kind() != tc.kind || v.Float() != tc.float {
				t.Errorf("Parse(%q, %q) = %s %v, want %s %v", tc.name, tc.raw, v.Kind(), v.Float(), tc.kind, tc.float)
			}
			if (err != nil) != (tc.kind == property.Invalid) || (v.Err() != nil) != (tc.kind == property.Invalid) {
				t.Errorf("Parse(%q, %q) error = %v, Err() = %v; want an error only for an invalid value", tc.name, tc.raw, err, v.Err())
			}
			if v.String() != tc.raw {
				t.Errorf("Parse(%q, %q).String() = %q, want the raw text", tc.name, tc.raw, v.String())
			}
		})
	}
}

func TestMatch(t *testing.T) {
	q := func(s string) property.Value { v, _ := property.Parse("x", s); return v }
	ver := func(s string) property.Value { v, _ := property.Parse(v1alpha1.KubernetesVersionProperty, s); return v }
	cases := []struct {
		have    property.Value
		op      v1alpha1.PropertySelectorOperator
		want    property.Value
		ok      bool
		wantErr bool
	}{
		{q("8"), v1alpha1.PropertyGt, q("4"), true, false},
		{q("4"), v1alpha1.PropertyGt, q("4"), false, false},
		{q("4"), v1alpha1.PropertyGe, q("4000m"), true, false},
		{q("1Gi"), v1alpha1.PropertyEq, q("1024Mi"), true, false},
		{q("1G"), v1alpha1.PropertyNe, q("1Gi"), true, false},
		{q("0.5"), v1alpha1.PropertyLt, q("500m"), false, false},
		{q("0.5"), v1alpha1.PropertyLe, q("500m"), true, false},
		{ver("1.10"), v1alpha1.PropertyGt, ver("1.9.9"), true, false},
		{ver("1.30"), v1alpha1.PropertyEq, ver("1.30.0"), true, false},
		{ver("1.30"), v1alpha1.PropertyLt, ver("1.30.1"), true, false},
		{q("1"), v1alpha1.PropertyEq, ver("1.0"), false, true},
		{q("bad"), v1alpha1.PropertyEq, q("1"), false, true},
		{q("1"), v1alpha1.PropertyEq, q("bad"), false, true},
		{q("1"), "Approx", q("1"), false, true},
	}
	for _, tc := range cases {
		ok, err := property.Match(tc.have, tc.op, tc.want)
		if ok != tc.ok || (err != nil) != tc.wantErr {
			t.Errorf("Match(%s, %s, %s) = %v, %v; want %v, error %v", tc.have, tc.op, tc.want, ok, err, tc.ok, tc.wantErr)
		}
	}
	for _, op := range []v1alpha1.PropertySelectorOperator{"Gt", "Ge", "Eq", "Ne", "Lt", "Le"} {
		if !property.ValidOperator(op) {
			t.Errorf("ValidOperator(%s) = false, want true", op)
		}
	}
	if property.ValidOperator("In") {
		t.Errorf("ValidOperator(In) = true, want false")
	}
}

func TestFromMemberCluster(t *testing.T) {
	mc := fx.Cluster("a",
		fx.Static("cost", "3"),
		fx.Static("shared", "1"),
		fx.Reported("shared", "2"),
		fx.Reported(v1alpha1.AvailableCPUProperty, "99"),
		fx.Static(v1alpha1.AllocatableCPUProperty, "1"),
		fx.Static("broken", "cheap"),
		fx.Resources(4, "8", "6500m", "32Gi", ""),
		fx.KubernetesVersion("1.37.1"),
		func(mc *v1alpha1.MemberCluster) { mc.Spec.KubernetesVersion = "1.36" },
	)
	got := property.FromMemberCluster(&mc).Strings()
	want := map[string]string{
		"cost":                             "3",
		"shared":                           "2",
		"broken":                           "cheap",
		v1alpha1.NodeCountProperty:         "4",
		v1alpha1.AllocatableCPUProperty:    "8",
		v1alpha1.AvailableCPUProperty:      "99",
		v1alpha1.AllocatableMemoryProperty: "32Gi",
		v1alpha1.KubernetesVersionProperty: "1.37.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromMemberCluster().Strings() (-want +got):\n%s", diff)
	}
	set := property.FromMemberCluster(&mc)
	if v, ok := set.Get("broken"); !ok || v.Valid() || v.Err() == nil {
		t.Errorf(`Get("broken") = %v, %v; want a kept invalid value with its error`, v, ok)
	}
	if names := set.Names(); len(names) != len(want) || names[0] != "broken" {
		t.Errorf("Names() = %v, want %d sorted names", names, len(want))
	}

	specOnly := fx.Cluster("b", func(mc *v1alpha1.MemberCluster) { mc.Spec.KubernetesVersion = "1.36" })
	if v, _ := property.FromMemberCluster(&specOnly).Get(v1alpha1.KubernetesVersionProperty); v.String() != "1.36" || v.Kind() != property.Version {
		t.Errorf("spec.kubernetesVersion gives %s %q, want version 1.36", v.Kind(), v)
	}
	if n := len(property.FromMemberCluster(&v1alpha1.MemberCluster{})); n != 0 {
		t.Errorf("an empty cluster has %d properties, want 0", n)
	}
	noNodes := fx.Cluster("c", fx.Resources(0, "1", "", "", ""))
	if _, ok := property.FromMemberCluster(&noNodes).Get(v1alpha1.NodeCountProperty); ok {
		t.Errorf("nodeCount 0 (indistinguishable from unreported) gives a node-count property")
	}
}

func TestVersions(t *testing.T) {
	cases := map[string]struct {
		a, b string
		want int
	}{
		"patch":              {"1.30.1", "1.30.0", 1},
		"minor beats patch":  {"1.9.9", "1.10", -1},
		"missing is zero":    {"1.30", "1.30.0", 0},
		"leading v":          {"v1.30.2", "1.30.2", 0},
		"suffix ignored":     {"1.30.1-gke.100", "1.30.1", 0},
		"fourth component":   {"1.2.3.4", "1.2.3", 1},
		"fifth is ignored":   {"1.2.3.4.5", "1.2.3.4", 0},
		"long component":     {"1.1234567890", "1.2", 1},
		"leading zero minor": {"1.05", "1.5", 0},
	}
	for name, tc := range cases {
		a, errA := property.Parse(v1alpha1.KubernetesVersionProperty, tc.a)
		b, errB := property.Parse(v1alpha1.KubernetesVersionProperty, tc.b)
		got, err := a.Compare(b)
		if errA != nil || errB != nil || err != nil || got != tc.want {
			t.Errorf("%s: Compare(%s, %s) = %d, %v (parse errors %v, %v); want %d", name, tc.a, tc.b, got, err, errA, errB, tc.want)
		}
	}
	for _, bad := range []string{"1", "01.2", "v", "", "1..2", "x1.2"} {
		if v, err := property.Parse(v1alpha1.KubernetesVersionProperty, bad); err == nil || v.Valid() || v.Err() == nil {
			t.Errorf("Parse(version %q) = %v, %v; want an invalid value with an error", bad, v, err)
		}
	}
	if v, _ := property.Parse("x", "1"); v.Err() != nil {
		t.Errorf("Err() of a valid value = %v", v.Err())
	}
}

package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestNames(t *testing.T) {
	for name, tc := range map[string]struct{ got, want string }{
		"promote branch":          {PromoteBranch("prod"), "gitfleet/promote/prod"},
		"rollback branch":         {RollbackBranch("prod"), "gitfleet/rollback/prod"},
		"stage branch":            {Stage{Name: "prod"}.StageBranch(), "env/prod"},
		"stage branch given":      {Stage{Name: "prod", Branch: "release/prod"}.StageBranch(), "release/prod"},
		"promotion, long rev":     {PromotionName("release", "prod", "0123456789abcdef0123"), "release-prod-0123456789ab"},
		"promotion, short rev":    {PromotionName("release", "prod", "0123456"), "release-prod-0123456"},
		"cluster status context":  {ClusterStatusContext("eu-1"), "gitfleet/cluster/eu-1"},
		"stage status context":    {StageStatusContext("prod"), "gitfleet/stage/prod"},
		"short SHA":               {ShortSHA("0123456789abcdef"), "0123456"},
		"short SHA of short text": {ShortSHA("abc"), "abc"},
		"plural of 1":             {Plural(1, "cluster", "clusters"), "cluster"},
		"plural of 0":             {Plural(0, "object differs", "objects differ"), "objects differ"},
		"plural of 2":             {Plural(2, "cluster", "clusters"), "clusters"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", name, tc.got, tc.want)
		}
	}
}

func TestIsAdmissionKind(t *testing.T) {
	for gk, want := range map[schema.GroupKind]bool{
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: true,
		{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}: true,
		{Group: "apiregistration.k8s.io", Kind: "APIService"}:                           true,
		{Group: "", Kind: "Namespace"}:                                                  false,
		{Group: "apps", Kind: "Deployment"}:                                             false,
		{Group: "example.com", Kind: "ValidatingWebhookConfiguration"}:                  false,
	} {
		if got := IsAdmissionKind(gk); got != want {
			t.Errorf("IsAdmissionKind(%v) = %v, want %v", gk, got, want)
		}
	}
}

func TestPipelineSourceName(t *testing.T) {
	placement := func(name, pipeline, source string) Placement {
		p := Placement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: PlacementSpec{SourceRef: LocalObjectReference{Name: source}}}
		if pipeline != "" {
			p.Spec.PipelineRef = &LocalObjectReference{Name: pipeline}
		}
		return p
	}
	for name, tc := range map[string]struct {
		placements []Placement
		want       string
	}{
		"none":                 {nil, ""},
		"no placement uses it": {[]Placement{placement("web", "other", "a"), placement("api", "", "b")}, ""},
		"one":                  {[]Placement{placement("api", "", "a"), placement("web", "release", "fleet")}, "fleet"},
		"the first by name decides, whatever the list order": {
			[]Placement{placement("web", "release", "b"), placement("api", "release", "a"), placement("db", "other", "c")}, "a"},
	} {
		if got := PipelineSourceName("release", tc.placements); got != tc.want {
			t.Errorf("%s: PipelineSourceName(release) = %q, want %q", name, got, tc.want)
		}
	}
}

func TestRequestReconcile(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	obj := &Pipeline{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"keep": "me"}}}
	RequestReconcile(obj, now)
	if got, want := obj.Annotations[ReconcileRequestAnnotation], "2026-01-02T02:04:05.000000006Z"; got != want {
		t.Errorf("requestedAt = %q, want %q", got, want)
	}
	if obj.Annotations["keep"] != "me" {
		t.Errorf("annotations = %v, want the others kept", obj.Annotations)
	}
	bare := &Pipeline{}
	RequestReconcile(bare, now)
	if bare.Annotations[ReconcileRequestAnnotation] == "" {
		t.Errorf("annotations of an object without any = %v, want requestedAt set", bare.Annotations)
	}
}

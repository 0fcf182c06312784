package hydrate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

func pipeline(name string, stages []string, status ...fleetv1alpha1.StageStatus) fleetv1alpha1.Pipeline {
	p := fleetv1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, s := range stages {
		p.Spec.Stages = append(p.Spec.Stages, fleetv1alpha1.Stage{Name: s})
	}
	p.Status.Stages = status
	return p
}

func TestStageRevisions(t *testing.T) {
	tests := map[string]struct {
		pipelines []fleetv1alpha1.Pipeline
		want      map[string]BranchRevision
	}{
		"no pipeline: only env/default, at head": {
			want: map[string]BranchRevision{"env/default": {Revision: "head", Stage: "default", First: true}},
		},
		"later stage without status is not written": {
			pipelines: []fleetv1alpha1.Pipeline{pipeline("p", []string{"dev", "prod"})},
			want: map[string]BranchRevision{
				"env/default": {Revision: "head", Stage: "default", First: true},
				"env/dev":     {Revision: "head", Pipeline: "p", Stage: "dev", First: true},
				"env/prod":    {Pipeline: "p", Stage: "prod"},
			},
		},
		"target wins over current": {
			pipelines: []fleetv1alpha1.Pipeline{pipeline("p", []string{"dev", "staging", "prod"},
				fleetv1alpha1.StageStatus{Name: "staging", CurrentRevision: "old", TargetRevision: "new"},
				fleetv1alpha1.StageStatus{Name: "prod", CurrentRevision: "older"})},
			want: map[string]BranchRevision{
				"env/default": {Revision: "head", Stage: "default", First: true},
				"env/dev":     {Revision: "head", Pipeline: "p", Stage: "dev", First: true},
				"env/staging": {Revision: "new", Pipeline: "p", Stage: "staging", Moving: true},
				"env/prod":    {Revision: "older", Pipeline: "p", Stage: "prod"},
			},
		},
		"pull request stage: target goes to the promote branch": {
			pipelines: []fleetv1alpha1.Pipeline{func() fleetv1alpha1.Pipeline {
				p := pipeline("p", []string{"dev", "prod"}, fleetv1alpha1.StageStatus{Name: "prod", CurrentRevision: "old", TargetRevision: "new"})
				p.Spec.Stages[1].Promotion = fleetv1alpha1.PromotionPullRequest
				return p
			}()},
			want: map[string]BranchRevision{
				"env/default":           {Revision: "head", Stage: "default", First: true},
				"env/dev":               {Revision: "head", Pipeline: "p", Stage: "dev", First: true},
				"env/prod":              {Revision: "old", Pipeline: "p", Stage: "prod"},
				"gitfleet/promote/prod": {Revision: "new", Pipeline: "p", Stage: "prod", Base: "env/prod"},
			},
		},
		"a branch that is a first stage anywhere follows head": {
			pipelines: []fleetv1alpha1.Pipeline{
				pipeline("a", []string{"dev", "prod"}, fleetv1alpha1.StageStatus{Name: "prod", CurrentRevision: "old"}),
				pipeline("b", []string{"prod"}),
			},
			want: map[string]BranchRevision{
				"env/default": {Revision: "head", Stage: "default", First: true},
				"env/dev":     {Revision: "head", Pipeline: "a", Stage: "dev", First: true},
				"env/prod":    {Revision: "head", Pipeline: "b", Stage: "prod", First: true},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := StageRevisions(tc.pipelines, "head")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("StageRevisions() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPinnedRevisions(t *testing.T) {
	got := PinnedRevisions([]fleetv1alpha1.Pipeline{pipeline("p", []string{"dev", "prod"},
		fleetv1alpha1.StageStatus{Name: "dev", CurrentRevision: "b"},
		fleetv1alpha1.StageStatus{Name: "prod", CurrentRevision: "a", TargetRevision: "b"})})
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("PinnedRevisions() (-want +got):\n%s", diff)
	}
}

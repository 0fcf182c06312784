package render

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpand(t *testing.T) {
	three := int32(3)
	c := &Cluster{
		Name:       "eu-1",
		Labels:     map[string]string{"region": "eu", "topology.kubernetes.io/zone": "eu-a"},
		Properties: map[string]string{"cost.gitfleet.dev/per-cpu-core": "0.023"},
		Replicas:   &three,
	}
	for in, want := range map[string]any{
		"plain":                           "plain",
		"${CLUSTER_NAME}":                 "eu-1",
		"app-${CLUSTER_NAME}.example.com": "app-eu-1.example.com",
		"${CLUSTER_LABEL[region]}":        "eu",
		"${CLUSTER_LABEL[topology.kubernetes.io/zone]}":       "eu-a",
		"${CLUSTER_PROPERTY[cost.gitfleet.dev/per-cpu-core]}": "0.023",
		"${CLUSTER_REPLICAS}":                                 int64(3),
		"replicas=${CLUSTER_REPLICAS}":                        "replicas=3",
		"$${CLUSTER_NAME}":                                    "${CLUSTER_NAME}",
		"${home} ${1} ${ .Values.x } $HOME":                   "${home} ${1} ${ .Values.x } $HOME",
		"${CLUSTER_NAME":                                      "${CLUSTER_NAME",
	} {
		got, err := expand(in, c)
		if err != nil {
			t.Errorf("expand(%q) error = %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("expand(%q) (-want +got):\n%s", in, diff)
		}
	}
	for in, want := range map[string]error{
		"${CLUSTER_ZONE}":           ErrUnknownVariable,
		"${HOME}":                   ErrUnknownVariable,
		"${CLUSTER_NAME[x]}":        ErrUnknownVariable,
		"${CLUSTER_LABEL}":          ErrUnknownVariable,
		"${CLUSTER_LABEL[missing]}": ErrMissingVariable,
		"${CLUSTER_PROPERTY[nope]}": ErrMissingVariable,
	} {
		if _, err := expand(in, c); !errors.Is(err, want) {
			t.Errorf("expand(%q) error = %v, want %v", in, err, want)
		}
	}
}

func TestSubstituteWalksValues(t *testing.T) {
	c := &Cluster{Name: "eu-1"}
	in := map[string]any{"a": []any{"${CLUSTER_NAME}", 1.5, true, nil, map[string]any{"${CLUSTER_NAME}": "x-${CLUSTER_NAME}"}}}
	want := map[string]any{"a": []any{"eu-1", 1.5, true, nil, map[string]any{"${CLUSTER_NAME}": "x-eu-1"}}}
	got, err := substitute(in, c)
	if err != nil {
		t.Fatalf("substitute = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("substitute (-want +got):\n%s", diff)
	}
	if in["a"].([]any)[0] != "${CLUSTER_NAME}" {
		t.Errorf("substitute changed its input")
	}
}

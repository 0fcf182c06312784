package binaries

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReplaces(t *testing.T) {
	gomod := `module k8s.io/kubernetes

go 1.26.0

require k8s.io/api v0.0.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go // client
)

replace github.com/nektos/act => gitea.com/gitea/act v0.261.10
replace go.etcd.io/etcd/api/v3 => ../api
`
	got, err := parseReplaces(strings.NewReader(gomod), "v0.37.0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"k8s.io/api => k8s.io/api v0.37.0",
		"k8s.io/client-go => k8s.io/client-go v0.37.0",
		"github.com/nektos/act => gitea.com/gitea/act v0.261.10",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseReplaces (-want +got):\n%s", diff)
	}
}

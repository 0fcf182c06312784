package hydrate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const obj = `apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    fleet.gitfleet.dev/placement: web
    fleet.gitfleet.dev/source-revision: main@sha1:%s
  name: web
data:
  size: %s
`

func file(rev, size string) []byte {
	return []byte(strings.Replace(strings.Replace(obj, "%s", rev, 1), "%s", size, 1))
}

func TestDesired(t *testing.T) {
	b := &Branch{Name: "env/prod", Stage: "prod",
		Pairs: []Pair{{"eu", "web"}, {"us", "web"}, {"us", "shop"}},
		Files: map[string][]byte{
			"clusters/eu/web/web/configmap-web.yaml": file("new", "1"),
			"clusters/us/web/web/configmap-web.yaml": file("new", "2"),
		},
		Failed: []Pair{{"us", "shop"}},
	}
	current := map[string][]byte{
		"clusters/eu/web/web/configmap-web.yaml":    file("old", "1"), // unchanged content: kept
		"clusters/us/web/web/configmap-web.yaml":    file("old", "1"), // changed: rewritten
		"clusters/us/shop/shop/configmap-shop.yaml": file("old", "9"), // failed render: kept
		"clusters/gone/web/web/configmap-web.yaml":  file("old", "1"), // cluster left: dropped
		"gitfleet.json": []byte("{}"),
	}
	got := b.Desired(current, SourceRef{Repository: "https://example.com/fleet.git", Branch: "main", Commit: "new"}, Versions{Gitfleet: "v1"})
	want := map[string]string{
		"clusters/eu/web/web/configmap-web.yaml":    string(file("old", "1")),
		"clusters/us/web/web/configmap-web.yaml":    string(file("new", "2")),
		"clusters/us/shop/shop/configmap-shop.yaml": string(file("old", "9")),
	}
	for p, w := range want {
		if string(got[p]) != w {
			t.Errorf("Desired()[%s] =\n%s\nwant\n%s", p, got[p], w)
		}
	}
	if _, ok := got["clusters/gone/web/web/configmap-web.yaml"]; ok {
		t.Errorf("Desired() kept the folder of a cluster that left")
	}
	meta := string(got[MetadataFile])
	for _, w := range []string{`"commit": "new"`, `"stage": "prod"`, `"us/shop"`, `"placements": [`} {
		if !strings.Contains(meta, w) {
			t.Errorf("gitfleet.json lacks %s:\n%s", w, meta)
		}
	}
	// Same inputs, same bytes.
	again := b.Desired(current, SourceRef{Repository: "https://example.com/fleet.git", Branch: "main", Commit: "new"}, Versions{Gitfleet: "v1"})
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("Desired() is not deterministic:\n%s", diff)
	}
}

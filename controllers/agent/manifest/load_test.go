package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInfoLeft(t *testing.T) {
	cases := map[string]struct {
		json string
		want bool
	}{
		"listed":                     {`{"clusters": {"eu-1": {}, "us-1": {}}}`, false},
		"not listed":                 {`{"clusters": {"us-1": {}}}`, true},
		"empty list: every one left": {`{"clusters": {}}`, true},
		"no list":                    {`{"source": {"commit": "abc"}}`, false},
		"no file":                    {``, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.json != "" {
				if err := os.WriteFile(filepath.Join(dir, InfoFile), []byte(tc.json), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := ReadInfo(dir).Left("eu-1"); got != tc.want {
				t.Errorf("ReadInfo(%s).Left(eu-1) = %v, want %v", tc.json, got, tc.want)
			}
		})
	}
}

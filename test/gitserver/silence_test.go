package gitserver

import (
	"bytes"
	"log"
	"testing"
)

func TestDropWriter(t *testing.T) {
	tests := map[string]struct {
		line string
		drop bool
	}{
		"request":       {"2026/01/02 15:04:05 request: GET 127.0.0.1:1234/fleet/info/refs\n", true},
		"post-rpc":      {"2026/01/02 15:04:05 post-rpc: signal: killed\n", true},
		"ssh":           {"2026/01/02 15:04:05.123456 ssh: handshaking for 127.0.0.1:5\n", true},
		"with file":     {"2026/01/02 15:04:05 http.go:61: request: GET /x\n", true},
		"no flags":      {"auth: rejected user x\n", true},
		"someone else":  {"2026/01/02 15:04:05 reconciling placement\n", false},
		"prefix inside": {"2026/01/02 15:04:05 my request: x\n", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			w := &dropWriter{next: &out}
			l := log.New(w, "", 0)
			l.Print(tc.line)
			if dropped := out.Len() == 0; dropped != tc.drop {
				t.Errorf("dropWriter on %q: dropped = %v, want %v", tc.line, dropped, tc.drop)
			}
		})
	}
}

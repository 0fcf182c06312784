package envtest

import (
	"bytes"
	"testing"
)

func TestSanitize(t *testing.T) {
	tests := map[string]struct {
		in   string
		max  int
		want string
	}{
		"subtest name": {"TestX/creates a Placement", 50, "testx-creates-a-placement"},
		"ginkgo text":  {"[It] Hub  works!", 50, "it-hub-works"},
		"truncated":    {"abcdef-ghij", 7, "abcdef"},
		"nothing left": {"///", 10, "test"},
		"digits stay":  {"Test1/2", 10, "test1-2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sanitize(tc.in, tc.max); got != tc.want {
				t.Errorf("sanitize(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(16)
	if _, err := b.Write([]byte("line one\nline two\nline three\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "line three\n"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	small := newTailBuffer(100)
	if _, err := small.Write([]byte("a\nb\n")); err != nil {
		t.Fatal(err)
	}
	if got := small.String(); got != "a\nb\n" {
		t.Errorf("String() = %q, want all of it", got)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := prefixWriter(&out, "[hub] ")
	for _, p := range []string{"one\ntw", "o\nthree\n"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	want := "[hub] one\n[hub] two\n[hub] three\n"
	if got := out.String(); got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestFreePorts(t *testing.T) {
	a, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range append(a, b...) {
		if seen[p] {
			t.Errorf("port %d handed out twice in %v %v", p, a, b)
		}
		seen[p] = true
	}
}

func TestVerbose(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "1": true, "true": true, "yes": true, "no": false} {
		t.Setenv(VerboseEnv, v)
		if got := Verbose(); got != want {
			t.Errorf("Verbose() with %s=%q = %v, want %v", VerboseEnv, v, got, want)
		}
	}
}

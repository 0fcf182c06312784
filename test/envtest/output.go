package envtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// VerboseEnv is the environment variable that, when set to a true value (1, true, yes),
// sends the output of the servers the tests start to os.Stderr.
const VerboseEnv = "GITFLEET_TEST_VERBOSE"

// Verbose reports whether GITFLEET_TEST_VERBOSE asks for the servers' output.
func Verbose() bool {
	v := strings.TrimSpace(os.Getenv(VerboseEnv))
	if strings.EqualFold(v, "yes") || strings.EqualFold(v, "y") {
		return true
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// Logger returns a logger for controller-runtime (ctrl.SetLogger / log.SetLogger) that
// writes to w when GITFLEET_TEST_VERBOSE is set and discards everything otherwise.
// Setting a logger also silences controller-runtime's complaint that none was set.
func Logger(w io.Writer) logr.Logger {
	if !Verbose() {
		return logr.Discard()
	}
	var mu sync.Mutex
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		if prefix != "" {
			fmt.Fprintf(w, "%s: %s\n", prefix, args)
			return
		}
		fmt.Fprintln(w, args)
	}, funcr.Options{Verbosity: 1})
}

// tailBuffer keeps the last max bytes written to it. It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{max: limit} }

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, starting at a line boundary.
func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) == t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// linePrefixer prefixes every line written to w, so that the output of several
// clusters can be told apart.
type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	midLn  bool
}

// prefixWriter returns a writer that prefixes every line it passes on to w.
func prefixWriter(w io.Writer, prefix string) io.Writer {
	return &linePrefixer{w: w, prefix: prefix}
}

// Write implements io.Writer.
func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !l.midLn {
			out.WriteString(l.prefix)
		}
		out.Write(line)
		l.midLn = line[len(line)-1] != '\n'
	}
	if _, err := l.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

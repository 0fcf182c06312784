package gitserver

import (
	"bytes"
	"io"
	"log"
	"regexp"
	"sync"
)

// gitkitLine matches what gitkit (gittestserver's engine) prints with the standard
// logger for every request and connection: "context: message", after the logger's
// optional date, time and file prefixes.
var gitkitLine = regexp.MustCompile(`^(\d{4}/\d{2}/\d{2} )?(\d{2}:\d{2}:\d{2}(\.\d+)? )?(\S+\.go:\d+: )?` +
	`(request|auth|repo-init|hook-update|get-info-refs|post-rpc|ssh|env|error accepting channel|err while closing` +
	`|disable simultaneous conns|dispose connection|can't have two multiple simultaneous connections)\b`)

var silenceOnce sync.Once

// silenceGitkit drops gitkit's log lines from the standard logger (unless verbose),
// keeping every other line. gitkit logs nowhere else, so this is the only handle.
func silenceGitkit() {
	if Verbose() {
		return
	}
	silenceOnce.Do(func() {
		log.SetOutput(&dropWriter{next: log.Writer()})
	})
}

// dropWriter passes on the log lines that gitkitLine does not match. The standard
// logger writes one whole line per call.
type dropWriter struct {
	next io.Writer
}

// Write implements io.Writer.
func (d *dropWriter) Write(p []byte) (int, error) {
	if gitkitLine.Match(bytes.TrimLeft(p, " ")) {
		return len(p), nil
	}
	return d.next.Write(p)
}

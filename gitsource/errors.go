package gitsource

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/skeema/knownhosts"
)

// Errors that Fetch, LsRemote, ReadTree and the Writer wrap, so that callers can choose a
// condition reason with errors.Is.
var (
	// ErrAuthentication: the server refused the credentials, the credentials Secret is
	// incomplete, or the SSH host key is not in known_hosts (or differs from it).
	ErrAuthentication = errors.New("authentication failed")
	// ErrBranchNotFound: the repository has no such branch (an empty repository has none).
	ErrBranchNotFound = errors.New("branch not found")
	// ErrCommitNotFound: the commit is not in the history read (rewritten away, or older
	// than the depth fetched).
	ErrCommitNotFound = errors.New("commit not found")
	// ErrUnreachable: the server could not be reached (DNS, connection refused, timeout,
	// TLS failure) or does not have the repository.
	ErrUnreachable = errors.New("repository unreachable")
)

// classify wraps err with the sentinel that describes it, adding op and the redacted URL.
// Errors that already carry a sentinel, and context errors, keep their identity.
func classify(op, rawURL string, err error) error {
	if err == nil {
		return nil
	}
	u := RedactURL(rawURL)
	msg := redactMessage(err.Error(), rawURL)
	switch {
	case errors.Is(err, ErrAuthentication), errors.Is(err, ErrBranchNotFound), errors.Is(err, ErrUnreachable):
		return fmt.Errorf("%s %s: %w", op, u, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, u, err)
	case isAuthError(err):
		return &classifiedError{sentinel: ErrAuthentication, msg: fmt.Sprintf("%s %s: %s: %s", op, u, ErrAuthentication, msg), err: err}
	case isBranchError(err):
		return &classifiedError{sentinel: ErrBranchNotFound, msg: fmt.Sprintf("%s %s: %s: %s", op, u, ErrBranchNotFound, msg), err: err}
	case isUnreachable(err):
		return &classifiedError{sentinel: ErrUnreachable, msg: fmt.Sprintf("%s %s: %s: %s", op, u, ErrUnreachable, msg), err: err}
	}
	return &classifiedError{msg: fmt.Sprintf("%s %s: %s", op, u, msg), err: err}
}

// classifiedError carries a redacted message and unwraps to its sentinel and the cause.
type classifiedError struct {
	sentinel error
	msg      string
	err      error
}

// Error returns the redacted message.
func (e *classifiedError) Error() string { return e.msg }

// Unwrap returns the sentinel (if any) and the cause.
func (e *classifiedError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.err}
	}
	return []error{e.sentinel, e.err}
}

func isAuthError(err error) bool {
	if errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod) ||
		knownhosts.IsHostKeyChanged(err) || knownhosts.IsHostUnknown(err) {
		return true
	}
	s := err.Error()
	for _, m := range []string{
		"unable to authenticate", "no supported methods remain", "knownhosts:",
		"host key mismatch", "key is unknown", "Permission denied",
		"no common algorithm for host key",
		"ssh: handshake failed: ssh: unable to authenticate",
	} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func isBranchError(err error) bool {
	var nm git.NoMatchingRefSpecError
	return errors.As(err, &nm) ||
		errors.Is(err, transport.ErrEmptyRemoteRepository) ||
		errors.Is(err, plumbing.ErrReferenceNotFound) ||
		errors.Is(err, git.ErrBranchNotFound)
}

func isUnreachable(err error) bool {
	if errors.Is(err, transport.ErrRepositoryNotFound) {
		return true
	}
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &netErr) ||
		errors.As(err, &certErr) || errors.As(err, &hostErr) {
		return true
	}
	if errors.As(err, &urlErr) {
		return true
	}
	s := err.Error()
	for _, m := range []string{
		"connection refused", "no such host", "i/o timeout", "connection reset",
		"network is unreachable", "tls:", "x509:", "EOF", "does not appear to be a git repository",
		"unexpected requesting", "no route to host",
	} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// RedactURL returns rawURL without the password of its user information, so it can go
// into errors, logs and conditions.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
		return strings.Replace(u.String(), ":redacted@", ":***@", 1)
	}
	return u.String()
}

var userinfoRE = regexp.MustCompile(`(//[^/@:\s]*):[^/@\s]*@`)

// redactMessage removes the raw URL's password and any user:password@ pair from msg.
func redactMessage(msg, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, has := u.User.Password(); has && p != "" {
			msg = strings.ReplaceAll(msg, p, "***")
		}
	}
	return userinfoRE.ReplaceAllString(msg, "$1:***@")
}

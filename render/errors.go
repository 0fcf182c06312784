package render

import (
	"errors"

	fleetv1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// Sentinel errors. Every error the renderer returns wraps one of ErrRender, ErrOverride
// and ErrSecretRefused (test with errors.Is, or map with Reason); the others add detail.
var (
	// ErrRender: the source could not be rendered (Helm, kustomize, directory, a bad
	// spec). Condition reason RenderFailed.
	ErrRender = errors.New("render failed")
	// ErrOverride: an override rule failed for the cluster (missing path, unknown
	// variable, bad selector). Condition reason OverrideFailed.
	ErrOverride = errors.New("override failed")
	// ErrSecretRefused: the output holds a v1 Secret with plaintext data and the
	// placement does not set allowSecrets. Condition reason SecretRefused.
	ErrSecretRefused = errors.New("SecretRefused")

	// ErrOutsideRoot: a path, or the target of a symlink, is outside the source tree.
	ErrOutsideRoot = errors.New("path escapes the source tree")
	// ErrRemoteRefused: a kustomization names a remote base or file (URL, git repository).
	ErrRemoteRefused = errors.New("remote references are refused")
	// ErrNeedsNetwork: a chart dependency is not vendored under charts/ and would have to
	// be downloaded.
	ErrNeedsNetwork = errors.New("would need the network")
	// ErrUnknownVariable: an override value names a variable that does not exist.
	ErrUnknownVariable = errors.New("unknown variable")
	// ErrMissingVariable: an override value names a cluster label or property the cluster
	// does not have, or ${CLUSTER_REPLICAS} without policy.replicas.
	ErrMissingVariable = errors.New("variable has no value for this cluster")
)

// Reason returns the Placement condition reason for an error returned by this package:
// SecretRefused, OverrideFailed or RenderFailed (the default, also for foreign errors).
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrSecretRefused):
		return fleetv1.SecretRefusedReason
	case errors.Is(err, ErrOverride):
		return fleetv1.OverrideFailedReason
	default:
		return fleetv1.RenderFailedReason
	}
}

// kindError attaches a category sentinel to an error without changing its message.
type kindError struct {
	kind error
	err  error
}

// Error returns the wrapped error's message.
func (e *kindError) Error() string { return e.err.Error() }

// Unwrap returns the error and its category, for errors.Is.
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// asRender marks err as a render failure (ErrRender), unless it already carries one of the
// three categories.
func asRender(err error) error { return withKind(ErrRender, err) }

// asOverride marks err as an override failure (ErrOverride).
func asOverride(err error) error { return withKind(ErrOverride, err) }

func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrRender) || errors.Is(err, ErrOverride) || errors.Is(err, ErrSecretRefused) {
		return err
	}
	return &kindError{kind: kind, err: err}
}

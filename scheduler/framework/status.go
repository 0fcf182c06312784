package framework

import (
	"errors"
	"strings"
)

// ErrInvalidPolicy is wrapped by every error about a policy the scheduler cannot use:
// the user has to change the Placement (the controller reports it as stalled).
var ErrInvalidPolicy = errors.New("invalid placement policy")

// Code is the outcome of a plugin call.
type Code int

// The status codes.
const (
	// Success: the cluster passes (Filter, Pick), or the step went well.
	Success Code = iota
	// Unschedulable: the cluster cannot take the placement (Filter), or cannot be picked
	// now (Pick). The reasons say why, for people.
	Unschedulable
	// Skip: from PreFilter, PreScore or PrePick only; the plugin has nothing to do this
	// cycle and its Filter, Score or Pick is not called.
	Skip
	// Error: an invalid policy (wrapping ErrInvalidPolicy) or a bug; the cycle stops.
	Error
)

// String returns the code's name.
func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Unschedulable:
		return "Unschedulable"
	case Skip:
		return "Skip"
	case Error:
		return "Error"
	default:
		return "Unknown"
	}
}

// Status is the result of a plugin call. A nil *Status is Success. Statuses are
// immutable, so a plugin may build the ones it returns often once per cycle and share
// them.
type Status struct {
	code    Code
	reasons []string
	err     error
}

// NewStatus returns a status with the code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// UnschedulableStatus returns an Unschedulable status with one reason.
func UnschedulableStatus(reason string) *Status {
	return &Status{code: Unschedulable, reasons: []string{reason}}
}

// AsStatus returns an Error status for err, or nil for a nil err.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code returns the status code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether the status is Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip reports whether the status is Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// Reasons returns the reasons.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message returns the reasons joined by "; ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, "; ")
}

// Err returns the error of an Error status, or nil.
func (s *Status) Err() error {
	if s == nil || s.code != Error {
		return nil
	}
	if s.err == nil {
		return errors.New(s.Message())
	}
	return s.err
}

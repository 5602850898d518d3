package simbackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/occid/occi"
)

// Sentinel errors: every error the simulator makes wraps one of them, and
// ErrorCode maps each to an occi.Code.
var (
	// ErrNotFound: the object or template does not exist (NotFound).
	ErrNotFound = errors.New("not found")
	// ErrState: the object is not in a state that allows the operation
	// (FailedPrecondition).
	ErrState = errors.New("invalid state")
	// ErrBusy: the object is in the middle of another operation, or was
	// changed out of band while an operation ran (Conflict).
	ErrBusy = errors.New("busy")
	// ErrInvalid: the request is malformed (InvalidArgument).
	ErrInvalid = errors.New("invalid request")
	// ErrExists: the location or template name is taken (AlreadyExists).
	ErrExists = errors.New("already exists")
	// ErrClosed: the driver is closed (Unavailable).
	ErrClosed = errors.New("simulator closed")
)

type simError struct {
	kind error
	msg  string
}

func (e *simError) Error() string { return "simbackend: " + e.msg }
func (e *simError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &simError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// ErrorCode classifies an error returned by the driver: the sentinels above
// map to their documented codes, a cancelled or expired context to
// Unavailable, an *occi.Error (for example one given to FailNext) to its own
// code, and anything else to Internal.
func (d *Driver) ErrorCode(err error) occi.Code {
	switch {
	case err == nil:
		return occi.OK
	case errors.Is(err, ErrNotFound):
		return occi.NotFound
	case errors.Is(err, ErrState):
		return occi.FailedPrecondition
	case errors.Is(err, ErrBusy):
		return occi.Conflict
	case errors.Is(err, ErrInvalid):
		return occi.InvalidArgument
	case errors.Is(err, ErrExists):
		return occi.AlreadyExists
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return occi.Unavailable
	}
	return occi.ErrorCode(err)
}

// both returns err, joined with also when also is not nil (a state file
// that could not be written while reporting another failure).
func both(err, also error) error {
	if also == nil {
		return err
	}
	return errors.Join(err, also)
}

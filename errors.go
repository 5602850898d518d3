package occi

import (
	"errors"
	"fmt"
)

// Code classifies an error. The set is small and stable: every layer maps
// its failures onto it, and occihttp has the one table from Code to an HTTP
// status.
type Code int

// The error codes. The zero value OK is never carried by a non-nil error.
const (
	OK                 Code = iota
	InvalidArgument         // the request is malformed or violates the model (400)
	NotFound                // the location, category or action does not exist or is not visible (404)
	AlreadyExists           // something already exists at that location or with that identity (409)
	Conflict                // a concurrent change won; retry with a fresh read (409)
	FailedPrecondition      // the entity is not in a state that allows the operation (409)
	PermissionDenied        // authenticated but not allowed, or an immutable attribute (403)
	Unauthenticated         // no or invalid credentials (401)
	TooLarge                // a request or a requested page is too large (413)
	Unimplemented           // never supported here (501)
	Unavailable             // a dependency is down or overloaded; retry later (503)
	Internal                // a bug or an unexpected failure (500)
	MethodNotAllowed        // the path exists but does not take this method (405)
	PreconditionFailed      // an If-Match revision did not match (412)
)

var codeNames = [...]string{
	OK: "OK", InvalidArgument: "InvalidArgument", NotFound: "NotFound",
	AlreadyExists: "AlreadyExists", Conflict: "Conflict", FailedPrecondition: "FailedPrecondition",
	PermissionDenied: "PermissionDenied", Unauthenticated: "Unauthenticated", TooLarge: "TooLarge",
	Unimplemented: "Unimplemented", Unavailable: "Unavailable", Internal: "Internal",
	MethodNotAllowed: "MethodNotAllowed", PreconditionFailed: "PreconditionFailed",
}

// String returns the code's name, such as "NotFound".
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Error is an error with a Code. Message is safe to show to the client and
// says what was wrong and where; Err, if set, is the internal cause, which is
// logged but never sent.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error returns the message, followed by the cause if there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Message == "" {
			return e.Err.Error()
		}
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted client-facing message.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message that keeps err as its
// internal cause. It returns nil if err is nil.
func Wrap(err error, code Code, message string) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode reports the code of err: OK for nil, the code of the first *Error
// in its chain, and Internal for any other error.
func ErrorCode(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client-facing message of err: the Message of the
// first *Error in its chain, or "internal error" for any other error, so
// internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	if err == nil {
		return ""
	}
	return "internal error"
}

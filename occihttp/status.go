package occihttp

import (
	"net/http"

	"github.com/occid/occi"
)

// statusOf is the one table from an occi.Code to the HTTP status that
// answers it. Codes not listed (and OK, which never travels in an error)
// answer 500.
var statusOf = map[occi.Code]int{
	occi.InvalidArgument:    http.StatusBadRequest,
	occi.Unauthenticated:    http.StatusUnauthorized,
	occi.PermissionDenied:   http.StatusForbidden,
	occi.NotFound:           http.StatusNotFound,
	occi.MethodNotAllowed:   http.StatusMethodNotAllowed,
	occi.AlreadyExists:      http.StatusConflict,
	occi.Conflict:           http.StatusConflict,
	occi.FailedPrecondition: http.StatusConflict,
	occi.PreconditionFailed: http.StatusPreconditionFailed,
	occi.TooLarge:           http.StatusRequestEntityTooLarge,
	occi.Internal:           http.StatusInternalServerError,
	occi.Unimplemented:      http.StatusNotImplemented,
	occi.Unavailable:        http.StatusServiceUnavailable,
}

// Beside the table, the Server answers three statuses that no occi.Code
// maps to, each with its own Occid-Error-Code name (a client reads them as
// InvalidArgument): 406 NotAcceptable (no acceptable response type), 415
// UnsupportedMediaType (request Content-Type not supported) and 408
// RequestTimeout (the request body did not arrive within the server's read
// timeout; not in OCCI's minimum set, plain HTTP).

// Status returns the HTTP status that answers an error with code c:
// InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound
// 404, MethodNotAllowed 405, AlreadyExists, Conflict and FailedPrecondition
// 409, PreconditionFailed 412, TooLarge 413, Unimplemented 501, Unavailable
// 503, and 500 for Internal and anything else.
func Status(c occi.Code) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeOf returns the occi.Code a client reports for an HTTP error status: the
// inverse of Status where it is one to one, Conflict for 409, InvalidArgument
// for the other 4xx statuses (406, 415 and the like), TooLarge for 431,
// Unavailable for 502, 503 and 504, and Internal for any other status of 500
// or more. A status below 400 returns OK.
func CodeOf(status int) occi.Code {
	switch status {
	case http.StatusBadRequest:
		return occi.InvalidArgument
	case http.StatusUnauthorized:
		return occi.Unauthenticated
	case http.StatusForbidden:
		return occi.PermissionDenied
	case http.StatusNotFound, http.StatusGone:
		return occi.NotFound
	case http.StatusMethodNotAllowed:
		return occi.MethodNotAllowed
	case http.StatusConflict:
		return occi.Conflict
	case http.StatusPreconditionFailed:
		return occi.PreconditionFailed
	case http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
		return occi.TooLarge
	case http.StatusNotImplemented:
		return occi.Unimplemented
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return occi.Unavailable
	}
	switch {
	case status < 400:
		return occi.OK
	case status < 500:
		return occi.InvalidArgument
	default:
		return occi.Internal
	}
}

// codeByName maps a code's name (as sent in the Occid-Error-Code header)
// back to the code.
var codeByName = func() map[string]occi.Code {
	m := make(map[string]occi.Code)
	for c := occi.InvalidArgument; c <= occi.PreconditionFailed; c++ {
		m[c.String()] = c
	}
	return m
}()

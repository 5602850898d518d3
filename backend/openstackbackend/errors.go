package openstackbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/occid/occi"
)

// statusCoder is implemented by gophercloud's HTTP status errors.
type statusCoder interface{ GetStatusCode() int }

// httpStatus returns the HTTP status behind err, or 0.
func httpStatus(err error) int {
	var sc statusCoder
	if errors.As(err, &sc) {
		return sc.GetStatusCode()
	}
	return 0
}

func isNotFound(err error) bool { return httpStatus(err) == http.StatusNotFound }

// codeForStatus maps an OpenStack HTTP status to an OCCI code.
func codeForStatus(status int) occi.Code {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity:
		return occi.InvalidArgument
	case status == http.StatusUnauthorized:
		return occi.Unauthenticated
	case status == http.StatusForbidden:
		return occi.PermissionDenied
	case status == http.StatusNotFound:
		return occi.NotFound
	case status == http.StatusConflict:
		return occi.FailedPrecondition
	case status == http.StatusNotImplemented:
		return occi.Unimplemented
	case status == http.StatusRequestEntityTooLarge, status == http.StatusTooManyRequests, status >= 500:
		return occi.Unavailable
	case status == http.StatusMethodNotAllowed:
		return occi.Unimplemented
	}
	return occi.Internal
}

func errorCode(err error) occi.Code {
	if err == nil {
		return occi.OK
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	if s := httpStatus(err); s != 0 {
		return codeForStatus(s)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return occi.Unavailable
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return occi.Unavailable
	}
	var mi gophercloud.ErrMissingInput
	var ii gophercloud.ErrInvalidInput
	if errors.As(err, &mi) || errors.As(err, &ii) {
		return occi.InvalidArgument
	}
	var eo gophercloud.ErrEndpointNotFound
	if errors.As(err, &eo) {
		return occi.Unavailable
	}
	return occi.Internal
}

// wrap turns an error from an OpenStack call into an *occi.Error whose
// message names the service and the operation and, for an HTTP error,
// carries the message OpenStack gave (which is meant for API users).
func (d *Driver) wrap(err error, service, what string) error {
	if err == nil {
		return nil
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return err
	}
	code := errorCode(err)
	msg := fmt.Sprintf("%s: %s", service, what)
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		if m := apiMessage(ue.Body); m != "" {
			msg += ": " + m
		} else {
			msg += fmt.Sprintf(": HTTP %d", ue.Actual)
		}
	} else if code == occi.Unavailable {
		msg += ": the service cannot be reached"
	}
	if code == occi.Internal {
		d.opts.Logger.Warn("openstack: unexpected error", "service", service, "op", what, "err", err)
	}
	return &occi.Error{Code: code, Message: msg, Err: err}
}

// keystoneError classifies a failed authentication.
func keystoneError(err error) error {
	switch s := httpStatus(err); {
	case s == http.StatusUnauthorized || s == http.StatusNotFound:
		return occi.Wrap(err, occi.Unauthenticated, "keystone: the credentials or token were rejected (invalid or expired)")
	case s == http.StatusForbidden:
		return occi.Wrap(err, occi.PermissionDenied, "keystone: the identity may not use this project")
	case s != 0:
		return occi.Wrap(err, codeForStatus(s), fmt.Sprintf("keystone: authentication failed with HTTP %d", s))
	}
	if errorCode(err) == occi.Unavailable {
		return occi.Wrap(err, occi.Unavailable, "keystone: the identity service cannot be reached")
	}
	return occi.Wrap(err, occi.Unauthenticated, "keystone: authentication failed: "+err.Error())
}

// apiMessage extracts the human message from an OpenStack error body:
// {"itemNotFound": {"message": …}} (Nova, Cinder), {"NeutronError":
// {"message": …}}, {"error": {"message": …}} (Keystone), or the first line
// of a plain-text body (Glance).
func apiMessage(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		for _, v := range top {
			var inner struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &inner) == nil && inner.Message != "" {
				return clip(inner.Message)
			}
		}
		var flat struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &flat) == nil && flat.Message != "" {
			return clip(flat.Message)
		}
		return ""
	}
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "<") {
			return clip(line)
		}
	}
	return ""
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// apiMessageOf returns the OpenStack message inside an HTTP error, or the
// HTTP status when there is none.
func apiMessageOf(err error) string {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		if m := apiMessage(ue.Body); m != "" {
			return m
		}
		return fmt.Sprintf("HTTP %d", ue.Actual)
	}
	return "unexpected answer"
}

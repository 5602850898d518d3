package libvirtbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
)

// conn holds the one RPC connection to libvirtd and re-dials it when it has
// been lost, so the driver recovers by itself when libvirtd comes back.
type conn struct {
	uri *url.URL
	raw string

	mu      sync.Mutex
	l       *libvirt.Libvirt
	closed  bool
	gen     int           // connections made so far
	changed chan struct{} // closed and replaced whenever a new connection is made
	lastTry time.Time
	lastErr error
}

// errClosed is returned after Close.
var errClosed = errors.New("libvirt driver closed")

func newConn(raw string) (*conn, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "libvirt URI %q is not a URI such as qemu:///system", raw)
	}
	return &conn{uri: u, raw: raw, changed: make(chan struct{})}, nil
}

// redialPause bounds how often a lost connection is re-dialled, so that a
// burst of calls while libvirtd is down does not become a burst of dials.
const redialPause = 200 * time.Millisecond

// get returns a connected client, dialling libvirtd again if the previous
// connection was lost. A failure is an Unavailable error.
func (c *conn) get() (*libvirt.Libvirt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, occi.Wrap(errClosed, occi.Unavailable, "the libvirt driver is closed")
	}
	if c.l != nil && c.l.IsConnected() {
		return c.l, nil
	}
	if c.lastErr != nil && time.Since(c.lastTry) < redialPause {
		return nil, c.unavailable(c.lastErr)
	}
	c.lastTry = time.Now()
	l, err := libvirt.ConnectToURI(c.uri)
	if err != nil {
		c.lastErr = err
		return nil, c.unavailable(err)
	}
	c.lastErr = nil
	c.l = l
	c.gen++
	close(c.changed)
	c.changed = make(chan struct{})
	return l, nil
}

// generation reports the number of connections made and a channel closed
// when the next one is made.
func (c *conn) generation() (int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.changed
}

func (c *conn) unavailable(err error) error {
	return occi.Wrap(err, occi.Unavailable, fmt.Sprintf("libvirt at %s is unavailable", c.raw))
}

func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.l != nil && c.l.IsConnected() {
		return c.l.Disconnect()
	}
	return nil
}

// classify maps an error from go-libvirt (or from this package) onto an
// occi.Code.
func classify(err error) occi.Code {
	if err == nil {
		return occi.OK
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	var le libvirt.Error
	if errors.As(err, &le) {
		switch libvirt.ErrorNumber(le.Code) {
		case libvirt.ErrNoDomain, libvirt.ErrNoNetwork, libvirt.ErrNoStoragePool, libvirt.ErrNoStorageVol,
			libvirt.ErrNoInterface, libvirt.ErrNoNwfilter:
			return occi.NotFound
		case libvirt.ErrOperationInvalid, libvirt.ErrResourceBusy, libvirt.ErrStoragePoolBuilt:
			return occi.FailedPrecondition
		case libvirt.ErrDomExist, libvirt.ErrNetworkExist, libvirt.ErrStorageVolExist:
			return occi.AlreadyExists
		case libvirt.ErrInvalidArg, libvirt.ErrXMLError, libvirt.ErrConfigUnsupported:
			return occi.InvalidArgument
		case libvirt.ErrNoSupport, libvirt.ErrArgumentUnsupported, libvirt.ErrOperationUnsupported:
			return occi.FailedPrecondition
		case libvirt.ErrOperationTimeout, libvirt.ErrAgentUnresponsive, libvirt.ErrRPC, libvirt.ErrNoConnect,
			libvirt.ErrAuthFailed, libvirt.ErrNoServer:
			return occi.Unavailable
		case libvirt.ErrAccessDenied, libvirt.ErrOperationDenied:
			return occi.PermissionDenied
		}
		return occi.Internal
	}
	if isConnErr(err) {
		return occi.Unavailable
	}
	return occi.Internal
}

// isConnErr reports whether err means the connection to libvirtd is gone.
func isConnErr(err error) bool {
	if errors.Is(err, libvirt.ErrInterrupted) || errors.Is(err, syscall.EINVAL) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// isCode reports whether err is a libvirt error with one of the codes.
func isCode(err error, codes ...libvirt.ErrorNumber) bool {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	for _, c := range codes {
		if libvirt.ErrorNumber(le.Code) == c {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool { return classify(err) == occi.NotFound }

// fail turns an error from a libvirt call into an *occi.Error whose message
// says what was being done; an *occi.Error passes through unchanged.
func (d *Driver) fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var oe *occi.Error
	if errors.As(err, &oe) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	code := classify(err)
	if code == occi.Unavailable {
		return occi.Wrap(err, code, fmt.Sprintf("%s: libvirt at %s is unavailable", what, d.conn.raw))
	}
	var le libvirt.Error
	if errors.As(err, &le) {
		return occi.Wrap(err, code, fmt.Sprintf("%s: %s", what, strings.TrimSpace(le.Message)))
	}
	return occi.Wrap(err, code, what)
}

package occihttp

import (
	"log/slog"
	"net/http"
	"time"
)

// Limits bound what one client can hold of an http.Server. The zero value
// of a field means its default.
type Limits struct {
	// MaxHeaderBytes caps the request line and headers; a larger request
	// gets 431 from net/http. Default 2 MiB: text/occi carries a whole
	// rendering (user data included) in headers, so the header limit must
	// not be smaller than the body limit.
	MaxHeaderBytes int
	// ReadHeaderTimeout is how long a client may take to send the request
	// headers (a client trickling headers is cut off). Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client may take to send a whole request,
	// body included. Default 60 s.
	ReadTimeout time.Duration
	// WriteTimeout is how long serving one request may take, from the end
	// of its headers to the end of the answer; it must exceed the slowest
	// backend operation. Default 10 min.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. Default 2 min.
	IdleTimeout time.Duration
}

// Default limits.
const (
	DefaultMaxHeaderBytes    = 2 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 10 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	return l
}

// NewHTTPServer returns an http.Server that serves h within the limits l;
// errors of the server itself (bad TLS handshakes and the like) go to log
// at Warn level when log is not nil. The caller sets Addr or calls Serve.
func NewHTTPServer(h http.Handler, l Limits, log *slog.Logger) *http.Server {
	l = l.withDefaults()
	s := &http.Server{
		Handler:           h,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
	if log != nil {
		s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return s
}

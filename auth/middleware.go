package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/occid/occi"
)

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Public lists paths (exact matches of r.URL.Path, such as "/healthz",
	// "/readyz", "/metrics") served without authentication; their requests
	// carry no identity (occi.IdentityFrom gives occi.Anonymous).
	Public []string
	// Logger receives one record per failed authentication (at Info, or
	// Warn when a dependency is down) and per success (at Debug), with the
	// method, path, remote address and reason or user; never a secret.
	// Default: the logger of the Config given to New, or none.
	Logger *slog.Logger
	// Refuse, if set, answers a request whose authentication failed, with
	// an *occi.Error whose code is Unauthenticated (401), PermissionDenied
	// (403), Unavailable (503; Retry-After is already set) or Internal
	// (500), and a message safe for the client; occid passes the OCCI
	// server's ServeError, so that the answer has the server's error
	// form. Nil answers with a short text/plain body.
	Refuse func(w http.ResponseWriter, r *http.Request, err error)
}

// annotator is implemented by authenticators that add to the context of
// the requests they accept (Keystone adds the token).
type annotator interface {
	annotate(ctx context.Context, r *http.Request) context.Context
}

// Middleware authenticates each request with chain before passing it to
// next, with the identity in its context (occi.WithIdentity). If the chain
// is nil or not Enabled, every request runs as occi.Anonymous. A request
// whose credentials are missing or invalid gets 401 with one
// WWW-Authenticate header per scheme the chain accepts, an X-OCCI-Error
// header and a short text/plain body; one whose credentials cannot be
// checked because a dependency is down gets 503. The Authorization and
// X-Auth-Token headers are removed from requests passed to next (a Keystone
// token stays available through KeystoneToken).
func Middleware(chain *Chain, next http.Handler, opts MiddlewareOptions) http.Handler {
	public := map[string]bool{}
	for _, p := range opts.Public {
		public[p] = true
	}
	logger := opts.Logger
	if logger == nil && chain != nil {
		logger = chain.logger
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	challenges := chain.Challenges()
	enabled := chain.Enabled()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if !enabled {
			next.ServeHTTP(w, r.WithContext(occi.WithIdentity(r.Context(), occi.Anonymous)))
			return
		}
		id, a, err := chain.authenticate(r)
		if err != nil {
			fail(w, r, err, challenges, logger, opts.Refuse)
			return
		}
		ctx := occi.WithIdentity(r.Context(), id)
		if an, ok := a.(annotator); ok {
			ctx = an.annotate(ctx, r)
		}
		r2 := r.WithContext(ctx)
		r2.Header = r.Header.Clone()
		r2.Header.Del("Authorization")
		r2.Header.Del("X-Auth-Token")
		logger.Debug("auth: authenticated", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "user", id.User)
		next.ServeHTTP(w, r2)
	})
}

// fail answers a request whose authentication failed, through refuse if
// it is set.
func fail(w http.ResponseWriter, r *http.Request, err error, challenges []string, logger *slog.Logger,
	refuse func(http.ResponseWriter, *http.Request, error)) {
	code := occi.ErrorCode(err)
	msg := occi.ErrorMessage(err)
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrNoCredentials) || code == occi.Unauthenticated:
		code = occi.Unauthenticated
		if msg == "" || msg == "internal error" {
			msg = "authentication required"
		}
		if refuse == nil {
			for _, c := range challenges {
				w.Header().Add("WWW-Authenticate", c)
			}
		}
	case code == occi.Unavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	case code == occi.PermissionDenied:
		status = http.StatusForbidden
	default:
		status = http.StatusInternalServerError
		code = occi.Internal
		msg = "internal error"
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "reason", msg}
	var oe *occi.Error
	if errors.As(err, &oe) && oe.Err != nil {
		attrs = append(attrs, "cause", oe.Err.Error())
	}
	if status >= 500 {
		logger.Warn("auth: cannot authenticate", attrs...)
	} else {
		logger.Info("auth: authentication failed", attrs...)
	}
	if refuse != nil {
		refuse(w, r, occi.Errorf(code, "%s", msg))
		return
	}
	w.Header().Set("X-OCCI-Error", msg)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + ": " + msg + "\n"))
}

// Package auth authenticates occid's HTTP callers. It offers several
// authenticators (static tokens, HTTP Basic against an htpasswd file, OIDC
// bearer tokens, X.509 client certificates and Keystone token pass-through),
// a Chain that tries them in order, and an HTTP middleware that puts the
// caller's occi.Identity in the request context or answers 401.
//
// An authenticator looks only at credentials of its own kind. When a request
// carries none (or a credential that another authenticator may own, such as
// an unknown static token), it returns an error that matches ErrNoCredentials
// and the chain tries the next one. When it recognises its credentials and
// they are wrong, it returns an occi.Unauthenticated error whose message is
// safe to show and never contains the secret; the chain then stops. A
// dependency that is down (an OIDC issuer, Keystone) gives occi.Unavailable.
//
// Secrets (tokens, passwords, Authorization headers) are never logged and
// never appear in error messages.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/occid/occi"
)

// Authenticator checks one kind of credential in a request.
type Authenticator interface {
	// Authenticate returns the caller's identity. It returns an error
	// matching ErrNoCredentials (see Declined) when r carries no credential
	// this authenticator owns, an occi.Unauthenticated error when it carries
	// one that is invalid, and an occi.Unavailable error when a service
	// needed to check it cannot be reached. Error messages never contain the
	// credential.
	Authenticate(r *http.Request) (occi.Identity, error)
	// Challenge returns the value of one WWW-Authenticate header naming
	// this authenticator's scheme, such as `Basic realm="occid"`, or "" if
	// it has none (client certificates).
	Challenge() string
}

// ErrNoCredentials is returned, or matched (with errors.Is) by the error
// returned, by an Authenticator when the request carries no credential of
// its kind, so the next authenticator of a Chain is tried. Return it as is
// when there is nothing to say, or use Declined to give a reason.
var ErrNoCredentials = errors.New("no credentials")

// declined is the error of an authenticator that leaves the request to the
// next one; it matches ErrNoCredentials and carries an Unauthenticated
// occi.Error with the message to show if no authenticator accepts it.
type declined struct{ err *occi.Error }

func (d *declined) Error() string        { return d.err.Message }
func (d *declined) Unwrap() error        { return d.err }
func (d *declined) Is(target error) bool { return target == ErrNoCredentials }

// Declined returns an error that matches ErrNoCredentials, so a Chain tries
// the next authenticator, and whose occi code is Unauthenticated with
// message, which is shown to the client if no authenticator accepts the
// request. message must not contain the credential.
func Declined(message string) error {
	return &declined{err: &occi.Error{Code: occi.Unauthenticated, Message: message}}
}

// unauthenticated returns an occi.Unauthenticated error with a client-safe
// message.
func unauthenticated(format string, args ...any) error {
	return occi.Errorf(occi.Unauthenticated, format, args...)
}

// Chain tries several authenticators in order. The first one that accepts
// the request's credentials, or rejects them, decides; the others are not
// asked. A Chain is itself an Authenticator and is safe for concurrent use.
type Chain struct {
	auths  []Authenticator
	logger *slog.Logger
}

// NewChain returns a Chain of auths, tried in the given order.
func NewChain(auths ...Authenticator) *Chain {
	return &Chain{auths: auths, logger: slog.New(slog.DiscardHandler)}
}

// Enabled reports whether the chain has at least one authenticator. A
// server whose chain is not enabled runs every request as occi.Anonymous.
func (c *Chain) Enabled() bool { return c != nil && len(c.auths) > 0 }

// Authenticators returns the chain's authenticators in order.
func (c *Chain) Authenticators() []Authenticator {
	if c == nil {
		return nil
	}
	return append([]Authenticator(nil), c.auths...)
}

// Authenticate asks each authenticator in turn and returns the identity of
// the first that accepts the request, or the error of the first that
// rejects it. If all of them find no credentials of their kind, it returns
// an error matching ErrNoCredentials whose message (occi.ErrorMessage) is
// that of the first authenticator that declined with a reason, or
// "authentication required".
func (c *Chain) Authenticate(r *http.Request) (occi.Identity, error) {
	id, _, err := c.authenticate(r)
	return id, err
}

func (c *Chain) authenticate(r *http.Request) (occi.Identity, Authenticator, error) {
	var first error
	if c != nil {
		for _, a := range c.auths {
			id, err := a.Authenticate(r)
			if err == nil {
				return id, a, nil
			}
			if !errors.Is(err, ErrNoCredentials) {
				return occi.Identity{}, a, err
			}
			var d *declined
			if first == nil && errors.As(err, &d) {
				first = d
			}
		}
	}
	if first != nil {
		return occi.Identity{}, nil, first
	}
	return occi.Identity{}, nil, Declined("authentication required")
}

// Challenge returns the chain's challenges joined by ", ", which is one
// valid WWW-Authenticate value; Middleware sends them as separate headers
// (see Challenges).
func (c *Chain) Challenge() string { return strings.Join(c.Challenges(), ", ") }

// Challenges returns one WWW-Authenticate value per scheme the chain
// accepts, in chain order, without duplicates.
func (c *Chain) Challenges() []string {
	if c == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range c.auths {
		ch := a.Challenge()
		if ch == "" || seen[ch] {
			continue
		}
		seen[ch] = true
		out = append(out, ch)
	}
	return out
}

// Reloader is implemented by authenticators that read files (static
// tokens, htpasswd, the certificate subject map).
type Reloader interface {
	// Reload re-reads the authenticator's file now. On error the
	// authenticator keeps what it had.
	Reload() error
}

// Reload re-reads every file the chain's authenticators use, for example on
// SIGHUP. Files are also re-read by themselves when they change (checked at
// most once per Config.FileCheckInterval). On error an authenticator keeps
// its previous contents; the errors are joined and never contain secrets.
func (c *Chain) Reload() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, a := range c.auths {
		if rl, ok := a.(Reloader); ok {
			if err := rl.Reload(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// DefaultRealm is the realm named in challenges when Config.Realm is empty.
const DefaultRealm = "occid"

// DefaultClockSkew is the clock difference allowed when checking the times
// of OIDC tokens when Config.OIDCClockSkew is zero.
const DefaultClockSkew = time.Minute

// Config says which authenticators New builds. Every field is optional; an
// authenticator is built when its main field (TokensFile, HtpasswdFile,
// OIDCIssuer, ClientCAFile, KeystoneURL) is set. The chain order is:
// client certificate, static token, Basic, OIDC, Keystone.
type Config struct {
	// TokensFile is a file of static tokens, one "TOKEN USER [GROUP,...]"
	// per line (see ParseTokens).
	TokensFile string
	// HtpasswdFile is an htpasswd file with bcrypt hashes (see
	// ParseHtpasswd).
	HtpasswdFile string

	// OIDCIssuer is the issuer URL of an OpenID Connect provider; its
	// discovery document and JWKS are fetched from it. New fails if the
	// discovery document cannot be fetched.
	OIDCIssuer string
	// OIDCAudience is the audience (client ID) a token must name; it is
	// required with OIDCIssuer.
	OIDCAudience string
	// OIDCUserClaim is the claim that names the user; default "sub".
	OIDCUserClaim string
	// OIDCGroupsClaim is the claim that lists the user's groups (an array
	// of strings or one string), such as "groups"; default none.
	OIDCGroupsClaim string
	// OIDCClockSkew is the clock difference allowed for exp, nbf and iat;
	// zero means DefaultClockSkew and a negative value means none.
	OIDCClockSkew time.Duration

	// ClientCAFile is a PEM file of the CAs whose client certificates are
	// accepted; it enables the client-certificate authenticator. New only
	// checks that it holds certificates: the TLS listener must use
	// TLSConfig with the same file, which does the verifying.
	ClientCAFile string
	// ClientDNMapFile optionally maps certificate subject DNs to users (see
	// ParseDNMap); without it the user is the subject DN itself.
	ClientDNMapFile string

	// KeystoneURL is the Keystone identity endpoint that validates
	// X-Auth-Token, such as "http://keystone:5000" or ".../v3".
	KeystoneURL string
	// KeystonePublicURL is the URL named in the Keystone challenge;
	// default KeystoneURL.
	KeystonePublicURL string
	// KeystoneServiceToken, if set, is sent as X-Auth-Token when
	// validating a caller's token; otherwise the caller's token validates
	// itself.
	KeystoneServiceToken string
	// KeystoneCacheTTL bounds how long a validation is reused (never past
	// the token's expiry); zero means one minute, negative disables the
	// cache.
	KeystoneCacheTTL time.Duration
	// KeystoneCacheSize bounds the number of cached validations; zero means
	// 1024.
	KeystoneCacheSize int

	// Realm is the realm named in Basic and Bearer challenges; default
	// DefaultRealm.
	Realm string
	// FileCheckInterval is how often, at most, the files are checked for
	// changes (modification time and size); zero means one second and a
	// negative value means only Reload re-reads them.
	FileCheckInterval time.Duration
	// HTTPClient is used to reach the OIDC issuer and Keystone; default a
	// client with a 10-second timeout.
	HTTPClient *http.Client
	// Logger receives reload and validation messages, never secrets;
	// default discards.
	Logger *slog.Logger
}

// New builds the chain cfg describes. A Config with nothing set gives an
// empty chain whose Enabled is false. ctx bounds the OIDC discovery request.
func New(ctx context.Context, cfg Config) (*Chain, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	realm := cfg.Realm
	if realm == "" {
		realm = DefaultRealm
	}
	fopts := FileOptions{CheckInterval: cfg.FileCheckInterval, Logger: logger}
	var auths []Authenticator
	if cfg.ClientCAFile != "" {
		if _, err := LoadCertPool(cfg.ClientCAFile); err != nil {
			return nil, err
		}
		a, err := NewCertAuthenticator(cfg.ClientDNMapFile, fopts)
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	} else if cfg.ClientDNMapFile != "" {
		return nil, fmt.Errorf("auth: a client DN map file needs a client CA file (--client-ca)")
	}
	if cfg.TokensFile != "" {
		a, err := NewTokenAuthenticator(cfg.TokensFile, realm, fopts)
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	}
	if cfg.HtpasswdFile != "" {
		a, err := NewBasicAuthenticator(cfg.HtpasswdFile, realm, fopts)
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.OIDCIssuer != "" {
		a, err := NewOIDCAuthenticator(ctx, OIDCOptions{
			Issuer:      cfg.OIDCIssuer,
			Audience:    cfg.OIDCAudience,
			UserClaim:   cfg.OIDCUserClaim,
			GroupsClaim: cfg.OIDCGroupsClaim,
			ClockSkew:   cfg.OIDCClockSkew,
			Realm:       realm,
			HTTPClient:  client,
		})
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	} else if cfg.OIDCAudience != "" {
		return nil, fmt.Errorf("auth: an OIDC audience needs an OIDC issuer (--oidc-issuer)")
	}
	if cfg.KeystoneURL != "" {
		a, err := NewKeystoneAuthenticator(KeystoneOptions{
			URL:          cfg.KeystoneURL,
			PublicURL:    cfg.KeystonePublicURL,
			ServiceToken: cfg.KeystoneServiceToken,
			CacheTTL:     cfg.KeystoneCacheTTL,
			CacheSize:    cfg.KeystoneCacheSize,
			HTTPClient:   client,
			Logger:       logger,
		})
		if err != nil {
			return nil, err
		}
		auths = append(auths, a)
	}
	c := NewChain(auths...)
	c.logger = logger
	return c, nil
}

// IsLoopback reports whether listenAddr ("host:port", "host" or ":port")
// names only loopback addresses: "localhost", 127.0.0.0/8 or ::1. An empty
// host (all interfaces) and any other name are not loopback; names other
// than "localhost" are not resolved.
func IsLoopback(listenAddr string) bool {
	host := listenAddr
	if h, _, err := net.SplitHostPort(listenAddr); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 { // zone, as in ::1%lo
		host = host[:i]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

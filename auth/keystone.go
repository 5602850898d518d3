package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/occid/occi"
)

type keystoneTokenKey struct{}

// WithKeystoneToken returns a context that carries a caller's validated
// Keystone token. Middleware sets it after a KeystoneAuthenticator accepts
// the request.
func WithKeystoneToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, keystoneTokenKey{}, token)
}

// KeystoneToken returns the caller's Keystone token, which Keystone has
// validated, so the OpenStack backend can act with it; ok is false when the
// caller did not authenticate with Keystone. Never log it.
func KeystoneToken(ctx context.Context) (string, bool) {
	tok, ok := ctx.Value(keystoneTokenKey{}).(string)
	return tok, ok && tok != ""
}

// KeystoneOptions configures a KeystoneAuthenticator.
type KeystoneOptions struct {
	// URL is the Keystone endpoint used to validate tokens, with or without
	// the trailing "/v3" (required).
	URL string
	// PublicURL is named in the challenge `Keystone uri="<PublicURL>"`;
	// default URL.
	PublicURL string
	// ServiceToken, if set, authorises the validation requests; otherwise
	// each token validates itself.
	ServiceToken string
	// CacheTTL bounds how long a successful validation is reused (never
	// past the token's expiry); zero means one minute, negative disables.
	CacheTTL time.Duration
	// CacheSize bounds the cache; zero means 1024.
	CacheSize int
	// HTTPClient reaches Keystone; default a client with a 10-second
	// timeout.
	HTTPClient *http.Client
	// Logger receives validation failures (never tokens).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// KeystoneAuthenticator validates the X-Auth-Token header with Keystone
// (GET /v3/auth/tokens with X-Subject-Token). The identity's User is the
// Keystone user ID and Groups is the token's project ID (none for an
// unscoped token). Successful validations are cached briefly (never past
// the token's expiry) and refusals for a few seconds; Keystone being
// unreachable or failing is occi.Unavailable and is not cached.
type KeystoneAuthenticator struct {
	endpoint     string // ends in "/v3/"
	challenge    string
	serviceToken string
	ttl          time.Duration
	size         int
	client       http.Client
	logger       *slog.Logger
	now          func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]keystoneCacheEntry
}

type keystoneCacheEntry struct {
	id      occi.Identity
	err     error // a refusal (Unauthenticated), or nil
	expires time.Time
}

// NewKeystoneAuthenticator returns a Keystone authenticator; it does not
// contact Keystone.
func NewKeystoneAuthenticator(o KeystoneOptions) (*KeystoneAuthenticator, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auth: Keystone URL %q is not an http(s) URL", o.URL)
	}
	endpoint := strings.TrimSuffix(u.String(), "/")
	if !strings.HasSuffix(endpoint, "/v3") {
		endpoint += "/v3"
	}
	endpoint += "/"
	public := o.PublicURL
	if public == "" {
		public = o.URL
	}
	a := &KeystoneAuthenticator{
		endpoint:     endpoint,
		challenge:    fmt.Sprintf("Keystone uri=%q", public),
		serviceToken: o.ServiceToken,
		ttl:          o.CacheTTL,
		size:         o.CacheSize,
		logger:       o.Logger,
		now:          o.Now,
		cache:        map[[sha256.Size]byte]keystoneCacheEntry{},
	}
	if a.ttl == 0 {
		a.ttl = time.Minute
	}
	if a.size <= 0 {
		a.size = 1024
	}
	if o.HTTPClient != nil {
		a.client = *o.HTTPClient
	} else {
		a.client = http.Client{Timeout: 10 * time.Second}
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *KeystoneAuthenticator) Authenticate(r *http.Request) (occi.Identity, error) {
	tok := strings.TrimSpace(r.Header.Get("X-Auth-Token"))
	if tok == "" {
		return occi.Identity{}, ErrNoCredentials
	}
	key := sha256.Sum256([]byte(tok))
	now := a.now()
	if a.ttl > 0 {
		a.mu.Lock()
		e, ok := a.cache[key]
		if ok && !now.Before(e.expires) {
			delete(a.cache, key)
			ok = false
		}
		a.mu.Unlock()
		if ok && e.err != nil {
			return occi.Identity{}, e.err
		}
		if ok {
			return cloneIdentity(e.id), nil
		}
	}
	id, expires, err := a.validate(r.Context(), tok)
	if a.ttl > 0 {
		switch {
		case err == nil:
			until := now.Add(a.ttl)
			if !expires.IsZero() && expires.Before(until) {
				until = expires
			}
			a.store(key, keystoneCacheEntry{id: cloneIdentity(id), expires: until}, now)
		case occi.ErrorCode(err) == occi.Unauthenticated:
			// Keystone said no: tokens never become valid later, so
			// repeating the question soon is pointless.
			a.store(key, keystoneCacheEntry{err: err, expires: now.Add(min(a.ttl, keystoneNegativeTTL))}, now)
		}
	}
	if err != nil {
		return occi.Identity{}, err
	}
	return id, nil
}

// keystoneNegativeTTL bounds how long a token Keystone refused is refused
// without asking again.
const keystoneNegativeTTL = 10 * time.Second

// store caches e under key, first dropping expired entries (and then
// arbitrary ones) if the cache is full.
func (a *KeystoneAuthenticator) store(key [sha256.Size]byte, e keystoneCacheEntry, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.size {
		for k, old := range a.cache {
			if !now.Before(old.expires) || len(a.cache) >= a.size {
				delete(a.cache, k)
			}
		}
	}
	a.cache[key] = e
}

// validate asks Keystone about tok.
func (a *KeystoneAuthenticator) validate(ctx context.Context, tok string) (occi.Identity, time.Time, error) {
	provider := &gophercloud.ProviderClient{HTTPClient: a.client}
	if a.serviceToken != "" {
		provider.SetToken(a.serviceToken)
	} else {
		provider.SetToken(tok)
	}
	sc := &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: a.endpoint}
	res := tokens.Get(ctx, sc, tok)
	if res.Err != nil {
		var code gophercloud.ErrUnexpectedResponseCode
		if errors.As(res.Err, &code) {
			status := code.Actual
			switch {
			case status == http.StatusNotFound:
				return occi.Identity{}, time.Time{}, unauthenticated("token is invalid or expired")
			case (status == http.StatusUnauthorized || status == http.StatusForbidden) && a.serviceToken == "":
				return occi.Identity{}, time.Time{}, unauthenticated("token is invalid or expired")
			case status == http.StatusUnauthorized || status == http.StatusForbidden:
				return occi.Identity{}, time.Time{}, occi.Wrap(fmt.Errorf("keystone refused the service token: HTTP %d", status),
					occi.Unavailable, "the identity service cannot validate tokens now; try again later")
			default:
				return occi.Identity{}, time.Time{}, occi.Wrap(fmt.Errorf("keystone answered HTTP %d", status),
					occi.Unavailable, "the identity service cannot validate tokens now; try again later")
			}
		}
		return occi.Identity{}, time.Time{}, occi.Wrap(fmt.Errorf("keystone unreachable: %w", res.Err),
			occi.Unavailable, "the identity service cannot be reached; try again later")
	}
	user, err := res.ExtractUser()
	if err != nil || user == nil || user.ID == "" {
		return occi.Identity{}, time.Time{}, occi.Wrap(errors.New("keystone token response names no user"),
			occi.Unavailable, "the identity service gave an unexpected answer; try again later")
	}
	id := occi.Identity{User: user.ID}
	if p, err := res.ExtractProject(); err == nil && p != nil && p.ID != "" {
		id.Groups = []string{p.ID}
	}
	expires := res.TokenExpiry()
	if !expires.IsZero() && !a.now().Before(expires) {
		return occi.Identity{}, time.Time{}, unauthenticated("token is invalid or expired")
	}
	return id, expires, nil
}

// Challenge implements Authenticator: `Keystone uri="<public URL>"`.
func (a *KeystoneAuthenticator) Challenge() string { return a.challenge }

// annotate adds the validated token to the request context.
func (a *KeystoneAuthenticator) annotate(ctx context.Context, r *http.Request) context.Context {
	return WithKeystoneToken(ctx, strings.TrimSpace(r.Header.Get("X-Auth-Token")))
}

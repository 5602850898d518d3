package openstackbackend

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/occid/occi"
)

type tokenKey struct{}

// WithToken returns a context that carries the caller's Keystone token. A
// Driver given such a context acts with that token, in the caller's project
// and with the caller's roles, instead of with its service account.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// TokenFrom returns the Keystone token in ctx, or "" if there is none.
func TokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t
}

// Middleware passes the caller's Keystone token through to the Driver: it
// copies the X-Auth-Token request header (or an "Authorization: Bearer"
// token) into the request context with WithToken. It does not validate the
// token; Keystone does when the driver first uses it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Auth-Token")
		if tok == "" {
			if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
				tok = strings.TrimSpace(a[7:])
			}
		}
		if tok != "" {
			r = r.WithContext(WithToken(r.Context(), tok))
		}
		next.ServeHTTP(w, r)
	})
}

// Authenticate validates a Keystone token and returns the identity it
// names: User is the Keystone user ID and Groups holds the project ID, so
// entities are owned per user and shared within a project. An invalid or
// expired token is an Unauthenticated error.
func (d *Driver) Authenticate(ctx context.Context, token string) (occi.Identity, error) {
	if token == "" {
		return occi.Identity{}, occi.Errorf(occi.Unauthenticated, "no Keystone token (X-Auth-Token) in the request")
	}
	c, err := d.tokenClients(ctx, token)
	if err != nil {
		return occi.Identity{}, err
	}
	id := occi.Identity{User: c.userID}
	if c.projectID != "" {
		id.Groups = []string{c.projectID}
	}
	return id, nil
}

// tokenEntry caches the clients made for one caller token.
type tokenEntry struct {
	c       *clients
	expires time.Time
}

const maxCachedTokens = 1024

// tokenClients returns the clients for a caller token, validating it with
// Keystone (which also returns the caller's catalog) on first use.
func (d *Driver) tokenClients(ctx context.Context, token string) (*clients, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	d.mu.Lock()
	if e, ok := d.tokens[key]; ok && now.Before(e.expires) {
		d.mu.Unlock()
		return e.c, nil
	}
	d.mu.Unlock()

	ao := d.auth.auth
	ao = stripCredentials(ao)
	ao.TokenID = token
	c, err := d.newClients(ctx, ao)
	if err != nil {
		return nil, err
	}
	expires := now.Add(10 * time.Minute)
	if r, ok := c.provider.GetAuthResult().(tokens.GetResult); ok {
		if t, err := r.ExtractToken(); err == nil && t.ExpiresAt.Before(expires) {
			expires = t.ExpiresAt
		}
	}
	d.mu.Lock()
	if len(d.tokens) >= maxCachedTokens {
		for k, e := range d.tokens {
			if !now.Before(e.expires) || len(d.tokens) >= maxCachedTokens {
				delete(d.tokens, k)
			}
		}
	}
	d.tokens[key] = tokenEntry{c: c, expires: expires}
	d.mu.Unlock()
	return c, nil
}

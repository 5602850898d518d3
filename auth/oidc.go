package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/occid/occi"
)

// OIDCOptions configures an OIDCAuthenticator.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL (required).
	Issuer string
	// Audience is the audience a token must name (required).
	Audience string
	// UserClaim names the user; default "sub".
	UserClaim string
	// GroupsClaim lists the groups (array of strings, or one string of
	// names separated by spaces or commas); default none.
	GroupsClaim string
	// ClockSkew is allowed for exp, nbf and iat; zero means
	// DefaultClockSkew, negative means none.
	ClockSkew time.Duration
	// Realm is named in the challenge; default DefaultRealm.
	Realm string
	// HTTPClient fetches the discovery document and the JWKS.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// OIDCAuthenticator accepts JWT bearer tokens ("Authorization: Bearer")
// signed by an OpenID Connect provider's keys (fetched from its JWKS and
// refreshed when an unknown key ID appears), issued by Issuer for Audience,
// and within their validity period give or take ClockSkew. Unsigned tokens
// (alg "none") and symmetric algorithms are refused.
type OIDCAuthenticator struct {
	verifier    *oidc.IDTokenVerifier
	issuer      string
	audience    string
	userClaim   string
	groupsClaim string
	skew        time.Duration
	now         func() time.Time
	challenge   string
}

// asymmetricAlgs are the signing algorithms accepted when the provider
// does not advertise its own.
var asymmetricAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// NewOIDCAuthenticator fetches the issuer's discovery document and returns
// an authenticator for its tokens. It fails if the issuer cannot be reached
// or its document names another issuer.
func NewOIDCAuthenticator(ctx context.Context, o OIDCOptions) (*OIDCAuthenticator, error) {
	if o.Issuer == "" {
		return nil, fmt.Errorf("auth: OIDC needs an issuer URL (--oidc-issuer)")
	}
	if o.Audience == "" {
		return nil, fmt.Errorf("auth: OIDC needs the audience that tokens must name (--oidc-audience)")
	}
	if o.UserClaim == "" {
		o.UserClaim = "sub"
	}
	switch {
	case o.ClockSkew == 0:
		o.ClockSkew = DefaultClockSkew
	case o.ClockSkew < 0:
		o.ClockSkew = 0
	}
	if o.Realm == "" {
		o.Realm = DefaultRealm
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for issuer %s: %w", o.Issuer, err)
	}
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for issuer %s: %w", o.Issuer, err)
	}
	if meta.JWKSURI == "" {
		return nil, fmt.Errorf("auth: OIDC issuer %s names no jwks_uri", o.Issuer)
	}
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(asymmetricAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = asymmetricAlgs
	}
	keyCtx := context.Background()
	if o.HTTPClient != nil {
		keyCtx = oidc.ClientContext(keyCtx, o.HTTPClient)
	}
	keys := &trackingKeySet{inner: oidc.NewRemoteKeySet(keyCtx, meta.JWKSURI)}
	v := oidc.NewVerifier(o.Issuer, keys, &oidc.Config{
		ClientID:             o.Audience,
		SupportedSigningAlgs: algs,
		SkipExpiryCheck:      true, // checked below, with the configured skew
	})
	return &OIDCAuthenticator{
		verifier:    v,
		issuer:      o.Issuer,
		audience:    o.Audience,
		userClaim:   o.UserClaim,
		groupsClaim: o.GroupsClaim,
		skew:        o.ClockSkew,
		now:         o.Now,
		challenge:   fmt.Sprintf("Bearer realm=%q", o.Realm),
	}, nil
}

// trackingKeySet notes in the context when fetching the JWKS failed, so
// that an unreachable issuer is reported as Unavailable rather than as a
// bad token.
type trackingKeySet struct{ inner oidc.KeySet }

type fetchFailedKey struct{}

func (k *trackingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.inner.VerifySignature(ctx, jwt)
	if err != nil && strings.Contains(err.Error(), "fetching keys") {
		if flag, ok := ctx.Value(fetchFailedKey{}).(*atomic.Bool); ok {
			flag.Store(true)
		}
	}
	return payload, err
}

// jwtParts decodes the header and payload of a compact JWS without
// verifying it; ok is false if tok does not look like a JWT.
func jwtParts(tok string) (header, payload map[string]any, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	dec := func(s string) (map[string]any, bool) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, false
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m == nil {
			return nil, false
		}
		return m, true
	}
	header, ok1 := dec(parts[0])
	payload, ok2 := dec(parts[1])
	if !ok1 || !ok2 {
		return nil, nil, false
	}
	if _, hasAlg := header["alg"].(string); !hasAlg {
		return nil, nil, false
	}
	return header, payload, true
}

// Authenticate implements Authenticator. A bearer token that is not a JWT
// is declined, so a static token may still match it earlier in the chain.
func (a *OIDCAuthenticator) Authenticate(r *http.Request) (occi.Identity, error) {
	tok, ok := bearerToken(r)
	if !ok {
		return occi.Identity{}, ErrNoCredentials
	}
	header, unverified, ok := jwtParts(tok)
	if !ok {
		return occi.Identity{}, Declined("invalid token")
	}
	if alg, _ := header["alg"].(string); strings.EqualFold(alg, "none") {
		return occi.Identity{}, unauthenticated("unsigned tokens (alg none) are not accepted")
	}
	if iss, _ := unverified["iss"].(string); iss != a.issuer {
		return occi.Identity{}, unauthenticated("token issuer is not accepted")
	}
	if !audienceHas(unverified["aud"], a.audience) {
		return occi.Identity{}, unauthenticated("token audience is not accepted")
	}
	var fetchFailed atomic.Bool
	ctx := context.WithValue(r.Context(), fetchFailedKey{}, &fetchFailed)
	idt, err := a.verifier.Verify(ctx, tok)
	if err != nil {
		if fetchFailed.Load() {
			return occi.Identity{}, occi.Wrap(err, occi.Unavailable, "the OIDC issuer's keys cannot be fetched; try again later")
		}
		return occi.Identity{}, occi.Wrap(err, occi.Unauthenticated, "token signature is not valid")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return occi.Identity{}, occi.Wrap(err, occi.Unauthenticated, "token claims cannot be read")
	}
	if err := a.checkTimes(claims); err != nil {
		return occi.Identity{}, err
	}
	user, _ := claims[a.userClaim].(string)
	if user == "" {
		return occi.Identity{}, unauthenticated("token has no %q claim naming the user", a.userClaim)
	}
	id := occi.Identity{User: user}
	if a.groupsClaim != "" {
		id.Groups = claimStrings(claims[a.groupsClaim])
	}
	return id, nil
}

func audienceHas(aud any, want string) bool {
	switch v := aud.(type) {
	case string:
		return v == want
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// numericDate returns a JWT NumericDate claim.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, true, errors.New("not a number")
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

func (a *OIDCAuthenticator) checkTimes(claims map[string]any) error {
	now := a.now()
	exp, ok, err := numericDate(claims, "exp")
	if err != nil || !ok {
		return unauthenticated("token has no valid exp claim")
	}
	if !now.Before(exp.Add(a.skew)) {
		return unauthenticated("token has expired")
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return unauthenticated("token has an invalid nbf claim")
	}
	if ok && now.Add(a.skew).Before(nbf) {
		return unauthenticated("token is not valid yet")
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return unauthenticated("token has an invalid iat claim")
	}
	if ok && now.Add(a.skew).Before(iat) {
		return unauthenticated("token is issued in the future")
	}
	return nil
}

// claimStrings reads a groups claim: an array of strings, or one string of
// names separated by spaces or commas.
func claimStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Challenge implements Authenticator: `Bearer realm="<realm>"`.
func (a *OIDCAuthenticator) Challenge() string { return a.challenge }

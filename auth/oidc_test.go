package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/occid/occi"
)

// testIssuer is a local OpenID Connect provider: it serves a discovery
// document and a JWKS and signs tokens with an ES256 key.
type testIssuer struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
	kid string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &testIssuer{key: key, kid: "key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/jwks",
			"authorization_endpoint":                iss.srv.URL + "/auth",
			"token_endpoint":                        iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &iss.key.PublicKey, KeyID: iss.kid, Algorithm: "ES256", Use: "sig"},
		}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// sign returns a compact JWS of claims signed with key under kid.
func signJWT(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns valid claims for the issuer, changed by the given pairs
// (a nil value deletes the claim).
func (iss *testIssuer) claims(kv ...any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":    iss.srv.URL,
		"aud":    "occid",
		"sub":    "user-123",
		"groups": []string{"vo.example", "admins"},
		"iat":    now.Add(-time.Minute).Unix(),
		"nbf":    now.Add(-time.Minute).Unix(),
		"exp":    now.Add(10 * time.Minute).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func (iss *testIssuer) token(t *testing.T, kv ...any) string {
	return signJWT(t, iss.key, iss.kid, iss.claims(kv...))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestOIDCAuthenticator(t *testing.T) {
	iss := newTestIssuer(t)
	a, err := NewOIDCAuthenticator(context.Background(), OIDCOptions{Issuer: iss.srv.URL, Audience: "occid", GroupsClaim: "groups"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := iss.token(t)
	parts := strings.Split(good, ".")
	now := time.Now()
	user := outcome{Identity: occi.Identity{User: "user-123", Groups: []string{"vo.example", "admins"}}}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	tests := []struct {
		name    string
		headers []string
		want    outcome
	}{
		{"good", bearer(good), user},
		{"good, audience in a list", bearer(iss.token(t, "aud", []string{"other", "occid"})), user},
		{"good, groups as one string", bearer(iss.token(t, "groups", "a b,c")), outcome{Identity: occi.Identity{User: "user-123", Groups: []string{"a", "b", "c"}}}},
		{"good, expired within the clock skew", bearer(iss.token(t, "exp", now.Add(-30*time.Second).Unix())), user},
		{"expired", bearer(iss.token(t, "exp", now.Add(-2*time.Minute).Unix())), unauth("token has expired")},
		{"not yet valid", bearer(iss.token(t, "nbf", now.Add(10*time.Minute).Unix())), unauth("token is not valid yet")},
		{"issued in the future", bearer(iss.token(t, "iat", now.Add(10*time.Minute).Unix())), unauth("token is issued in the future")},
		{"no expiry", bearer(iss.token(t, "exp", nil)), unauth("token has no valid exp claim")},
		{"wrong audience", bearer(iss.token(t, "aud", "someone-else")), unauth("token audience is not accepted")},
		{"wrong issuer", bearer(iss.token(t, "iss", "https://evil.example")), unauth("token issuer is not accepted")},
		{"forged signature (other key, same kid)", bearer(signJWT(t, other, iss.kid, iss.claims())), unauth("token signature is not valid")},
		{"forged signature (unknown kid)", bearer(signJWT(t, other, "key-2", iss.claims())), unauth("token signature is not valid")},
		{"tampered payload", bearer(parts[0] + "." + b64(`{"iss":"`+iss.srv.URL+`","aud":"occid","sub":"root","exp":9999999999}`) + "." + parts[2]), unauth("token signature is not valid")},
		{"alg none", bearer(b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."), unauth("unsigned tokens (alg none) are not accepted")},
		{"alg HS256", bearer(b64(`{"alg":"HS256","kid":"key-1"}`) + "." + parts[1] + "." + parts[2]), unauth("token signature is not valid")},
		{"no user claim", bearer(iss.token(t, "sub", nil)), unauth(`token has no "sub" claim naming the user`)},
		{"not a JWT", bearer("opaque-token"), declinedWith("invalid token")},
		{"missing", nil, noCreds},
		{"X-Auth-Token is not mine", []string{"X-Auth-Token", good}, noCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, outcomeOf(a.Authenticate(request(tt.headers...))), tt.want)
		})
	}
}

func TestOIDCAuthenticatorOptions(t *testing.T) {
	iss := newTestIssuer(t)
	tok := iss.token(t, "preferred_username", "alice", "exp", time.Now().Add(-30*time.Second).Unix())
	tests := []struct {
		name string
		opts OIDCOptions
		want outcome
	}{
		{"user claim, no groups claim", OIDCOptions{UserClaim: "preferred_username"}, outcome{Identity: occi.Identity{User: "alice"}}},
		{"no clock skew", OIDCOptions{ClockSkew: -1}, unauth("token has expired")},
		{"clock skew of an hour", OIDCOptions{ClockSkew: time.Hour}, outcome{Identity: occi.Identity{User: "user-123"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Issuer, o.Audience = iss.srv.URL, "occid"
			a, err := NewOIDCAuthenticator(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkOutcome(t, outcomeOf(a.Authenticate(request("Authorization", "Bearer "+tok))), tt.want)
		})
	}
}

func TestOIDCIssuerDown(t *testing.T) {
	iss := newTestIssuer(t)
	a, err := NewOIDCAuthenticator(context.Background(), OIDCOptions{Issuer: iss.srv.URL, Audience: "occid"})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.token(t)
	iss.srv.Close()
	_, err = a.Authenticate(request("Authorization", "Bearer "+tok))
	if got, want := occi.ErrorCode(err), occi.Unavailable; got != want {
		t.Errorf("got code %v (%v), want %v", got, err, want)
	}
}

func TestNewOIDCAuthenticatorErrors(t *testing.T) {
	iss := newTestIssuer(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tests := []struct {
		name    string
		opts    OIDCOptions
		wantErr string
	}{
		{"no audience", OIDCOptions{Issuer: iss.srv.URL}, "auth: OIDC needs the audience that tokens must name (--oidc-audience)"},
		{"no issuer", OIDCOptions{Audience: "occid"}, "auth: OIDC needs an issuer URL (--oidc-issuer)"},
		{"issuer unreachable", OIDCOptions{Issuer: down.URL, Audience: "occid"}, "auth: OIDC discovery for issuer " + down.URL},
		{"issuer mismatch", OIDCOptions{Issuer: iss.srv.URL + "/realms/x", Audience: "occid"}, "auth: OIDC discovery for issuer " + iss.srv.URL + "/realms/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewOIDCAuthenticator(context.Background(), tt.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one starting %q", err, tt.wantErr)
			}
		})
	}
}

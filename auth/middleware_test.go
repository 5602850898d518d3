package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
)

// echo answers with the caller's identity, whether a Keystone token is in
// the context, and whether credential headers reached it.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id := occi.IdentityFrom(r.Context())
	ks, _ := KeystoneToken(r.Context())
	fmt.Fprintf(w, "user=%s groups=%s keystone=%s headers=%t", id.User, strings.Join(id.Groups, ","), ks,
		r.Header.Get("Authorization") != "" || r.Header.Get("X-Auth-Token") != "")
})

type response struct {
	Status          int
	Body            string
	OCCIError       string
	WWWAuthenticate []string
}

func do(t *testing.T, h http.Handler, path string, headers ...string) response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return response{Status: w.Code, Body: string(body), OCCIError: w.Header().Get("X-OCCI-Error"), WWWAuthenticate: w.Header().Values("WWW-Authenticate")}
}

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// fullChain builds a chain with static tokens, Basic, OIDC and Keystone
// through New, logging to logs.
func fullChain(t *testing.T, logs io.Writer) (*Chain, *testIssuer, *fakeKeystone) {
	t.Helper()
	iss := newTestIssuer(t)
	ks := newFakeKeystone(t, "")
	ks.add("ks-token-secret", fakeToken{user: "ks-user", project: "proj-1", expires: time.Now().Add(time.Hour)})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(context.Background(), Config{
		TokensFile:      writeFile(t, "tokens", "static-token-secret carol staff\n"),
		HtpasswdFile:    writeFile(t, "htpasswd", "alice:"+bcryptHash(t, "alice-password-secret", "$2y$")+"\n"),
		OIDCIssuer:      iss.srv.URL,
		OIDCAudience:    "occid",
		OIDCGroupsClaim: "groups",
		KeystoneURL:     ks.srv.URL,
		Logger:          logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, iss, ks
}

func TestMiddlewareChain(t *testing.T) {
	c, iss, ks := fullChain(t, io.Discard)
	if !c.Enabled() {
		t.Fatal("Enabled() = false, want true")
	}
	h := Middleware(c, echo, MiddlewareOptions{Public: []string{"/healthz", "/metrics"}})
	challenges := []string{`Bearer realm="occid"`, `Basic realm="occid"`, `Keystone uri="` + ks.srv.URL + `"`}
	jwt := iss.token(t)
	expired := iss.token(t, "exp", time.Now().Add(-time.Hour).Unix())
	unauthorized := func(msg string) response {
		return response{Status: 401, Body: "Unauthorized: " + msg + "\n", OCCIError: msg, WWWAuthenticate: challenges}
	}
	tests := []struct {
		name    string
		path    string
		headers []string
		want    response
	}{
		{"static token as bearer", "/compute/", []string{"Authorization", "Bearer static-token-secret"},
			response{Status: 200, Body: "user=carol groups=staff keystone= headers=false"}},
		{"static token as X-Auth-Token, Keystone not asked", "/compute/", []string{"X-Auth-Token", "static-token-secret"},
			response{Status: 200, Body: "user=carol groups=staff keystone= headers=false"}},
		{"basic", "/compute/", []string{"Authorization", basicHeader("alice", "alice-password-secret")},
			response{Status: 200, Body: "user=alice groups= keystone= headers=false"}},
		{"oidc", "/compute/", []string{"Authorization", "Bearer " + jwt},
			response{Status: 200, Body: "user=user-123 groups=vo.example,admins keystone= headers=false"}},
		{"keystone, token kept for the backend", "/compute/", []string{"X-Auth-Token", "ks-token-secret"},
			response{Status: 200, Body: "user=ks-user groups=proj-1 keystone=ks-token-secret headers=false"}},
		{"first match wins: good token before bad password", "/compute/", []string{"X-Auth-Token", "static-token-secret", "Authorization", basicHeader("alice", "wrong")},
			response{Status: 200, Body: "user=carol groups=staff keystone= headers=false"}},
		{"bad password, no token", "/compute/", []string{"Authorization", basicHeader("alice", "wrong-password-secret")}, unauthorized("invalid user name or password")},
		{"expired jwt", "/compute/", []string{"Authorization", "Bearer " + expired}, unauthorized("token has expired")},
		{"unknown opaque bearer token", "/compute/", []string{"Authorization", "Bearer forged-bearer-secret"}, unauthorized("invalid token")},
		{"unknown X-Auth-Token, Keystone says 404", "/compute/", []string{"X-Auth-Token", "forged-ks-secret"}, unauthorized("token is invalid or expired")},
		{"missing", "/compute/", nil, unauthorized("authentication required")},
		{"unknown scheme", "/-/", []string{"Authorization", "Negotiate abc"}, unauthorized("authentication required")},
		{"public path", "/healthz", nil, response{Status: 200, Body: "user=anonymous groups= keystone= headers=false"}},
		{"public path is exact", "/healthz/x", nil, unauthorized("authentication required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, do(t, h, tt.path, tt.headers...)); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("Keystone down", func(t *testing.T) {
		ks.srv.Close()
		want := response{Status: 503, Body: "Service Unavailable: the identity service cannot be reached; try again later\n",
			OCCIError: "the identity service cannot be reached; try again later"}
		if diff := cmp.Diff(want, do(t, h, "/compute/", "X-Auth-Token", "other-ks-secret")); diff != "" {
			t.Errorf("response mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestMiddlewareChallenges(t *testing.T) {
	tokens := writeFile(t, "tokens", "tok-1 u1\n")
	htpasswd := writeFile(t, "htpasswd", "alice:"+bcryptHash(t, "pw", "$2a$")+"\n")
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"tokens", Config{TokensFile: tokens}, []string{`Bearer realm="occid"`}},
		{"basic with a realm", Config{HtpasswdFile: htpasswd, Realm: "cloud"}, []string{`Basic realm="cloud"`}},
		{"keystone public URL", Config{KeystoneURL: "http://10.0.0.1:5000", KeystonePublicURL: "https://keystone.example:5000"}, []string{`Keystone uri="https://keystone.example:5000"`}},
		{"tokens, basic, keystone", Config{TokensFile: tokens, HtpasswdFile: htpasswd, KeystoneURL: "http://keystone:5000/v3"},
			[]string{`Bearer realm="occid"`, `Basic realm="occid"`, `Keystone uri="http://keystone:5000/v3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(context.Background(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := do(t, Middleware(c, echo, MiddlewareOptions{}), "/compute/")
			if got.Status != 401 {
				t.Errorf("got status %d, want 401", got.Status)
			}
			if diff := cmp.Diff(tt.want, got.WWWAuthenticate); diff != "" {
				t.Errorf("WWW-Authenticate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMiddlewareNotEnabled(t *testing.T) {
	c, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Enabled() {
		t.Error("Enabled() = true for an empty Config, want false")
	}
	for _, chain := range []*Chain{c, nil} {
		got := do(t, Middleware(chain, echo, MiddlewareOptions{}), "/compute/", "Authorization", "Bearer whatever")
		want := response{Status: 200, Body: "user=anonymous groups= keystone= headers=true"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("response mismatch (-want +got):\n%s", diff)
		}
	}
}

// No secret, good or bad, appears in the logs.
func TestMiddlewareNeverLogsSecrets(t *testing.T) {
	var logs bytes.Buffer
	c, iss, ks := fullChain(t, &logs)
	h := Middleware(c, echo, MiddlewareOptions{})
	jwt := iss.token(t)
	forgedJWT := signJWT(t, iss.key, "unknown-kid", iss.claims("aud", "x"))
	secrets := map[string][]string{
		"static-token-secret":   {"X-Auth-Token", "static-token-secret"},
		"forged-bearer-secret":  {"Authorization", "Bearer forged-bearer-secret"},
		"alice-password-secret": {"Authorization", basicHeader("alice", "alice-password-secret")},
		"wrong-password-secret": {"Authorization", basicHeader("alice", "wrong-password-secret")},
		jwt:                     {"Authorization", "Bearer " + jwt},
		forgedJWT:               {"Authorization", "Bearer " + forgedJWT},
		"ks-token-secret":       {"X-Auth-Token", "ks-token-secret"},
		"forged-ks-secret":      {"X-Auth-Token", "forged-ks-secret"},
	}
	for _, hdr := range secrets {
		do(t, h, "/compute/", hdr...)
	}
	ks.srv.Close()
	do(t, h, "/compute/", "X-Auth-Token", "down-ks-secret")
	secrets["down-ks-secret"] = nil
	out := logs.String()
	if !strings.Contains(out, "auth: authentication failed") || !strings.Contains(out, "auth: cannot authenticate") {
		t.Fatalf("the logs lack the failures, so this test checks nothing:\n%s", out)
	}
	for s := range secrets {
		for _, needle := range []string{s, base64.StdEncoding.EncodeToString([]byte("alice:" + s))} {
			if strings.Contains(out, needle) {
				t.Errorf("the logs contain the secret %q:\n%s", needle, out)
			}
		}
	}
	if strings.Contains(strings.ToLower(out), "authorization") || strings.Contains(strings.ToLower(out), "x-auth-token") {
		t.Errorf("the logs mention a credential header:\n%s", out)
	}
}

// An authenticator's hard error stops the chain; declines go on.
func TestChainOrder(t *testing.T) {
	ok := func(user string) Authenticator {
		return fakeAuth{id: occi.Identity{User: user}}
	}
	reject := fakeAuth{err: unauthenticated("bad")}
	decline := fakeAuth{err: Declined("declined-reason")}
	none := fakeAuth{err: ErrNoCredentials}
	tests := []struct {
		name  string
		chain *Chain
		want  outcome
	}{
		{"first success", NewChain(none, ok("a"), ok("b")), outcome{Identity: occi.Identity{User: "a"}}},
		{"reject stops", NewChain(none, reject, ok("b")), unauth("bad")},
		{"decline goes on", NewChain(decline, ok("b")), outcome{Identity: occi.Identity{User: "b"}}},
		{"decline reason kept", NewChain(none, decline, none), declinedWith("declined-reason")},
		{"nothing at all", NewChain(none, none), declinedWith("authentication required")},
		{"empty", NewChain(), declinedWith("authentication required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, outcomeOf(tt.chain.Authenticate(request())), tt.want)
		})
	}
}

type fakeAuth struct {
	id  occi.Identity
	err error
}

func (f fakeAuth) Authenticate(*http.Request) (occi.Identity, error) { return f.id, f.err }
func (f fakeAuth) Challenge() string                                 { return "" }

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.1.2.3:80", true},
		{"localhost:8080", true},
		{"LOCALHOST:8080", true},
		{"[::1]:8080", true},
		{"::1", true},
		{"127.0.0.1", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.168.1.10:8080", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopback(tt.addr); got != tt.want {
				t.Errorf("IsLoopback(%q) = %t, want %t", tt.addr, got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"missing tokens file", Config{TokensFile: "/nonexistent/tokens"}, "auth: tokens file: stat /nonexistent/tokens"},
		{"DN map without CA", Config{ClientDNMapFile: "/x"}, "auth: a client DN map file needs a client CA file (--client-ca)"},
		{"audience without issuer", Config{OIDCAudience: "occid"}, "auth: an OIDC audience needs an OIDC issuer (--oidc-issuer)"},
		{"client CA file without certificates", Config{ClientCAFile: "/dev/null"}, "auth: client CA file /dev/null holds no PEM certificate"},
		{"bad Keystone URL", Config{KeystoneURL: "keystone"}, `auth: Keystone URL "keystone" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one starting %q", err, tt.wantErr)
			}
		})
	}
}

// Concurrent requests of every kind get the right answers (run with -race).
func TestMiddlewareConcurrent(t *testing.T) {
	c, iss, _ := fullChain(t, io.Discard)
	h := Middleware(c, echo, MiddlewareOptions{})
	jwt := iss.token(t)
	cases := []struct {
		headers []string
		status  int
	}{
		{[]string{"X-Auth-Token", "static-token-secret"}, 200},
		{[]string{"Authorization", basicHeader("alice", "alice-password-secret")}, 200},
		{[]string{"Authorization", basicHeader("alice", "nope")}, 401},
		{[]string{"Authorization", "Bearer " + jwt}, 200},
		{[]string{"X-Auth-Token", "ks-token-secret"}, 200},
		{nil, 401},
	}
	errs := make(chan string, 8*len(cases)*5)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5*len(cases); i++ {
				tc := cases[(g+i)%len(cases)]
				r := httptest.NewRequest(http.MethodGet, "/compute/", nil)
				for j := 0; j+1 < len(tc.headers); j += 2 {
					r.Header.Set(tc.headers[j], tc.headers[j+1])
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.status {
					errs <- fmt.Sprintf("%v: got status %d, want %d", tc.headers[:min(1, len(tc.headers))], w.Code, tc.status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

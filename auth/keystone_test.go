package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/occid/occi"
)

// fakeKeystone answers GET /v3/auth/tokens like Keystone for a fixed set of
// tokens.
type fakeKeystone struct {
	srv          *httptest.Server
	serviceToken string // if set, X-Auth-Token must be this
	calls        atomic.Int64
	mu           sync.Mutex
	tokens       map[string]fakeToken
	status       int // if set, every request gets this status
}

type fakeToken struct {
	user, project string
	expires       time.Time
}

func newFakeKeystone(t *testing.T, serviceToken string) *fakeKeystone {
	t.Helper()
	k := &fakeKeystone{serviceToken: serviceToken, tokens: map[string]fakeToken{}}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.calls.Add(1)
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.status != 0 {
			http.Error(w, "broken", k.status)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/v3/auth/tokens" {
			http.NotFound(w, r)
			return
		}
		subject := r.Header.Get("X-Subject-Token")
		caller := r.Header.Get("X-Auth-Token")
		if k.serviceToken != "" && caller != k.serviceToken {
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		if _, ok := k.tokens[caller]; k.serviceToken == "" && !ok {
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		tok, ok := k.tokens[subject]
		if !ok {
			http.Error(w, `{"error":{"code":404,"message":"Could not find token"}}`, http.StatusNotFound)
			return
		}
		body := map[string]any{"expires_at": tok.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"user": map[string]any{"id": tok.user, "name": tok.user + "-name", "domain": map[string]any{"id": "default"}}}
		if tok.project != "" {
			body["project"] = map[string]any{"id": tok.project, "name": "demo", "domain": map[string]any{"id": "default"}}
		}
		w.Header().Set("X-Subject-Token", subject)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": body})
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKeystone) add(token string, ft fakeToken) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tokens[token] = ft
}

func (k *fakeKeystone) remove(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.tokens, token)
}

func TestKeystoneAuthenticator(t *testing.T) {
	for _, svc := range []string{"", "service-token-xyz"} {
		name := map[bool]string{true: "token validates itself", false: "service token"}[svc == ""]
		t.Run(name, func(t *testing.T) {
			ks := newFakeKeystone(t, svc)
			now := time.Now()
			ks.add("ks-good", fakeToken{user: "u1", project: "p1", expires: now.Add(time.Hour)})
			ks.add("ks-unscoped", fakeToken{user: "u2", expires: now.Add(time.Hour)})
			a, err := NewKeystoneAuthenticator(KeystoneOptions{URL: ks.srv.URL, ServiceToken: svc})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name      string
				headers   []string
				want      outcome
				wantCalls int64 // Keystone requests made by this case
			}{
				{"good", []string{"X-Auth-Token", "ks-good"}, outcome{Identity: occi.Identity{User: "u1", Groups: []string{"p1"}}}, 1},
				{"good again, cached", []string{"X-Auth-Token", "ks-good"}, outcome{Identity: occi.Identity{User: "u1", Groups: []string{"p1"}}}, 0},
				{"unscoped", []string{"X-Auth-Token", "ks-unscoped"}, outcome{Identity: occi.Identity{User: "u2"}}, 1},
				{"expired (404)", []string{"X-Auth-Token", "ks-expired"}, unauth("token is invalid or expired"), 1},
				{"forged", []string{"X-Auth-Token", "gAAAAAforged"}, unauth("token is invalid or expired"), 1},
				{"forged again, refusal cached", []string{"X-Auth-Token", "gAAAAAforged"}, unauth("token is invalid or expired"), 0},
				{"missing", nil, noCreds, 0},
				{"bearer is not mine", []string{"Authorization", "Bearer ks-good"}, noCreds, 0},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := ks.calls.Load()
					checkOutcome(t, outcomeOf(a.Authenticate(request(tt.headers...))), tt.want)
					if got := ks.calls.Load() - before; got != tt.wantCalls {
						t.Errorf("got %d Keystone requests, want %d", got, tt.wantCalls)
					}
				})
			}
		})
	}
}

func TestKeystoneCacheHonoursExpiry(t *testing.T) {
	ks := newFakeKeystone(t, "")
	t0 := time.Now()
	clock := t0
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	ks.add("ks-short", fakeToken{user: "u1", project: "p1", expires: t0.Add(30 * time.Second)})
	a, err := NewKeystoneAuthenticator(KeystoneOptions{URL: ks.srv.URL + "/v3/", CacheTTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	good := outcome{Identity: occi.Identity{User: "u1", Groups: []string{"p1"}}}
	checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "ks-short"))), good)
	ks.remove("ks-short") // revoked: only the cache still knows it
	advance(20 * time.Second)
	checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "ks-short"))), good)
	advance(20 * time.Second) // past the token's expiry, well within the TTL
	checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "ks-short"))), unauth("token is invalid or expired"))
	if got, want := ks.calls.Load(), int64(2); got != want {
		t.Errorf("got %d Keystone requests, want %d", got, want)
	}
}

func TestKeystoneCacheIsBounded(t *testing.T) {
	ks := newFakeKeystone(t, "")
	for _, tok := range []string{"t1", "t2", "t3", "t4"} {
		ks.add(tok, fakeToken{user: tok, expires: time.Now().Add(time.Hour)})
	}
	a, err := NewKeystoneAuthenticator(KeystoneOptions{URL: ks.srv.URL, CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"t1", "t2", "t3", "t4"} {
		if _, err := a.Authenticate(request("X-Auth-Token", tok)); err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		a.mu.Lock()
		n := len(a.cache)
		a.mu.Unlock()
		if n > 2 {
			t.Errorf("after %s the cache holds %d entries, want at most 2", tok, n)
		}
	}
}

func TestKeystoneUnavailable(t *testing.T) {
	ks := newFakeKeystone(t, "")
	ks.add("ks-good", fakeToken{user: "u1", expires: time.Now().Add(time.Hour)})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tests := []struct {
		name  string
		url   string
		svc   string
		setup func()
	}{
		{name: "Keystone down", url: down.URL},
		{name: "Keystone failing", url: ks.srv.URL, setup: func() { ks.mu.Lock(); ks.status = http.StatusInternalServerError; ks.mu.Unlock() }},
		{name: "service token refused", url: ks.srv.URL, svc: "wrong-service-token", setup: func() { ks.mu.Lock(); ks.status = 0; ks.serviceToken = "right"; ks.mu.Unlock() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			a, err := NewKeystoneAuthenticator(KeystoneOptions{URL: tt.url, ServiceToken: tt.svc})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Authenticate(request("X-Auth-Token", "ks-good"))
			if got, want := occi.ErrorCode(err), occi.Unavailable; got != want {
				t.Errorf("got code %v (%v), want %v", got, err, want)
			}
		})
	}
}

func TestNewKeystoneAuthenticator(t *testing.T) {
	tests := []struct {
		url, public   string
		wantEndpoint  string
		wantChallenge string
		wantErr       bool
	}{
		{url: "http://keystone:5000", wantEndpoint: "http://keystone:5000/v3/", wantChallenge: `Keystone uri="http://keystone:5000"`},
		{url: "https://ks.example/identity/v3/", public: "https://public.example/identity", wantEndpoint: "https://ks.example/identity/v3/", wantChallenge: `Keystone uri="https://public.example/identity"`},
		{url: "keystone:5000", wantErr: true},
		{url: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			a, err := NewKeystoneAuthenticator(KeystoneOptions{URL: tt.url, PublicURL: tt.public})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.endpoint != tt.wantEndpoint || a.Challenge() != tt.wantChallenge {
				t.Errorf("got endpoint %q challenge %q, want %q %q", a.endpoint, a.Challenge(), tt.wantEndpoint, tt.wantChallenge)
			}
		})
	}
}

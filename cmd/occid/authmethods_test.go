package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/occid/occi/auth"
	"github.com/occid/occi/backend/openstackbackend"
)

// pki is a CA that signs certificates for the TLS tests.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
	n    int64
}

// newPKI makes a self-signed CA named cn.
func newPKI(t *testing.T, cn string) *pki {
	t.Helper()
	p := &pki{n: 1}
	p.der, p.key, p.cert = p.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, true)
	return p
}

// sign issues tmpl (self-signed when self) with a new key.
func (p *pki) sign(t *testing.T, tmpl *x509.Certificate, self bool) ([]byte, *ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.n++
	tmpl.SerialNumber = big.NewInt(p.n)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, parentKey := tmpl, key
	if !self {
		parent, parentKey = p.cert, p.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, key, cert
}

// leaf issues a server and client certificate for subject.
func (p *pki) leaf(t *testing.T, subject pkix.Name) tls.Certificate {
	t.Helper()
	der, key, cert := p.sign(t, &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}, false)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func keyPEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestTLSClientCertificates serves HTTPS with client certificates and
// static tokens together, and checks that a certificate's user is a tenant
// of its own.
func TestTLSClientCertificates(t *testing.T) {
	ca, other := newPKI(t, "occid test CA"), newPKI(t, "someone else's CA")
	server := ca.leaf(t, pkix.Name{CommonName: "localhost"})
	dave := ca.leaf(t, pkix.Name{CommonName: "dave", Organization: []string{"Example"}})
	mallory := other.leaf(t, pkix.Name{CommonName: "dave", Organization: []string{"Example"}})
	dir := t.TempDir()
	logs := &syncBuffer{}
	m := NewMain()
	m.Stderr = logs
	m.Config.Listen, m.Config.DataDir, m.Config.Store, m.Config.Backend = "127.0.0.1:0", dir, "memory:", "sim://"
	m.Config.TLSCert = writeTestFile(t, dir, "server.crt", certPEM(server.Certificate[0]))
	m.Config.TLSKey = writeTestFile(t, dir, "server.key", keyPEM(t, server.PrivateKey))
	m.Config.ClientCA = writeTestFile(t, dir, "ca.pem", certPEM(ca.der))
	m.Config.ClientDNMap = writeTestFile(t, dir, "dn.map", `"CN=dave,O=Example" dave staff`+"\n")
	m.Config.AuthTokens = writeTestFile(t, dir, "tokens", aliceToken+" alice\n")
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer m.Close()
	base := m.URL()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("got URL %q, want https://127.0.0.1:PORT", base)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			c := *cert
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	}
	send := func(t *testing.T, c *http.Client, method, path string, h http.Header, body string) (*reply, error) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return &reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
	}

	md := medias[0]
	h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, []attr{{"occi.core.title", "dave-vm"}}, nil)
	r, err := send(t, client(&dave), "POST", "/compute/", h, b)
	if err != nil {
		t.Fatal(err)
	}
	daveVM := created(t, base, r)

	tests := []struct {
		name    string
		client  *http.Client
		hdr     http.Header
		path    string
		want    int
		wantErr bool // the TLS handshake fails
	}{
		{name: "client certificate reads its own", client: client(&dave), path: daveVM, want: 200},
		{name: "token over TLS cannot see the certificate user's", client: client(nil), hdr: as(aliceToken, nil, false), path: daveVM, want: 404},
		{name: "no credentials", client: client(nil), path: "/compute/", want: 401},
		{name: "certificate from another CA", client: client(&mallory), path: "/compute/", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := send(t, tt.client, "GET", tt.path, tt.hdr, "")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got status %d, want a failed handshake", r.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tt.want {
				t.Errorf("got status %d, want %d (X-OCCI-Error %q)", r.status, tt.want, r.header.Get("X-OCCI-Error"))
			}
			if tt.want == 401 {
				if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="occid"` {
					t.Errorf("got WWW-Authenticate %q, want [Bearer realm=\"occid\"]", got)
				}
			}
		})
	}
	t.Run("the subject DN is the user without a map", func(t *testing.T) {
		m2 := NewMain()
		m2.Stderr = &syncBuffer{}
		m2.Config.Listen, m2.Config.DataDir, m2.Config.Store, m2.Config.Backend = "127.0.0.1:0", t.TempDir(), "memory:", "sim://"
		m2.Config.TLSCert, m2.Config.TLSKey, m2.Config.ClientCA = m.Config.TLSCert, m.Config.TLSKey, m.Config.ClientCA
		if err := m2.Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		defer m2.Close()
		robot := ca.leaf(t, pkix.Name{CommonName: "Robot 7", OrganizationalUnit: []string{"services"}, Organization: []string{"Example"}})
		c := client(&robot)
		md := medias[2]
		h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
		req, _ := http.NewRequest("POST", m2.URL()+"/compute/", strings.NewReader(b))
		req.Header = h
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 201 || loc == "" {
			t.Fatalf("create as %q: got status %d, want 201", "CN=Robot 7,OU=services,O=Example", resp.StatusCode)
		}
		for _, tt := range []struct {
			client *http.Client
			want   int
		}{{c, 200}, {client(&dave), 404}} {
			resp, err := tt.client.Get(loc)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s: got status %d, want %d", loc, resp.StatusCode, tt.want)
			}
		}
	})
	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		r, err := send(t, http.DefaultClient, "GET", "/compute/", nil, "")
		if err == nil && r.status < 400 {
			t.Errorf("got status %d over plain HTTP, want a failure", r.status)
		}
	})
}

// fakeKeystone is a Keystone that knows a few tokens, for the Keystone
// test: GET /v3/auth/tokens with X-Subject-Token.
func fakeKeystone(t *testing.T, serviceToken string, tokens map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3/auth/tokens" {
			http.NotFound(w, r)
			return
		}
		if serviceToken != "" && r.Header.Get("X-Auth-Token") != serviceToken {
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		subject := r.Header.Get("X-Subject-Token")
		user, ok := tokens[subject]
		if !ok {
			http.Error(w, `{"error":{"code":404}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("X-Subject-Token", subject)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z"),
			"user":       map[string]any{"id": user, "name": user, "domain": map[string]any{"id": "default"}},
			"project":    map[string]any{"id": "proj-" + user, "name": "p", "domain": map[string]any{"id": "default"}},
		}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestKeystone runs occid with Keystone validation (and a service token
// from the environment) and checks the challenge, good and bad tokens, the
// tenants, and that no token reaches the log.
func TestKeystone(t *testing.T) {
	const svc, tokA, tokB = "svc-token-7c1e9a", "ks-token-alice-3d8b", "ks-token-bob-91fa"
	ks := fakeKeystone(t, svc, map[string]string{tokA: "alice-id", tokB: "bob-id"})
	logs := &syncBuffer{}
	m := NewMain()
	m.Stderr = logs
	m.Getenv = envOf(map[string]string{"OCCID_KEYSTONE_SERVICE_TOKEN": svc})
	if err := m.ParseFlags(context.Background(), []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store", "memory:",
		"--keystone-url", ks.URL, "--keystone-public-url", "https://keystone.example:5000", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer m.Close()
	base := m.URL()
	md := medias[2]

	r := do(t, "GET", base+"/compute/", md.accept(), "")
	if got := r.header.Values("WWW-Authenticate"); r.status != 401 || len(got) != 1 || got[0] != `Keystone uri="https://keystone.example:5000"` {
		t.Errorf("got status %d WWW-Authenticate %q, want 401 with Keystone uri=\"https://keystone.example:5000\"", r.status, got)
	}
	r = do(t, "GET", base+"/compute/", http.Header{"X-Auth-Token": {"ks-forged"}}, "")
	if r.status != 401 || r.header.Get("X-OCCI-Error") != "token is invalid or expired" {
		t.Errorf("forged token: got status %d X-OCCI-Error %q, want 401 token is invalid or expired", r.status, r.header.Get("X-OCCI-Error"))
	}
	h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
	loc := created(t, base, do(t, "POST", base+"/compute/", as(tokA, h, false), b))
	mustStatus(t, do(t, "GET", base+loc, as(tokA, md.accept(), false), ""), 200)
	mustStatus(t, do(t, "GET", base+loc, as(tokB, md.accept(), false), ""), 404)
	m.logw.Flush()
	for _, s := range []string{svc, tokA, tokB, "ks-forged"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log contains the secret %q", s)
		}
	}
}

// TestKeystonePassThrough checks that a validated Keystone token reaches
// the OpenStack driver's context.
func TestKeystonePassThrough(t *testing.T) {
	for _, tt := range []struct {
		name, token, want string
	}{
		{name: "validated token", token: "ks-abc", want: "ks-abc"},
		{name: "no Keystone token", token: "", want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := keystonePassThrough(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = openstackbackend.TokenFrom(r.Context())
			}))
			r := httptest.NewRequest("GET", "/compute/", nil)
			if tt.token != "" {
				r = r.WithContext(auth.WithKeystoneToken(r.Context(), tt.token))
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("got driver token %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOIDC runs occid against a local OpenID Connect issuer together with
// static tokens, and checks good, expired, forged and missing JWTs and that
// the JWT's user is a tenant of its own.
func TestOIDC(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var iss *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks",
			"authorization_endpoint": iss.URL + "/auth", "token_endpoint": iss.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	iss = httptest.NewServer(mux)
	defer iss.Close()
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwt := func(k *ecdsa.PrivateKey, sub string, exp time.Time) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: "k1"}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(map[string]any{"iss": iss.URL, "aud": "occid", "sub": sub,
			"iat": time.Now().Add(-time.Minute).Unix(), "exp": exp.Unix(), "groups": []string{"g1"}})
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
	dir := t.TempDir()
	logs := &syncBuffer{}
	m := NewMain()
	m.Stderr = logs
	if err := m.ParseFlags(context.Background(), []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--store", "memory:",
		"--auth-tokens", writeTestFile(t, dir, "tokens", aliceToken+" alice\n"),
		"--oidc-issuer", iss.URL, "--oidc-audience", "occid", "--oidc-groups-claim", "groups", "--oidc-clock-skew", "5s"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer m.Close()
	base := m.URL()
	md := medias[1]
	erin := jwt(key, "erin", time.Now().Add(time.Hour))
	h, b := md.entity(infra+"network", nil, []attr{{"occi.core.title", "erin-net"}}, nil)
	net := created(t, base, do(t, "POST", base+"/network/", as(erin, h, true), b))

	for _, tt := range []struct {
		name  string
		token string
		path  string
		want  int
	}{
		{name: "good JWT", token: erin, path: net, want: 200},
		{name: "another tenant's token", token: aliceToken, path: net, want: 404},
		{name: "expired JWT", token: jwt(key, "erin", time.Now().Add(-time.Minute)), path: "/network/", want: 401},
		{name: "forged JWT", token: jwt(forger, "erin", time.Now().Add(time.Hour)), path: "/network/", want: 401},
		{name: "no token", path: "/network/", want: 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := md.accept()
			if tt.token != "" {
				hdr = as(tt.token, hdr, true)
			}
			r := do(t, "GET", base+tt.path, hdr, "")
			if r.status != tt.want {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", r.status, tt.want, r.header.Get("X-OCCI-Error"))
			}
			if tt.want == 401 {
				if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="occid"` {
					t.Errorf("got WWW-Authenticate %q, want [Bearer realm=\"occid\"]", got)
				}
			}
		})
	}
	m.logw.Flush()
	if strings.Contains(logs.String(), erin) {
		t.Errorf("the log contains the JWT")
	}
}

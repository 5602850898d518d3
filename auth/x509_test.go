package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
)

// testCert is a certificate with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

var serial int64 = 1

// newCert makes a certificate for subject valid from notBefore to notAfter,
// signed by parent (self-signed if nil); isCA makes it a CA.
func newCert(t *testing.T, subject pkix.Name, parent *testCert, isCA bool, notBefore, notAfter time.Time) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key, der: der}
}

func (c *testCert) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key, Leaf: c.cert}
}

func (c *testCert) writePEM(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kder, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// whoami answers with the caller's identity.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id := occi.IdentityFrom(r.Context())
	fmt.Fprintf(w, "%s %s", id.User, strings.Join(id.Groups, ","))
})

func TestCertAuthenticatorOverTLS(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	ca := newCert(t, pkix.Name{CommonName: "Test CA", Organization: []string{"Example"}}, nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	otherCA := newCert(t, pkix.Name{CommonName: "Other CA"}, nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	server := newCert(t, pkix.Name{CommonName: "localhost"}, ca, false, now.Add(-time.Hour), now.Add(time.Hour))
	alice := newCert(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"people"}, Organization: []string{"Example"}, Country: []string{"DE"}}, ca, false, now.Add(-time.Hour), now.Add(time.Hour))
	bob := newCert(t, pkix.Name{CommonName: "bob", Organization: []string{"Example"}}, ca, false, now.Add(-time.Hour), now.Add(time.Hour))
	expired := newCert(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"people"}, Organization: []string{"Example"}, Country: []string{"DE"}}, ca, false, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	forged := newCert(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"people"}, Organization: []string{"Example"}, Country: []string{"DE"}}, otherCA, false, now.Add(-time.Hour), now.Add(time.Hour))

	caFile, _ := ca.writePEM(t, dir, "ca")
	certFile, keyFile := server.writePEM(t, dir, "server")
	mapFile := writeFile(t, "dnmap", "# subject map\n\"CN=alice,OU=people,O=Example,C=DE\" alice staff,ops\n")

	cfg, err := TLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("ClientAuth = %v, want VerifyClientCertIfGiven", cfg.ClientAuth)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	for _, mapped := range []bool{false, true} {
		t.Run(map[bool]string{false: "DN is the user", true: "DN map"}[mapped], func(t *testing.T) {
			m := ""
			if mapped {
				m = mapFile
			}
			certAuth, err := NewCertAuthenticator(m, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tokAuth, err := NewTokenAuthenticator(writeFile(t, "tokens", "tok-carol carol\n"), "occid", FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(Middleware(NewChain(certAuth, tokAuth), whoami, MiddlewareOptions{}))
			srv.TLS = cfg.Clone()
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
			srv.StartTLS()
			defer srv.Close()

			aliceWant := "200 CN=alice,OU=people,O=Example,C=DE "
			bobWant := "200 CN=bob,O=Example "
			if mapped {
				aliceWant = "200 alice staff,ops"
				bobWant = "401 Unauthorized: client certificate subject is not mapped to a user\n"
			}
			tests := []struct {
				name    string
				cert    *testCert
				token   string
				want    string // status and body
				force   bool   // send the certificate even if the server did not ask for its CA
				wantErr bool   // the TLS handshake fails
			}{
				{name: "good", cert: alice, want: aliceWant},
				{name: "other good certificate", cert: bob, want: bobWant},
				{name: "expired", cert: expired, wantErr: true},
				{name: "wrong CA, forced", cert: forged, force: true, wantErr: true},
				{name: "expired, forced", cert: expired, force: true, wantErr: true},
				{name: "wrong CA (client sends none)", cert: forged, want: "401 Unauthorized: authentication required\n"},
				{name: "missing", want: "401 Unauthorized: authentication required\n"},
				{name: "missing, token instead", token: "tok-carol", want: "200 carol "},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tc := &tls.Config{RootCAs: roots}
					if tt.cert != nil {
						tc.Certificates = []tls.Certificate{tt.cert.tls()}
					}
					if tt.force {
						c := tt.cert.tls()
						tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
					}
					client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
					req, err := http.NewRequest(http.MethodGet, srv.URL+"/compute/", nil)
					if err != nil {
						t.Fatal(err)
					}
					if tt.token != "" {
						req.Header.Set("X-Auth-Token", tt.token)
					}
					resp, err := client.Do(req)
					if tt.wantErr {
						if err == nil {
							resp.Body.Close()
							t.Fatalf("got status %d, want the TLS handshake to fail", resp.StatusCode)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					body, _ := io.ReadAll(resp.Body)
					if diff := cmp.Diff(tt.want, fmt.Sprintf("%d %s", resp.StatusCode, body)); diff != "" {
						t.Errorf("response mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// A certificate presented on a listener that did not verify it is refused.
func TestCertAuthenticatorUnverified(t *testing.T) {
	now := time.Now()
	c := newCert(t, pkix.Name{CommonName: "self"}, nil, false, now.Add(-time.Hour), now.Add(time.Hour))
	a, err := NewCertAuthenticator("", FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := request()
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.cert}}
	checkOutcome(t, outcomeOf(a.Authenticate(r)), unauth("client certificate is not verified"))
	r.TLS = &tls.ConnectionState{}
	checkOutcome(t, outcomeOf(a.Authenticate(r)), noCreds)
	if got := a.Challenge(); got != "" {
		t.Errorf("Challenge() = %q, want none", got)
	}
}

func TestParseDNMap(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lookups map[string]*occi.Identity
		wantErr string
	}{
		{
			name: "quoted DNs with commas, escapes and spaces",
			in:   "# map\n\"CN=alice,O=Example\" alice\n  \"CN=Bob \\\"B\\\" Smith,O=Ex\\, Inc.\"  bob  g1,g2\n",
			lookups: map[string]*occi.Identity{
				"CN=alice,O=Example":             {User: "alice"},
				`CN=Bob \"B\" Smith,O=Ex\, Inc.`: {User: "bob", Groups: []string{"g1", "g2"}},
				"CN=alice":                       nil,
				"cn=alice,o=example":             nil,
			},
		},
		{name: "unquoted DN", in: "CN=alice alice\n", wantErr: `line 1: want "DN" USER [GROUP,...], with the DN in double quotes`},
		{name: "no closing quote", in: "\"CN=alice alice\n", wantErr: "line 1: the DN has no closing double quote"},
		{name: "no user", in: "\"CN=alice\"\n", wantErr: `line 1: want "DN" USER [GROUP,...] after the DN, got 0 fields`},
		{name: "empty DN", in: "\"\" alice\n", wantErr: "line 1: empty DN"},
		{name: "duplicate", in: "\"CN=a\" a\n\"CN=a\" b\n", wantErr: `line 2: DN "CN=a" appears again`},
		{name: "bad groups", in: "\"CN=a\" a ,\n", wantErr: "line 1: empty group name at position 1 of the group list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDNMap([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			for dn, want := range tt.lookups {
				id, ok := got.Lookup(dn)
				switch {
				case want == nil && ok:
					t.Errorf("Lookup(%q) = %v, want not found", dn, id)
				case want != nil && !ok:
					t.Errorf("Lookup(%q) not found, want %v", dn, *want)
				case want != nil:
					checkOutcome(t, outcome{Identity: id}, outcome{Identity: *want})
				}
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	c := newCert(t, pkix.Name{CommonName: "localhost"}, nil, false, now.Add(-time.Hour), now.Add(time.Hour))
	certFile, keyFile := c.writePEM(t, dir, "server")
	empty := writeFile(t, "empty.pem", "not a certificate\n")
	tests := []struct {
		name                 string
		cert, key, ca        string
		wantErr              string
		wantClientVerifiable bool
	}{
		{name: "server only", cert: certFile, key: keyFile},
		{name: "no key", cert: certFile, wantErr: "auth: TLS needs both a certificate (--tls-cert) and a key (--tls-key)"},
		{name: "key is not a key", cert: certFile, key: certFile, wantErr: "auth: TLS certificate " + certFile + " and key " + certFile + ": "},
		{name: "CA file without certificates", cert: certFile, key: keyFile, ca: empty, wantErr: "auth: client CA file " + empty + " holds no PEM certificate"},
		{name: "CA file missing", cert: certFile, key: keyFile, ca: filepath.Join(dir, "nope"), wantErr: "auth: client CA file: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := TLSConfig(tt.cert, tt.key, tt.ca)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("got ClientAuth %v MinVersion %x, want NoClientCert and TLS 1.2", cfg.ClientAuth, cfg.MinVersion)
			}
		})
	}
}

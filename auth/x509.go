package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/occid/occi"
)

// TLSConfig returns the configuration for a listener that serves TLS with
// the certificate and key in certFile and keyFile (PEM). If clientCAFile is
// set, clients may present a certificate signed by one of its CAs: it is
// verified during the handshake (a certificate that does not verify ends the
// handshake) but not required (tls.VerifyClientCertIfGiven), so clients can
// still use the other authentication methods. TLS 1.2 is the minimum.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("auth: TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("auth: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pool, err := LoadCertPool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// LoadCertPool reads the PEM certificates in file into a pool; a file
// without any certificate is an error.
func LoadCertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("auth: client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("auth: client CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// DNMap maps certificate subject DNs (RFC 4514 strings) to identities.
type DNMap struct {
	m map[string]occi.Identity
}

// Len returns the number of mapped DNs.
func (d *DNMap) Len() int { return len(d.m) }

// Lookup returns the identity mapped to dn.
func (d *DNMap) Lookup(dn string) (occi.Identity, bool) {
	id, ok := d.m[dn]
	return cloneIdentity(id), ok
}

// ParseDNMap parses a subject map file: one `"DN" USER [GROUP,...]` per
// line, the DN in double quotes as Go's pkix.Name.String prints it (RFC
// 4514, most specific first: `CN=alice,OU=people,O=Example,C=DE`; `openssl
// x509 -noout -subject -nameopt RFC2253` prints the same for the usual
// attributes). The DN runs to the last double quote of the line; blank
// lines and '#' comments are ignored.
func ParseDNMap(data []byte) (*DNMap, error) {
	d := &DNMap{m: map[string]occi.Identity{}}
	err := eachLine(data, func(n int, line string) error {
		if !utf8.ValidString(line) {
			return fmt.Errorf("line %d: not valid UTF-8", n)
		}
		if !strings.HasPrefix(line, `"`) {
			return fmt.Errorf(`line %d: want "DN" USER [GROUP,...], with the DN in double quotes`, n)
		}
		end := strings.LastIndexByte(line, '"')
		if end == 0 {
			return fmt.Errorf("line %d: the DN has no closing double quote", n)
		}
		dn := strings.TrimSpace(line[1:end])
		if dn == "" {
			return fmt.Errorf("line %d: empty DN", n)
		}
		f := strings.Fields(line[end+1:])
		if len(f) < 1 || len(f) > 2 {
			return fmt.Errorf(`line %d: want "DN" USER [GROUP,...] after the DN, got %d fields`, n, len(f))
		}
		id := occi.Identity{User: f[0]}
		if len(f) == 2 {
			groups, err := parseGroups(f[1])
			if err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			id.Groups = groups
		}
		if _, dup := d.m[dn]; dup {
			return fmt.Errorf("line %d: DN %q appears again", n, dn)
		}
		d.m[dn] = id
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CertAuthenticator accepts a client certificate that the TLS handshake
// verified (see TLSConfig). The user is the leaf's subject DN as an RFC 4514
// string, or, with a DN map file, the user it maps to; a verified
// certificate whose DN is not in the map is declined. A certificate that was
// presented but not verified (a listener not made by TLSConfig) is refused.
type CertAuthenticator struct {
	file *watchedFile[*DNMap] // nil: the DN is the user
}

// NewCertAuthenticator returns a client-certificate authenticator; mapFile
// is optional (see ParseDNMap).
func NewCertAuthenticator(mapFile string, o FileOptions) (*CertAuthenticator, error) {
	a := &CertAuthenticator{}
	if mapFile != "" {
		f, err := newWatchedFile(mapFile, "client DN map file", ParseDNMap, o)
		if err != nil {
			return nil, err
		}
		a.file = f
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *CertAuthenticator) Authenticate(r *http.Request) (occi.Identity, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return occi.Identity{}, ErrNoCredentials
	}
	if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return occi.Identity{}, unauthenticated("client certificate is not verified")
	}
	dn := r.TLS.VerifiedChains[0][0].Subject.String()
	if a.file == nil {
		if dn == "" {
			return occi.Identity{}, unauthenticated("client certificate has an empty subject")
		}
		return occi.Identity{User: dn}, nil
	}
	if id, ok := a.file.get().Lookup(dn); ok {
		return id, nil
	}
	return occi.Identity{}, Declined("client certificate subject is not mapped to a user")
}

// Challenge implements Authenticator; client certificates have no
// WWW-Authenticate scheme, so it returns "".
func (a *CertAuthenticator) Challenge() string { return "" }

// Reload implements Reloader.
func (a *CertAuthenticator) Reload() error {
	if a.file == nil {
		return nil
	}
	return a.file.Reload()
}

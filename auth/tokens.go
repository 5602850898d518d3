package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/occid/occi"
)

// Tokens is a parsed static tokens file. Only digests of the tokens are
// kept.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	id     occi.Identity
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Lookup returns the identity of token. It compares token with every entry
// in constant time, so the time taken does not tell which entry (if any)
// matched or how much of it.
func (t *Tokens) Lookup(token string) (occi.Identity, bool) {
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(d[:], t.entries[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return occi.Identity{}, false
	}
	return cloneIdentity(t.entries[found].id), true
}

func cloneIdentity(id occi.Identity) occi.Identity {
	if id.Groups != nil {
		id.Groups = append([]string(nil), id.Groups...)
	}
	return id
}

// ParseTokens parses a static tokens file: one "TOKEN USER [GROUP,...]" per
// line, fields separated by spaces or tabs, groups by commas; blank lines
// and lines whose first non-blank character is '#' are ignored. A token
// appearing twice, an empty group name or a line with too few or too many
// fields is an error naming the line; errors never contain a token.
func ParseTokens(data []byte) (*Tokens, error) {
	t := &Tokens{}
	seen := map[[sha256.Size]byte]int{}
	err := eachLine(data, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return fmt.Errorf("line %d: want TOKEN USER [GROUP,...], got %d fields", n, len(f))
		}
		if !utf8.ValidString(f[1]) {
			return fmt.Errorf("line %d: user name is not valid UTF-8", n)
		}
		id := occi.Identity{User: f[1]}
		if len(f) == 3 {
			groups, err := parseGroups(f[2])
			if err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			id.Groups = groups
		}
		d := sha256.Sum256([]byte(f[0]))
		if first, dup := seen[d]; dup {
			return fmt.Errorf("line %d: the token of line %d appears again", n, first)
		}
		seen[d] = n
		t.entries = append(t.entries, tokenEntry{digest: d, id: id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// parseGroups splits a comma-separated list of group names.
func parseGroups(s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("group list is not valid UTF-8")
	}
	groups := strings.Split(s, ",")
	for i, g := range groups {
		if g == "" {
			return nil, fmt.Errorf("empty group name at position %d of the group list", i+1)
		}
	}
	return groups, nil
}

// eachLine calls fn with the 1-based number and trimmed text of every line
// of data that is neither blank nor a '#' comment.
func eachLine(data []byte, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// TokenAuthenticator accepts static tokens from a file, sent as
// X-Auth-Token or "Authorization: Bearer". An unknown token is declined
// (not rejected), so an OIDC or Keystone authenticator later in the chain
// may still accept it.
type TokenAuthenticator struct {
	file      *watchedFile[*Tokens]
	challenge string
}

// NewTokenAuthenticator reads the tokens file at path (see ParseTokens).
func NewTokenAuthenticator(path, realm string, o FileOptions) (*TokenAuthenticator, error) {
	f, err := newWatchedFile(path, "tokens file", ParseTokens, o)
	if err != nil {
		return nil, err
	}
	return &TokenAuthenticator{file: f, challenge: fmt.Sprintf("Bearer realm=%q", realm)}, nil
}

// Authenticate implements Authenticator. If the request carries both an
// "Authorization: Bearer" token and an X-Auth-Token, either may match.
func (a *TokenAuthenticator) Authenticate(r *http.Request) (occi.Identity, error) {
	toks := requestTokens(r)
	if len(toks) == 0 {
		return occi.Identity{}, ErrNoCredentials
	}
	file := a.file.get()
	for _, tok := range toks {
		if id, ok := file.Lookup(tok); ok {
			return id, nil
		}
	}
	return occi.Identity{}, Declined("invalid token")
}

// Challenge implements Authenticator: `Bearer realm="<realm>"`.
func (a *TokenAuthenticator) Challenge() string { return a.challenge }

// Reload implements Reloader.
func (a *TokenAuthenticator) Reload() error { return a.file.Reload() }

// requestTokens returns the bearer token of r and its X-Auth-Token, those
// that are present.
func requestTokens(r *http.Request) []string {
	var out []string
	if tok, ok := bearerToken(r); ok {
		out = append(out, tok)
	}
	if tok := strings.TrimSpace(r.Header.Get("X-Auth-Token")); tok != "" {
		out = append(out, tok)
	}
	return out
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimSpace(rest)
	return tok, tok != ""
}

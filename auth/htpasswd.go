package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/occid/occi"
	"golang.org/x/crypto/bcrypt"
)

// Htpasswd is a parsed htpasswd file.
type Htpasswd struct {
	users map[string]htpasswdEntry
	// dummy is compared against when the user is unknown, so an unknown
	// user takes about as long as a wrong password: a hash of the file's
	// highest cost, made on first use.
	dummy func() []byte
}

type htpasswdEntry struct {
	hash   []byte
	groups []string
}

// Len returns the number of users.
func (h *Htpasswd) Len() int { return len(h.users) }

// Check reports the identity of user if password matches its bcrypt hash.
func (h *Htpasswd) Check(user, password string) (occi.Identity, bool) {
	e, ok := h.users[user]
	hash := e.hash
	if !ok {
		hash = h.dummy()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return occi.Identity{}, false
	}
	return occi.Identity{User: user, Groups: append([]string(nil), e.groups...)}, true
}

// ParseHtpasswd parses an htpasswd file: one "USER:HASH" per line, with an
// optional third field ":GROUP,..." (occid's extension); blank lines and
// '#' comments are ignored. Only bcrypt hashes ($2y$, $2a$, $2b$, as made by
// `htpasswd -B`) are accepted: any other hash type (MD5 $apr1$, {SHA},
// crypt, SHA-crypt, plain text) is an error naming the line and user, never
// the hash.
func ParseHtpasswd(data []byte) (*Htpasswd, error) {
	h := &Htpasswd{users: map[string]htpasswdEntry{}}
	maxCost := bcrypt.MinCost
	err := eachLine(data, func(n int, line string) error {
		f := strings.Split(line, ":")
		if len(f) < 2 || len(f) > 3 {
			return fmt.Errorf("line %d: want USER:HASH[:GROUP,...]", n)
		}
		user, hash := f[0], f[1]
		if user == "" {
			return fmt.Errorf("line %d: empty user name", n)
		}
		if !utf8.ValidString(user) || strings.ContainsAny(user, " \t") {
			return fmt.Errorf("line %d: user name must be valid UTF-8 without blanks", n)
		}
		if _, dup := h.users[user]; dup {
			return fmt.Errorf("line %d: user %q appears again", n, user)
		}
		cost, err := checkBcrypt(hash)
		if err != nil {
			return fmt.Errorf("line %d: user %q: %w", n, user, err)
		}
		maxCost = max(maxCost, cost)
		e := htpasswdEntry{hash: []byte(hash)}
		if len(f) == 3 {
			groups, err := parseGroups(f[2])
			if err != nil {
				return fmt.Errorf("line %d: user %q: %w", n, user, err)
			}
			e.groups = groups
		}
		h.users[user] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.dummy = sync.OnceValue(func() []byte {
		d, _ := bcrypt.GenerateFromPassword([]byte("occid-unknown-user"), maxCost)
		return d
	})
	return h, nil
}

// checkBcrypt accepts only a well-formed bcrypt hash of a known variant
// and returns its cost.
func checkBcrypt(hash string) (int, error) {
	switch {
	case strings.HasPrefix(hash, "$2y$"), strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || len(hash) != 60 {
			return 0, fmt.Errorf("malformed bcrypt hash")
		}
		return cost, nil
	case strings.HasPrefix(hash, "$apr1$"), strings.HasPrefix(hash, "$1$"):
		return 0, fmt.Errorf("unsupported hash type MD5; only bcrypt is accepted (create the entry with htpasswd -B)")
	case strings.HasPrefix(hash, "{SHA}"):
		return 0, fmt.Errorf("unsupported hash type SHA-1; only bcrypt is accepted (create the entry with htpasswd -B)")
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return 0, fmt.Errorf("unsupported hash type SHA-crypt; only bcrypt is accepted (create the entry with htpasswd -B)")
	default:
		return 0, fmt.Errorf("unsupported hash type (crypt or plain text?); only bcrypt is accepted (create the entry with htpasswd -B)")
	}
}

// BasicAuthenticator checks HTTP Basic credentials against an htpasswd file
// with bcrypt hashes. A successful check is remembered for a minute (as a
// keyed digest, never the password) so clients that send Basic on every
// request do not pay for bcrypt each time.
type BasicAuthenticator struct {
	file      *watchedFile[*Htpasswd]
	challenge string

	key   [32]byte // HMAC key for the cache, random per process
	mu    sync.Mutex
	cache map[string]basicCacheEntry // by user name
}

type basicCacheEntry struct {
	mac     [sha256.Size]byte
	file    *Htpasswd // the file version that was checked
	expires time.Time
}

const basicCacheTTL = time.Minute
const basicCacheMax = 4096

// NewBasicAuthenticator reads the htpasswd file at path (see ParseHtpasswd).
func NewBasicAuthenticator(path, realm string, o FileOptions) (*BasicAuthenticator, error) {
	f, err := newWatchedFile(path, "htpasswd file", ParseHtpasswd, o)
	if err != nil {
		return nil, err
	}
	a := &BasicAuthenticator{file: f, challenge: fmt.Sprintf("Basic realm=%q", realm), cache: map[string]basicCacheEntry{}}
	if _, err := rand.Read(a.key[:]); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *BasicAuthenticator) Authenticate(r *http.Request) (occi.Identity, error) {
	scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return occi.Identity{}, ErrNoCredentials
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return occi.Identity{}, unauthenticated("malformed Basic credentials")
	}
	file := a.file.get()
	mac := a.mac(user, password)
	now := time.Now()
	a.mu.Lock()
	e, hit := a.cache[user]
	a.mu.Unlock()
	if hit && e.file == file && now.Before(e.expires) && hmac.Equal(e.mac[:], mac[:]) {
		return occi.Identity{User: user, Groups: append([]string(nil), file.users[user].groups...)}, nil
	}
	id, ok := file.Check(user, password)
	if !ok {
		return occi.Identity{}, unauthenticated("invalid user name or password")
	}
	a.mu.Lock()
	if len(a.cache) >= basicCacheMax {
		for k, v := range a.cache {
			if now.After(v.expires) || len(a.cache) >= basicCacheMax {
				delete(a.cache, k)
			}
		}
	}
	a.cache[user] = basicCacheEntry{mac: mac, file: file, expires: now.Add(basicCacheTTL)}
	a.mu.Unlock()
	return id, nil
}

func (a *BasicAuthenticator) mac(user, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [sha256.Size]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Challenge implements Authenticator: `Basic realm="<realm>"`.
func (a *BasicAuthenticator) Challenge() string { return a.challenge }

// Reload implements Reloader.
func (a *BasicAuthenticator) Reload() error { return a.file.Reload() }

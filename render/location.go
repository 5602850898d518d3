package render

import (
	"net/url"
	"strings"

	"github.com/occid/occi"
)

// AbsoluteURL makes a location absolute for output: a path (or any
// reference without a scheme) is appended to base; a reference that already
// has a scheme (http://other.example/x, urn:uuid:…) is returned unchanged.
// A path without a leading slash gets one.
func AbsoluteURL(base, loc string) string {
	if loc == "" {
		return ""
	}
	if HasScheme(loc) {
		return loc
	}
	base = strings.TrimSuffix(base, "/")
	if loc[0] != '/' {
		return base + "/" + loc
	}
	return base + loc
}

// HasScheme reports whether s starts with an RFC 3986 scheme followed by
// ':' (and so is an absolute URI rather than a path).
func HasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// ErrForeign is the reason LocalPath gives when a URL names another server.
const errForeign = "is not on this server"

// LocalPath turns a location as a client sent it into a path on this
// server: an absolute URL whose scheme and host equal base's loses them
// (and base's path prefix, if any); a relative reference is taken as a path
// ("compute/1" becomes "/compute/1"). ok is false when loc is an absolute URI
// of another server (or not a URL at all); the caller decides whether that
// is an error (own-entity locations) or a remote target (link targets).
// Query and fragment are dropped.
func LocalPath(base, loc string) (path string, ok bool) {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "", true
	}
	if !HasScheme(loc) {
		if strings.HasPrefix(loc, "//") {
			return "", false
		}
		p := stripQuery(loc)
		if p == "" || p[0] != '/' {
			p = "/" + p
		}
		return stripBasePath(base, p), true
	}
	u, err := url.Parse(loc)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "", false
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		return "", false
	}
	if !strings.EqualFold(u.Scheme, b.Scheme) || !sameHost(u, b) {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return stripBasePath(base, p), true
}

func sameHost(u, b *url.URL) bool {
	if !strings.EqualFold(u.Hostname(), b.Hostname()) {
		return false
	}
	up, bp := u.Port(), b.Port()
	if up == bp {
		return true
	}
	def := map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	if up == "" {
		up = def
	}
	if bp == "" {
		bp = def
	}
	return up == bp
}

func stripQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// stripBasePath removes base's path prefix (e.g. "/occi" of
// "http://h/occi") from p when p starts with it.
func stripBasePath(base string, p string) string {
	i := strings.Index(base, "://")
	if i < 0 {
		return p
	}
	rest := base[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return p
	}
	prefix := strings.TrimSuffix(rest[j:], "/")
	if prefix == "" {
		return p
	}
	if strings.HasPrefix(p, prefix+"/") {
		return p[len(prefix):]
	}
	return p
}

// OwnPath is LocalPath for a location that must be on this server (an
// entity to create, associate or address): an absolute URL of another
// server is an InvalidArgument error naming where it was found.
func OwnPath(base, loc, where string) (string, error) {
	p, ok := LocalPath(base, loc)
	if !ok {
		return "", occi.Errorf(occi.InvalidArgument, "%s: location %q %s (expected a path or a URL under %q)", where, Truncate(loc, 200), errForeign, base)
	}
	return p, nil
}

// TargetPath is LocalPath for a link target or source: a URL on this
// server becomes a path; any other absolute URI is kept as it is.
func TargetPath(base, loc string) string {
	loc = strings.TrimSpace(loc)
	p, ok := LocalPath(base, loc)
	if !ok {
		return loc
	}
	return p
}

package render

import (
	"strings"

	"github.com/occid/occi"
)

// AbsoluteURL makes a location absolute for output: a path (or any
// reference without a scheme) is appended to base; a reference that already
// has a scheme (http://other.example/x, urn:uuid:…) or names an authority
// of its own (a network-path reference, //other.example/x, which LocalPath
// does not take for a path of this server either) is returned unchanged.
// A path without a leading slash gets one.
func AbsoluteURL(base, loc string) string {
	if loc == "" {
		return ""
	}
	if HasScheme(loc) || strings.HasPrefix(loc, "//") {
		return loc
	}
	base = strings.TrimSuffix(base, "/")
	if loc[0] != '/' {
		return base + "/" + loc
	}
	return base + loc
}

// AppendAbsoluteURL appends AbsoluteURL(base, loc) to b without
// allocating.
func AppendAbsoluteURL(b []byte, base, loc string) []byte {
	if loc == "" {
		return b
	}
	if HasScheme(loc) || strings.HasPrefix(loc, "//") {
		return append(b, loc...)
	}
	base = strings.TrimSuffix(base, "/")
	b = append(b, base...)
	if loc[0] != '/' {
		b = append(b, '/')
	}
	return append(b, loc...)
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
	us, uh, up, rest, ok := splitAbsolute(loc)
	if !ok {
		return "", false
	}
	bs, bh, bp, _, ok := splitAbsolute(base)
	if !ok || !strings.EqualFold(us, bs) || !strings.EqualFold(uh, bh) {
		return "", false
	}
	if up != bp && defaultPort(us, up) != defaultPort(bs, bp) {
		return "", false
	}
	// The path as sent (not re-escaped), so that relative and absolute
	// forms of one location give the same path.
	p := stripQuery(rest)
	if p == "" {
		p = "/"
	}
	return stripBasePath(base, p), true
}

// splitAbsolute splits "scheme://[userinfo@]host[:port]rest" without
// validating the rest (a path, query and fragment).
func splitAbsolute(s string) (scheme, host, port, rest string, ok bool) {
	i := strings.Index(s, "://")
	if i <= 0 || !HasScheme(s[:i+1]) {
		return "", "", "", "", false
	}
	scheme, after := s[:i], s[i+3:]
	auth := after
	if j := strings.IndexAny(after, "/?#"); j >= 0 {
		auth, rest = after[:j], after[j:]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:]
	}
	host = auth
	if strings.HasPrefix(auth, "[") {
		end := strings.IndexByte(auth, ']')
		if end < 0 {
			return "", "", "", "", false
		}
		host = auth[:end+1]
		if p := auth[end+1:]; strings.HasPrefix(p, ":") {
			port = p[1:]
		} else if p != "" {
			return "", "", "", "", false
		}
	} else if k := strings.LastIndexByte(auth, ':'); k >= 0 {
		host, port = auth[:k], auth[k+1:]
	}
	if host == "" {
		return "", "", "", "", false
	}
	return scheme, host, port, rest, true
}

func defaultPort(scheme, port string) string {
	if port != "" {
		return port
	}
	switch strings.ToLower(scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

func stripQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return strings.TrimSpace(s[:i])
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
// entity to create, associate or address): an empty location, white space,
// quotes or angle brackets, or an absolute URL of another server are an
// InvalidArgument error naming where it was found.
func OwnPath(base, loc, where string) (string, error) {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "", occi.Errorf(occi.InvalidArgument, "%s: empty location", where)
	}
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' {
			return "", occi.Errorf(occi.InvalidArgument, "%s: location %q is not a URI reference", where, Truncate(loc, 200))
		}
	}
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

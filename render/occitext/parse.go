package occitext

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// item is one element of a text rendering (one comma-separated value of a
// line or header) and where it came from, for error messages.
type item struct {
	k     kind
	value string
	where string
}

// headerAliases maps lower-case header (or line keyword) names to kinds:
// GFD.229's names and rOCCI's aliases.
var headerAliases = map[string]kind{
	"category":         kCategory,
	"x-occi-category":  kCategory,
	"link":             kLink,
	"x-occi-link":      kLink,
	"x-occi-attribute": kAttribute,
	"x-occi-location":  kLocation,
	"location":         kLocation,
}

const msgLen = 100

func quoteTrunc(s string) string { return strconv.Quote(render.Truncate(s, msgLen)) }

func invalid(where, format string, args ...any) error {
	return occi.Errorf(occi.InvalidArgument, "%s: %s", where, sprintf(format, args...))
}

// readItems collects the elements of a request: for text/plain the body
// (or, when the body is blank, the headers: GET filters and bodiless
// requests carry them there), for text/occi the headers.
func (c *Codec) readItems(r *render.Reader) ([]item, error) {
	if !c.headers && !blank(r.Body) {
		return bodyItems(r.Body)
	}
	return headerItems(r)
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func tooMany(where string) error {
	return occi.Errorf(occi.InvalidArgument, "%s: more than %d elements; split the request", where, render.MaxItems)
}

func bodyItems(body []byte) ([]item, error) {
	if !utf8.Valid(body) {
		return nil, occi.Errorf(occi.InvalidArgument, "body: not valid UTF-8")
	}
	var items []item
	s := string(body)
	for n := 1; s != ""; n++ {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if n > render.MaxItems {
			return nil, tooMany("body")
		}
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		where := "line " + strconv.Itoa(n)
		name, value, ok := strings.Cut(t, ":")
		k, known := headerAliases[strings.ToLower(strings.TrimSpace(name))]
		switch {
		case ok && known:
		case t[0] == '/' || render.HasScheme(t) && strings.Contains(t, "://"):
			// A bare URI line, as in text/uri-list.
			k, value = kLocation, t
		default:
			return nil, invalid(where, "expected \"Category:\", \"Link:\", \"X-OCCI-Attribute:\" or \"X-OCCI-Location:\", got %s", quoteTrunc(t))
		}
		where += " (" + headerNames[k] + ")"
		for _, v := range splitValues(k, value) {
			if len(items) >= render.MaxItems {
				return nil, tooMany("body")
			}
			items = append(items, item{k: k, value: v, where: where})
		}
	}
	return items, nil
}

func headerItems(r *render.Reader) ([]item, error) {
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		if _, ok := headerAliases[strings.ToLower(name)]; ok {
			names = append(names, name)
		}
	}
	// Deterministic order: spec names before aliases, then by spelling.
	slices.Sort(names)
	var items []item
	for _, name := range names {
		k := headerAliases[strings.ToLower(name)]
		where := name + " header"
		for _, hv := range r.Header[name] {
			if !utf8.ValidString(hv) {
				return nil, invalid(where, "not valid UTF-8")
			}
			for _, v := range splitValues(k, hv) {
				if len(items) >= render.MaxItems {
					return nil, tooMany("headers")
				}
				items = append(items, item{k: k, value: v, where: where})
			}
		}
	}
	return items, nil
}

// splitValues splits a line or header value at commas outside quotes and
// <...>.
//
// X-OCCI-Location values are URIs, which may contain commas: they are
// split only at a comma followed (after optional spaces) by a path or an
// absolute URI, so "/a,b" stays one location and "/a, /b" is two.
func splitValues(k kind, v string) []string {
	if k != kLocation {
		return render.SplitOutsideQuotes(v, ',', 0)
	}
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] != ',' {
			continue
		}
		rest := strings.TrimLeft(v[i+1:], " \t")
		if rest != "" && (rest[0] == '/' || render.HasScheme(rest)) {
			if p := strings.TrimSpace(v[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	if p := strings.TrimSpace(v[start:]); p != "" {
		out = append(out, p)
	}
	return out
}

// unquote reads a quoted-string starting at s[0] == '"' and returns its
// content and the rest after the closing quote. Escapes: \n, \r, \t,
// \uXXXX, and \x for any other x.
func unquote(s string) (val, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	var b []byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			if b == nil {
				return s[1:i], s[i+1:], true
			}
			return string(b), s[i+1:], true
		case '\\':
			if b == nil {
				b = append(make([]byte, 0, len(s)), s[1:i]...)
			}
			i++
			if i >= len(s) {
				return "", "", false
			}
			switch s[i] {
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				if i+4 < len(s) {
					if n, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
						b = utf8.AppendRune(b, rune(n))
						i += 4
						continue
					}
				}
				b = append(b, 'u')
			default:
				b = append(b, s[i])
			}
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	return "", "", false
}

// checkControls refuses a quoted-string (raw, as sent) holding a control
// character other than TAB: NUL, the other C0 controls, a CR that does not
// end a line, and DEL. RFC 7230's quoted-string (GFD.229's string) allows
// none of them, not even after a backslash; a value carries them escaped
// (\n, \r, \t, \u00XX). what names the attribute or parameter.
func checkControls(where, what, raw string) error {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return invalid(where, "%s: the quoted value holds the control character 0x%02x; send it escaped (\\n, \\r, \\t or \\u00XX)",
				what, c)
		}
	}
	return nil
}

// param is one "name=value" parameter of a Category or Link value.
type param struct {
	name   string // lower case for Category and Link keywords; as sent otherwise
	raw    string // value as sent (quotes included), for attributes
	value  string // unquoted value
	quoted bool
}

// splitParams splits "head; a=b; c="d;e"" into the head and its
// parameters. A trailing ';' and missing spaces are fine.
func splitParams(where, s string) (string, []param, error) {
	parts := render.SplitOutsideQuotes(s, ';', 0)
	if len(parts) == 0 {
		return "", nil, invalid(where, "empty value")
	}
	if len(parts) > render.MaxItems {
		return "", nil, tooMany(where)
	}
	ps := make([]param, 0, len(parts)-1)
	for _, p := range parts[1:] {
		name, raw, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		raw = strings.TrimSpace(raw)
		if !ok || name == "" {
			return "", nil, invalid(where, "parameter %s is not name=value", quoteTrunc(p))
		}
		pp := param{name: name, raw: raw, value: raw}
		if strings.HasPrefix(raw, `"`) {
			v, rest, ok := unquote(raw)
			if !ok || strings.TrimSpace(rest) != "" {
				return "", nil, invalid(where, "parameter %s has a badly quoted value %s", name, quoteTrunc(raw))
			}
			if err := checkControls(where, "parameter "+quoteTrunc(name), raw); err != nil {
				return "", nil, err
			}
			pp.value, pp.quoted = v, true
		}
		ps = append(ps, pp)
	}
	return parts[0], ps, nil
}

// parseValue reads an attribute value: a quoted string is a string; bare
// null is nil (unset); bare true/false a bool; a bare integer an int64; a bare decimal (or exponent)
// a float64; any other bare token a string.
func parseValue(where, name, raw string) (any, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, invalid(where, "attribute %s has no value", name)
	}
	if raw[0] == '"' {
		v, rest, ok := unquote(raw)
		if !ok || strings.TrimSpace(rest) != "" {
			return nil, invalid(where, "attribute %s has a badly quoted value %s", name, quoteTrunc(raw))
		}
		if err := checkControls(where, "attribute "+name, raw); err != nil {
			return nil, err
		}
		return v, nil
	}
	switch raw {
	case "null":
		// Not in GFD.229: a bare null asks a partial update to unset
		// the attribute (as JSON null does).
		return nil, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	if looksNumeric(raw) {
		if isInteger(raw) {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, invalid(where, "attribute %s: integer %s is out of range", name, quoteTrunc(raw))
			}
			return n, nil
		}
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, invalid(where, "attribute %s: %s is not a number", name, quoteTrunc(raw))
		}
		return f, nil
	}
	for i := 0; i < len(raw); i++ {
		if !isTokenChar(raw[i]) {
			return nil, invalid(where, "attribute %s: value %s is neither a quoted string, a number nor true/false", name, quoteTrunc(raw))
		}
	}
	return raw, nil
}

func looksNumeric(s string) bool {
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i = 1
	}
	return i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.')
}

func isInteger(s string) bool {
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i = 1
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/:@", c) >= 0
}

// validAttrName reports whether n is an attribute name: a term.
func validAttrName(n string) bool { return occi.ValidTerm(n) }

// category is a parsed Category value.
type category struct {
	id       occi.CategoryID
	class    string
	title    string
	rel      []occi.CategoryID
	location string
	attrs    []occi.AttributeDef
	actions  []occi.CategoryID
}

func parseCategory(where, s string) (*category, error) {
	head, ps, err := splitParams(where, s)
	if err != nil {
		return nil, err
	}
	term := head
	if strings.HasPrefix(term, `"`) {
		if v, rest, ok := unquote(term); ok && strings.TrimSpace(rest) == "" {
			term = v
		}
	}
	if !occi.ValidTerm(term) {
		return nil, invalid(where, "invalid term %s in %s", quoteTrunc(term), quoteTrunc(s))
	}
	c := &category{}
	var scheme string
	for _, p := range ps {
		switch strings.ToLower(p.name) {
		case "scheme":
			scheme = p.value
		case "class":
			c.class = strings.ToLower(p.value)
			switch occi.Class(c.class) {
			case occi.ClassKind, occi.ClassMixin, occi.ClassAction:
			default:
				return nil, invalid(where, "class %s is not kind, mixin or action", quoteTrunc(p.value))
			}
		case "title":
			c.title = p.value
		case "rel":
			if c.rel, err = parseIDList(where, "rel", p.value); err != nil {
				return nil, err
			}
		case "location":
			c.location = p.value
		case "attributes":
			if c.attrs, err = parseAttrDefs(where, p.value); err != nil {
				return nil, err
			}
		case "actions":
			if c.actions, err = parseIDList(where, "actions", p.value); err != nil {
				return nil, err
			}
		}
	}
	if scheme == "" {
		return nil, invalid(where, "category %s has no scheme", quoteTrunc(s))
	}
	if !render.ValidScheme(scheme) {
		return nil, invalid(where, "scheme %s is not a URI", quoteTrunc(scheme))
	}
	c.id = render.CanonicalCategory(occi.CategoryID{Scheme: scheme, Term: term})
	return c, nil
}

func parseIDList(where, what, s string) ([]occi.CategoryID, error) {
	fs := strings.Fields(s)
	if len(fs) > render.MaxItems {
		return nil, tooMany(where)
	}
	ids := make([]occi.CategoryID, 0, len(fs))
	for _, f := range fs {
		id, err := render.ParseCategoryID(f)
		if err != nil {
			return nil, invalid(where, "%s: %s", what, occi.ErrorMessage(err))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseAttrDefs reads "a b{immutable} c{required immutable}".
func parseAttrDefs(where, s string) ([]occi.AttributeDef, error) {
	var defs []occi.AttributeDef
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '{' {
			j++
		}
		name := s[i:j]
		if !validAttrName(name) {
			return nil, invalid(where, "attributes: invalid attribute name %s", quoteTrunc(name))
		}
		d := occi.AttributeDef{Name: render.CanonicalAttribute(name), Mutable: true}
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return nil, invalid(where, "attributes: unclosed '{' after %s", quoteTrunc(name))
			}
			for _, prop := range strings.Fields(s[j+1 : j+end]) {
				switch strings.ToLower(prop) {
				case "immutable":
					d.Mutable = false
				case "required":
					d.Required = true
				case "mutable":
					d.Mutable = true
				default:
					return nil, invalid(where, "attributes: unknown property %s of %s", quoteTrunc(prop), name)
				}
			}
			j += end + 1
		}
		if len(defs) >= render.MaxItems {
			return nil, tooMany(where)
		}
		defs = append(defs, d)
		i = j
	}
	return defs, nil
}

// link is a parsed Link value: an inline link or an action link.
type link struct {
	target string
	action bool
	rel    []occi.CategoryID
	self   string
	cats   []occi.CategoryID
	attrs  []param
}

func parseLink(where, s string) (*link, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "<") {
		return nil, invalid(where, "link %s does not start with <target>", quoteTrunc(s))
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return nil, invalid(where, "link %s has no closing '>'", quoteTrunc(s))
	}
	l := &link{target: strings.TrimSpace(s[1:end])}
	rest := strings.TrimSpace(s[end+1:])
	if rest != "" && rest[0] != ';' {
		return nil, invalid(where, "link %s: expected ';' after <target>", quoteTrunc(s))
	}
	_, ps, err := splitParams(where, "x"+rest)
	if err != nil {
		return nil, err
	}
	if l.target == "" {
		return nil, invalid(where, "link %s has an empty target", quoteTrunc(s))
	}
	if q := strings.Index(l.target, "?action="); q >= 0 {
		l.action = true
	}
	for _, p := range ps {
		switch strings.ToLower(p.name) {
		case "rel":
			if l.rel, err = parseIDList(where, "rel", p.value); err != nil {
				return nil, err
			}
		case "self":
			l.self = p.value
		case "category":
			if l.cats, err = parseIDList(where, "category", p.value); err != nil {
				return nil, err
			}
		default:
			if !validAttrName(p.name) {
				return nil, invalid(where, "link attribute name %s is invalid", quoteTrunc(p.name))
			}
			l.attrs = append(l.attrs, p)
		}
	}
	if l.action && len(l.rel) != 1 {
		return nil, invalid(where, "action link %s needs rel with exactly one action identifier", quoteTrunc(s))
	}
	return l, nil
}

// parseAttribute reads "name=value" of an X-OCCI-Attribute element.
func parseAttribute(where, s string) (string, any, error) {
	name, raw, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok {
		return "", nil, invalid(where, "attribute %s is not name=value", quoteTrunc(s))
	}
	if !validAttrName(name) {
		return "", nil, invalid(where, "invalid attribute name %s", quoteTrunc(name))
	}
	v, err := parseValue(where, name, raw)
	if err != nil {
		return "", nil, err
	}
	return render.CanonicalAttribute(name), v, nil
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

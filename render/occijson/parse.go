package occijson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// object is a JSON object that remembers the order of its members (for
// attribute definitions). Values are string, json.Number, bool, nil, []any
// and *object.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// parser is a small JSON parser that keeps the member order of objects,
// reads numbers as json.Number, and enforces MaxDepth and a value count.
type parser struct {
	s     []byte
	i     int
	count int
	path  []pathSeg // where the value being read sits, for errors
}

// pathSeg is one step of a member path: an object key or an array index.
type pathSeg struct {
	key string
	idx int // -1 for a key
}

// where renders the path of the value being read, as the decoders name
// members (links[0].target.location); "" at the top level.
func (p *parser) where() string {
	w := ""
	for _, s := range p.path {
		if s.idx >= 0 {
			w = index(w, s.idx)
		} else {
			w = join(w, s.key)
		}
	}
	return w
}

func invalid(where, format string, args ...any) error {
	msg := sprintf(format, args...)
	if where == "" {
		return occi.Errorf(occi.InvalidArgument, "JSON body: %s", msg)
	}
	return occi.Errorf(occi.InvalidArgument, "JSON body, %s: %s", where, msg)
}

// parse reads one JSON value (with nothing after it but white space).
func parse(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("", "empty body")
	}
	p := &parser{s: body}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, invalid("", "unexpected data after the JSON value at offset %d", p.i)
	}
	return v, nil
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) errAt(what string) error {
	if p.i >= len(p.s) {
		return invalid("", "unexpected end of JSON input")
	}
	// A byte of a multi-byte character is shown as the character it
	// starts (é, not Ã), and a byte that starts none as its value.
	r, size := utf8.DecodeRune(p.s[p.i:])
	if r == utf8.RuneError && size <= 1 {
		return invalid("", "invalid byte 0x%02x (not UTF-8) %s at offset %d", p.s[p.i], what, p.i)
	}
	return invalid("", "invalid character %q %s at offset %d", r, what, p.i)
}

func (p *parser) value(depth int) (any, error) {
	if depth > render.MaxDepth {
		return nil, invalid("", "values nested deeper than %d levels", render.MaxDepth)
	}
	p.count++
	if p.count > render.MaxItems*4 {
		return nil, invalid("", "more than %d values; split the request", render.MaxItems*4)
	}
	p.ws()
	if p.i >= len(p.s) {
		return nil, p.errAt("")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		o := &object{vals: map[string]any{}}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, p.errAt("looking for an object key")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.errAt("after an object key")
			}
			p.i++
			if _, dup := o.vals[k]; dup {
				// Last-wins (or first-wins) would silently drop what the
				// client sent, such as a second "kind": refuse it.
				where := p.where()
				if where == "" {
					where = "the top-level object"
				}
				return nil, invalid(where, "member %s appears twice in one object", strconv.Quote(render.Truncate(k, 100)))
			}
			p.path = append(p.path, pathSeg{key: k, idx: -1})
			v, err := p.value(depth + 1)
			p.path = p.path[:len(p.path)-1]
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals[k] = v
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return o, nil
			}
			return nil, p.errAt("after an object member")
		}
	case c == '[':
		p.i++
		a := []any{}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			p.path = append(p.path, pathSeg{idx: len(a)})
			v, err := p.value(depth + 1)
			p.path = p.path[:len(p.path)-1]
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				return a, nil
			}
			return nil, p.errAt("after an array element")
		}
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case bytes.HasPrefix(p.s[p.i:], []byte("true")):
		p.i += 4
		return true, nil
	case bytes.HasPrefix(p.s[p.i:], []byte("false")):
		p.i += 5
		return false, nil
	case bytes.HasPrefix(p.s[p.i:], []byte("null")):
		p.i += 4
		return nil, nil
	}
	return nil, p.errAt("looking for the beginning of a value")
}

func (p *parser) number() (json.Number, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", p.errAt("in a number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.errAt("after a decimal point")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.errAt("in an exponent")
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

// str reads a string at p.s[p.i] == '"'. A string holding bytes that are
// not UTF-8 is refused (RFC 8259 section 8.1: JSON text is UTF-8), where
// encoding/json would turn them into U+FFFD; an escaped lone surrogate
// (\ud800) becomes U+FFFD, as encoding/json does.
func (p *parser) str() (string, error) {
	p.i++
	start := p.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			raw := p.s[start:p.i]
			if err := p.checkUTF8(start, p.i); err != nil {
				return "", err
			}
			p.i++
			return string(raw), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	b := append([]byte(nil), p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			if err := p.checkUTF8(start, p.i); err != nil {
				return "", err
			}
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.errAt("in a string")
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errAt("in a \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := unicode.ReplacementChar
				if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != unicode.ReplacementChar {
							r2 = d
						} else {
							p.i = save
						}
					} else {
						p.i = save
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
		default:
			p.i--
			return "", p.errAt("in a string escape")
		}
	}
	return "", invalid("", "unexpected end of JSON input")
}

// checkUTF8 refuses a string whose raw bytes p.s[start:end] (escapes are
// ASCII) are not UTF-8, naming the member it is in and the offset of the
// first bad byte.
func (p *parser) checkUTF8(start, end int) error {
	raw := p.s[start:end]
	if utf8.Valid(raw) {
		return nil
	}
	i := 0
	for i < len(raw) {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	return invalid(p.where(), "a string is not valid UTF-8: byte 0x%02x at offset %d", raw[i], start+i)
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range p.s[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case *object:
		return "an object"
	}
	return "an unknown value"
}

func wrongType(where, want string, v any) error {
	return invalid(where, "want %s, got %s", want, typeName(v))
}

func join(where, k string) string {
	if where == "" {
		return k
	}
	return where + "." + k
}

func index(where string, i int) string { return where + "[" + strconv.Itoa(i) + "]" }

// str reads an optional string member.
func str(o *object, where, k string) (string, bool, error) {
	v, ok := o.get(k)
	if !ok || v == nil {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, wrongType(join(where, k), "a string", v)
	}
	return s, true, nil
}

func catID(where, s string) (occi.CategoryID, error) {
	id, err := render.ParseCategoryID(strings.TrimSpace(s))
	if err != nil {
		return occi.CategoryID{}, invalid(where, "%s", occi.ErrorMessage(err))
	}
	return id, nil
}

func optID(o *object, where, k string) (occi.CategoryID, error) {
	s, ok, err := str(o, where, k)
	if err != nil || !ok || s == "" {
		return occi.CategoryID{}, err
	}
	return catID(join(where, k), s)
}

// ids reads an optional array of type identifiers (a single string is
// tolerated).
func ids(o *object, where, k string) ([]occi.CategoryID, error) {
	v, ok := o.get(k)
	if !ok || v == nil {
		return nil, nil
	}
	w := join(where, k)
	if s, isStr := v.(string); isStr {
		id, err := catID(w, s)
		if err != nil {
			return nil, err
		}
		return []occi.CategoryID{id}, nil
	}
	a, isArr := v.([]any)
	if !isArr {
		return nil, wrongType(w, "an array of type identifiers", v)
	}
	if len(a) == 0 {
		return nil, nil
	}
	out := make([]occi.CategoryID, 0, len(a))
	for i, e := range a {
		s, isStr := e.(string)
		if !isStr {
			return nil, wrongType(index(w, i), "a type identifier string", e)
		}
		id, err := catID(index(w, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// canonical converts a parsed JSON value to the canonical attribute form:
// string, int64 (integer literals), float64 (other numbers), bool, []any,
// map[string]any; null stays nil.
func canonical(where string, v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return number(where, string(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := canonical(index(where, i), e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case *object:
		out := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			c, err := canonical(join(where, k), x.vals[k])
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	default:
		return v, nil
	}
}

func number(where, s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, invalid(where, "integer %s is out of range", render.Truncate(s, 40))
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, invalid(where, "number %s is out of range", render.Truncate(s, 40))
	}
	return f, nil
}

// attributes reads an "attributes" object into canonical values with
// legacy names mapped; null stays a nil value, which asks a partial update
// to unset the attribute.
func attributes(o *object, where string) (occi.Attributes, error) {
	v, ok := o.get("attributes")
	if !ok || v == nil {
		return nil, nil
	}
	w := join(where, "attributes")
	ao, isObj := v.(*object)
	if !isObj {
		return nil, wrongType(w, "an object", v)
	}
	if len(ao.keys) == 0 {
		return nil, nil
	}
	out := make(occi.Attributes, len(ao.keys))
	for _, k := range ao.keys {
		c, err := canonical(join(w, k), ao.vals[k])
		if err != nil {
			return nil, err
		}
		out[render.CanonicalAttribute(k)] = c
	}
	return out, nil
}

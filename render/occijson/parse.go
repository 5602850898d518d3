package occijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

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

type parser struct {
	dec   *json.Decoder
	count int
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
	p := &parser{dec: json.NewDecoder(bytes.NewReader(body))}
	p.dec.UseNumber()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, invalid("", "unexpected data after the JSON value at offset %d", p.dec.InputOffset())
	}
	return v, nil
}

func (p *parser) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("", "%s at offset %d", se.Error(), se.Offset)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("", "unexpected end of JSON input")
	}
	return invalid("", "%s at offset %d", err.Error(), p.dec.InputOffset())
}

func (p *parser) value(depth int) (any, error) {
	if depth > render.MaxDepth {
		return nil, invalid("", "values nested deeper than %d levels", render.MaxDepth)
	}
	p.count++
	if p.count > render.MaxItems*4 {
		return nil, invalid("", "more than %d values; split the request", render.MaxItems*4)
	}
	t, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := &object{vals: map[string]any{}}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, invalid("", "object key expected at offset %d", p.dec.InputOffset())
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return o, nil
		case '[':
			a := []any{}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return a, nil
		}
		return nil, invalid("", "unexpected %q at offset %d", x, p.dec.InputOffset())
	default:
		return t, nil
	}
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
// legacy names mapped; null values are dropped (null means unset).
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
		if ao.vals[k] == nil {
			continue
		}
		c, err := canonical(join(w, k), ao.vals[k])
		if err != nil {
			return nil, err
		}
		out[render.CanonicalAttribute(k)] = c
	}
	return out, nil
}

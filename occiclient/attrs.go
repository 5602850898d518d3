package occiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/occid/occi"
)

// ParseValue reads an attribute value written on a command line, inferring
// its type: "null" is nil (which unsets an attribute in an update), "true"
// and "false" are booleans, a whole number is an int64, a decimal number
// (1.5, 2e3) a float64, a JSON array or object ([1,2], {"a":1}) a []any or
// map[string]any, a double-quoted string ("42") the string inside the
// quotes, and anything else the string as it is.
func ParseValue(s string) (any, error) {
	switch s {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if looksNumeric(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return nil, errorf(occi.InvalidArgument, "value %s: bad quoted string (use Go/JSON escapes)", s)
		}
		return u, nil
	}
	if len(s) >= 2 && (s[0] == '[' || s[0] == '{') {
		return parseJSON(s)
	}
	return s, nil
}

// looksNumeric reports whether s is written like a number (so that words
// such as "Inf" or "NaN" stay strings).
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '.', r == 'e', r == 'E':
		case (r == '-' || r == '+') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return false
		}
	}
	return true
}

func parseJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, errorf(occi.InvalidArgument, "value %s: not valid JSON", s)
	}
	return canonical(v), nil
}

// canonical turns decoded JSON into occi's canonical value types.
func canonical(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = canonical(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = canonical(x[k])
		}
		return x
	}
	return v
}

// ParseAttribute splits "name=value" and reads the value with ParseValue.
func ParseAttribute(s string) (string, any, error) {
	name, raw, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", nil, errorf(occi.InvalidArgument, "attribute %q: want name=value", s)
	}
	v, err := ParseValue(raw)
	if err != nil {
		return "", nil, errorf(occi.InvalidArgument, "attribute %s: %v", name, err)
	}
	return name, v, nil
}

// Value reads raw as a value of the attribute def: a string-like type
// (string, enum, URI, IP, CIDR, datetime) takes raw as it is (without
// surrounding double quotes, if any), integer, float and boolean must
// parse as such, and list and hash must be JSON. "null" is nil for every
// type.
func Value(def occi.AttributeDef, raw string) (any, error) {
	if raw == "null" {
		return nil, nil
	}
	bad := func(want string) (any, error) {
		return nil, errorf(occi.InvalidArgument, "attribute %s: %q is not %s", def.Name, raw, want)
	}
	switch def.Type {
	case occi.TypeInteger:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return bad("a whole number")
		}
		return n, nil
	case occi.TypeFloat:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || !looksNumeric(raw) {
			return bad("a number")
		}
		return f, nil
	case occi.TypeBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("true or false")
		}
		return b, nil
	case occi.TypeList, occi.TypeHash:
		v, err := parseJSON(raw)
		if err != nil {
			return nil, errorf(occi.InvalidArgument, "attribute %s: %v", def.Name, err)
		}
		if _, ok := v.([]any); def.Type == occi.TypeList && !ok {
			return bad("a JSON array")
		}
		if _, ok := v.(map[string]any); def.Type == occi.TypeHash && !ok {
			return bad("a JSON object")
		}
		return v, nil
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if u, err := strconv.Unquote(raw); err == nil {
			return u, nil
		}
	}
	return raw, nil
}

// Attributes reads "name=value" pairs into attributes. Each value is read
// as the type the server defines for the attribute (learnt from its JSON
// discovery, since the text renderings do not carry types), so that
// occi.compute.hostname=42 is a string and occi.compute.memory=4 a float;
// attributes the server does not define, or every attribute when the
// server has no JSON rendering, get the type ParseValue infers.
func (c *Client) Attributes(ctx context.Context, pairs []string) (occi.Attributes, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	var defs map[string]occi.AttributeDef
	if d, err := c.discovery(ctx, c.json); err == nil {
		defs = AttributeDefs(d)
	} else if FromServer(err) && occi.ErrorCode(err) != occi.InvalidArgument {
		return nil, err
	}
	out := occi.Attributes{}
	for _, p := range pairs {
		name, raw, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, errorf(occi.InvalidArgument, "attribute %q: want name=value", p)
		}
		if def, known := defs[name]; known {
			v, err := Value(def, raw)
			if err != nil {
				return nil, err
			}
			out[name] = v
			continue
		}
		v, err := ParseValue(raw)
		if err != nil {
			return nil, errorf(occi.InvalidArgument, "attribute %s: %v", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// FormatValue writes an attribute value the way ParseValue reads it back:
// strings as they are, numbers and booleans in Go syntax, lists and hashes
// as JSON, nil as "null".
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	return strings.TrimSpace(b.String())
}

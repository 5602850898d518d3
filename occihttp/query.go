package occihttp

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/occid/occi"
)

// Query parameters the server understands. Any other parameter whose name
// contains a dot is an attribute filter (occi.compute.state=active).
const (
	paramAction   = "action"
	paramPage     = "page"
	paramNumber   = "number"
	paramCategory = "category"
)

// query is a parsed request query string.
type query struct {
	action     string
	hasAction  bool
	page       int
	number     int
	categories []string // type identifiers or bare terms, in order
	attrs      occi.Attributes
	names      []string // every parameter name, in order, for "unexpected parameter" errors
}

// parseQuery parses a raw query string. Parameters may be separated by '&'
// or ';' (GFD.223 shows "?page=1;number=100"). page counts from 1, number is
// a positive page size; category may repeat and may hold several values
// separated by commas; a parameter whose name contains a dot filters on that
// attribute, its value typed like a text rendering value (quoted: string;
// true/false: boolean; a number: integer or float; else a string).
func parseQuery(raw string) (*query, error) {
	q := &query{}
	if raw == "" {
		return q, nil
	}
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, occi.Errorf(occi.InvalidArgument, "query parameter %q: bad escape", clip(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, occi.Errorf(occi.InvalidArgument, "query parameter %q: bad escape in value %q", clip(name), clip(v))
		}
		q.names = append(q.names, name)
		switch {
		case name == paramAction:
			if q.hasAction {
				return nil, occi.Errorf(occi.InvalidArgument, "query parameter action given twice")
			}
			if !occi.ValidTerm(val) {
				return nil, occi.Errorf(occi.InvalidArgument, "query parameter action=%q is not a valid action term", clip(val))
			}
			q.action, q.hasAction = val, true
		case name == paramPage:
			if q.page > 0 {
				return nil, occi.Errorf(occi.InvalidArgument, "query parameter page given twice")
			}
			n, err := positive(name, val)
			if err != nil {
				return nil, err
			}
			q.page = n
		case name == paramNumber:
			if q.number > 0 {
				return nil, occi.Errorf(occi.InvalidArgument, "query parameter number given twice")
			}
			n, err := positive(name, val)
			if err != nil {
				return nil, err
			}
			q.number = n
		case name == paramCategory:
			for _, c := range strings.Split(val, ",") {
				c = strings.TrimSpace(c)
				if c == "" {
					return nil, occi.Errorf(occi.InvalidArgument, "query parameter category has an empty value")
				}
				q.categories = append(q.categories, c)
			}
		case strings.Contains(name, "."):
			if q.attrs == nil {
				q.attrs = occi.Attributes{}
			}
			if _, dup := q.attrs[name]; dup {
				return nil, occi.Errorf(occi.InvalidArgument, "query parameter %q given twice (an attribute filter takes one value)", clip(name))
			}
			q.attrs[name] = typedValue(val)
		default:
			return nil, occi.Errorf(occi.InvalidArgument,
				"unknown query parameter %q; this server understands action, page, number, category and attribute names such as occi.compute.state", clip(name))
		}
	}
	return q, nil
}

func positive(name, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return 0, occi.Errorf(occi.InvalidArgument, "query parameter %s=%q: want a whole number of at least 1", name, clip(val))
	}
	return n, nil
}

// typedValue types a filter value the way the text rendering types attribute
// values: a quoted string is a string, true and false are booleans, numbers
// are int64 or float64, anything else is the string itself.
func typedValue(s string) any {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN") {
		return f
	}
	return s
}

// encodeQuery renders parameters for a client request, in a stable order.
func encodeQuery(q *query) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	if q.hasAction {
		add(paramAction, q.action)
	}
	if q.page > 0 {
		add(paramPage, strconv.Itoa(q.page))
	}
	if q.number > 0 {
		add(paramNumber, strconv.Itoa(q.number))
	}
	for _, c := range q.categories {
		add(paramCategory, c)
	}
	for _, k := range slices.Sorted(maps.Keys(q.attrs)) {
		add(k, formatValue(q.attrs[k]))
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	default:
		return ""
	}
}

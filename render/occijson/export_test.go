package occijson

// ParsePlain parses body with the package's JSON parser and returns the
// value with objects as map[string]any, for differential tests against
// encoding/json.
func ParsePlain(body []byte) (any, error) {
	v, err := parse(body)
	if err != nil {
		return nil, err
	}
	return plain(v), nil
}

func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			m[k] = plain(x.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

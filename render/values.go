package render

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/occid/occi"
)

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal. Control characters
// are escaped (\n, \r, \t, \uXXXX), as are U+2028 and U+2029; invalid UTF-8
// is replaced by U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendJSONStringContent(b, s)
	return append(b, '"')
}

// AppendJSONStringContent appends s escaped as in AppendJSONString, without
// the surrounding quotes.
func AppendJSONStringContent(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// AppendFloat appends f in plain decimal notation that always has a decimal
// point (4 → "4.0", 1.5 → "1.5"), so that every rendering tells a float from
// an integer. NaN and infinities cannot be rendered and give an error.
func AppendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, occi.Errorf(occi.Internal, "the float value %v cannot be rendered", f)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b, nil
		}
	}
	return append(b, '.', '0'), nil
}

// AppendJSONValue appends an attribute value in its canonical Go form
// (string, int64, float64, bool, []any, map[string]any; other Go integer and
// float types and nil are tolerated) as JSON. Object keys are sorted;
// floats keep a decimal point. An unsupported type is an occi.Internal
// error.
func AppendJSONValue(b []byte, v any) ([]byte, error) {
	return appendJSONValue(b, v, 0)
}

func appendJSONValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, occi.Errorf(occi.Internal, "attribute value nested deeper than %d levels", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return AppendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		return AppendFloat(b, x)
	case float32:
		return AppendFloat(b, float64(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, e)
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSONValue(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case occi.Attributes:
		return appendJSONValue(b, map[string]any(x), depth)
	default:
		return b, occi.Errorf(occi.Internal, "attribute value of type %T cannot be rendered", v)
	}
}

// SortedKeys returns the keys of a in ascending order, appended to buf
// (which may be nil) to let callers reuse storage.
func SortedKeys(buf []string, a map[string]any) []string {
	for k := range a {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// CodeByName returns the error code with the given name ("NotFound"), or,
// for an HTTP status given as a number, the code the status stands for;
// Internal if neither.
func CodeByName(name string) occi.Code {
	for c := occi.OK; c <= occi.PreconditionFailed; c++ {
		if c.String() == name {
			return c
		}
	}
	if n, err := strconv.Atoi(name); err == nil {
		switch n {
		case 400:
			return occi.InvalidArgument
		case 401:
			return occi.Unauthenticated
		case 403:
			return occi.PermissionDenied
		case 404:
			return occi.NotFound
		case 405:
			return occi.MethodNotAllowed
		case 409:
			return occi.Conflict
		case 412:
			return occi.PreconditionFailed
		case 413:
			return occi.TooLarge
		case 501:
			return occi.Unimplemented
		case 503:
			return occi.Unavailable
		}
	}
	return occi.Internal
}

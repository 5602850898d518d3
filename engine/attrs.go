package engine

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/infra"
)

var patterns sync.Map // string -> *regexp.Regexp or error

func compiled(p string) (*regexp.Regexp, error) {
	if v, ok := patterns.Load(p); ok {
		if re, ok := v.(*regexp.Regexp); ok {
			return re, nil
		}
		return nil, v.(error)
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		patterns.Store(p, err)
		return nil, err
	}
	patterns.Store(p, re)
	return re, nil
}

// coerce converts v to the canonical Go form of d's type, or returns an
// InvalidArgument error naming the attribute. where says what is being set
// ("attribute", "parameter").
func coerce(d occi.AttributeDef, v any, where string) (any, error) {
	bad := func(want string) error {
		return occi.Errorf(occi.InvalidArgument, "%s %s must be %s, got %s", where, d.Name, want, describe(v))
	}
	var out any
	switch d.Type {
	case occi.TypeInteger:
		n, ok := toInt(v)
		if !ok {
			return nil, bad("an integer")
		}
		if r, ok := infra.Ranges[d.Name]; ok && (n < r.Min || n > r.Max) {
			return nil, occi.Errorf(occi.InvalidArgument, "%s %s must be between %d and %d, got %d", where, d.Name, r.Min, r.Max, n)
		}
		out = n
	case occi.TypeFloat:
		f, ok := toFloat(v)
		if !ok {
			return nil, bad("a number")
		}
		out = f
	case occi.TypeBool:
		switch x := v.(type) {
		case bool:
			out = x
		case string:
			switch strings.ToLower(x) {
			case "true":
				out = true
			case "false":
				out = false
			default:
				return nil, bad("true or false")
			}
		default:
			return nil, bad("true or false")
		}
	case occi.TypeList:
		x, ok := v.([]any)
		if !ok {
			return nil, bad("a list")
		}
		out = x
	case occi.TypeHash:
		x, ok := v.(map[string]any)
		if !ok {
			return nil, bad("a hash")
		}
		out = x
	default:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		switch d.Type {
		case occi.TypeEnum:
			if len(d.Enum) > 0 && !slices.Contains(d.Enum, s) {
				return nil, occi.Errorf(occi.InvalidArgument, "%s %s must be one of %s, got %q", where, d.Name, strings.Join(d.Enum, ", "), s)
			}
		case occi.TypeIP:
			if _, err := netip.ParseAddr(s); err != nil {
				if _, err := netip.ParsePrefix(s); err != nil {
					return nil, bad("an IPv4 or IPv6 address")
				}
			}
		case occi.TypeCIDR:
			if _, err := netip.ParsePrefix(s); err != nil {
				return nil, bad("an IP range in CIDR notation such as 192.168.0.0/24")
			}
		case occi.TypeURI:
			if _, err := url.Parse(s); err != nil || s == "" || strings.ContainsAny(s, " \t\r\n") {
				return nil, bad("a URI")
			}
		case occi.TypeDatetime:
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return nil, bad("an RFC 3339 date and time")
			}
		}
		out = s
	}
	if d.Pattern != "" {
		if s, ok := out.(string); ok {
			re, err := compiled(d.Pattern)
			if err == nil && !re.MatchString(s) {
				return nil, occi.Errorf(occi.InvalidArgument, "%s %s must match the pattern %s, got %q", where, d.Name, d.Pattern, s)
			}
		}
	}
	if err := checkValue(d, out, where); err != nil {
		return nil, err
	}
	return out, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("%v (%T)", x, x)
	}
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint32:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case float32:
		return toInt(float64(x))
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return toFloat(float64(x))
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
		return toFloat(f)
	}
	return 0, false
}

// sameValue reports whether two attribute values are equal, allowing for
// numbers of different Go types and numbers sent as strings.
func sameValue(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	fa, oka := toFloat(a)
	fb, okb := toFloat(b)
	if oka && okb {
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

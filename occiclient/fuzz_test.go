package occiclient

import (
	"reflect"
	"testing"

	"github.com/occid/occi"
)

// FuzzParseValue checks that any value is read or refused with an
// InvalidArgument error, into a canonical type, and that FormatValue of a
// number, boolean or null reads back equal.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"42", "-1.5e3", "true", "null", `"42"`, `[1,"a",{"b":null}]`, `{"a":1}`, "web 1", "1e999", `"\x"`, "[1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseValue(s)
		if err != nil {
			if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Fatalf("ParseValue(%q): error %v, want InvalidArgument", s, err)
			}
			return
		}
		if !canonicalValue(v) {
			t.Fatalf("ParseValue(%q) = %#v, not a canonical value", s, v)
		}
		switch v.(type) {
		case nil, bool, int64:
			back, err := ParseValue(FormatValue(v))
			if err != nil || !reflect.DeepEqual(back, v) {
				t.Fatalf("ParseValue(FormatValue(%#v)) = %#v, %v", v, back, err)
			}
		}
	})
}

// FuzzValue checks that reading a value as each attribute type never
// panics and yields that type or an InvalidArgument error.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"2", "2.5", "true", "[1]", `{"a":[]}`, `"quoted"`, "x", "null"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, typ uint8) {
		def := occi.AttributeDef{Name: "x", Type: occi.AttrType(typ % 11)}
		v, err := Value(def, s)
		if err != nil {
			if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Fatalf("Value(%v, %q): error %v, want InvalidArgument", def.Type, s, err)
			}
			return
		}
		if v == nil {
			return
		}
		ok := false
		switch def.Type {
		case occi.TypeInteger:
			_, ok = v.(int64)
		case occi.TypeFloat:
			_, ok = v.(float64)
		case occi.TypeBool:
			_, ok = v.(bool)
		case occi.TypeList:
			_, ok = v.([]any)
		case occi.TypeHash:
			_, ok = v.(map[string]any)
		default:
			_, ok = v.(string)
		}
		if !ok || !canonicalValue(v) {
			t.Fatalf("Value(%v, %q) = %#v, want a canonical %v", def.Type, s, v, def.Type)
		}
	})
}

func canonicalValue(v any) bool {
	switch x := v.(type) {
	case nil, string, int64, float64, bool:
		return true
	case []any:
		for _, e := range x {
			if !canonicalValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !canonicalValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

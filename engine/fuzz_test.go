package engine

import (
	"net/url"
	"strings"
	"testing"

	"github.com/occid/occi"
)

// FuzzCoerce feeds attribute values, as a text rendering delivers them
// (strings), to every attribute type: coerce must never panic, and what it
// accepts must be canonical and accepted again unchanged.
func FuzzCoerce(f *testing.F) {
	for _, s := range []string{"2", "2.5", "-1", "1e3", "true", "FALSE", "x64", "10.0.0.0/24", "fc00::/7", "10.0.0.1", "::1", "2026-12-03T17:00:00Z", "http://example.com/a", "", " 3 ", "NaN", "Inf", "999999999999999999999"} {
		f.Add(s)
	}
	types := []occi.AttrType{occi.TypeString, occi.TypeInteger, occi.TypeFloat, occi.TypeBool, occi.TypeEnum, occi.TypeURI, occi.TypeIP, occi.TypeCIDR, occi.TypeDatetime, occi.TypeList, occi.TypeHash}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			d := occi.AttributeDef{Name: "com.example.x", Type: typ, Enum: []string{"x86", "x64"}}
			v, err := coerce(d, s, "attribute")
			if err != nil {
				if occi.ErrorCode(err) != occi.InvalidArgument || !strings.Contains(occi.ErrorMessage(err), "com.example.x") {
					t.Fatalf("type %v, %q: error %v should be InvalidArgument naming the attribute", typ, s, err)
				}
				continue
			}
			switch v.(type) {
			case string, int64, float64, bool:
			default:
				t.Fatalf("type %v, %q: value %#v is not canonical", typ, s, v)
			}
			again, err := coerce(d, v, "attribute")
			if err != nil || !sameValue(again, v) {
				t.Fatalf("type %v: canonical value %#v not accepted again: %v, %v", typ, v, again, err)
			}
		}
	})
}

// FuzzEntityPath checks the path rules for client-chosen ids and tag
// locations: no accepted id or location may contain a path trick.
func FuzzEntityPath(f *testing.F) {
	for _, s := range []string{"my-vm", "my.vm", ".", "..", "a/b", "a?b", "a#b", "%2e%2e", "%zz", "x:y@z", "a\x00b", "/users/alice/tags/web/", "/users/alice/tags/../bob/", "/users/alice/tags//x/", "%61comp", "v,urn:c1", "é☃"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validSegment(s) == nil {
			if s == "." || s == ".." || strings.ContainsAny(s, "/?# \\%,") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("validSegment accepted %q", s)
			}
		}
		loc := "/users/alice/tags/" + s
		if checkTagLocation(loc, "/users/alice/tags/") == nil {
			if strings.Contains(loc, "..") || strings.Contains(loc, "//") || strings.ContainsAny(loc, "?#") || !strings.HasSuffix(loc, "/") {
				t.Fatalf("checkTagLocation accepted %q", loc)
			}
		}
		_ = idSegment(s)
		if seg := occi.UserSegment(s); seg == "" || seg == "." || seg == ".." || url.PathEscape(seg) != seg {
			t.Fatalf("UserSegment(%q) = %q, not a path segment that reads the same escaped", s, seg)
		}
		_ = renderID(s)
	})
}

package rowcodec

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

func TestAttributeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"int64", int64(2)},
		{"whole float", 2.0},
		{"negative zero", math.Copysign(0, -1)},
		{"big exponent", 1e21},
		{"small exponent", 1e-7},
		{"max int", int64(math.MaxInt64)},
		{"nan", math.NaN()},
		{"inf", math.Inf(-1)},
		{"string", "ü\x00\""},
		{"list", []any{int64(1), 1.0, nil, true}},
		{"hash", map[string]any{"\x00f": "NaN", "\x00k": int64(1), "a": map[string]any{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &occi.Entity{Location: "/x", Attributes: occi.Attributes{"v": tc.v}}
			row, err := EncodeEntity(e)
			if err != nil {
				t.Fatalf("EncodeEntity: %v", err)
			}
			got, err := DecodeEntity("/x", "", "", 1, row.Body)
			if err != nil {
				t.Fatalf("DecodeEntity(%s): %v", row.Body, err)
			}
			if diff := cmp.Diff(tc.v, got.Attributes["v"], cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("round trip of %s (-want +got):\n%s", row.Body, diff)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		e    *occi.Entity
	}{
		{"no location", &occi.Entity{}},
		{"NUL in location", &occi.Entity{Location: "/a\x00b"}},
		{"invalid UTF-8 title", &occi.Entity{Location: "/a", Title: "\xff"}},
		{"invalid UTF-8 attribute", &occi.Entity{Location: "/a", Attributes: occi.Attributes{"x": "\xfe"}}},
		{"unsupported type", &occi.Entity{Location: "/a", Attributes: occi.Attributes{"x": struct{}{}}}},
		{"nested unsupported type", &occi.Entity{Location: "/a", Attributes: occi.Attributes{"x": []any{uint8(1)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeEntity(tc.e)
			if got := occi.ErrorCode(err); got != occi.InvalidArgument {
				t.Errorf("EncodeEntity: got %v (code %v), want InvalidArgument", err, got)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/compute/", "/compute0", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"\uD7FF", "\uE000", true},
	}
	for _, tc := range tests {
		got, ok := PrefixEnd(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PrefixEnd(%q): got %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSelectRejectsBadQueries(t *testing.T) {
	for _, q := range []store.Query{{Limit: -1}, {Offset: -3}, {Owner: "\xff"}, {After: "a\x00"}} {
		if got := occi.ErrorCode(CheckQuery(q)); got != occi.InvalidArgument {
			t.Errorf("CheckQuery(%+v): got code %v, want InvalidArgument", q, got)
		}
	}
}

// FuzzDecodeEntity feeds arbitrary stored bodies to the decoder: it must
// return an entity or an error, never panic; and what it returns must
// encode and decode to itself.
func FuzzDecodeEntity(f *testing.F) {
	for _, e := range []*occi.Entity{
		{Location: "/c/1", Kind: occi.CategoryID{Scheme: "s#", Term: "t"}, Attributes: occi.Attributes{"a": int64(1), "b": 1.0, "c": []any{"x"}}},
		{Location: "/c/2", Attributes: occi.Attributes{"n": math.NaN(), "h": map[string]any{"\x00k": true}}},
	} {
		row, _ := EncodeEntity(e)
		f.Add(row.Body)
	}
	f.Add([]byte(`{"attrs":{"x":{"\u0000f":"bogus"}}}`))
	f.Add([]byte(`{"attrs":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := DecodeEntity("/f", "o", "", 1, body)
		if err != nil {
			return
		}
		row, err := EncodeEntity(e)
		if err != nil {
			return // e.g. invalid UTF-8 that json decoding let through
		}
		again, err := DecodeEntity("/f", "o", "", 1, row.Body)
		if err != nil {
			t.Fatalf("decoding re-encoded %s: %v", row.Body, err)
		}
		if diff := cmp.Diff(e, again, cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("re-encoded entity differs (-first +second):\n%s", diff)
		}
	})
}

func BenchmarkDecodeEntity(b *testing.B) {
	e := &occi.Entity{Location: "/compute/1", Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"},
		Attributes: occi.Attributes{"occi.compute.architecture": "x64", "occi.compute.cores": int64(2), "occi.compute.share": int64(1),
			"occi.compute.hostname": "vm-1", "occi.compute.speed": 2.4, "occi.compute.memory": 4.0,
			"occi.compute.state": "active", "occi.compute.state.message": ""}}
	row, _ := EncodeEntity(e)
	for b.Loop() {
		if _, err := DecodeEntity("/compute/1", "", "", 1, row.Body); err != nil {
			b.Fatal(err)
		}
	}
}

package render_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

// TestLocationLines checks the promise of render.LocationLines for every
// codec that makes it: a collection renders as its members' locations do,
// and a list of locations renders as the concatenation of its parts.
func TestLocationLines(t *testing.T) {
	locs := []string{"/compute/a", "/compute/b c", "/storage/ü", "http://elsewhere.example/x", "/network/n1"}
	es := make([]*occi.Entity, len(locs))
	for i, l := range locs {
		es[i] = &occi.Entity{Location: l, Kind: occi.ResourceKind, Title: "ignored", Attributes: occi.Attributes{"a": "b"}}
	}
	encode := func(t *testing.T, f func(w *render.Writer) error) (http.Header, string) {
		t.Helper()
		var buf bytes.Buffer
		h := http.Header{}
		if err := f(&render.Writer{Header: h, Body: &buf, Base: rendertest.Base}); err != nil {
			t.Fatalf("encode: %v", err)
		}
		return h, buf.String()
	}
	tests := []struct {
		name  string
		codec render.Codec
		want  bool
	}{
		{"text/plain", occitext.Plain(), true},
		{"text/uri-list", urilist.New(), true},
		{"text/occi", occitext.Headers(), false},
		{"json", occijson.New(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ll, ok := tc.codec.(render.LocationLines)
			if got := ok && ll.LocationLines(); got != tc.want {
				t.Fatalf("LocationLines: got %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			ch, coll := encode(t, func(w *render.Writer) error { return tc.codec.EncodeCollection(w, es) })
			lh, whole := encode(t, func(w *render.Writer) error { return tc.codec.EncodeLocations(w, locs) })
			if coll != whole {
				t.Errorf("EncodeCollection body %q, EncodeLocations body %q; want them equal", coll, whole)
			}
			if ch.Get("Content-Type") != tc.codec.MediaType() || len(ch) != 1 || len(lh) != 1 {
				t.Errorf("headers: collection %v, locations %v; want only Content-Type %s", ch, lh, tc.codec.MediaType())
			}
			for cut := 0; cut <= len(locs); cut++ {
				_, a := encode(t, func(w *render.Writer) error { return tc.codec.EncodeLocations(w, locs[:cut]) })
				_, b := encode(t, func(w *render.Writer) error { return tc.codec.EncodeLocations(w, locs[cut:]) })
				if a+b != whole {
					t.Errorf("parts cut at %d: got %q, want %q", cut, a+b, whole)
				}
			}
			_, empty := encode(t, func(w *render.Writer) error { return tc.codec.EncodeCollection(w, nil) })
			if empty != "" {
				t.Errorf("empty collection: got body %q, want none", empty)
			}
		})
	}
}

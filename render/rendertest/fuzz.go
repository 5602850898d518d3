package rendertest

import (
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// CheckDecoders runs every decoder of c on r, as a fuzz target does: no
// decoder may panic or fail with anything but InvalidArgument, and what a
// decoder accepts must survive being encoded and decoded again (up to what
// the codec carries, see Fidelity).
func CheckDecoders(t *testing.T, c render.Codec, f Fidelity, r *render.Reader) {
	t.Helper()
	bad := func(what string, err error) bool {
		t.Helper()
		if err == nil {
			return false
		}
		if occi.ErrorCode(err) != occi.InvalidArgument {
			t.Fatalf("%s: got %v (code %v), want nil or InvalidArgument", what, err, occi.ErrorCode(err))
		}
		if msg := occi.ErrorMessage(err); msg == "" || len(msg) > 2000 {
			t.Fatalf("%s: message of %d bytes: %q", what, len(msg), render.Truncate(msg, 300))
		}
		return true
	}
	again := func(what string, encode func(w *render.Writer) error) *render.Reader {
		t.Helper()
		w, buf := Writer()
		if err := encode(w); err != nil {
			t.Fatalf("%s: encoding what was decoded: %v", what, err)
		}
		return ReaderFrom(w, buf.Bytes())
	}

	if e, err := c.DecodeEntity(r); !bad("DecodeEntity", err) {
		if e == nil {
			t.Fatal("DecodeEntity returned nil without an error")
		}
		r2 := again("DecodeEntity", func(w *render.Writer) error { return c.EncodeEntity(w, e) })
		e2, err := c.DecodeEntity(r2)
		if err != nil {
			t.Fatalf("decoding the re-encoded entity: %v\n%s%v", err, r2.Body, r2.Header)
		}
		if d := Diff(NormalizeEntity(e, f), e2); d != "" {
			t.Fatalf("entity changed on re-encoding (-first +second):\n%s\n%s%v", d, r2.Body, r2.Header)
		}
	}
	if es, err := c.DecodeEntities(r); !bad("DecodeEntities", err) {
		located := true
		for _, e := range es {
			if e == nil {
				t.Fatal("DecodeEntities returned a nil entity")
			}
			located = located && e.Location != ""
		}
		if located || !(f.CollectionLocations || f.LocationsOnly) {
			r2 := again("DecodeEntities", func(w *render.Writer) error { return c.EncodeCollection(w, es) })
			es2, err := c.DecodeEntities(r2)
			if err != nil {
				t.Fatalf("decoding the re-encoded collection: %v\n%s", err, r2.Body)
			}
			if d := Diff(NormalizeCollection(es, f), es2); d != "" {
				t.Fatalf("collection changed on re-encoding (-first +second):\n%s", d)
			}
		}
	}
	if locs, err := c.DecodeLocations(r); !bad("DecodeLocations", err) {
		for _, l := range locs {
			if !strings.HasPrefix(l, "/") {
				t.Fatalf("DecodeLocations returned %q, want a path", l)
			}
		}
		r2 := again("DecodeLocations", func(w *render.Writer) error { return c.EncodeLocations(w, locs) })
		locs2, err := c.DecodeLocations(r2)
		if err != nil {
			t.Fatalf("decoding the re-encoded locations: %v\n%s", err, r2.Body)
		}
		if d := Diff(locs, locs2); d != "" {
			t.Fatalf("locations changed on re-encoding (-first +second):\n%s", d)
		}
	}
	if d, err := c.DecodeDiscovery(r); !bad("DecodeDiscovery", err) {
		r2 := again("DecodeDiscovery", func(w *render.Writer) error { return c.EncodeDiscovery(w, d) })
		d2, err := c.DecodeDiscovery(r2)
		if err != nil {
			t.Fatalf("decoding the re-encoded discovery: %v\n%s", err, r2.Body)
		}
		if diff := Diff(NormalizeDiscovery(d, f), d2); diff != "" {
			t.Fatalf("discovery changed on re-encoding (-first +second):\n%s", diff)
		}
	}
	if ms, err := c.DecodeMixins(r); !bad("DecodeMixins", err) {
		for _, m := range ms {
			r2 := again("DecodeMixins", func(w *render.Writer) error { return c.EncodeMixin(w, m) })
			ms2, err := c.DecodeMixins(r2)
			if err != nil {
				t.Fatalf("decoding the re-encoded mixin: %v\n%s", err, r2.Body)
			}
			if d := Diff([]*occi.Mixin{NormalizeMixin(m, f)}, ms2); d != "" {
				t.Fatalf("mixin changed on re-encoding (-first +second):\n%s", d)
			}
		}
	}
	if inv, err := c.DecodeAction(r); !bad("DecodeAction", err) {
		r2 := again("DecodeAction", func(w *render.Writer) error { return c.EncodeAction(w, inv) })
		inv2, err := c.DecodeAction(r2)
		if err != nil {
			t.Fatalf("decoding the re-encoded action: %v\n%s", err, r2.Body)
		}
		if d := Diff(NormalizeAction(inv, f), inv2); d != "" {
			t.Fatalf("action changed on re-encoding (-first +second):\n%s", d)
		}
	}
	_, _, err := c.DecodeFilter(r)
	bad("DecodeFilter", err)
	if _, _, err := c.DecodeError(r); err != nil {
		t.Fatalf("DecodeError: %v", err)
	}
}

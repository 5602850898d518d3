package occitext_test

import (
	"strings"
	"testing"

	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

// TestHeadersNeverTruncate checks that a large text/occi collection is
// spread over many X-OCCI-Location header lines within the per-line
// limits, with every location present.
func TestHeadersNeverTruncate(t *testing.T) {
	es := rendertest.Large(10000)
	w, buf := rendertest.Writer()
	if err := occitext.Headers().EncodeCollection(w, es); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "OK" {
		t.Errorf("got body %q, want OK", got)
	}
	lines := w.Header[occitext.HeaderLocation]
	if len(lines) != 200 {
		t.Errorf("got %d header lines, want 200", len(lines))
	}
	n := 0
	for i, l := range lines {
		if len(l) > occitext.MaxBytesPerHeader {
			t.Errorf("line %d has %d bytes, want at most %d", i, len(l), occitext.MaxBytesPerHeader)
		}
		vs := strings.Split(l, ", ")
		if len(vs) > occitext.MaxValuesPerHeader {
			t.Errorf("line %d has %d values, want at most %d", i, len(vs), occitext.MaxValuesPerHeader)
		}
		for _, v := range vs {
			if want := rendertest.Base + es[n].Location; v != want {
				t.Fatalf("value %d is %q, want %q", n, v, want)
			}
			n++
		}
	}
	if n != len(es) {
		t.Errorf("got %d locations, want %d", n, len(es))
	}
}

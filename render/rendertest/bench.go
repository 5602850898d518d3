package rendertest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/occid/occi/render"
)

// Bench runs the codec benchmarks: encoding one compute resource and a
// 10,000-entity collection, and decoding the compute back. Allocations are
// reported.
func Bench(b *testing.B, c render.Codec) {
	compute := NewCompute()
	large := Large(10000)
	var buf bytes.Buffer
	w := &render.Writer{Header: http.Header{}, Body: &buf, Base: Base}
	entities := c.EncodeEntity(w, compute) == nil
	b.Run("EncodeCollection10k", func(b *testing.B) {
		b.ReportAllocs()
		w := &render.Writer{Header: http.Header{}, Body: io.Discard, Base: Base}
		for b.Loop() {
			clear(w.Header)
			if err := c.EncodeCollection(w, large); err != nil {
				b.Fatal(err)
			}
		}
	})
	if !entities {
		return // the codec renders no entities
	}
	b.Run("EncodeEntity", func(b *testing.B) {
		b.ReportAllocs()
		w := &render.Writer{Header: http.Header{}, Body: io.Discard, Base: Base}
		for b.Loop() {
			clear(w.Header)
			if err := c.EncodeEntity(w, compute); err != nil {
				b.Fatal(err)
			}
		}
	})
	r := ReaderFrom(w, buf.Bytes())
	b.Run("DecodeEntity", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.DecodeEntity(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

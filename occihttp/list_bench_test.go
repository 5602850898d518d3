package occihttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/store/sqlitestore"
)

// BenchmarkListComputes measures GET /compute/ over the engine (SQLite,
// sim backend) with 500 computes, in each rendering: the whole server path
// a client listing a large collection takes.
func BenchmarkListComputes(b *testing.B) {
	drv, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlitestore.Open(filepath.Join(b.TempDir(), "occid.db"))
	if err != nil {
		b.Fatal(err)
	}
	// As occid runs: SQLite, observations refreshed when older than the
	// default interval.
	e, err := engine.New(engine.Config{Store: st, Driver: drv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(); drv.Close(); st.Close() })
	ctx := context.Background()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	for i := range 500 {
		if _, err := e.Create(ctx, "/compute/", &occi.Entity{Kind: compute, Title: fmt.Sprintf("vm-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	h := occihttp.NewServer(e, occihttp.Options{Negotiator: render.NewNegotiator(codecs()...)})
	for _, mt := range []string{"text/plain", "application/occi+json"} {
		b.Run(mt, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", "/compute/?number=500", nil)
				r.Header.Set("Accept", mt)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("got status %d, want 200", w.Code)
				}
			}
		})
	}
}

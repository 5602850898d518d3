package occihttp_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/occitest"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/memstore"
	"github.com/occid/occi/store/sqlitestore"
)

// codecs are occid's renderings, text/plain first (the default).
func codecs() []render.Codec {
	return []render.Codec{occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New()}
}

// userHeader carries the suite's identity from client to server in these
// tests only; authentication proper is the auth package's.
const userHeader = "X-Test-User"

// identityTransport sends the identity of each request's context.
type identityTransport struct{ next http.RoundTripper }

func (t identityTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(userHeader, occi.IdentityFrom(r.Context()).User)
	return t.next.RoundTrip(r)
}

// withTestIdentity puts the identity named by userHeader in the context.
func withTestIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get(userHeader); u != "" {
			r = r.WithContext(occi.WithIdentity(r.Context(), occi.Identity{User: u}))
		}
		next.ServeHTTP(w, r)
	})
}

// TestConformanceOverHTTP runs the service conformance suite through
// occihttp.Client against an occihttp.Server over the engine (memstore and
// the sim backend), once per rendering.
func TestConformanceOverHTTP(t *testing.T) {
	conformanceOverHTTP(t, func(t *testing.T) store.Store { return memstore.New() }, -1, false)
}

// TestConformanceOverHTTPCached runs the suite as occid runs by default:
// on SQLite, whose version lets the server answer GETs of entities from
// its cache of renderings, and with the default observation interval, so
// that the cache is in use. Every answer must be what the suite expects
// of a fresh read.
func TestConformanceOverHTTPCached(t *testing.T) {
	conformanceOverHTTP(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "occid.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, 0, true)
}

// conformanceOverHTTP runs the suite over the engine on stores open
// returns, observing every observe; with cached, the server's entity
// cache must have answered some of the GETs.
func conformanceOverHTTP(t *testing.T, open func(*testing.T) store.Store, observe time.Duration, cached bool) {
	if testing.Short() {
		t.Skip("the conformance suite over HTTP is long; run without -short")
	}
	for _, mt := range []string{"text/plain", "text/occi", "application/occi+json"} {
		t.Run(mt, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			occitest.Run(t, func(t *testing.T) occi.Service {
				drv, err := simbackend.Open(simbackend.Options{})
				if err != nil {
					t.Fatal(err)
				}
				st := open(t)
				e, err := engine.New(engine.Config{Store: st, Driver: drv, ObserveInterval: observe})
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(withTestIdentity(occihttp.NewServer(e, occihttp.Options{
					Negotiator: render.NewNegotiator(codecs()...), Registry: reg,
				})))
				t.Cleanup(func() {
					srv.Close()
					e.Close()
					drv.Close()
					st.Close()
				})
				hc := srv.Client()
				hc.Transport = identityTransport{next: hc.Transport}
				return occihttp.NewClient(srv.URL, occihttp.ClientOptions{
					MediaType: mt, HTTPClient: hc, Codecs: codecs(),
				})
			})
			hits := cacheCount(t, reg, "hit")
			t.Logf("entity cache: %v hits, %v misses", hits, cacheCount(t, reg, "miss"))
			if cached && hits == 0 {
				t.Error("the entity cache answered no GET: the suite did not exercise it")
			}
			if !cached && hits != 0 {
				t.Errorf("the entity cache answered %v GETs over a store without a version", hits)
			}
		})
	}
}

// cacheCount returns occid_http_entity_cache_total{result} from reg.
func cacheCount(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "occid_http_entity_cache_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

package occihttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/occitest"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
	"github.com/occid/occi/store/memstore"
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
	if testing.Short() {
		t.Skip("the conformance suite over HTTP is long; run without -short")
	}
	for _, mt := range []string{"text/plain", "text/occi", "application/occi+json"} {
		t.Run(mt, func(t *testing.T) {
			occitest.Run(t, func(t *testing.T) occi.Service {
				drv, err := simbackend.Open(simbackend.Options{})
				if err != nil {
					t.Fatal(err)
				}
				st := memstore.New()
				e, err := engine.New(engine.Config{Store: st, Driver: drv, ObserveInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(withTestIdentity(occihttp.NewServer(e, occihttp.Options{
					Negotiator: render.NewNegotiator(codecs()...),
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
		})
	}
}

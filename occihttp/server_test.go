package occihttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

// seeded returns a fake service with /compute/1 (a member of /tags/web/)
// and /compute/2.
func seeded() *fakeService {
	f := newFakeService()
	for i, title := range []string{"one", "two"} {
		loc := "/compute/" + string(rune('1'+i))
		f.entities[loc] = &occi.Entity{
			ID: loc[len("/compute/"):], Location: loc, Kind: kindCompute, Title: title, Revision: 1,
			Actions: []occi.CategoryID{actionStart, actionSave},
		}
	}
	f.members["/compute/1"] = true
	f.next = 2
	return f
}

func newTestServer(svc occi.Service, opt Options) *Server {
	if opt.Negotiator == nil {
		opt.Negotiator = testNegotiator
	}
	if opt.Version == "" {
		opt.Version = "test"
	}
	return NewServer(svc, opt)
}

func serve(h http.Handler, method, target string, hdr http.Header, body string) *http.Response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	resp := w.Result()
	// Header names as a client reads them off the wire: canonical.
	canon := http.Header{}
	for k, vs := range resp.Header {
		for _, v := range vs {
			canon.Add(k, v)
		}
	}
	resp.Header = canon
	return resp
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var (
	fakeCT   = header("Content-Type", fakeType)
	computeA = jsonOf(&occi.Entity{Kind: kindCompute, Title: "a"})
	storageA = jsonOf(&occi.Entity{Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storage"}})
	newTag   = jsonOf(&occi.Mixin{ID: occi.CategoryID{Scheme: "http://example.org/tags#", Term: "db"}, Location: "/tags/db/"})
)

func TestServerProtocol(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		hdr        http.Header
		body       string
		wantStatus int
		wantHeader map[string]string // exact values; "" means absent
		wantBody   string            // a substring of the body
		wantCall   *call             // the last service call; Arg compared when not nil
	}{
		// The query interface.
		{name: "GET /-/", method: "GET", target: "/-/", wantStatus: 200,
			wantHeader: map[string]string{"Occid-Target": "query"}, wantBody: `"Kinds"`},
		{name: "GET well-known mirror", method: "GET", target: "/.well-known/org/ogf/occi/-/", wantStatus: 200, wantBody: `"Kinds"`},
		{name: "GET /-/ category by type id", method: "GET", target: "/-/?category=" + kindCompute.String(), wantStatus: 200,
			wantCall: &call{Op: "Discover", Path: "/-/", Arg: []occi.CategoryID{kindCompute}}},
		{name: "GET /-/ category by term", method: "GET", target: "/-/?category=compute", wantStatus: 200,
			wantCall: &call{Op: "Discover", Path: "/-/", Arg: []occi.CategoryID{kindCompute}}},
		{name: "GET /-/ category from headers", method: "GET", target: "/-/", hdr: header("Category", mixinTag.String(), "Content-Type", fakeType),
			wantStatus: 200, wantCall: &call{Op: "Discover", Path: "/-/", Arg: []occi.CategoryID{mixinTag}}},
		{name: "GET /-/ unknown term", method: "GET", target: "/-/?category=nope", wantStatus: 400},
		{name: "GET /-/ malformed category", method: "GET", target: "/-/?category=http://x%23", wantStatus: 400},
		{name: "GET /-/ paginated", method: "GET", target: "/-/?page=1", wantStatus: 400},
		{name: "PUT /-/", method: "PUT", target: "/-/", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, POST, DELETE"}},
		{name: "POST /-/?action=", method: "POST", target: "/-/?action=start", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, POST, DELETE"}},
		{name: "POST /-/ defines a mixin", method: "POST", target: "/-/", hdr: fakeCT, body: newTag, wantStatus: 200, wantBody: `"Term":"db"`},
		{name: "POST well-known defines a mixin", method: "POST", target: "/.well-known/org/ogf/occi/-/", hdr: fakeCT, body: newTag, wantStatus: 200},
		{name: "POST /-/ existing mixin", method: "POST", target: "/-/", hdr: fakeCT, body: jsonOf(&occi.Mixin{ID: mixinTag}), wantStatus: 409},
		{name: "POST /-/ empty", method: "POST", target: "/-/", hdr: fakeCT, wantStatus: 400},
		{name: "DELETE /-/ provider mixin", method: "DELETE", target: "/-/", hdr: fakeCT, body: jsonOf(&occi.Mixin{ID: mixinTag}), wantStatus: 403},
		{name: "DELETE /-/ unknown mixin", method: "DELETE", target: "/-/", hdr: fakeCT, body: newTag, wantStatus: 404},

		// Kind collections.
		{name: "GET kind collection", method: "GET", target: "/compute/", wantStatus: 200, wantBody: `"http://example.com/compute/1"`,
			wantHeader: map[string]string{"Occid-Target": "kind", "Occid-Category": kindCompute.String(), "Content-Location": "http://example.com/compute/"}},
		{name: "GET kind collection without slash", method: "GET", target: "/compute", wantStatus: 200, wantBody: `"http://example.com/compute/1"`,
			wantHeader: map[string]string{"Content-Location": "http://example.com/compute/"},
			wantCall:   &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/"}}},
		{name: "GET page with ; separator", method: "GET", target: "/compute/?page=2;number=10", wantStatus: 200,
			wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/", Page: 2, Number: 10}}},
		{name: "GET page with & separator", method: "GET", target: "/compute/?page=3&number=5", wantStatus: 200,
			wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/", Page: 3, Number: 5}}},
		{name: "GET number above maximum", method: "GET", target: "/compute/?number=1000", wantStatus: 413},
		{name: "GET page 0", method: "GET", target: "/compute/?page=0", wantStatus: 400},
		{name: "GET number not a number", method: "GET", target: "/compute/?number=ten", wantStatus: 400},
		{name: "GET unknown parameter", method: "GET", target: "/compute/?sort=title", wantStatus: 400},
		{name: "GET attribute filter in query", method: "GET", target: "/compute/?occi.compute.state=active&occi.compute.cores=2", wantStatus: 200,
			wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/",
				Attributes: occi.Attributes{"occi.compute.state": "active", "occi.compute.cores": int64(2)}}}},
		{name: "GET attribute filter in headers", method: "GET", target: "/compute/", hdr: header("X-OCCI-Attribute", `occi.compute.state="active"`, "Content-Type", fakeType),
			wantStatus: 200, wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/",
				Attributes: occi.Attributes{"occi.compute.state": "active"}}}},
		{name: "GET category filter on a collection", method: "GET", target: "/compute/?category=web", wantStatus: 200,
			wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{mixinTag}}}},
		{name: "POST creates", method: "POST", target: "/compute/", hdr: fakeCT, body: computeA, wantStatus: 201,
			wantHeader: map[string]string{"Location": "http://example.com/compute/3", "ETag": `"1"`}, wantBody: `["http://example.com/compute/3"]`},
		{name: "POST creates several", method: "POST", target: "/compute/", hdr: fakeCT, body: "[" + computeA + "," + computeA + "]", wantStatus: 201,
			wantHeader: map[string]string{"Location": "http://example.com/compute/3"}, wantBody: `["http://example.com/compute/3","http://example.com/compute/4"]`},
		{name: "POST several, one bad: none kept", method: "POST", target: "/compute/", hdr: fakeCT, body: "[" + computeA + "," + storageA + "]", wantStatus: 400,
			wantHeader: map[string]string{"X-OCCI-Error": "entity 2 of 2: kind http://schemas.ogf.org/occi/infrastructure#storage does not belong in /compute/"},
			wantCall:   &call{Op: "Delete", Path: "/compute/3"}},
		{name: "POST wrong kind", method: "POST", target: "/compute/", hdr: fakeCT, body: storageA, wantStatus: 400},
		{name: "POST unparsable", method: "POST", target: "/compute/", hdr: fakeCT, body: "{nope", wantStatus: 400},
		{name: "POST nothing", method: "POST", target: "/compute/", hdr: fakeCT, body: "[]", wantStatus: 400},
		{name: "POST unsupported content type", method: "POST", target: "/compute/", hdr: header("Content-Type", "application/xml"), body: "<x/>", wantStatus: 415,
			wantHeader: map[string]string{"X-OCCI-Error": `request Content-Type "application/xml" is not supported; this server reads application/x-fake, application/x-fake-alias, text/x-list`}},
		{name: "POST alias content type", method: "POST", target: "/compute/", hdr: header("Content-Type", "application/x-fake-alias"), body: computeA, wantStatus: 201},
		{name: "POST with query parameter", method: "POST", target: "/compute/?page=1", hdr: fakeCT, body: computeA, wantStatus: 400},
		{name: "DELETE kind collection", method: "DELETE", target: "/compute/", wantStatus: 200, wantCall: &call{Op: "DeleteAll", Path: "/compute/"}},
		{name: "POST action on kind collection", method: "POST", target: "/compute/?action=start", hdr: fakeCT, body: jsonOf(&occi.ActionInvocation{Action: actionStart}),
			wantStatus: 200, wantCall: &call{Op: "InvokeAll", Path: "/compute/", Arg: actionStart}},
		{name: "POST action on kind collection by term only", method: "POST", target: "/compute/?action=start", wantStatus: 200,
			wantCall: &call{Op: "InvokeAll", Path: "/compute/", Arg: actionStart}},
		{name: "PUT kind collection", method: "PUT", target: "/compute/", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, POST, DELETE"}},
		{name: "GET with action", method: "GET", target: "/compute/?action=start", wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}},

		// Mixin collections.
		{name: "GET mixin collection", method: "GET", target: "/tags/web/", wantStatus: 200, wantBody: `"http://example.com/compute/1"`,
			wantHeader: map[string]string{"Occid-Target": "mixin"}},
		{name: "GET mixin collection without slash", method: "GET", target: "/tags/web", wantStatus: 200, wantBody: `"http://example.com/compute/1"`},
		{name: "POST associates", method: "POST", target: "/tags/web/", hdr: fakeCT, body: `["http://example.com/compute/2"]`, wantStatus: 200,
			wantBody: `"http://example.com/compute/2"`, wantCall: &call{Op: "Associate", Path: "/tags/web/", Arg: []string{"/compute/2"}}},
		{name: "POST associates nothing", method: "POST", target: "/tags/web/", hdr: fakeCT, wantStatus: 400},
		{name: "POST associates unknown", method: "POST", target: "/tags/web/", hdr: fakeCT, body: `["/compute/9"]`, wantStatus: 404},
		{name: "PUT replaces", method: "PUT", target: "/tags/web/", hdr: fakeCT, body: `["/compute/2"]`, wantStatus: 200,
			wantCall: &call{Op: "ReplaceMembers", Path: "/tags/web/", Arg: []string{"/compute/2"}}},
		{name: "DELETE dissociates all", method: "DELETE", target: "/tags/web/", wantStatus: 200,
			wantCall: &call{Op: "Dissociate", Path: "/tags/web/", Arg: []string(nil)}},
		{name: "DELETE dissociates some", method: "DELETE", target: "/tags/web/", hdr: fakeCT, body: `["/compute/1"]`, wantStatus: 200,
			wantCall: &call{Op: "Dissociate", Path: "/tags/web/", Arg: []string{"/compute/1"}}},
		{name: "POST action on mixin collection", method: "POST", target: "/tags/web/?action=start", wantStatus: 200,
			wantCall: &call{Op: "InvokeAll", Path: "/tags/web/", Arg: actionStart}},

		// Entities.
		{name: "GET entity", method: "GET", target: "/compute/1", wantStatus: 200, wantBody: `"Title":"one"`,
			wantHeader: map[string]string{"ETag": `"1"`, "Occid-Target": "entity"}},
		{name: "HEAD entity", method: "HEAD", target: "/compute/1", wantStatus: 200, wantHeader: map[string]string{"ETag": `"1"`}},
		{name: "GET missing entity", method: "GET", target: "/compute/9", wantStatus: 404,
			wantHeader: map[string]string{"X-OCCI-Error": "no entity at /compute/9", "Occid-Error-Code": "NotFound"},
			wantBody:   `"message":"no entity at /compute/9"`},
		{name: "GET entity with a parameter", method: "GET", target: "/compute/1?page=1", wantStatus: 400},
		{name: "PUT creates", method: "PUT", target: "/compute/new", hdr: fakeCT, body: computeA, wantStatus: 201,
			wantHeader: map[string]string{"Location": "http://example.com/compute/new", "ETag": `"1"`}, wantBody: `"Title":"a"`},
		{name: "PUT replaces", method: "PUT", target: "/compute/1", hdr: fakeCT, body: computeA, wantStatus: 200,
			wantHeader: map[string]string{"Location": "", "ETag": `"2"`}},
		{name: "POST updates", method: "POST", target: "/compute/1", hdr: fakeCT, body: `{"Title":"new"}`, wantStatus: 200,
			wantBody: `"Title":"new"`, wantHeader: map[string]string{"ETag": `"2"`}},
		{name: "POST updates with matching If-Match", method: "POST", target: "/compute/1", hdr: header("Content-Type", fakeType, "If-Match", `"1"`),
			body: `{"Title":"new"}`, wantStatus: 200, wantCall: &call{Op: "Update", Path: "/compute/1", Arg: "new", Revision: 1}},
		{name: "POST updates with stale If-Match", method: "POST", target: "/compute/1", hdr: header("Content-Type", fakeType, "If-Match", `"7"`),
			body: `{"Title":"new"}`, wantStatus: 412},
		{name: "POST updates with bad If-Match", method: "POST", target: "/compute/1", hdr: header("Content-Type", fakeType, "If-Match", `"x"`),
			body: `{"Title":"new"}`, wantStatus: 400},
		{name: "DELETE entity", method: "DELETE", target: "/compute/1", wantStatus: 200, wantCall: &call{Op: "Delete", Path: "/compute/1"}},
		{name: "DELETE entity with If-Match", method: "DELETE", target: "/compute/1", hdr: header("If-Match", `"4"`), wantStatus: 200,
			wantCall: &call{Op: "Delete", Path: "/compute/1", Revision: 4}},
		{name: "DELETE entity with a weak If-Match", method: "DELETE", target: "/compute/1", hdr: header("If-Match", `W/"1"`), wantStatus: 412,
			wantBody: "weak entity tag never matches"},
		{name: "DELETE entity with an unquoted If-Match", method: "DELETE", target: "/compute/1", hdr: header("If-Match", `1`), wantStatus: 400,
			wantBody: "quoted"},
		{name: "DELETE entity with an empty If-Match", method: "DELETE", target: "/compute/1", hdr: header("If-Match", ``), wantStatus: 400},
		{name: "DELETE entity with two If-Match tags", method: "DELETE", target: "/compute/1", hdr: header("If-Match", `"1", "2"`), wantStatus: 400},
		{name: "DELETE kind collection with If-Match *", method: "DELETE", target: "/compute/", hdr: header("If-Match", `*`), wantStatus: 200,
			wantCall: &call{Op: "DeleteAll", Path: "/compute/"}},
		{name: "DELETE kind collection with an If-Match tag", method: "DELETE", target: "/compute/", hdr: header("If-Match", `"999"`), wantStatus: 412,
			wantBody: "no entity tag"},
		{name: "POST to a kind collection with If-None-Match *", method: "POST", target: "/compute/", hdr: header("Content-Type", fakeType, "If-None-Match", `*`),
			body: computeA, wantStatus: 412},
		{name: "PUT mixin collection with an If-Match tag", method: "PUT", target: "/tags/web/", hdr: header("Content-Type", fakeType, "If-Match", `"1"`),
			body: `["/compute/2"]`, wantStatus: 412},
		{name: "POST /-/ with an If-Match tag", method: "POST", target: "/-/", hdr: header("Content-Type", fakeType, "If-Match", `"1"`),
			body: `{}`, wantStatus: 412},
		{name: "DELETE missing entity", method: "DELETE", target: "/compute/9", wantStatus: 404},
		{name: "POST action", method: "POST", target: "/compute/1?action=start", hdr: fakeCT, body: jsonOf(&occi.ActionInvocation{Action: actionStart}),
			wantStatus: 200, wantBody: `"occi.compute.state":"active"`, wantHeader: map[string]string{"ETag": `"2"`}},
		{name: "POST action with empty body", method: "POST", target: "/compute/1?action=start", wantStatus: 200,
			wantCall: &call{Op: "Invoke", Path: "/compute/1", Arg: actionStart}},
		{name: "POST save answers the mixin", method: "POST", target: "/compute/1?action=save", wantStatus: 200,
			wantBody: `"Term":"saved1"`, wantHeader: map[string]string{"Occid-Result": "mixin", "ETag": ""}},
		{name: "POST action body and URL disagree", method: "POST", target: "/compute/1?action=save", hdr: fakeCT,
			body: jsonOf(&occi.ActionInvocation{Action: actionStart}), wantStatus: 400},
		{name: "POST action with If-None-Match *", method: "POST", target: "/compute/1?action=start", hdr: header("If-None-Match", `*`), wantStatus: 412},
		{name: "POST action with another If-None-Match", method: "POST", target: "/compute/1?action=start", hdr: header("If-None-Match", `"1"`), wantStatus: 400},
		{name: "POST undefined action", method: "POST", target: "/compute/1?action=fly", wantStatus: 400, wantBody: "the actions here are"},
		{name: "POST invalid action term", method: "POST", target: "/compute/1?action=-x", wantStatus: 400},
		{name: "POST action twice", method: "POST", target: "/compute/1?action=start&action=start", wantStatus: 400},
		{name: "GET with action on entity", method: "GET", target: "/compute/1?action=start", wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "PATCH entity", method: "PATCH", target: "/compute/1", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, POST, PUT, DELETE"}},

		// Unbound and unknown paths.
		{name: "GET unbound", method: "GET", target: "/", wantStatus: 200, wantHeader: map[string]string{"Occid-Target": "unbound"}},
		{name: "DELETE unbound", method: "DELETE", target: "/tags/", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "POST unbound", method: "POST", target: "/", wantStatus: 405},
		// An action on an unbound path: no method triggers one there, and
		// Allow (and the message) list what the path takes, as on /-/.
		{name: "POST action on the root", method: "POST", target: "/?action=start", wantStatus: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD"}, wantBody: "actions run on kind and mixin collections and entities) does not take POST; allowed: GET, HEAD"},
		{name: "POST action on an unbound path", method: "POST", target: "/tags/?action=start", wantStatus: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD"}, wantBody: "does not take POST; allowed: GET, HEAD"},
		{name: "GET action on an unbound path", method: "GET", target: "/tags/?action=start", wantStatus: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD"}, wantBody: "does not take GET; allowed: GET, HEAD"},
		{name: "GET unknown", method: "GET", target: "/nothing", wantStatus: 404},

		// Negotiation and versions.
		{name: "listing-only type for an entity", method: "GET", target: "/compute/1", hdr: header("Accept", "text/x-list"), wantStatus: 400,
			wantHeader: map[string]string{"Content-Type": fakeType, "X-OCCI-Error": "text/x-list renders listings only"}},
		{name: "listing-only type for discovery", method: "GET", target: "/-/", hdr: header("Accept", "text/x-list"), wantStatus: 400},
		{name: "listing-only type for a listing", method: "GET", target: "/compute/", hdr: header("Accept", "text/x-list"), wantStatus: 200},
		{name: "Accept alias", method: "GET", target: "/compute/1", hdr: header("Accept", "application/x-fake-alias"), wantStatus: 200},
		{name: "Accept nothing offered", method: "GET", target: "/compute/1", hdr: header("Accept", "image/png"), wantStatus: 406,
			wantHeader: map[string]string{"X-OCCI-Error": `none of the media types in Accept "image/png" can be produced; this server offers application/x-fake, application/x-fake-alias, text/x-list`}},
		{name: "OCCI/1.1 client served", method: "GET", target: "/compute/1", hdr: header("User-Agent", "old/1.0 OCCI/1.1"), wantStatus: 200},
		{name: "OCCI/1.2 client served", method: "GET", target: "/compute/1", hdr: header("User-Agent", "cli OCCI-CRTP/1.5 OCCI/1.2"), wantStatus: 200},
		{name: "OCCI/1.3 client refused", method: "GET", target: "/compute/1", hdr: header("User-Agent", "new/1.0 OCCI/1.3"), wantStatus: 501,
			wantHeader: map[string]string{"X-OCCI-Error": "this server implements OCCI/1.2 (and serves 1.1 clients); the User-Agent announces OCCI/1.3"}},
		{name: "OCCI/2.0 client refused", method: "GET", target: "/-/", hdr: header("User-Agent", "OCCI/2.0"), wantStatus: 501},

		// Limits and failures.
		{name: "body too large", method: "POST", target: "/compute/", hdr: fakeCT, body: `{"Title":"` + strings.Repeat("x", 2000) + `"}`, wantStatus: 413},
		{name: "panic answers 500", method: "GET", target: "/panic", wantStatus: 500,
			wantHeader: map[string]string{"X-OCCI-Error": "internal error", "Occid-Error-Code": "Internal"}},
		{name: "panic in a service call answers 500", method: "GET", target: "/compute/panic", wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := seeded()
			h := newTestServer(svc, Options{MaxBody: 1024})
			resp := serve(h, tt.method, tt.target, tt.hdr, tt.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q, body %q)", resp.StatusCode, tt.wantStatus, resp.Header.Get("X-OCCI-Error"), body)
			}
			checkCommonHeaders(t, resp)
			for k, want := range tt.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
			if resp.StatusCode >= 400 && resp.Header.Get("X-OCCI-Error") == "" {
				t.Errorf("got no X-OCCI-Error on status %d", resp.StatusCode)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("got no Allow on 405")
			}
			if want := "; allowed: " + resp.Header.Get("Allow"); resp.StatusCode == 405 && !strings.HasSuffix(resp.Header.Get("X-OCCI-Error"), want) {
				t.Errorf("got X-OCCI-Error %q on 405, want it to end in %q", resp.Header.Get("X-OCCI-Error"), want)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got body %q, want it to contain %q", body, tt.wantBody)
			}
			if tt.wantCall != nil {
				got := svc.lastCall()
				if tt.wantCall.Arg == nil {
					got.Arg = nil
				}
				if diff := cmp.Diff(*tt.wantCall, got); diff != "" {
					t.Errorf("last service call (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// checkCommonHeaders checks what every response carries.
func checkCommonHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if got, want := resp.Header.Get("Server"), "occid/test OCCI/1.2"; got != want {
		t.Errorf("got Server %q, want %q", got, want)
	}
	if got, want := resp.Header.Get("Accept"), "application/x-fake, application/x-fake-alias, text/x-list"; got != want {
		t.Errorf("got Accept %q, want %q", got, want)
	}
	if resp.Header.Get("Content-Type") == "" {
		t.Errorf("got no Content-Type")
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("got no X-Request-Id")
	}
}

func TestServerCreateRollsBack(t *testing.T) {
	svc := seeded()
	h := newTestServer(svc, Options{})
	resp := serve(h, "POST", "/compute/", fakeCT, "["+computeA+","+storageA+"]")
	if resp.StatusCode != 400 {
		t.Fatalf("got status %d, want 400", resp.StatusCode)
	}
	if _, ok := svc.entities["/compute/3"]; ok {
		t.Errorf("got /compute/3 kept after the batch failed, want it deleted")
	}
}

func TestServerErrorStatus(t *testing.T) {
	tests := []struct {
		code occi.Code
		want int
	}{
		{occi.InvalidArgument, 400}, {occi.Unauthenticated, 401}, {occi.PermissionDenied, 403},
		{occi.NotFound, 404}, {occi.MethodNotAllowed, 405}, {occi.AlreadyExists, 409},
		{occi.Conflict, 409}, {occi.FailedPrecondition, 409}, {occi.PreconditionFailed, 412},
		{occi.TooLarge, 413}, {occi.Internal, 500}, {occi.Unimplemented, 501}, {occi.Unavailable, 503},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			svc := seeded()
			svc.hook = func(op, path string) error { return occi.Errorf(tt.code, "failed with %s", tt.code) }
			resp := serve(newTestServer(svc, Options{}), "GET", "/compute/1", nil, "")
			if resp.StatusCode != tt.want {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.want)
			}
			if got, want := resp.Header.Get("Occid-Error-Code"), tt.code.String(); got != want {
				t.Errorf("got Occid-Error-Code %q, want %q", got, want)
			}
			if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("got no WWW-Authenticate on 401")
			}
			if got := CodeOf(tt.want); tt.want != 409 && got != tt.code {
				t.Errorf("CodeOf(%d) = %s, want %s", tt.want, got, tt.code)
			}
		})
	}
	t.Run("internal cause is not sent", func(t *testing.T) {
		svc := seeded()
		svc.hook = func(op, path string) error { return io.ErrUnexpectedEOF }
		resp := serve(newTestServer(svc, Options{}), "GET", "/compute/1", nil, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 500 {
			t.Fatalf("got status %d, want 500", resp.StatusCode)
		}
		if strings.Contains(string(body), "unexpected EOF") || strings.Contains(resp.Header.Get("X-OCCI-Error"), "unexpected EOF") {
			t.Errorf("got the internal cause in the answer: %q / %q", body, resp.Header.Get("X-OCCI-Error"))
		}
	})
}

func TestServerLocations(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		hdr  http.Header
		tls  bool
		want string
	}{
		{name: "from Host", want: "http://example.com/compute/3"},
		{name: "from TLS", tls: true, want: "https://example.com/compute/3"},
		{name: "public URL wins", opt: Options{PublicURL: "https://cloud.example.org/occi/"}, hdr: header("X-Forwarded-Proto", "http"),
			want: "https://cloud.example.org/occi/compute/3"},
		{name: "forwarded headers ignored by default", hdr: header("X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"),
			want: "http://example.com/compute/3"},
		{name: "forwarded headers trusted", opt: Options{TrustProxy: true}, hdr: header("X-Forwarded-Proto", "https", "X-Forwarded-Host", "proxy.example:8443"),
			want: "https://proxy.example:8443/compute/3"},
		{name: "bad forwarded proto ignored", opt: Options{TrustProxy: true}, hdr: header("X-Forwarded-Proto", "gopher"),
			want: "http://example.com/compute/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestServer(seeded(), tt.opt)
			target := "http://example.com/compute/"
			if tt.tls {
				target = "https://example.com/compute/"
			}
			hdr := header("Content-Type", fakeType)
			for k, vs := range tt.hdr {
				hdr[k] = vs
			}
			resp := serve(h, "POST", target, hdr, computeA)
			if resp.StatusCode != 201 {
				t.Fatalf("got status %d, want 201", resp.StatusCode)
			}
			if got := resp.Header.Get("Location"); got != tt.want {
				t.Errorf("got Location %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("absolute URLs of this server are read as paths", func(t *testing.T) {
		svc := seeded()
		h := newTestServer(svc, Options{PublicURL: "https://cloud.example.org/occi"})
		resp := serve(h, "POST", "/tags/web/", fakeCT, `["https://cloud.example.org/occi/compute/2"]`)
		if resp.StatusCode != 200 {
			t.Fatalf("got status %d, want 200", resp.StatusCode)
		}
		if diff := cmp.Diff([]string{"/compute/2"}, svc.lastCall().Arg); diff != "" {
			t.Errorf("Associate locations (-want +got):\n%s", diff)
		}
	})
}

func TestServerLogsAndRecovers(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := newTestServer(seeded(), Options{Logger: log})
	resp := serve(h, "GET", "/compute/1", header("Authorization", "Bearer s3cret-token", "X-Request-Id", "req-42"), "")
	if resp.StatusCode != 200 {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "req-42" {
		t.Errorf("got X-Request-Id %q, want req-42", got)
	}
	resp = serve(h, "GET", "/panic", nil, "")
	if resp.StatusCode != 500 {
		t.Fatalf("got status %d, want 500", resp.StatusCode)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3 (request, panic, request):\n%s", len(lines), buf.String())
	}
	first := lines[0]
	for k, want := range map[string]any{"msg": "request", "method": "GET", "path": "/compute/1", "status": 200.0, "request_id": "req-42", "route": "entity"} {
		if first[k] != want {
			t.Errorf("got log %s=%v, want %v", k, first[k], want)
		}
	}
	for _, k := range []string{"bytes", "duration"} {
		if _, ok := first[k]; !ok {
			t.Errorf("got no %s in the request log line", k)
		}
	}
	if strings.Contains(buf.String(), "s3cret-token") {
		t.Errorf("the log holds the Authorization header's token")
	}
	if got := lines[1]["msg"]; !strings.Contains(got.(string), "panic") {
		t.Errorf("got log line %v, want the panic reported", lines[1])
	}
	if got := lines[2]["status"]; got != 500.0 {
		t.Errorf("got logged status %v for the panic, want 500", got)
	}
}

func TestServerHealthAndMetrics(t *testing.T) {
	var ready error
	h := newTestServer(seeded(), Options{Ready: func(context.Context) error { return ready }})
	tests := []struct {
		name       string
		method     string
		path       string
		ready      error
		wantStatus int
		wantBody   string
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantBody: "ok"},
		{name: "readyz ready", method: "GET", path: "/readyz", wantStatus: 200, wantBody: "ready"},
		{name: "readyz not ready", method: "GET", path: "/readyz",
			ready:      occi.Wrap(io.ErrClosedPipe, occi.Unavailable, "store unreachable"),
			wantStatus: 503, wantBody: "not ready: store unreachable"},
		{name: "healthz POST", method: "POST", path: "/healthz", wantStatus: 405},
		{name: "metrics", method: "GET", path: "/metrics", wantStatus: 200,
			wantBody: `occid_http_requests_total{method="GET",route="entity",status="200"} 1`},
		{name: "metrics has a latency histogram", method: "GET", path: "/metrics", wantStatus: 200,
			wantBody: `occid_http_request_duration_seconds_bucket{method="GET",route="entity",le="0.001"}`},
		{name: "metrics has the in-flight gauge", method: "GET", path: "/metrics", wantStatus: 200,
			wantBody: "occid_http_requests_in_flight 1"},
	}
	if resp := serve(h, "GET", "/compute/1", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready = tt.ready
			resp := serve(h, tt.method, tt.path, nil, "")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Server"); got != "occid/test OCCI/1.2" {
				t.Errorf("got Server %q, want occid/test OCCI/1.2", got)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got body %q, want it to contain %q", body, tt.wantBody)
			}
		})
	}
}

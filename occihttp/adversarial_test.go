package occihttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
)

// This file holds the inputs an adversarial tester found mishandled, one
// table per kind of bug.

// realNegotiator is occid's negotiator, for what depends on real media
// types (aliases, text/occi).
func realNegotiator() *render.Negotiator {
	return render.NewNegotiator(occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New())
}

// exchangeResult is what a table row checks of one answer.
type exchangeResult struct {
	resp *http.Response
	body string
	svc  *fakeService
}

func run(t *testing.T, opt Options, method, target string, hdr http.Header, body string) exchangeResult {
	t.Helper()
	svc := seeded()
	resp := serve(newTestServer(svc, opt), method, target, hdr, body)
	b, _ := io.ReadAll(resp.Body)
	return exchangeResult{resp: resp, body: string(b), svc: svc}
}

// TestServerMixinPutNeedsExplicitList: PUT replaces a mixin's membership,
// so a request carrying nothing at all (no body, no Content-Type) is refused
// instead of removing every member; an explicit empty list still empties it,
// and DELETE without a body still dissociates all (digest H9).
func TestServerMixinPutNeedsExplicitList(t *testing.T) {
	tests := []struct {
		name       string
		opt        Options
		method     string
		hdr        http.Header
		body       string
		wantStatus int
		wantError  string // substring of X-OCCI-Error
		wantCall   *call
	}{
		{name: "PUT without body or Content-Type", method: "PUT", wantStatus: 400,
			wantError: "PUT replaces the members of /tags/web/ and needs the new list"},
		{name: "PUT with only white space and no Content-Type", method: "PUT", body: " \n", wantStatus: 400,
			wantError: `or {"resources":[]} as application/occi+json`},
		{name: "PUT empty text/uri-list", opt: Options{Negotiator: realNegotiator()}, method: "PUT",
			hdr: header("Content-Type", "text/uri-list"), wantStatus: 200,
			wantCall: &call{Op: "ReplaceMembers", Path: "/tags/web/", Arg: []string(nil)}},
		{name: "PUT empty text/plain", opt: Options{Negotiator: realNegotiator()}, method: "PUT",
			hdr: header("Content-Type", "text/plain"), wantStatus: 200,
			wantCall: &call{Op: "ReplaceMembers", Path: "/tags/web/", Arg: []string(nil)}},
		{name: "PUT empty JSON collection", opt: Options{Negotiator: realNegotiator()}, method: "PUT",
			hdr: header("Content-Type", "application/occi+json"), body: `{"resources":[]}`, wantStatus: 200,
			wantCall: &call{Op: "ReplaceMembers", Path: "/tags/web/", Arg: []string{}}},
		{name: "PUT a list without Content-Type (text/plain)", opt: Options{Negotiator: realNegotiator()}, method: "PUT",
			body: "X-OCCI-Location: /compute/2\n", wantStatus: 200,
			wantCall: &call{Op: "ReplaceMembers", Path: "/tags/web/", Arg: []string{"/compute/2"}}},
		{name: "DELETE without body dissociates all", method: "DELETE", wantStatus: 200,
			wantCall: &call{Op: "Dissociate", Path: "/tags/web/", Arg: []string(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.opt, tt.method, "/tags/web/", tt.hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if e := got.resp.Header.Get("X-OCCI-Error"); !strings.Contains(e, tt.wantError) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, tt.wantError)
			}
			if tt.wantStatus >= 400 && !got.svc.members["/compute/1"] {
				t.Errorf("got /compute/1 removed from the mixin by a refused request")
			}
			if tt.wantCall != nil {
				if diff := cmp.Diff(*tt.wantCall, got.svc.lastCall()); diff != "" {
					t.Errorf("last service call (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestServerIfNoneMatch: "If-None-Match: *" makes a PUT create only.
func TestServerIfNoneMatch(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		inm        string
		body       string
		wantStatus int
		wantMust   bool // the Put asked the service to create only
	}{
		{name: "PUT * on an existing entity", method: "PUT", target: "/compute/1", inm: "*", body: computeA, wantStatus: 412},
		{name: "PUT * on a missing entity creates", method: "PUT", target: "/compute/new", inm: "*", body: computeA, wantStatus: 201, wantMust: true},
		{name: "PUT * with spaces", method: "PUT", target: "/compute/new", inm: " * ", body: computeA, wantStatus: 201, wantMust: true},
		{name: "PUT without it replaces", method: "PUT", target: "/compute/1", body: computeA, wantStatus: 200},
		{name: "POST * on an existing entity", method: "POST", target: "/compute/1", inm: "*", body: `{"Title":"x"}`, wantStatus: 412},
		{name: "DELETE * on an existing entity", method: "DELETE", target: "/compute/1", inm: "*", wantStatus: 412},
		{name: "an entity tag is not understood on a write", method: "PUT", target: "/compute/1", inm: `"1"`, body: computeA, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := header("Content-Type", fakeType)
			if tt.inm != "" {
				hdr.Set("If-None-Match", tt.inm)
			}
			got := run(t, Options{}, tt.method, tt.target, hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if tt.wantStatus == 412 {
				if e := got.svc.entities["/compute/1"]; e.Title != "one" || e.Revision != 1 {
					t.Errorf("got /compute/1 changed (%q, revision %d) by a refused request", e.Title, e.Revision)
				}
			}
			if tt.wantMust {
				if c := got.svc.lastCall(); c.Op != "Put" || !c.MustNotExist {
					t.Errorf("got last call %+v, want a Put with occi.WithMustNotExist", c)
				}
			}
		})
	}
	t.Run("the service's own check answers 412 too", func(t *testing.T) {
		// Another request may create the entity between the check and the
		// Put: the service (occi.MustNotExist) has the last word.
		svc := seeded()
		svc.hook = func(op, path string) error {
			if op == "Get" && path == "/compute/1" {
				return occi.Errorf(occi.NotFound, "not yet")
			}
			return nil
		}
		resp := serve(newTestServer(svc, Options{}), "PUT", "/compute/1", header("Content-Type", fakeType, "If-None-Match", "*"), computeA)
		if resp.StatusCode != 412 {
			t.Errorf("got status %d, want 412", resp.StatusCode)
		}
	})
}

// TestServerOCCIVersions: any OCCI version above 1.2 is 501, however
// written; what is not a version is served.
func TestServerOCCIVersions(t *testing.T) {
	tests := []struct {
		ua   string
		want int
	}{
		{"", 200},
		{"curl/8.0", 200},
		{"OCCI/1.1", 200},
		{"OCCI/1.2", 200},
		{"OCCI/1.2.9", 200},
		{"OCCI/1", 200},
		{"OCCI/0.9", 200},
		{"OCCI/01.02", 200},
		{"OCCI/1.10", 501},
		{"OCCI/1.3", 501},
		{"occi/1.3", 501},
		{"Occi/2.0", 501},
		{"OCCI/2", 501},
		{"OCCI/1.3-rc1", 501},
		{"OCCI/99999999999999999999.0", 501},
		{"OCCI/1.99999999999999999999", 501},
		{"OCCI/0001.3", 501},
		{"OCCI/x.y", 200},
		{"OCCI/", 200},
		{"OCCI/.5", 200},
		{"rOCCI-cli/4.3 OCCI/1.2 OCCI/1.3", 501},
		{"OCCI-CRTP/1.5 OCCI/1.2", 200},
		{"NOTOCCI/9.9", 200},
	}
	for _, tt := range tests {
		t.Run(tt.ua, func(t *testing.T) {
			got := run(t, Options{}, "GET", "/compute/1", header("User-Agent", tt.ua), "")
			if got.resp.StatusCode != tt.want {
				t.Errorf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.want, got.resp.Header.Get("X-OCCI-Error"))
			}
		})
	}
}

// TestServerNegotiationAnswers: Accept with many ranges, aliases answered
// by name, and the error code names of 406 and 415.
func TestServerNegotiationAnswers(t *testing.T) {
	many := strings.Repeat("a/b, ", 64) + "text/plain"
	tooMany := strings.Repeat("a/b,", render.MaxAcceptRanges) + "text/plain"
	tests := []struct {
		name       string
		method     string
		target     string
		hdr        http.Header
		body       string
		wantStatus int
		wantHeader map[string]string
	}{
		{name: "65 ranges, the last acceptable", method: "GET", target: "/compute/1", hdr: header("Accept", many), wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/plain"}},
		{name: "more ranges than read", method: "GET", target: "/compute/1", hdr: header("Accept", tooMany), wantStatus: 400,
			wantHeader: map[string]string{"X-OCCI-Error": "the Accept header lists more than 1000 media types; send fewer"}},
		{name: "Accept split over two header lines", method: "GET", target: "/compute/1", hdr: http.Header{"Accept": {"image/png", "application/json"}},
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "application/json answers application/json", method: "GET", target: "/compute/1", hdr: header("Accept", "application/json"),
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "application/occi+json answers application/occi+json", method: "GET", target: "/compute/1", hdr: header("Accept", "application/occi+json"),
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/occi+json"}},
		{name: "application/* answers the canonical type", method: "GET", target: "/compute/1", hdr: header("Accept", "application/*"),
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/occi+json"}},
		{name: "text/occi+plain answers text/occi+plain", method: "GET", target: "/compute/", hdr: header("Accept", "text/occi+plain"),
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "text/occi+plain"}},
		{name: "an error in the alias", method: "GET", target: "/compute/9", hdr: header("Accept", "application/json"),
			wantStatus: 404, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "406 names NotAcceptable", method: "GET", target: "/compute/1", hdr: header("Accept", "image/png"), wantStatus: 406,
			wantHeader: map[string]string{"Occid-Error-Code": "NotAcceptable", "Content-Type": "text/plain"}},
		{name: "415 names UnsupportedMediaType", method: "POST", target: "/compute/", hdr: header("Content-Type", "application/xml"), body: "<x/>",
			wantStatus: 415, wantHeader: map[string]string{"Occid-Error-Code": "UnsupportedMediaType"}},
		{name: "Content-Type with more types than read", method: "POST", target: "/compute/",
			hdr: header("Content-Type", strings.Repeat("a/b,", render.MaxAcceptRanges)+"text/plain"), body: "Category: x",
			wantStatus: 400, wantHeader: map[string]string{"X-OCCI-Error": "the Content-Type header lists more than 1000 media types; send fewer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Options{Negotiator: realNegotiator()}, tt.method, tt.target, tt.hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			for k, want := range tt.wantHeader {
				if g := got.resp.Header.Get(k); g != want {
					t.Errorf("got %s %q, want %q", k, g, want)
				}
			}
		})
	}
	t.Run("a client reads 406 as InvalidArgument", func(t *testing.T) {
		if got := CodeOf(http.StatusNotAcceptable); got != occi.InvalidArgument {
			t.Errorf("got CodeOf(406) %s, want InvalidArgument", got)
		}
	})
}

// TestServerErrorsDoNotEchoLargeInput: every error message quotes client
// text (headers, paths, parameters) cut to a few hundred bytes.
func TestServerErrorsDoNotEchoLargeInput(t *testing.T) {
	big := strings.Repeat("x", 60000)
	bigMethod := strings.Repeat("X", 60000)
	tests := []struct {
		name   string
		method string
		target string
		hdr    http.Header
		body   string
		want   string // substring of X-OCCI-Error
	}{
		{name: "Accept in a 406", method: "GET", target: "/compute/1", hdr: header("Accept", "image/"+big), want: "image/xxx"},
		{name: "Content-Type in a 415", method: "POST", target: "/compute/", hdr: header("Content-Type", "application/"+big), body: "x", want: "application/xxx"},
		{name: "If-Match", method: "POST", target: "/compute/1", hdr: header("If-Match", big, "Content-Type", "text/plain"), body: "Category: x", want: "If-Match"},
		{name: "If-None-Match", method: "PUT", target: "/compute/1", hdr: header("If-None-Match", big), want: "If-None-Match"},
		{name: "User-Agent version", method: "GET", target: "/compute/1", hdr: header("User-Agent", "OCCI/2."+big), want: "OCCI/2.xxx"},
		{name: "unknown parameter name", method: "GET", target: "/compute/?" + big + "=1", want: "unknown query parameter"},
		{name: "bad parameter value", method: "GET", target: "/compute/?page=" + big, want: "page="},
		{name: "bad action term", method: "POST", target: "/compute/1?action=-" + big, want: "action="},
		{name: "unknown category term", method: "GET", target: "/compute/?category=" + big, want: "category="},
		{name: "parameter on a collection write", method: "DELETE", target: "/compute/?occi." + big + "=1", want: "takes no query parameters"},
		{name: "a path in a service message", method: "GET", target: "/compute/" + big, want: "no entity at /compute/xxx"},
		{name: "a method in a 405", method: bigMethod, target: "/compute/1", want: "does not take XXX"},
		{name: "a method on an operator path", method: bigMethod, target: "/healthz", want: "method XXX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Options{Negotiator: realNegotiator()}, tt.method, tt.target, tt.hdr, tt.body)
			e := got.resp.Header.Get("X-OCCI-Error")
			if got.resp.StatusCode < 400 {
				t.Fatalf("got status %d, want an error", got.resp.StatusCode)
			}
			if !strings.Contains(e, tt.want) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", render.Truncate(e, 300), tt.want)
			}
			if len(e) > maxMessage+len("…") {
				t.Errorf("got an X-OCCI-Error of %d bytes, want at most %d", len(e), maxMessage)
			}
			if len(got.body) > maxMessage+200 {
				t.Errorf("got an error body of %d bytes, want at most about %d", len(got.body), maxMessage)
			}
			if !strings.Contains(e, "…") {
				t.Errorf("got X-OCCI-Error %q, want the cut marked with …", render.Truncate(e, 300))
			}
		})
	}
}

// TestServerDuplicateAndUnknownParameters: a parameter that takes one value
// given twice, and a category that names nothing, are 400.
func TestServerDuplicateAndUnknownParameters(t *testing.T) {
	tests := []struct {
		target     string
		wantStatus int
		wantError  string
	}{
		{"/compute/?page=1&page=2", 400, "query parameter page given twice"},
		{"/compute/?number=1;number=2", 400, "query parameter number given twice"},
		{"/compute/?occi.compute.state=active&occi.compute.state=inactive", 400, `query parameter "occi.compute.state" given twice`},
		{"/compute/?action=start&action=stop", 400, "query parameter action given twice"},
		{"/compute/?category=x", 400, `query parameter category="x": no kind or mixin has that term`},
		{"/-/?category=x", 400, `query parameter category="x": no kind or mixin has that term`},
		{"/compute/?category=web&category=compute", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got := run(t, Options{}, "GET", tt.target, nil, "")
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if e := got.resp.Header.Get("X-OCCI-Error"); !strings.Contains(e, tt.wantError) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, tt.wantError)
			}
		})
	}
}

// TestServerFilterInQueryAndRendering: an attribute filtered on both in the
// query string and in the rendering (X-OCCI-Attribute headers or a body) is
// 400 naming it, as when it is given twice in one place; different
// attributes from the two places are combined.
func TestServerFilterInQueryAndRendering(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		hdr        http.Header
		body       string
		wantStatus int
		wantError  string
		wantCall   *call
	}{
		{name: "header and query", target: "/compute/?occi.compute.state=active",
			hdr: header("X-OCCI-Attribute", `occi.compute.state="inactive"`), wantStatus: 400,
			wantError: `attribute "occi.compute.state" is filtered on both in the query string and in an X-OCCI-Attribute header`},
		{name: "text/plain body and query", target: "/compute/?occi.compute.state=active",
			hdr: header("Content-Type", "text/plain"), body: `X-OCCI-Attribute: occi.compute.state="inactive"` + "\n", wantStatus: 400,
			wantError: `attribute "occi.compute.state" is filtered on both in the query string and in the request body`},
		{name: "different attributes", target: "/compute/?occi.compute.cores=2",
			hdr: header("X-OCCI-Attribute", `occi.compute.state="inactive"`), wantStatus: 200,
			wantCall: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/",
				Attributes: occi.Attributes{"occi.compute.state": "inactive", "occi.compute.cores": int64(2)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Options{Negotiator: realNegotiator()}, "GET", tt.target, tt.hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if e := got.resp.Header.Get("X-OCCI-Error"); !strings.Contains(e, tt.wantError) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, tt.wantError)
			}
			if !strings.Contains(got.body, tt.wantError) {
				t.Errorf("got body %q, want it to contain %q", got.body, tt.wantError)
			}
			if tt.wantCall != nil {
				if diff := cmp.Diff(*tt.wantCall, got.svc.lastCall()); diff != "" {
					t.Errorf("last service call (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestServerContentEncoding: a request body with a content coding (the
// server decodes none) is 415 saying so, on every route, before the service
// sees it; identity and a request without a body are served.
func TestServerContentEncoding(t *testing.T) {
	const body = `Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"` + "\n"
	plain := func(kv ...string) http.Header {
		return header(append([]string{"Content-Type", "text/plain"}, kv...)...)
	}
	tests := []struct {
		name       string
		method     string
		target     string
		hdr        http.Header
		body       string
		wantStatus int
		wantError  string
	}{
		{name: "gzip on a create", method: "POST", target: "/compute/", hdr: plain("Content-Encoding", "gzip"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "gzip" is not supported: this server reads request bodies without a content coding`},
		{name: "deflate on a PUT", method: "PUT", target: "/compute/9", hdr: plain("Content-Encoding", "deflate"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "deflate" is not supported`},
		{name: "gzip on an update", method: "POST", target: "/compute/1", hdr: plain("Content-Encoding", "GZIP"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "GZIP" is not supported`},
		{name: "gzip on an action", method: "POST", target: "/compute/1?action=start", hdr: plain("Content-Encoding", "gzip"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "gzip" is not supported`},
		{name: "gzip on a filter body", method: "GET", target: "/compute/", hdr: plain("Content-Encoding", "gzip"),
			body: `X-OCCI-Attribute: occi.compute.state="active"` + "\n", wantStatus: 415, wantError: `Content-Encoding "gzip" is not supported`},
		{name: "gzip on a mixin definition", method: "POST", target: "/-/", hdr: plain("Content-Encoding", "gzip"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "gzip" is not supported`},
		{name: "gzip after identity", method: "POST", target: "/compute/", hdr: plain("Content-Encoding", "identity, gzip"), body: body,
			wantStatus: 415, wantError: `Content-Encoding "identity, gzip" is not supported`},
		{name: "identity", method: "POST", target: "/compute/", hdr: plain("Content-Encoding", "identity"), body: body, wantStatus: 201},
		{name: "gzip without a body", method: "DELETE", target: "/compute/1", hdr: header("Content-Encoding", "gzip"), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Options{Negotiator: realNegotiator()}, tt.method, tt.target, tt.hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if tt.wantStatus != 415 {
				return
			}
			if e := got.resp.Header.Get("X-OCCI-Error"); !strings.Contains(e, tt.wantError) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, tt.wantError)
			}
			if !strings.Contains(got.body, tt.wantError) {
				t.Errorf("got body %q, want it to contain %q", got.body, tt.wantError)
			}
			if c := got.resp.Header.Get("Occid-Error-Code"); c != "UnsupportedMediaType" {
				t.Errorf("got Occid-Error-Code %q, want UnsupportedMediaType", c)
			}
			if ae := got.resp.Header.Get("Accept-Encoding"); ae != "identity" {
				t.Errorf("got Accept-Encoding %q, want identity", ae)
			}
			if c := got.svc.lastCall(); c.Op != "" {
				t.Errorf("the service was called (%s %s), want no call", c.Op, c.Path)
			}
		})
	}
}

// TestServerRequestContentTypes: which codec reads a request body.
func TestServerRequestContentTypes(t *testing.T) {
	const kind = `Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`
	body := kind + "\nX-OCCI-Attribute: occi.core.title=\"a\"\n"
	tests := []struct {
		name       string
		hdr        http.Header
		body       string
		wantStatus int
		wantError  string
		wantTitle  string // of the created entity
	}{
		{name: "text/occi,text/plain with a body reads text/plain", hdr: header("Content-Type", "text/occi,text/plain"), body: body,
			wantStatus: 201, wantTitle: "a"},
		{name: "rOCCI's text/plain,text/occi", hdr: header("Content-Type", "text/plain,text/occi"), body: body, wantStatus: 201, wantTitle: "a"},
		{name: "text/occi, application/json with a JSON body", hdr: header("Content-Type", "text/occi, application/json"),
			body: `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","title":"j"}`, wantStatus: 201, wantTitle: "j"},
		{name: "text/occi,text/plain without body reads the headers", hdr: header("Content-Type", "text/occi,text/plain", "Category", kind[len("Category: "):],
			"X-OCCI-Attribute", `occi.core.title="h"`), wantStatus: 201, wantTitle: "h"},
		{name: "text/occi with a body", hdr: header("Content-Type", "text/occi"), body: body, wantStatus: 400,
			wantError: "a text/occi request carries its rendering in Category, Link, X-OCCI-Attribute and X-OCCI-Location headers"},
		{name: "text/occi with body OK", hdr: header("Content-Type", "text/occi", "Category", kind[len("Category: "):]), body: "OK\n",
			wantStatus: 201},
		{name: "no Content-Type reads the body as text/plain", body: body, wantStatus: 201, wantTitle: "a"},
		// A byte that is not UTF-8 is refused in every rendering, never
		// stored as U+FFFD.
		{name: "text/plain body not UTF-8", hdr: header("Content-Type", "text/plain"), body: kind + "\nX-OCCI-Attribute: occi.core.title=\"a\xffb\"\n",
			wantStatus: 400, wantError: "body: not valid UTF-8"},
		{name: "JSON body not UTF-8", hdr: header("Content-Type", "application/occi+json"),
			body:       "{\"kind\":\"http://schemas.ogf.org/occi/infrastructure#compute\",\"attributes\":{\"occi.core.title\":\"a\xffb\"}}",
			wantStatus: 400, wantError: "JSON body, attributes.occi.core.title: a string is not valid UTF-8: byte 0xff at offset 95"},
		// A raw control character in a quoted value is refused, naming
		// the attribute; escaped it is fine.
		{name: "NUL in a text/occi header value", hdr: header("Content-Type", "text/occi", "Category", kind[len("Category: "):],
			"X-OCCI-Attribute", "occi.core.title=\"a\x00b\""), wantStatus: 400,
			wantError: "X-Occi-Attribute header: attribute occi.core.title: the quoted value holds the control character 0x00"},
		{name: "bare CR in a text/plain value", hdr: header("Content-Type", "text/plain"), body: kind + "\r\nX-OCCI-Attribute: occi.core.title=\"a\rb\"\r\n",
			wantStatus: 400, wantError: "line 2 (X-OCCI-Attribute): attribute occi.core.title: the quoted value holds the control character 0x0d"},
		{name: "escaped controls in a text/plain value", hdr: header("Content-Type", "text/plain"), body: kind + "\nX-OCCI-Attribute: occi.core.title=\"a\\\"\\\\\\r\\u0000b\"\n",
			wantStatus: 201, wantTitle: "a\"\\\r\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Options{Negotiator: realNegotiator()}, "POST", "/compute/", tt.hdr, tt.body)
			if got.resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", got.resp.StatusCode, tt.wantStatus, got.resp.Header.Get("X-OCCI-Error"))
			}
			if e := got.resp.Header.Get("X-OCCI-Error"); !strings.Contains(e, tt.wantError) {
				t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, tt.wantError)
			}
			if tt.wantTitle != "" {
				if e := got.svc.entities["/compute/3"]; e == nil || e.Title != tt.wantTitle {
					t.Errorf("got created entity %+v, want title %q", e, tt.wantTitle)
				}
			}
		})
	}
}

// TestServerFilterBodyWithoutContentType: a GET filter in a body without
// Content-Type is read as text/plain (the default), never a 500.
func TestServerFilterBodyWithoutContentType(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want *call
	}{
		{name: "occid's codecs", opt: Options{Negotiator: realNegotiator()},
			want: &call{Op: "List", Path: "/compute/", Arg: occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.state": "active"}}}},
		{name: "a negotiator without a default for requests", opt: Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.opt, "GET", "/compute/", nil, `X-OCCI-Attribute: occi.compute.state="active"`)
			if got.resp.StatusCode >= 500 {
				t.Fatalf("got status %d (%q), want no server error", got.resp.StatusCode, got.resp.Header.Get("X-OCCI-Error"))
			}
			if tt.want != nil {
				if diff := cmp.Diff(*tt.want, got.svc.lastCall()); diff != "" {
					t.Errorf("last service call (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestServerActionWithoutCategory: the message says what is missing.
func TestServerActionWithoutCategory(t *testing.T) {
	// The fake service's entity lists its actions, so the term alone
	// would do: the text codec is asked to read a body that names none.
	got := run(t, Options{Negotiator: realNegotiator()}, "POST", "/compute/1?action=save",
		header("X-OCCI-Attribute", `name="x"`), "")
	if got.resp.StatusCode != 400 {
		t.Fatalf("got status %d, want 400", got.resp.StatusCode)
	}
	if e, want := got.resp.Header.Get("X-OCCI-Error"), "no Category naming the action"; !strings.Contains(e, want) {
		t.Errorf("got X-OCCI-Error %q, want it to contain %q", e, want)
	}
}

// slowBody is a request body that fails as a connection whose read
// deadline passed.
type slowBody struct{}

func (slowBody) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

// TestServerBodyTimeout: a body that does not arrive in time is 408.
func TestServerBodyTimeout(t *testing.T) {
	r := httptest.NewRequest("POST", "/compute/", io.NopCloser(slowBody{}))
	r.Header.Set("Content-Type", fakeType)
	w := httptest.NewRecorder()
	newTestServer(seeded(), Options{}).ServeHTTP(w, r)
	if w.Code != http.StatusRequestTimeout {
		t.Fatalf("got status %d, want 408", w.Code)
	}
	if got, want := w.Header().Get("Occid-Error-Code"), "RequestTimeout"; got != want {
		t.Errorf("got Occid-Error-Code %q, want %q", got, want)
	}
	if got, want := strings.Join(w.Header()["X-OCCI-Error"], ""), "the request body did not arrive in time"; !strings.Contains(got, want) {
		t.Errorf("got X-OCCI-Error %q, want it to contain %q", got, want)
	}
}

// TestServerLoadShedding: beyond MaxInFlight requests answer 503 with
// Retry-After at once; operator paths are never refused.
func TestServerLoadShedding(t *testing.T) {
	svc := seeded()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	svc.hook = func(op, path string) error {
		if op == "Get" && path == "/compute/2" {
			entered <- struct{}{}
			<-release
		}
		return nil
	}
	h := newTestServer(svc, Options{MaxInFlight: 1})
	var wg sync.WaitGroup
	wg.Add(1)
	var first *http.Response
	go func() {
		defer wg.Done()
		first = serve(h, "GET", "/compute/2", nil, "")
	}()
	<-entered
	// The fake service holds its lock while blocked: ask nothing of it.
	start := time.Now()
	resp := serve(h, "GET", "/compute/1", nil, "")
	if resp.StatusCode != 503 {
		t.Errorf("got status %d for the request over the limit, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("got Retry-After %q, want 1", got)
	}
	if got, want := resp.Header.Get("X-OCCI-Error"), "the server is serving its limit of 1 requests; retry in a second"; got != want {
		t.Errorf("got X-OCCI-Error %q, want %q", got, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refused request waited %s, want an answer at once", d)
	}
	if resp := serve(h, "GET", "/healthz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("got status %d for /healthz under load, want 200", resp.StatusCode)
	}
	close(release)
	wg.Wait()
	if first.StatusCode != 200 {
		t.Errorf("got status %d for the request within the limit, want 200", first.StatusCode)
	}
	if resp := serve(h, "GET", "/compute/1", nil, ""); resp.StatusCode != 200 {
		t.Errorf("got status %d once the load is gone, want 200", resp.StatusCode)
	}
	t.Run("negative means no bound", func(t *testing.T) {
		if s := newTestServer(seeded(), Options{MaxInFlight: -1}); s.slots != nil {
			t.Errorf("got a bound with MaxInFlight -1")
		}
		if s := newTestServer(seeded(), Options{}); cap(s.slots) != DefaultMaxInFlight {
			t.Errorf("got a bound of %d by default, want %d", cap(s.slots), DefaultMaxInFlight)
		}
	})
}

// TestServerClientGoneIsNotAnError: a request whose client went away is
// logged at INFO as 499 "client closed request", not as an ERROR 503.
func TestServerClientGoneIsNotAnError(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	svc := seeded()
	svc.hook = func(op, path string) error {
		return occi.Errorf(occi.Unavailable, "request cancelled or timed out")
	}
	h := newTestServer(svc, Options{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/compute/1", nil).WithContext(ctx)
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	want := map[string]any{"level": "INFO", "status": 499.0, "error": "client closed request"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("got log %s=%v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["cause"]; ok {
		t.Errorf("got a cause logged for a client that went away: %v", line["cause"])
	}
}

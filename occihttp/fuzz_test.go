package occihttp

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/occid/occi"
)

// FuzzParseQuery checks that any query string parses or fails with
// InvalidArgument, and that what parses survives encodeQuery.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "page=1;number=100", "action=start", "category=compute,web&occi.compute.cores=2",
		"occi.core.title=%22a%20b%22", "page=-1", "%zz=1", "action=a&action=b", ";;&&", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Fatalf("parseQuery(%q): got code %s, want InvalidArgument", raw, occi.ErrorCode(err))
			}
			return
		}
		again, err := parseQuery(encodeQuery(q))
		if err != nil {
			t.Fatalf("parseQuery(encodeQuery(%q)) = %v", raw, err)
		}
		if again.page != q.page || again.number != q.number || again.action != q.action || len(again.categories) != len(q.categories) {
			t.Fatalf("round trip of %q: got %+v, want %+v", raw, again, q)
		}
	})
}

// FuzzServer sends arbitrary requests to a Server over the fake service
// and checks that none gets a 500 (the fake panics only on /panic) and that
// every answer carries the protocol headers.
func FuzzServer(f *testing.F) {
	f.Add("GET", "/compute/?page=1;number=2", "Accept: application/x-fake", "")
	f.Add("POST", "/compute/", "Content-Type: application/x-fake", `{"Kind":{"Scheme":"http://schemas.ogf.org/occi/infrastructure#","Term":"compute"}}`)
	f.Add("POST", "/compute/1?action=start", "", "")
	f.Add("DELETE", "/-/", "Content-Type: application/x-fake", `{"ID":{"Scheme":"a#","Term":"b"}}`)
	f.Add("PUT", "/tags/web", "Content-Type: application/x-fake\nIf-Match: \"1\"", `["/compute/1"]`)
	f.Add("GET", "/-/?category=compute", "Category: x#y\nUser-Agent: OCCI/1.9", "")
	f.Fuzz(func(t *testing.T, method, target, headers, body string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/panic") ||
			strings.HasPrefix(target, "/compute/panic") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		r, err := http.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
		if err != nil || r.URL.Path == "/panic" || r.URL.Path == "/compute/panic" {
			return
		}
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && validHeaderName(k) {
				r.Header.Add(k, strings.TrimSpace(v))
			}
		}
		w := httptest.NewRecorder()
		newTestServer(seeded(), Options{MaxBody: 4096}).ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s: got status %d (%s)", method, target, w.Code, w.Header().Get("X-OCCI-Error"))
		}
		if w.Header().Get("Server") == "" || w.Header().Get("Content-Type") == "" {
			t.Fatalf("%s %s: missing Server or Content-Type: %v", method, target, w.Header())
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// FuzzIfMatch checks the If-Match reader: it never panics, "*" is revision
// 0, and any other accepted value is exactly one quoted decimal revision
// of at least 1 that reads back the same.
func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`*`, `"1"`, `"42"`, `W/"3"`, `3`, ``, `"1", "2"`, `"01"`, `"-1"`, `"0"`, `"9223372036854775808"`, ` * `, `"`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		rev, err := ifMatch([]string{v})
		if err != nil {
			if c := occi.ErrorCode(err); c != occi.InvalidArgument && c != occi.PreconditionFailed {
				t.Fatalf("ifMatch(%q): error code %v, want InvalidArgument or PreconditionFailed", v, c)
			}
			return
		}
		if strings.TrimSpace(v) == "*" {
			if rev != 0 {
				t.Fatalf("ifMatch(%q) = %d, want 0", v, rev)
			}
			return
		}
		if rev < 1 || strings.TrimSpace(v) != `"`+strconv.FormatInt(rev, 10)+`"` {
			t.Fatalf("ifMatch(%q) accepted revision %d", v, rev)
		}
	})
}

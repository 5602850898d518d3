package occihttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
)

// lister is the fake service with LocationLister: /compute/ holds n
// synthetic members.
type lister struct {
	*fakeService
	n     int
	err   error
	calls int
}

func (l *lister) ListLocations(ctx context.Context, q occi.ListQuery) ([]string, error) {
	l.calls++
	if l.err != nil {
		return nil, l.err
	}
	out := make([]string, l.n)
	for i := range out {
		out[i] = fmt.Sprintf("/compute/%06d", i)
	}
	return out, nil
}

func TestListLocations(t *testing.T) {
	neg := render.NewNegotiator(occitext.Plain(), occitext.Headers(), urilist.New())
	tests := []struct {
		name, method, accept string
		n                    int
		err                  error
		wantStatus           int
		wantLength           bool // a Content-Length header
		wantLister           bool // answered from ListLocations
	}{
		{"short uri-list", "GET", "text/uri-list", 10, nil, 200, true, true},
		{"long uri-list, in parts", "GET", "text/uri-list", 10_000, nil, 200, false, true},
		{"long text/plain, in parts", "GET", "text/plain", streamLocationsAbove + 1, nil, 200, false, true},
		{"short text/occi+plain (an alias)", "GET", "text/occi+plain", 10, nil, 200, true, true},
		{"long text/occi+plain (an alias), in parts", "GET", "text/occi+plain", streamLocationsAbove + 1, nil, 200, false, true},
		{"long HEAD", "HEAD", "text/uri-list", 10_000, nil, 200, false, true},
		{"empty", "GET", "text/uri-list", 0, nil, 200, true, true},
		{"text/occi lists entities", "GET", "text/occi", 5, nil, 200, true, false},
		{"failure", "GET", "text/uri-list", 5, occi.Errorf(occi.TooLarge, "too many"), 413, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &lister{fakeService: seeded(), n: tc.n, err: tc.err}
			s := NewServer(svc, Options{Negotiator: neg})
			resp := serve(s, tc.method, "/compute/", header("Accept", tc.accept), "")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if got := svc.calls > 0; got != tc.wantLister {
				t.Errorf("answered from ListLocations: got %v, want %v", got, tc.wantLister)
			}
			if got := resp.Header.Get("Content-Length") != ""; got != tc.wantLength {
				t.Errorf("Content-Length present: got %v, want %v", got, tc.wantLength)
			}
			if tc.err != nil || !tc.wantLister {
				return
			}
			c, err := neg.ForResponse(tc.accept)
			if err != nil {
				t.Fatal(err)
			}
			locs, _ := svc.ListLocations(context.Background(), occi.ListQuery{})
			var want bytes.Buffer
			h := http.Header{}
			if err := c.EncodeLocations(&render.Writer{Header: h, Body: &want, Base: "http://example.com"}, locs); err != nil {
				t.Fatal(err)
			}
			if tc.method == "HEAD" {
				want.Reset()
			}
			if !bytes.Equal(body, want.Bytes()) {
				t.Errorf("body: got %d bytes, want %d (the rendering of all %d locations at once)", len(body), want.Len(), len(locs))
			}
			// The media type asked for (an alias stays as asked), with
			// the codec's parameters.
			wantType := tc.accept
			if _, params, ok := strings.Cut(h.Get("Content-Type"), ";"); ok {
				wantType += ";" + params
			}
			if got := resp.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type: got %q, want %q", got, wantType)
			}
		})
	}
}

// versioned is the fake service with DiscoveryVersioner.
type versioned struct {
	*fakeService
	version string
}

func (v *versioned) DiscoveryVersion(ctx context.Context) (string, error) { return v.version, nil }

func TestDiscoveryCache(t *testing.T) {
	svc := &versioned{fakeService: seeded(), version: "1"}
	s := newTestServer(svc, Options{})
	discovers := func() int {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		n := 0
		for _, c := range svc.calls {
			if c.Op == "Discover" {
				n++
			}
		}
		return n
	}
	get := func(target, accept string) string {
		t.Helper()
		resp := serve(s, "GET", target, header("Accept", accept), "")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: status %d: %s", target, resp.StatusCode, b)
		}
		return resp.Header.Get("Content-Type") + "\n" + string(b)
	}
	steps := []struct {
		name          string
		do            func() string
		version       string
		wantDiscovers int
		wantSame      int // index of an earlier step whose answer this one equals, -1 for none
	}{
		{"first", func() string { return get("/-/", fakeType) }, "1", 1, -1},
		{"cached", func() string { return get("/-/", fakeType) }, "1", 1, 0},
		{"other base URL", func() string { return get("http://other.example/-/", fakeType) }, "1", 2, -1},
		// A filter by term is resolved through Discover too, then applied.
		{"filtered: not cached", func() string { return get("/-/?category=compute", fakeType) }, "1", 4, -1},
		{"new version", func() string { return get("/-/", fakeType) }, "2", 5, 0},
		{"cached again", func() string { return get("/-/", fakeType) }, "2", 5, 0},
	}
	var answers []string
	for _, st := range steps {
		svc.version = st.version
		got := st.do()
		answers = append(answers, got)
		if n := discovers(); n != st.wantDiscovers {
			t.Errorf("%s: Discover called %d times in all, want %d", st.name, n, st.wantDiscovers)
		}
		if st.wantSame >= 0 && got != answers[st.wantSame] {
			t.Errorf("%s: got %q, want the answer of step %d, %q", st.name, got, st.wantSame, answers[st.wantSame])
		}
	}
}

// TestRenderCachesAreBoundedInBytes checks that the entity and discovery
// rendering caches count what a rendering holds in its key and headers as
// well as its body: a client choosing long Host values (which go into the
// key, into Content-Location and, in text/occi, into every header) must
// not grow them past their bounds.
func TestRenderCachesAreBoundedInBytes(t *testing.T) {
	host := strings.Repeat("h", 100<<10)
	header := func(i int) http.Header {
		return http.Header{"Content-Location": {fmt.Sprintf("http://%d.%s/compute/c1", i, host)}, "Content-Type": {"text/occi"}}
	}
	t.Run("entities", func(t *testing.T) {
		var c entityCache
		for i := range 1000 {
			c.put(fmt.Sprintf("/compute/c1\x00text/occi\x00\x00http://%d.%s", i, host), &cachedEntity{token: "t", header: header(i), body: []byte("OK\n")})
		}
		if total := cacheBytes(c.m, func(e *cachedEntity) int { return e.size }); c.bytes != total || total > maxCachedEntityBytes || len(c.m) == 0 {
			t.Errorf("entity cache: %d renderings of %d bytes (counted %d), want at least one and at most %d bytes", len(c.m), total, c.bytes, maxCachedEntityBytes)
		}
		c.put("big", &cachedEntity{token: "t", header: http.Header{"Link": {strings.Repeat("l", maxCachedEntity)}}, body: []byte("OK\n")})
		if c.m["big"] != nil {
			t.Error("a rendering of headers larger than the per-rendering bound was kept")
		}
	})
	t.Run("discovery", func(t *testing.T) {
		var c renderCache
		body := []byte(strings.Repeat("Category: x; location=\"http://"+host+"/x/\"\n", 3))
		for i := range 200 {
			c.put(discoveryKey{version: "1/alice", mediaType: "text/plain", base: fmt.Sprintf("http://%d.%s", i, host)}, &cachedReply{header: header(i), body: body})
		}
		if total := cacheBytes(c.m, func(r *cachedReply) int { return r.size }); c.bytes != total || total > maxCachedDiscoveryBytes || len(c.m) == 0 {
			t.Errorf("discovery cache: %d renderings of %d bytes (counted %d), want at least one and at most %d bytes", len(c.m), total, c.bytes, maxCachedDiscoveryBytes)
		}
		c.put(discoveryKey{base: "big"}, &cachedReply{body: make([]byte, maxCachedDiscovery+1)})
		if c.m[discoveryKey{base: "big"}] != nil {
			t.Error("a rendering larger than the per-rendering bound was kept")
		}
	})
}

// cacheBytes adds up the sizes of a cache's renderings.
func cacheBytes[K comparable, V any](m map[K]V, size func(V) int) int {
	n := 0
	for _, v := range m {
		n += size(v)
	}
	return n
}

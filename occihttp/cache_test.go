package occihttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/store/sqlitestore"
)

// cacheNode is one occid over a SQLite file that another node shares.
type cacheNode struct {
	url string
	reg *prometheus.Registry
}

// startCacheNode starts a server over an engine of its own on the SQLite
// file at path, as a second occid process on the same data would be; drv
// is the backend both talk to.
func startCacheNode(t *testing.T, path string, drv *simbackend.Driver) *cacheNode {
	t.Helper()
	url, reg := serveCache(t, cacheEngine(t, path, drv, nil), nil)
	return &cacheNode{url: url, reg: reg}
}

// openSim opens a simulator that is closed at the end of the test.
func openSim(t *testing.T) *simbackend.Driver {
	t.Helper()
	drv, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	return drv
}

// cacheEngine opens the SQLite file at path and an engine over it and drv,
// both closed at the end of the test; cfg, if not nil, adjusts the
// engine's configuration.
func cacheEngine(t *testing.T, path string, drv backend.Driver, cfg func(*engine.Config)) *engine.Engine {
	t.Helper()
	st, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := engine.Config{Store: st, Driver: drv}
	if cfg != nil {
		cfg(&c)
	}
	e, err := engine.New(c)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		st.Close()
	})
	return e
}

// serveCache starts a test server for svc with the tests' codecs and its
// own metrics registry, closed at the end of the test; opts, if not nil,
// adjusts the server's options.
func serveCache(t *testing.T, svc occi.Service, opts func(*occihttp.Options)) (string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := occihttp.Options{Negotiator: render.NewNegotiator(codecs()...), Registry: reg}
	if opts != nil {
		opts(&o)
	}
	srv := httptest.NewServer(withTestIdentity(occihttp.NewServer(svc, o)))
	t.Cleanup(srv.Close)
	return srv.URL, reg
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (n *cacheNode) do(t *testing.T, method, path, user, accept, contentType, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, n.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(userHeader, user)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestEntityCacheIsNeverStale checks the rendering cache from outside:
// two servers share one SQLite file (as two occid processes would), and
// whatever is written through one, or by an action or an observation, is
// what the next GET through the other shows, at once, in every rendering,
// while repeated GETs with nothing written in between are answered from
// the cache with the same bytes.
func TestEntityCacheIsNeverStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	b := startCacheNode(t, path, drv)
	const plain = "text/plain"
	const jsonType = "application/occi+json"
	computeKind := `Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"` + "\n"

	made := a.do(t, "PUT", "/compute/vm1", "alice", plain, plain, computeKind+`X-OCCI-Attribute: occi.core.title="first"`+"\n")
	if made.status != http.StatusCreated {
		t.Fatalf("create: %d %s", made.status, made.body)
	}
	get := func(n *cacheNode, user, accept string, hdr ...string) answer {
		t.Helper()
		return n.do(t, "GET", "/compute/vm1", user, accept, "", "", hdr...)
	}
	hits := func() float64 { return cacheCount(t, a.reg, "hit") }

	first := get(a, "alice", plain)
	before := hits()
	second := get(a, "alice", plain)
	if hits() != before+1 {
		t.Fatalf("a second GET with nothing written was not answered from the cache (hits %v → %v)", before, hits())
	}
	if first.status != 200 || second.body != first.body || second.header.Get("ETag") != first.header.Get("ETag") ||
		second.header.Get("Content-Type") != first.header.Get("Content-Type") ||
		second.header.Get("Content-Location") != first.header.Get("Content-Location") ||
		second.header.Get("X-Request-Id") == first.header.Get("X-Request-Id") {
		t.Fatalf("the cached answer differs from the first:\n%v %q\n%v %q", first.header, first.body, second.header, second.body)
	}
	head := a.do(t, "HEAD", "/compute/vm1", "alice", plain, "", "")
	if head.status != 200 || head.body != "" || head.header.Get("Content-Length") != first.header.Get("Content-Length") ||
		head.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("HEAD from the cache: %d %v %q", head.status, head.header, head.body)
	}
	if got := get(a, "alice", jsonType); got.status != 200 || !strings.Contains(got.header.Get("Content-Type"), jsonType) ||
		!strings.HasPrefix(strings.TrimSpace(got.body), "{") {
		t.Fatalf("JSON after text/plain was cached: %d %s %q", got.status, got.header.Get("Content-Type"), got.body)
	}
	if got := get(a, "alice", "text/occi"); got.status != 200 || got.header.Get("X-Occi-Attribute") == "" {
		t.Fatalf("text/occi after text/plain was cached: %d %v %q", got.status, got.header, got.body)
	}
	if got := get(a, "alice", plain, "Host", "other.example:8080"); !strings.Contains(got.body, "http://other.example:8080/") ||
		got.header.Get("Content-Location") != "http://other.example:8080/compute/vm1" {
		t.Fatalf("another Host got locations of the first: %v %q", got.header, got.body)
	}
	if got := get(a, "bob", plain); got.status != http.StatusNotFound || strings.Contains(got.body, "first") {
		t.Fatalf("bob after alice's GET was cached: %d %q", got.status, got.body)
	}

	// A change through the other process.
	upd := b.do(t, "POST", "/compute/vm1", "alice", plain, plain, computeKind+`X-OCCI-Attribute: occi.core.title="second"`+"\n")
	if upd.status != 200 {
		t.Fatalf("update through b: %d %s", upd.status, upd.body)
	}
	for _, accept := range []string{plain, jsonType, "text/occi"} {
		got := get(a, "alice", accept)
		text := got.body + strings.Join(got.header.Values("X-Occi-Attribute"), "\n")
		if !strings.Contains(text, "second") || strings.Contains(text, "first") || got.header.Get("ETag") == first.header.Get("ETag") {
			t.Fatalf("%s through a after b's update: ETag %s, %q", accept, got.header.Get("ETag"), text)
		}
	}

	// An action through the other process changes the state and the
	// actions offered.
	state := func(n *cacheNode) string {
		t.Helper()
		got := get(n, "alice", plain)
		for _, line := range strings.Split(got.body, "\n") {
			if strings.HasPrefix(line, "X-OCCI-Attribute: occi.compute.state=") {
				return strings.TrimPrefix(line, "X-OCCI-Attribute: occi.compute.state=")
			}
		}
		t.Fatalf("no state in %q", got.body)
		return ""
	}
	was := state(a)
	action := "start"
	if was == `"active"` {
		action = "stop"
	}
	act := b.do(t, "POST", "/compute/vm1?action="+action, "alice", plain, plain,
		`Category: `+action+`; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"`+"\n")
	if act.status != 200 {
		t.Fatalf("%s through b: %d %s", action, act.status, act.body)
	}
	if now, then := state(a), state(b); now == was || now != then {
		t.Fatalf("state through a after b's %s: %s (was %s; b says %s)", action, now, was, then)
	}

	// A tag defined and associated through the other process.
	tag := b.do(t, "POST", "/-/", "alice", plain, plain,
		`Category: cached; scheme="http://occid.local/occi/users/alice/tags#"; class="mixin"; location="/users/alice/tags/cached/"`+"\n")
	if tag.status != 200 {
		t.Fatalf("define a tag through b: %d %s", tag.status, tag.body)
	}
	assoc := b.do(t, "POST", "/users/alice/tags/cached/", "alice", plain, "text/uri-list", "/compute/vm1\n")
	if assoc.status != 200 {
		t.Fatalf("associate through b: %d %s", assoc.status, assoc.body)
	}
	if got := get(a, "alice", plain); !strings.Contains(got.body, "http://occid.local/occi/users/alice/tags#") {
		t.Fatalf("the tag associated through b is missing through a: %q", got.body)
	}

	// Deleted through the other process.
	if del := b.do(t, "DELETE", "/compute/vm1", "alice", plain, "", ""); del.status != 200 {
		t.Fatalf("delete through b: %d %s", del.status, del.body)
	}
	if got := get(a, "alice", plain); got.status != http.StatusNotFound {
		t.Fatalf("GET through a after b deleted it: %d %q", got.status, got.body)
	}
	if got := a.do(t, "HEAD", "/compute/vm1", "alice", plain, "", ""); got.status != http.StatusNotFound {
		t.Fatalf("HEAD through a after b deleted it: %d", got.status)
	}
}

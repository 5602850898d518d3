package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file starts the real Main on 127.0.0.1:0 (SQLite in a temporary data
// directory, the sim backend) and speaks raw HTTP to it, row by row of the
// status-code table of the OCCI 1.2 digest (section 2.4), in text/plain,
// text/occi and application/occi+json.

const (
	infra      = "http://schemas.ogf.org/occi/infrastructure#"
	core       = "http://schemas.ogf.org/occi/core#"
	osTpl      = "http://occid.local/occi/os_tpl#"
	anonTplScm = "http://occid.local/occi/users/anonymous/os_tpl#" // the anonymous user's saved OS templates
	resTpl     = "http://occid.local/occi/resource_tpl#"
	computeAc  = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkAc  = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	userTags   = "http://occid.local/occi/users/anonymous/tags#"
)

// startMain runs occid on a free loopback port with the data in dir.
func startMain(t *testing.T, dir, backend string, logs io.Writer) *Main {
	t.Helper()
	m := NewMain()
	m.Stderr = logs
	m.Config.Listen = "127.0.0.1:0"
	m.Config.DataDir = dir
	m.Config.Backend = backend
	m.Config.ShutdownTimeout = 10 * time.Second
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return m
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitInFlight waits until occid at base serves n requests besides the
// /metrics request that asks.
func waitInFlight(t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf("occid_http_requests_in_flight %d\n", n+1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, "GET", base+"/metrics", nil, "")
		if strings.Contains(r.body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("occid never had %d requests in flight", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goDo sends a request from another goroutine; the reply (or the error, as
// a reply with status 0 and the error as body) arrives on the channel.
func goDo(method, url string, hdr http.Header, body string) <-chan *reply {
	ch := make(chan *reply, 1)
	go func() {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			ch <- &reply{body: err.Error()}
			return
		}
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- &reply{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- &reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}()
	return ch
}

// reply is a response read in full.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends one request with raw headers, like curl -H.
func do(t *testing.T, method, url string, hdr http.Header, body string) *reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// ---- renderings written by hand, as a client would ----

type attr struct {
	name string
	val  any // string, int, float64 or bool
}

type inlineLink struct {
	kind, target, targetKind string
}

type media struct {
	name string
	mt   string
}

var medias = []media{
	{name: "text-plain", mt: "text/plain"},
	{name: "text-occi", mt: "text/occi"},
	{name: "json", mt: "application/occi+json"},
}

func splitID(id string) (scheme, term string) {
	i := strings.LastIndexByte(id, '#')
	return id[:i+1], id[i+1:]
}

func category(id, class string, extra ...string) string {
	scheme, term := splitID(id)
	s := fmt.Sprintf("%s; scheme=%q; class=%q", term, scheme, class)
	for _, e := range extra {
		s += "; " + e
	}
	return s
}

func textValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	default:
		return fmt.Sprint(x)
	}
}

// text renders named header lines: in the body for text/plain, as headers
// for text/occi.
func (md media) text(lines [][2]string) (http.Header, string) {
	h := http.Header{"Content-Type": {md.mt}, "Accept": {md.mt}}
	if md.mt == "text/occi" {
		for _, l := range lines {
			h[l[0]] = append(h[l[0]], l[1])
		}
		return h, ""
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l[0] + ": " + l[1] + "\n")
	}
	return h, b.String()
}

func (md media) json(v any) (http.Header, string) {
	b, _ := json.Marshal(v)
	return http.Header{"Content-Type": {md.mt}, "Accept": {md.mt}}, string(b)
}

func (md media) accept() http.Header { return http.Header{"Accept": {md.mt}} }

func (md media) entity(kind string, mixins []string, attrs []attr, links []inlineLink) (http.Header, string) {
	if md.mt == "application/occi+json" {
		o := map[string]any{"kind": kind}
		if len(mixins) > 0 {
			o["mixins"] = mixins
		}
		as := map[string]any{}
		for _, a := range attrs {
			if a.name == "occi.core.title" {
				o["title"] = a.val
				continue
			}
			as[a.name] = a.val
		}
		if len(as) > 0 {
			o["attributes"] = as
		}
		var ls []any
		for _, l := range links {
			ls = append(ls, map[string]any{"kind": l.kind, "target": map[string]any{"location": l.target, "kind": l.targetKind}})
		}
		if ls != nil {
			o["links"] = ls
		}
		return md.json(o)
	}
	var lines [][2]string
	if kind != "" {
		lines = append(lines, [2]string{"Category", category(kind, "kind")})
	}
	for _, m := range mixins {
		lines = append(lines, [2]string{"Category", category(m, "mixin")})
	}
	for _, l := range links {
		lines = append(lines, [2]string{"Link", fmt.Sprintf("<%s>; rel=%q; category=%q", l.target, l.targetKind, l.kind)})
	}
	for _, a := range attrs {
		lines = append(lines, [2]string{"X-OCCI-Attribute", a.name + "=" + textValue(a.val)})
	}
	return md.text(lines)
}

func (md media) action(id string, attrs ...attr) (http.Header, string) {
	if md.mt == "application/occi+json" {
		as := map[string]any{}
		for _, a := range attrs {
			as[a.name] = a.val
		}
		return md.json(map[string]any{"action": id, "attributes": as})
	}
	lines := [][2]string{{"Category", category(id, "action")}}
	for _, a := range attrs {
		lines = append(lines, [2]string{"X-OCCI-Attribute", a.name + "=" + textValue(a.val)})
	}
	return md.text(lines)
}

func (md media) mixin(id, location string) (http.Header, string) {
	if md.mt == "application/occi+json" {
		scheme, term := splitID(id)
		m := map[string]any{"term": term, "scheme": scheme}
		if location != "" {
			m["location"] = location
		}
		return md.json(map[string]any{"mixins": []any{m}})
	}
	var extra []string
	if location != "" {
		extra = append(extra, fmt.Sprintf("location=%q", location))
	}
	return md.text([][2]string{{"Category", category(id, "mixin", extra...)}})
}

func (md media) locations(locs ...string) (http.Header, string) {
	if md.mt == "application/occi+json" {
		return md.json(locs)
	}
	var lines [][2]string
	for _, l := range locs {
		lines = append(lines, [2]string{"X-OCCI-Location", l})
	}
	return md.text(lines)
}

// splitOutsideQuotes splits s at commas that are not inside double quotes.
func splitOutsideQuotes(s string) []string {
	var out []string
	quoted, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// elements returns the values of a text element (Category,
// X-OCCI-Attribute, X-OCCI-Location, Link) in a text answer.
func (md media) elements(r *reply, name string) []string {
	var out []string
	if md.mt == "text/occi" {
		for _, v := range r.header.Values(name) {
			out = append(out, splitOutsideQuotes(v)...)
		}
		return out
	}
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// attrOf returns an attribute of an entity answer in its text form
// ("active" quoted, numbers bare), or "" if absent.
func (md media) attrOf(t *testing.T, r *reply, name string) string {
	t.Helper()
	if md.mt == "application/occi+json" {
		var o struct {
			Title      string         `json:"title"`
			Attributes map[string]any `json:"attributes"`
		}
		dec := json.NewDecoder(strings.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("answer is not a JSON entity: %v: %q", err, r.body)
		}
		if name == "occi.core.title" && o.Title != "" {
			return strconv.Quote(o.Title)
		}
		v, ok := o.Attributes[name]
		if !ok {
			return ""
		}
		return textValue(v)
	}
	for _, a := range md.elements(r, "X-OCCI-Attribute") {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// lists reports whether a collection answer holds the entity at path.
func (md media) lists(base string, r *reply, path string) bool {
	if md.mt == "application/occi+json" {
		i := strings.LastIndexByte(path, '/')
		return strings.Contains(r.body, path[i+1:])
	}
	for _, l := range md.elements(r, "X-OCCI-Location") {
		if l == base+path || l == path {
			return true
		}
	}
	return false
}

// ---- the test ----

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	dir := t.TempDir()
	logs := &syncBuffer{}
	m := startMain(t, dir, "sim://", logs)
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("occid log:\n%s", logs.String())
		}
	}()
	base := m.URL()

	for _, md := range medias {
		t.Run(md.name, func(t *testing.T) { statusTable(t, base, md) })
	}
	t.Run("request headers too large: 431", func(t *testing.T) {
		r := do(t, "GET", base+"/-/", http.Header{"X-Padding": {strings.Repeat("x", 3<<20)}}, "")
		if r.status != 431 {
			t.Errorf("got status %d, want 431", r.status)
		}
	})
	t.Run("metrics count the requests", func(t *testing.T) {
		r := do(t, "GET", base+"/metrics", nil, "")
		for _, want := range []string{`occid_http_requests_total{method="POST",route="kind",status="201"}`, "occid_entities{kind=\"compute\"}", "go_goroutines"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("one log line per request", func(t *testing.T) {
		m.logw.Flush()
		if !strings.Contains(logs.String(), "msg=request") || !strings.Contains(logs.String(), "route=entity status=200") {
			t.Errorf("the log has no request lines:\n%s", logs.String())
		}
	})
}

// mustStatus fails unless r has the status; it shows the server's error.
func mustStatus(t *testing.T, r *reply, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("got status %d, want %d (X-OCCI-Error %q, body %.300q)", r.status, want, r.header.Get("X-OCCI-Error"), r.body)
	}
	if s := r.header.Get("Server"); !strings.HasSuffix(s, " OCCI/1.2") || !strings.HasPrefix(s, "occid/") {
		t.Errorf("got Server %q, want occid/<version> OCCI/1.2", s)
	}
	if r.header.Get("Content-Type") == "" {
		t.Errorf("got no Content-Type")
	}
	if want >= 400 && r.header.Get("X-OCCI-Error") == "" {
		t.Errorf("got no X-OCCI-Error with status %d", want)
	}
	if want == 405 && r.header.Get("Allow") == "" {
		t.Errorf("got no Allow with 405")
	}
}

// created checks a 201 and returns the path of its Location.
func created(t *testing.T, base string, r *reply) string {
	t.Helper()
	mustStatus(t, r, 201)
	loc := r.header.Get("Location")
	path, ok := strings.CutPrefix(loc, base)
	if !ok || !strings.HasPrefix(path, "/") {
		t.Fatalf("got Location %q, want an absolute URL under %s", loc, base)
	}
	return path
}

func statusTable(t *testing.T, base string, md media) {
	// Fixtures: a network, and a compute from an OS and a resource template
	// with an inline network interface to it.
	h, b := md.entity(infra+"network", nil, []attr{{"occi.core.title", "net-" + md.name}}, nil)
	network := created(t, base, do(t, "POST", base+"/network/", h, b))
	h, b = md.entity(infra+"compute", []string{osTpl + "debian-12", resTpl + "small"},
		[]attr{{"occi.core.title", "vm-" + md.name}}, []inlineLink{{infra + "networkinterface", network, infra + "network"}})
	compute := created(t, base, do(t, "POST", base+"/compute/", h, b))
	tag := userTags + "e2e-" + md.name
	tagLoc := "/users/anonymous/tags/e2e-" + md.name + "/"

	rows := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"GET /-/ succeeded: 200 + rendering", func(t *testing.T) {
			r := do(t, "GET", base+"/-/", md.accept(), "")
			mustStatus(t, r, 200)
			if !strings.Contains(r.body+strings.Join(md.elements(r, "Category"), "\n"), "compute") {
				t.Errorf("the query interface does not list compute: %.300q", r.body)
			}
		}},
		{"GET the .well-known mirror of /-/: 200", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+"/.well-known/org/ogf/occi/-/", md.accept(), ""), 200)
		}},
		{"GET /-/ with a category filter: 200", func(t *testing.T) {
			r := do(t, "GET", base+"/-/?category="+strings.ReplaceAll(infra+"storage", "#", "%23"), md.accept(), "")
			mustStatus(t, r, 200)
			if strings.Contains(r.body+strings.Join(md.elements(r, "Category"), "\n"), "networkinterface") {
				t.Errorf("the filtered answer lists networkinterface")
			}
		}},
		{"GET a collection succeeded: 200 + rendering", func(t *testing.T) {
			r := do(t, "GET", base+"/compute/", md.accept(), "")
			mustStatus(t, r, 200)
			if !md.lists(base, r, compute) {
				t.Errorf("the compute collection does not list %s: %.300q", compute, r.body)
			}
		}},
		{"a collection without its trailing slash answers the same", func(t *testing.T) {
			a, b := do(t, "GET", base+"/compute/", md.accept(), ""), do(t, "GET", base+"/compute", md.accept(), "")
			mustStatus(t, b, 200)
			if a.body != b.body || md.lists(base, a, compute) != md.lists(base, b, compute) {
				t.Errorf("GET /compute answers %q, GET /compute/ %q", b.body, a.body)
			}
		}},
		{"GET an entity succeeded: 200 + rendering", func(t *testing.T) {
			r := do(t, "GET", base+compute, md.accept(), "")
			mustStatus(t, r, 200)
			if got := md.attrOf(t, r, "occi.compute.state"); got != `"inactive"` {
				t.Errorf("got occi.compute.state %s, want \"inactive\" (a new compute is not started)", got)
			}
			if got := md.attrOf(t, r, "occi.compute.cores"); got != "1" {
				t.Errorf("got occi.compute.cores %s, want 1 from resource_tpl small", got)
			}
			if r.header.Get("ETag") == "" {
				t.Errorf("got no ETag")
			}
		}},
		{"POST to a kind collection created an entity: 201 + Location", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 1.0}}, nil)
			r := do(t, "POST", base+"/storage/", h, b)
			loc := created(t, base, r)
			if !strings.Contains(r.body+strings.Join(r.header.Values("X-OCCI-Location"), ","), base+loc) {
				t.Errorf("the 201 body does not name %s: %q", base+loc, r.body)
			}
		}},
		{"PUT to an entity URL created it: 201 + Location", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 2.0}}, nil)
			if loc := created(t, base, do(t, "PUT", base+"/storage/put-"+md.name, h, b)); loc != "/storage/put-"+md.name {
				t.Errorf("got Location %s, want /storage/put-%s", loc, md.name)
			}
		}},
		{"PUT to an entity URL replaced it: 200 + full rendering", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 2.0}, {"occi.core.title", "replaced"}}, nil)
			r := do(t, "PUT", base+"/storage/put-"+md.name, h, b)
			mustStatus(t, r, 200)
			if got := md.attrOf(t, r, "occi.core.title"); got != `"replaced"` {
				t.Errorf("got title %s, want \"replaced\"", got)
			}
		}},
		{"POST to an entity URL, partial update: 200 + full rendering", func(t *testing.T) {
			h, b := md.entity("", nil, []attr{{"occi.core.title", "renamed"}}, nil)
			r := do(t, "POST", base+compute, h, b)
			mustStatus(t, r, 200)
			if got := md.attrOf(t, r, "occi.core.title"); got != `"renamed"` {
				t.Errorf("got title %s, want \"renamed\"", got)
			}
			if got := md.attrOf(t, r, "occi.compute.state"); got == "" {
				t.Errorf("the answer is not a full rendering: no occi.compute.state")
			}
		}},
		{"If-Match with a stale ETag: 412", func(t *testing.T) {
			h, b := md.entity("", nil, []attr{{"occi.core.title", "stale"}}, nil)
			h.Set("If-Match", `"1"`)
			mustStatus(t, do(t, "POST", base+compute, h, b), 412)
		}},
		{"POST /-/ created a user mixin: 200", func(t *testing.T) {
			h, b := md.mixin(tag, tagLoc)
			mustStatus(t, do(t, "POST", base+"/-/", h, b), 200)
		}},
		{"user-mixin name collision: 409", func(t *testing.T) {
			h, b := md.mixin(tag, tagLoc)
			mustStatus(t, do(t, "POST", base+"/-/", h, b), 409)
		}},
		{"POST to a mixin collection (associate): 200 + collection", func(t *testing.T) {
			h, b := md.locations(compute)
			r := do(t, "POST", base+tagLoc, h, b)
			mustStatus(t, r, 200)
			if !md.lists(base, r, compute) {
				t.Errorf("the membership does not list %s: %q", compute, r.body)
			}
		}},
		{"PUT to a mixin collection (replace): 200 + collection", func(t *testing.T) {
			h, b := md.locations(network)
			r := do(t, "PUT", base+tagLoc, h, b)
			mustStatus(t, r, 200)
			if !md.lists(base, r, network) || md.lists(base, r, compute) {
				t.Errorf("the membership is not just %s: %q", network, r.body)
			}
		}},
		{"DELETE on a mixin collection (dissociate): 200", func(t *testing.T) {
			mustStatus(t, do(t, "DELETE", base+tagLoc, md.accept(), ""), 200)
			r := do(t, "GET", base+tagLoc, md.accept(), "")
			mustStatus(t, r, 200)
			if md.lists(base, r, network) {
				t.Errorf("the mixin collection still lists %s", network)
			}
		}},
		{"POST ?action= on an entity: 200 + its new rendering", func(t *testing.T) {
			h, b := md.action(computeAc + "start")
			r := do(t, "POST", base+compute+"?action=start", h, b)
			mustStatus(t, r, 200)
			if got := md.attrOf(t, r, "occi.compute.state"); got != `"active"` {
				t.Errorf("got occi.compute.state %s, want \"active\"", got)
			}
		}},
		{"action not allowed in the current state: 409", func(t *testing.T) {
			h, b := md.action(computeAc + "start")
			mustStatus(t, do(t, "POST", base+compute+"?action=start", h, b), 409)
		}},
		{"action not defined for the entity: 400", func(t *testing.T) {
			h, b := md.action(networkAc + "up")
			mustStatus(t, do(t, "POST", base+compute+"?action=up", h, b), 400)
		}},
		{"POST ?action=save: 200 + the new OS template, which creates computes", func(t *testing.T) {
			h, b := md.action(computeAc+"save", attr{"method", "hot"}, attr{"name", "golden-" + md.name})
			r := do(t, "POST", base+compute+"?action=save", h, b)
			mustStatus(t, r, 200)
			if !strings.Contains(r.body+strings.Join(md.elements(r, "Category"), ","), "golden-"+md.name) {
				t.Fatalf("the answer is not the new template golden-%s: %q", md.name, r.body)
			}
			// Without authentication everyone is the anonymous user, whose
			// saved templates live in its own name space.
			h, b = md.entity(infra+"compute", []string{anonTplScm + "golden-" + md.name}, nil, nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				r = do(t, "POST", base+"/compute/", h, b)
				if r.status != 409 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond) // the copy is still running
			}
			created(t, base, r)
		}},
		{"POST ?action=stop with a parameter: 200 + its new rendering", func(t *testing.T) {
			h, b := md.action(computeAc+"stop", attr{"method", "graceful"})
			r := do(t, "POST", base+compute+"?action=stop", h, b)
			mustStatus(t, r, 200)
			if got := md.attrOf(t, r, "occi.compute.state"); got != `"inactive"` {
				t.Errorf("got occi.compute.state %s, want \"inactive\"", got)
			}
		}},
		{"POST ?action= on a collection: 200", func(t *testing.T) {
			h, b := md.locations(compute)
			mustStatus(t, do(t, "PUT", base+tagLoc, h, b), 200)
			h, b = md.action(computeAc + "start")
			r := do(t, "POST", base+tagLoc+"?action=start", h, b)
			mustStatus(t, r, 200)
			if !md.lists(base, r, compute) {
				t.Errorf("the answer does not list %s: %q", compute, r.body)
			}
			mustStatus(t, do(t, "DELETE", base+tagLoc, md.accept(), ""), 200)
		}},
		{"DELETE /-/ deleted a user mixin: 200", func(t *testing.T) {
			h, b := md.mixin(tag, tagLoc)
			mustStatus(t, do(t, "DELETE", base+"/-/", h, b), 200)
		}},
		{"past the last page: 200 + empty collection", func(t *testing.T) {
			r := do(t, "GET", base+"/compute/?page=1000;number=5", md.accept(), "")
			mustStatus(t, r, 200)
			if md.lists(base, r, compute) {
				t.Errorf("page 1000 lists %s", compute)
			}
		}},
		{"empty collection: 200 + empty rendering", func(t *testing.T) {
			r := do(t, "GET", base+"/storagelink/", md.accept(), "")
			mustStatus(t, r, 200)
			if strings.Contains(r.body, "/storagelink/") || len(r.header.Values("X-OCCI-Location")) > 0 {
				t.Errorf("the empty collection lists something: %q", r.body)
			}
		}},
		{"unparsable body: 400", func(t *testing.T) {
			h, _ := md.entity(infra+"compute", nil, nil, nil)
			body := "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\n"
			if md.mt == "application/occi+json" {
				body = `{"kind": "` + infra + `compute"`
			}
			if md.mt == "text/occi" {
				h.Set("Category", `compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind`)
			}
			mustStatus(t, do(t, "POST", base+"/compute/", h, body), 400)
		}},
		{"missing required attribute: 400", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, nil, nil)
			r := do(t, "POST", base+"/storage/", h, b)
			mustStatus(t, r, 400)
			if !strings.Contains(r.header.Get("X-OCCI-Error"), "occi.storage.size") {
				t.Errorf("got X-OCCI-Error %q, want it to name occi.storage.size", r.header.Get("X-OCCI-Error"))
			}
		}},
		{"malformed filter: 400", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+"/compute/?category=http://x%23", md.accept(), ""), 400)
			mustStatus(t, do(t, "GET", base+"/compute/?page=first", md.accept(), ""), 400)
		}},
		{"Accept: text/uri-list on something that is not a listing: 400", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+compute, http.Header{"Accept": {"text/uri-list"}}, ""), 400)
			r := do(t, "GET", base+"/compute/", http.Header{"Accept": {"text/uri-list"}}, "")
			mustStatus(t, r, 200)
			if !strings.Contains(r.body, base+compute) {
				t.Errorf("the uri-list does not hold %s: %q", base+compute, r.body)
			}
		}},
		{"client-chosen path not allowed on PUT create: 400", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 1.0}}, nil)
			mustStatus(t, do(t, "PUT", base+"/storage/a%20b", h, b), 400)
		}},
		{"attempt to change an immutable attribute: 403", func(t *testing.T) {
			h, b := md.entity("", nil, []attr{{"occi.compute.state", "suspended"}}, nil)
			mustStatus(t, do(t, "POST", base+compute, h, b), 403)
		}},
		{"delete a provider-defined mixin through /-/: 403", func(t *testing.T) {
			h, b := md.mixin(osTpl+"debian-12", "/os_tpl/debian-12/")
			mustStatus(t, do(t, "DELETE", base+"/-/", h, b), 403)
		}},
		// Rows where occid's engine answers another code than the digest's
		// table suggests; README.md lists them.
		{"mixin at a stage the provider does not support (user_data after creation): 403, digest 400", func(t *testing.T) {
			h, b := md.entity("", []string{"http://schemas.ogf.org/occi/infrastructure/compute#user_data"},
				[]attr{{"occi.compute.userdata", "#!/bin/sh"}}, nil)
			mustStatus(t, do(t, "POST", base+compute, h, b), 403)
		}},
		{"mixin not applicable to the entity's kind: 400, digest 403", func(t *testing.T) {
			h, b := md.entity("", []string{"http://schemas.ogf.org/occi/infrastructure/network#ipnetwork"}, nil, nil)
			mustStatus(t, do(t, "POST", base+compute, h, b), 400)
		}},
		{"conflicting mixins (two OS templates): 400, digest 409", func(t *testing.T) {
			h, b := md.entity(infra+"compute", []string{osTpl + "debian-12", osTpl + "tinyos"}, nil, nil)
			mustStatus(t, do(t, "POST", base+"/compute/", h, b), 400)
		}},
		{"links in a PUT full update: 400 (digest 2.4, 1.1), the entity unchanged", func(t *testing.T) {
			before := do(t, "GET", base+"/storage/put-"+md.name, md.accept(), "")
			mustStatus(t, before, 200)
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 3.0}},
				[]inlineLink{{infra + "storagelink", "/storage/put-" + md.name, infra + "storage"}})
			r := do(t, "PUT", base+"/storage/put-"+md.name, h, b)
			mustStatus(t, r, 400)
			if !strings.Contains(r.header.Get("X-OCCI-Error"), "cannot carry links") {
				t.Errorf("got X-OCCI-Error %q, want it to say a PUT cannot carry links", r.header.Get("X-OCCI-Error"))
			}
			after := do(t, "GET", base+"/storage/put-"+md.name, md.accept(), "")
			if after.header.Get("ETag") != before.header.Get("ETag") {
				t.Errorf("got ETag %s after the refused PUT, want %s (unchanged)", after.header.Get("ETag"), before.header.Get("ETag"))
			}
		}},
		{"unknown path: 404", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+"/nothing/here", md.accept(), ""), 404)
		}},
		{"unknown entity: 404", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+"/compute/00000000-0000-0000-0000-000000000000", md.accept(), ""), 404)
		}},
		{"unknown category term in a filter: 400", func(t *testing.T) {
			// A bare term is occid's shorthand: one that names no kind or
			// mixin is a bad parameter, never an empty answer.
			mustStatus(t, do(t, "GET", base+"/-/?category=nosuchkind", md.accept(), ""), 400)
			mustStatus(t, do(t, "GET", base+"/compute/?category=nosuchkind", md.accept(), ""), 400)
		}},
		{"PUT on a kind collection: 405 + Allow", func(t *testing.T) {
			h, b := md.entity(infra+"storage", nil, []attr{{"occi.storage.size", 1.0}}, nil)
			r := do(t, "PUT", base+"/storage/", h, b)
			mustStatus(t, r, 405)
			if got := r.header.Get("Allow"); got != "GET, HEAD, POST, DELETE" {
				t.Errorf("got Allow %q, want GET, HEAD, POST, DELETE", got)
			}
		}},
		{"PUT on /-/: 405 + Allow", func(t *testing.T) {
			mustStatus(t, do(t, "PUT", base+"/-/", md.accept(), ""), 405)
		}},
		{"?action= on /-/: 405 + Allow", func(t *testing.T) {
			h, b := md.action(computeAc + "start")
			mustStatus(t, do(t, "POST", base+"/-/?action=start", h, b), 405)
		}},
		{"?action= on an unbound path: 405 + Allow", func(t *testing.T) {
			h, b := md.action(computeAc + "start")
			for _, p := range []string{"/", "/users/"} {
				r := do(t, "POST", base+p+"?action=start", h, b)
				mustStatus(t, r, 405)
				if got := r.header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("POST %s?action=start: got Allow %q, want GET, HEAD", p, got)
				}
				if got := r.header.Get("X-OCCI-Error"); !strings.HasSuffix(got, "; allowed: GET, HEAD") {
					t.Errorf("POST %s?action=start: got X-OCCI-Error %q, want it to end in \"; allowed: GET, HEAD\"", p, got)
				}
			}
		}},
		{"requested media type cannot be produced: 406", func(t *testing.T) {
			r := do(t, "GET", base+compute, http.Header{"Accept": {"application/xml"}}, "")
			mustStatus(t, r, 406)
			if !strings.Contains(r.header.Get("X-OCCI-Error"), md.mt) {
				t.Errorf("the 406 does not offer %s: %q", md.mt, r.header.Get("X-OCCI-Error"))
			}
		}},
		{"request content type not supported: 415", func(t *testing.T) {
			mustStatus(t, do(t, "POST", base+"/compute/", http.Header{"Content-Type": {"application/xml"}, "Accept": {md.mt}}, "<compute/>"), 415)
		}},
		{"number too large for pagination: 413", func(t *testing.T) {
			mustStatus(t, do(t, "GET", base+"/compute/?page=1&number=1000000", md.accept(), ""), 413)
		}},
		{"request body too large: 413", func(t *testing.T) {
			h, _ := md.entity(infra+"compute", nil, nil, nil)
			mustStatus(t, do(t, "POST", base+"/compute/", h, strings.Repeat(" ", 2<<20)), 413)
		}},
		{"client's OCCI version higher than supported: 501", func(t *testing.T) {
			h := md.accept()
			h.Set("User-Agent", "future-client/9 OCCI/1.3")
			mustStatus(t, do(t, "GET", base+"/-/", h, ""), 501)
		}},
		{"OCCI/1.1 client served: 200", func(t *testing.T) {
			h := md.accept()
			h.Set("User-Agent", "rocci-cli/4.3 OCCI/1.1")
			mustStatus(t, do(t, "GET", base+"/-/", h, ""), 200)
		}},
		{"DELETE on an entity URL: 200", func(t *testing.T) {
			mustStatus(t, do(t, "DELETE", base+"/storage/put-"+md.name, md.accept(), ""), 200)
			mustStatus(t, do(t, "GET", base+"/storage/put-"+md.name, md.accept(), ""), 404)
		}},
		{"DELETE on a kind collection (delete all): 200", func(t *testing.T) {
			mustStatus(t, do(t, "DELETE", base+"/storage/", md.accept(), ""), 200)
			r := do(t, "GET", base+"/storage/", md.accept(), "")
			mustStatus(t, r, 200)
			if strings.Contains(r.body, "/storage/") || len(r.header.Values("X-OCCI-Location")) > 0 {
				t.Errorf("storage left after DELETE /storage/: %q", r.body)
			}
		}},
	}
	for _, row := range rows {
		t.Run(row.name, row.fn)
	}
}

// TestRestartKeepsState stops occid and starts it again on the same data
// directory: the entities and their states are still there.
func TestRestartKeepsState(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	dir := t.TempDir()
	md := medias[0]
	m := startMain(t, dir, "sim://", io.Discard)
	base := m.URL()
	h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, []attr{{"occi.core.title", "keeper"}}, nil)
	loc := created(t, base, do(t, "POST", base+"/compute/", h, b))
	h, b = md.action(computeAc + "start")
	mustStatus(t, do(t, "POST", base+loc+"?action=start", h, b), 200)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	m = startMain(t, dir, "sim://", io.Discard)
	defer m.Close()
	r := do(t, "GET", m.URL()+loc, md.accept(), "")
	mustStatus(t, r, 200)
	for name, want := range map[string]string{"occi.core.title": `"keeper"`, "occi.compute.state": `"active"`} {
		if got := md.attrOf(t, r, name); got != want {
			t.Errorf("after restart: got %s %s, want %s", name, got, want)
		}
	}
}

// TestGracefulShutdown closes occid while a slow action (a simulated boot of
// one second) is in flight: the request finishes with 200, and after a
// restart the compute is in the state that answer acknowledged.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	dir := t.TempDir()
	md := medias[0]
	m := startMain(t, dir, "sim://?delay=1s", io.Discard)
	base := m.URL()
	h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
	loc := created(t, base, do(t, "POST", base+"/compute/", h, b))
	h, b = md.action(computeAc + "start")
	done := goDo("POST", base+loc+"?action=start", h, b)
	waitInFlight(t, base, 1) // the start is waiting for the simulated boot
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-done
	mustStatus(t, r, 200)
	if got := md.attrOf(t, r, "occi.compute.state"); got != `"active"` {
		t.Errorf("the in-flight start answered state %s, want \"active\"", got)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("occid still answers after Close")
	}

	m = startMain(t, dir, "sim://", io.Discard)
	defer m.Close()
	r = do(t, "GET", m.URL()+loc, md.accept(), "")
	mustStatus(t, r, 200)
	if got := md.attrOf(t, r, "occi.compute.state"); got != `"active"` {
		t.Errorf("after restart: got occi.compute.state %s, want \"active\"", got)
	}
}

// TestEngineSettings checks that --max-batch reaches the engine: a POST
// of more computes than it allows is 413 and creates nothing, one of as
// many as it allows is 201.
func TestEngineSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	c, err := parseConfig([]string{"--max-batch", "2", "--observe-interval", "0", "--listen", "127.0.0.1:0",
		"--data-dir", t.TempDir()}, envOf(nil), io.Discard, "v")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Stderr = io.Discard
	m.Config = *c
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer m.Close()
	base := m.URL()
	batch := func(n int) string {
		var rs []string
		for range n {
			rs = append(rs, `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","attributes":{"occi.core.title":"batch"}}`)
		}
		return `{"resources":[` + strings.Join(rs, ",") + `]}`
	}
	hdr := http.Header{"Content-Type": {"application/occi+json"}, "Accept": {"application/occi+json"}}
	r := do(t, "POST", base+"/compute/", hdr, batch(3))
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
	if !strings.Contains(r.body, "limit is 2") {
		t.Errorf("413 body %q does not name the limit of 2", r.body)
	}
	r = do(t, "GET", base+"/compute/", http.Header{"Accept": {"text/uri-list"}}, "")
	mustStatus(t, r, http.StatusOK)
	if strings.TrimSpace(r.body) != "" {
		t.Errorf("after the refused batch, /compute/ lists %q, want nothing", r.body)
	}
	mustStatus(t, do(t, "POST", base+"/compute/", hdr, batch(2)), http.StatusCreated)
}

// infraScheme is the scheme of the infrastructure kinds.
const infraScheme = "http://schemas.ogf.org/occi/infrastructure#"

// plain is the header of a text/plain request that wants text/plain.
var plain = http.Header{"Content-Type": {"text/plain"}, "Accept": {"text/plain"}}

// startSim runs occid on the simulator and a fresh data directory until t
// ends and returns its URL.
func startSim(t *testing.T) string {
	t.Helper()
	m := startMain(t, t.TempDir(), "sim://", io.Discard)
	t.Cleanup(func() { m.Close() })
	return m.URL()
}

// TestPutWhatWasRead: a client that GETs a compute with links and PUTs the
// rendering back unchanged (as compliance tools do) gets 200 in every
// media type, the links intact; adding a link that is not the compute's
// in such a PUT is still 400.
func TestPutWhatWasRead(t *testing.T) {
	base := startSim(t)
	mustStatus(t, do(t, "PUT", base+"/network/rt-net", plain, "Category: "+category(infraScheme+"network", "kind")+"\n"), 201)
	mustStatus(t, do(t, "PUT", base+"/compute/rt-vm", plain, "Category: "+category(infraScheme+"compute", "kind")+"\n"+
		"Link: </network/rt-net>; rel=\""+infraScheme+"network\"; category=\""+infraScheme+"networkinterface\"\n"), 201)
	mustStatus(t, do(t, "POST", base+"/compute/rt-vm?action=start", plain, ""), 200)
	for _, md := range medias {
		t.Run(md.name, func(t *testing.T) {
			got := do(t, "GET", base+"/compute/rt-vm", md.accept(), "")
			mustStatus(t, got, 200)
			h := http.Header{"Content-Type": {md.mt}, "Accept": {md.mt}}
			body := got.body
			if md.mt == "text/occi" {
				for _, k := range []string{"Category", "Link", "X-Occi-Attribute"} {
					h[k] = got.header.Values(k)
				}
				body = ""
			}
			r := do(t, "PUT", base+"/compute/rt-vm", h, body)
			if r.status != 200 {
				t.Fatalf("PUT of what GET answered: %d %s", r.status, r.header.Get("X-OCCI-Error"))
			}
			after := do(t, "GET", base+"/compute/rt-vm", plain, "")
			if !strings.Contains(after.body, "infrastructure#networkinterface\"") || !strings.Contains(after.body, "/network/rt-net>") {
				t.Errorf("after the PUT the compute's link is gone:\n%s", after.body)
			}
		})
	}
	r := do(t, "PUT", base+"/compute/rt-vm", plain, "Category: "+category(infraScheme+"compute", "kind")+"\n"+
		"Link: </network/rt-net>; rel=\""+infraScheme+"network\"; self=\"/networkinterface/other\"; category=\""+infraScheme+"networkinterface\"\n")
	mustStatus(t, r, 400)
}

// TestTagCollectionActionByTerm: an action named by its term alone on a
// tag's collection (a tag defines no actions) runs on the members; it had
// answered 400 "no action is defined here".
func TestTagCollectionActionByTerm(t *testing.T) {
	base := startSim(t)
	mustStatus(t, do(t, "PUT", base+"/compute/tagged", plain, "Category: "+category(infraScheme+"compute", "kind")+"\n"), 201)
	mustStatus(t, do(t, "POST", base+"/-/", plain, "Category: "+category("http://occid.local/occi/users/anonymous/tags#grp", "mixin")+"\n"), 200)
	mustStatus(t, do(t, "POST", base+"/users/anonymous/tags/grp/", plain, "X-OCCI-Location: /compute/tagged\n"), 200)
	r := do(t, "POST", base+"/users/anonymous/tags/grp/?action=start", plain, "")
	mustStatus(t, r, 200)
	if got := do(t, "GET", base+"/compute/tagged", plain, ""); !strings.Contains(got.body, `occi.compute.state="active"`) {
		t.Errorf("after start on the tag's collection the member reads:\n%s", got.body)
	}
	r = do(t, "POST", base+"/users/anonymous/tags/grp/?action=fly", plain, "")
	mustStatus(t, r, 400)
}

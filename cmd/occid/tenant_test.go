package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/occid/occi"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
)

// This file is the adversarial tenant-isolation suite: occid runs with a
// static tokens file holding two tenants, alice and bob (and an htpasswd
// user, carol), alice builds things, and bob tries every operation on them
// in every rendering. Every answer about alice's things must be the answer
// about something that does not exist (404, never 403, 409 or 200), must
// name none of alice's locations, ids, titles or tag terms, and alice's
// things must be unchanged afterwards.

const (
	aliceToken    = "tok-alice-5f0c8e2a9b7d41c3a6e2"
	bobToken      = "tok-bob-0d9e1f7c3b5a42e8b1c4"
	carolPassword = "carol-Pa55-w0rd"
	aliceTitle    = "alice-secret-vm-title"
	aliceNetTitle = "alice-secret-net-title"
	aliceStoTitle = "alice-secret-sto-title"
	aliceTag      = "alicetagsecret"
	aliceTplName  = "alicegoldensecret"
	aliceScheme   = "http://occid.local/occi/users/alice/tags#"
	bobScheme     = "http://occid.local/occi/users/bob/tags#"
	aliceTplScm   = "http://occid.local/occi/users/alice/os_tpl#"
	bobTplScm     = "http://occid.local/occi/users/bob/os_tpl#"
)

// writeTestFile writes content to name in dir.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startAuthMain runs occid on loopback with static tokens for alice and
// bob and an htpasswd file for carol, logging at debug level into logs.
func startAuthMain(t *testing.T, logs *syncBuffer) *Main {
	t.Helper()
	return startAuthMainWith(t, logs, nil)
}

// startAuthMainWith is startAuthMain with set, if not nil, changing the
// configuration before occid starts.
func startAuthMainWith(t *testing.T, logs *syncBuffer, set func(*Config)) *Main {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(carolPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Stderr = logs
	m.Config.Listen = "127.0.0.1:0"
	m.Config.DataDir = dir
	m.Config.Store = "memory:"
	m.Config.Backend = "sim://"
	m.Config.LogLevel = "debug"
	m.Config.ShutdownTimeout = 10 * time.Second
	m.Config.AuthTokens = writeTestFile(t, dir, "tokens", "# test tenants\n"+aliceToken+" alice\n"+bobToken+" bob staff\n")
	m.Config.Htpasswd = writeTestFile(t, dir, "htpasswd", "carol:"+string(hash)+"\n")
	if set != nil {
		set(&m.Config)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("occid log:\n%s", logs.String())
		}
	})
	return m
}

// as returns h with the credentials of a static token added, sent as
// X-Auth-Token or as a Bearer token.
func as(token string, h http.Header, bearer bool) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	if bearer {
		h.Set("Authorization", "Bearer "+token)
	} else {
		h.Set("X-Auth-Token", token)
	}
	return h
}

// linkBody renders a standalone link creation request.
func (md media) link(kind, source, target, targetKind string) (http.Header, string) {
	if md.mt == "application/occi+json" {
		return md.json(map[string]any{"kind": kind,
			"source": map[string]any{"location": source, "kind": infra + "compute"},
			"target": map[string]any{"location": target, "kind": targetKind}})
	}
	return md.text([][2]string{
		{"Category", category(kind, "kind")},
		{"X-OCCI-Attribute", "occi.core.source=" + textValue(source)},
		{"X-OCCI-Attribute", "occi.core.target=" + textValue(target)},
	})
}

// aliceWorld is what alice owns, by placeholder: each value is replaced
// for a request about alice's things, and a look-alike value that names
// nothing is used for the twin request.
type aliceWorld map[string]string

func (w aliceWorld) expand(s string) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, "{"+k+"}", w[k])
		s = strings.ReplaceAll(s, url.QueryEscape("{"+k+"}"), url.QueryEscape(w[k]))
	}
	return s
}

// secrets returns what must not appear in an answer: alice's locations'
// last segments (ids), titles, tag term and template term.
func (w aliceWorld) secrets() []string {
	var out []string
	for _, k := range []string{"vm", "vm2", "net", "sto", "nic", "sl"} {
		out = append(out, w[k][strings.LastIndexByte(w[k], '/')+1:])
	}
	return append(out, w["title"], w["nettitle"], w["stotitle"], w["tag"], w["tpl"])
}

// leaks returns the secrets found in r that the request itself did not
// carry (a 404 may repeat the location it was asked about).
func leaks(secrets []string, req string, r *reply) []string {
	var b strings.Builder
	b.WriteString(r.body)
	for k, vs := range r.header {
		b.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	var out []string
	for _, s := range secrets {
		if s != "" && strings.Contains(b.String(), s) && !strings.Contains(req, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestTenantIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	logs := &syncBuffer{}
	m := startAuthMain(t, logs)
	base := m.URL()
	jsonMd := media{name: "json", mt: "application/occi+json"}
	alice := func(method, path string, h http.Header, body string) *reply {
		return do(t, method, base+path, as(aliceToken, h, false), body)
	}

	// Alice's things: a network, a storage, a started compute linked to
	// both, a second compute from a template she saved, and a tag on her
	// compute.
	h, b := jsonMd.entity(infra+"network", nil, []attr{{"occi.core.title", aliceNetTitle}}, nil)
	aNet := created(t, base, alice("POST", "/network/", h, b))
	h, b = jsonMd.entity(infra+"storage", nil, []attr{{"occi.core.title", aliceStoTitle}, {"occi.storage.size", 1.0}}, nil)
	aSto := created(t, base, alice("POST", "/storage/", h, b))
	h, b = jsonMd.entity(infra+"compute", []string{osTpl + "debian-12"}, []attr{{"occi.core.title", aliceTitle}}, nil)
	aVM := created(t, base, alice("POST", "/compute/", h, b))
	h, b = jsonMd.link(infra+"networkinterface", aVM, aNet, infra+"network")
	aNIC := created(t, base, alice("POST", "/networkinterface/", h, b))
	h, b = jsonMd.link(infra+"storagelink", aVM, aSto, infra+"storage")
	aSL := created(t, base, alice("POST", "/storagelink/", h, b))
	h, b = jsonMd.action(computeAc + "start")
	mustStatus(t, alice("POST", aVM+"?action=start", h, b), 200)
	aTagLoc := "/users/alice/tags/" + aliceTag + "/"
	h, b = jsonMd.mixin(aliceScheme+aliceTag, aTagLoc)
	mustStatus(t, alice("POST", "/-/", h, b), 200)
	h, b = jsonMd.locations(aVM)
	mustStatus(t, alice("POST", aTagLoc, h, b), 200)
	h, b = jsonMd.action(computeAc+"save", attr{"method", "hot"}, attr{"name", aliceTplName})
	mustStatus(t, alice("POST", aVM+"?action=save", h, b), 200)
	var aVM2 string
	h, b = jsonMd.entity(infra+"compute", []string{aliceTplScm + aliceTplName}, nil, nil)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r := alice("POST", "/compute/", h, b)
		if r.status == 409 && time.Now().Before(deadline) {
			continue // the copy is still running
		}
		aVM2 = created(t, base, r)
		break
	}

	world := aliceWorld{"vm": aVM, "vm2": aVM2, "net": aNet, "sto": aSto, "nic": aNIC, "sl": aSL,
		"title": aliceTitle, "nettitle": aliceNetTitle, "stotitle": aliceStoTitle,
		"tag": aliceTag, "tagloc": aTagLoc, "tpl": aliceTplName,
		"netid": aNet[len("/network/"):], "nicid": aNIC[len("/networkinterface/"):]}
	const fakeID = "0badc0de-0000-4000-8000-00000000f00d"
	fake := aliceWorld{"vm": "/compute/" + fakeID, "vm2": "/compute/" + fakeID + "2", "net": "/network/" + fakeID,
		"sto": "/storage/" + fakeID, "nic": "/networkinterface/" + fakeID, "sl": "/storagelink/" + fakeID,
		"title": "no-such-title-xyz", "nettitle": "no-such-net-title", "stotitle": "no-such-sto-title",
		"tag": "nosuchtagxyz", "tagloc": "/users/alice/tags/nosuchtagxyz/", "tpl": "nosuchtemplatexyz",
		"netid": fakeID, "nicid": fakeID}
	secrets := world.secrets()

	// snapshot is alice's view of her things, in full.
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{aVM, aVM2, aNet, aSto, aNIC, aSL, aTagLoc, "/-/"} {
			r := alice("GET", p, jsonMd.accept(), "")
			mustStatus(t, r, 200)
			out[p] = r.header.Get("ETag") + "\n" + r.body
		}
		return out
	}
	before := snapshot()

	// attack is one request of bob's about alice's things; its twin, with
	// look-alike values that name nothing, must get the same answer.
	type attack struct {
		name   string
		method string
		path   string
		hdr    func(md media, bob map[string]string) (http.Header, string)
		want   int  // 404 unless set
		noTwin bool // the twin would change bob's own things (or create one)
		// textMayIgnore: the text renderings have no way to give an inline
		// link's id, so there the request may succeed (with a new id).
		textMayIgnore bool
	}
	none := func(md media, _ map[string]string) (http.Header, string) { return md.accept(), "" }
	entity := func(kind string, mixins []string, attrs []attr, links []inlineLink) func(media, map[string]string) (http.Header, string) {
		return func(md media, _ map[string]string) (http.Header, string) {
			return md.entity(kind, mixins, attrs, links)
		}
	}
	action := func(id string, attrs ...attr) func(media, map[string]string) (http.Header, string) {
		return func(md media, _ map[string]string) (http.Header, string) { return md.action(id, attrs...) }
	}
	locs := func(l ...string) func(media, map[string]string) (http.Header, string) {
		return func(md media, bob map[string]string) (http.Header, string) {
			var out []string
			for _, x := range l {
				if v, ok := bob[x]; ok {
					x = v
				}
				out = append(out, x)
			}
			return md.locations(out...)
		}
	}
	withHeader := func(k, v string, f func(media, map[string]string) (http.Header, string)) func(media, map[string]string) (http.Header, string) {
		return func(md media, bob map[string]string) (http.Header, string) {
			h, b := f(md, bob)
			h.Set(k, v)
			return h, b
		}
	}
	link := func(kind, src, tgt, tk string) func(media, map[string]string) (http.Header, string) {
		return func(md media, bob map[string]string) (http.Header, string) {
			if v, ok := bob[src]; ok {
				src = v
			}
			if v, ok := bob[tgt]; ok {
				tgt = v
			}
			return md.link(kind, src, tgt, tk)
		}
	}
	q := url.QueryEscape
	attacks := []attack{
		{name: "GET compute", method: "GET", path: "{vm}", hdr: none},
		{name: "GET compute from a saved template", method: "GET", path: "{vm2}", hdr: none},
		{name: "HEAD compute", method: "HEAD", path: "{vm}", hdr: none},
		{name: "GET network", method: "GET", path: "{net}", hdr: none},
		{name: "GET storage", method: "GET", path: "{sto}", hdr: none},
		{name: "GET networkinterface", method: "GET", path: "{nic}", hdr: none},
		{name: "GET storagelink", method: "GET", path: "{sl}", hdr: none},
		{name: "GET compute with If-None-Match", method: "GET", path: "{vm}", hdr: withHeader("If-None-Match", "*", none)},
		{name: "GET alice's tag collection", method: "GET", path: "{tagloc}", hdr: none},
		{name: "GET alice's saved template collection", method: "GET", path: "/users/alice/os_tpl/{tpl}/", hdr: none},
		{name: "GET alice's saved template name below the provider's os_tpl", method: "GET", path: "/os_tpl/{tpl}/", hdr: none},
		{name: "filter computes by alice's title", method: "GET", path: "/compute/?occi.core.title=" + q(`"{title}"`), hdr: none, want: 200},
		{name: "filter everything by alice's title", method: "GET", path: "/?occi.core.title=" + q(`"{title}"`), hdr: none, want: 200},
		{name: "filter computes by alice's tag", method: "GET", path: "/compute/?category=" + q(aliceScheme+"{tag}"), hdr: none},
		{name: "filter computes by alice's saved template", method: "GET", path: "/compute/?category=" + q(aliceTplScm+"{tpl}"), hdr: none},
		{name: "filter computes by alice's template name in the provider scheme", method: "GET", path: "/compute/?category=" + q(osTpl+"{tpl}"), hdr: none},
		{name: "discovery filtered by alice's tag", method: "GET", path: "/-/?category=" + q(aliceScheme+"{tag}"), hdr: none},
		{name: "discovery filtered by alice's template", method: "GET", path: "/-/?category=" + q(aliceTplScm+"{tpl}"), hdr: none},
		{name: "discovery filtered by alice's template name in the provider scheme", method: "GET", path: "/-/?category=" + q(osTpl+"{tpl}"), hdr: none},
		{name: "discovery filtered by alice's template name in bob's scheme", method: "GET", path: "/-/?category=" + q(bobTplScm+"{tpl}"), hdr: none},
		{name: "partial update", method: "POST", path: "{vm}", hdr: entity("", nil, []attr{{"occi.core.title", "pwned"}}, nil)},
		{name: "partial update of an immutable attribute", method: "POST", path: "{vm}", hdr: entity("", nil, []attr{{"occi.compute.state", "inactive"}}, nil)},
		{name: "partial update with If-Match", method: "POST", path: "{vm}", hdr: withHeader("If-Match", `"1"`, entity("", nil, []attr{{"occi.core.title", "pwned"}}, nil))},
		{name: "partial update with If-Match *", method: "POST", path: "{net}", hdr: withHeader("If-Match", `*`, entity("", nil, []attr{{"occi.core.title", "pwned"}}, nil))},
		{name: "partial update adding bob's tag", method: "POST", path: "{vm}", hdr: entity("", []string{bobScheme + "bobtag"}, nil, nil)},
		{name: "full replace", method: "PUT", path: "{sto}", hdr: entity(infra+"storage", nil, []attr{{"occi.storage.size", 2.0}, {"occi.core.title", "pwned"}}, nil), noTwin: true},
		{name: "full replace with If-Match", method: "PUT", path: "{vm}", hdr: withHeader("If-Match", `"2"`, entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)), noTwin: true},
		{name: "PUT create-only at alice's location", method: "PUT", path: "{net}", hdr: withHeader("If-None-Match", "*", entity(infra+"network", nil, nil, nil)), noTwin: true},
		{name: "PUT a link over alice's link", method: "PUT", path: "{nic}", hdr: link(infra+"networkinterface", "bvm", "bnet", infra+"network"), noTwin: true},
		{name: "DELETE compute", method: "DELETE", path: "{vm}", hdr: none},
		{name: "DELETE storagelink", method: "DELETE", path: "{sl}", hdr: none},
		{name: "DELETE with If-Match", method: "DELETE", path: "{net}", hdr: withHeader("If-Match", `"1"`, none)},
		{name: "action stop", method: "POST", path: "{vm}?action=stop", hdr: action(computeAc+"stop", attr{"method", "graceful"})},
		{name: "action start", method: "POST", path: "{vm2}?action=start", hdr: action(computeAc + "start")},
		{name: "action save", method: "POST", path: "{vm}?action=save", hdr: action(computeAc+"save", attr{"method", "hot"}, attr{"name", "bobsteal"})},
		{name: "action on alice's tag collection", method: "POST", path: "{tagloc}?action=stop", hdr: action(computeAc + "stop")},
		{name: "link from bob's compute to alice's network", method: "POST", path: "/networkinterface/", hdr: link(infra+"networkinterface", "bvm", "{net}", infra+"network")},
		{name: "link from bob's compute to alice's storage", method: "POST", path: "/storagelink/", hdr: link(infra+"storagelink", "bvm", "{sto}", infra+"storage")},
		{name: "link from bob's compute to alice's network by absolute URL", method: "POST", path: "/networkinterface/", hdr: link(infra+"networkinterface", "bvm", base+"{net}", infra+"network")},
		{name: "link from alice's compute by absolute URL", method: "POST", path: "/storagelink/", hdr: link(infra+"storagelink", base+"{vm}", "bnet", infra+"storage")},
		{name: "associate alice's compute by absolute URL", method: "POST", path: "/users/bob/tags/bobtag/", hdr: locs(base + "{vm}")},
		{name: "link from alice's compute to bob's network", method: "POST", path: "/networkinterface/", hdr: link(infra+"networkinterface", "{vm}", "bnet", infra+"network")},
		{name: "link from alice's compute to alice's storage", method: "POST", path: "/storagelink/", hdr: link(infra+"storagelink", "{vm}", "{sto}", infra+"storage")},
		{name: "inline link to alice's network at creation", method: "POST", path: "/compute/", hdr: entity(infra+"compute", []string{osTpl + "debian-12"}, nil,
			[]inlineLink{{infra + "networkinterface", "{net}", infra + "network"}})},
		{name: "create at alice's id", method: "POST", path: "/network/", hdr: entity(infra+"network", nil, []attr{{"occi.core.id", "{netid}"}}, nil), noTwin: true},
		{name: "create with an inline link at alice's link id", method: "POST", path: "/compute/", noTwin: true, textMayIgnore: true,
			hdr: func(md media, bob map[string]string) (http.Header, string) {
				if md.mt == "application/occi+json" {
					return md.json(map[string]any{"kind": infra + "compute", "mixins": []string{osTpl + "debian-12"},
						"links": []any{map[string]any{"kind": infra + "networkinterface", "id": "{nicid}",
							"target": map[string]any{"location": bob["bnet"], "kind": infra + "network"}}}})
				}
				return md.text([][2]string{{"Category", category(infra+"compute", "kind")}, {"Category", category(osTpl+"debian-12", "mixin")},
					{"Link", fmt.Sprintf("<%s>; rel=%q; self=%q; category=%q", bob["bnet"], infra+"network", "{nic}", infra+"networkinterface")}})
			}},
		{name: "add a link at alice's link id to bob's compute", method: "POST", path: "bvm", noTwin: true, textMayIgnore: true,
			hdr: func(md media, bob map[string]string) (http.Header, string) {
				if md.mt == "application/occi+json" {
					return md.json(map[string]any{"links": []any{map[string]any{"kind": infra + "networkinterface", "id": "{nicid}",
						"target": map[string]any{"location": bob["bnet"], "kind": infra + "network"}}}})
				}
				return md.text([][2]string{{"Link", fmt.Sprintf("<%s>; rel=%q; self=%q; category=%q", bob["bnet"], infra+"network", "{nic}", infra+"networkinterface")}})
			}},
		{name: "compute from alice's saved template", method: "POST", path: "/compute/", hdr: entity(infra+"compute", []string{aliceTplScm + "{tpl}"}, nil, nil)},
		{name: "compute from alice's template name in the provider scheme", method: "POST", path: "/compute/", hdr: entity(infra+"compute", []string{osTpl + "{tpl}"}, nil, nil)},
		{name: "compute from alice's template name in bob's scheme", method: "POST", path: "/compute/", hdr: entity(infra+"compute", []string{bobTplScm + "{tpl}"}, nil, nil)},
		{name: "compute tagged with alice's tag", method: "POST", path: "/compute/", hdr: entity(infra+"compute", []string{osTpl + "debian-12", aliceScheme + "{tag}"}, nil, nil)},
		{name: "associate alice's compute with bob's tag", method: "POST", path: "/users/bob/tags/bobtag/", hdr: locs("{vm}")},
		{name: "associate bob's compute with alice's tag", method: "POST", path: "{tagloc}", hdr: locs("bvm")},
		{name: "replace members of alice's tag", method: "PUT", path: "{tagloc}", hdr: locs("bvm")},
		{name: "replace members of bob's tag with alice's compute", method: "PUT", path: "/users/bob/tags/bobtag/", hdr: locs("bvm", "{vm}")},
		{name: "dissociate alice's tag", method: "DELETE", path: "{tagloc}", hdr: none},
		{name: "dissociate alice's compute from alice's tag", method: "DELETE", path: "{tagloc}", hdr: locs("{vm}")},
		{name: "dissociate alice's compute from bob's tag", method: "DELETE", path: "/users/bob/tags/bobtag/", hdr: locs("{vm}")},
		{name: "associate alice's compute with bob's tag, as text/uri-list", method: "POST", path: "/users/bob/tags/bobtag/",
			hdr: func(md media, _ map[string]string) (http.Header, string) {
				return http.Header{"Content-Type": {"text/uri-list"}, "Accept": {md.mt}}, base + "{vm}\r\n"
			}},
		{name: "replace members of alice's tag, as text/uri-list", method: "PUT", path: "{tagloc}",
			hdr: func(md media, bob map[string]string) (http.Header, string) {
				return http.Header{"Content-Type": {"text/uri-list"}, "Accept": {md.mt}}, base + bob["bvm"] + "\r\n"
			}},
		{name: "GET alice's tag space", method: "GET", path: "/users/alice/tags/", hdr: none},
		{name: "GET alice's tag space with a listing", method: "GET", path: "/users/alice/", hdr: none},
		{name: "GET alice's saved template space", method: "GET", path: "/users/alice/os_tpl/", hdr: none},
		{name: "associate alice's compute with the OS template collection", method: "POST", path: "/os_tpl/debian-12/", hdr: locs("{vm}")},
		{name: "delete alice's tag", method: "DELETE", path: "/-/", hdr: func(md media, _ map[string]string) (http.Header, string) {
			return md.mixin(aliceScheme+"{tag}", "")
		}},
		{name: "delete alice's saved template", method: "DELETE", path: "/-/", hdr: func(md media, _ map[string]string) (http.Header, string) {
			return md.mixin(aliceTplScm+"{tpl}", "")
		}},
		{name: "delete alice's template name in the provider scheme", method: "DELETE", path: "/-/", hdr: func(md media, _ map[string]string) (http.Header, string) {
			return md.mixin(osTpl+"{tpl}", "")
		}},
		{name: "define a tag in alice's scheme", method: "POST", path: "/-/", want: 400, hdr: func(md media, _ map[string]string) (http.Header, string) {
			return md.mixin(aliceScheme+"{tag}", "")
		}},
		{name: "define a tag at alice's tag location", method: "POST", path: "/-/", want: 400, hdr: func(md media, _ map[string]string) (http.Header, string) {
			return md.mixin(bobScheme+"bobcopy", "{tagloc}")
		}},
	}

	for _, md := range medias {
		t.Run(md.name, func(t *testing.T) {
			bob := func(method, path string, h http.Header, body string) *reply {
				return do(t, method, base+path, as(bobToken, h, true), body)
			}
			// Bob's own things, made afresh for each rendering.
			h, b := md.entity(infra+"network", nil, nil, nil)
			bNet := created(t, base, bob("POST", "/network/", h, b))
			h, b = md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
			bVM := created(t, base, bob("POST", "/compute/", h, b))
			h, b = md.mixin(bobScheme+"bobtag", "/users/bob/tags/bobtag/")
			mustStatus(t, bob("POST", "/-/", h, b), 200)
			bobs := map[string]string{"bvm": bVM, "bnet": bNet}

			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					want := a.want
					if want == 0 {
						want = 404
					}
					send := func(w aliceWorld) (*reply, string) {
						h, b := a.hdr(md, bobs)
						for k, vs := range h {
							for i := range vs {
								vs[i] = w.expand(vs[i])
							}
							h[k] = vs
						}
						path, body := w.expand(a.path), w.expand(b)
						if v, ok := bobs[path]; ok {
							path = v
						}
						var req strings.Builder
						req.WriteString(path + "\n" + body)
						for k, vs := range h {
							req.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
						}
						return bob(a.method, path, h, body), req.String()
					}
					r, req := send(world)
					if a.textMayIgnore && md.mt != "application/occi+json" && r.status < 300 {
						if got := r.header.Get("Location"); strings.Contains(got, world["nicid"]) {
							t.Errorf("got Location %q, alice's link", got)
						}
						want = r.status
					}
					if r.status != want {
						t.Errorf("got status %d, want %d (X-OCCI-Error %q)", r.status, want, r.header.Get("X-OCCI-Error"))
					}
					if l := leaks(secrets, req, r); len(l) > 0 {
						t.Errorf("the answer names alice's %q: headers %v, body %.500q", l, r.header, r.body)
					}
					if a.noTwin {
						return
					}
					tw, _ := send(fake)
					if tw.status != r.status {
						t.Errorf("got status %d, but %d for a thing that does not exist", r.status, tw.status)
					}
					norm := func(s string, w aliceWorld) string {
						for _, k := range []string{"vm2", "vm", "net", "sto", "nic", "sl", "title", "nettitle", "stotitle", "tagloc", "tag", "tpl"} {
							s = strings.ReplaceAll(s, w[k], "{"+k+"}")
						}
						return s
					}
					if got, twin := norm(r.header.Get("X-OCCI-Error"), world), norm(tw.header.Get("X-OCCI-Error"), fake); got != twin {
						t.Errorf("got X-OCCI-Error %q, but %q for a thing that does not exist", got, twin)
					}
					if got, twin := norm(r.body, world), norm(tw.body, fake); got != twin && !strings.HasPrefix(r.header.Get("Content-Type"), "application/occi+json") {
						t.Errorf("got body %.300q, but %.300q for a thing that does not exist", got, twin)
					}
				})
			}

			// Listings: bob sees his things and none of alice's, in every
			// rendering and as text/uri-list.
			for _, p := range []string{"/", "/compute/", "/network/", "/storage/", "/networkinterface/", "/storagelink/",
				"/os_tpl/debian-12/", "/users/", "/users/bob/", "/users/bob/tags/", "/-/", "/.well-known/org/ogf/occi/-/", "/compute/?page=1;number=1000"} {
				for _, acc := range []string{md.mt, "text/uri-list"} {
					if p == "/-/" || strings.HasPrefix(p, "/.well-known") {
						if acc == "text/uri-list" {
							continue
						}
					}
					t.Run("list "+p+" as "+acc, func(t *testing.T) {
						r := bob("GET", p, http.Header{"Accept": {acc}}, "")
						if strings.HasPrefix(p, "/users/") && r.status == 404 {
							return // no such collection: fine, as long as it names nothing
						}
						mustStatus(t, r, 200)
						if l := leaks(secrets, p, r); len(l) > 0 {
							t.Errorf("the listing names alice's %q: %.500q", l, r.body)
						}
						if p == "/compute/" && !strings.Contains(r.body+strings.Join(r.header.Values("X-OCCI-Location"), ","), bVM[len("/compute/"):]) {
							t.Errorf("bob's listing lacks his own compute %s: %.300q", bVM, r.body)
						}
						if p == "/-/" {
							for _, shared := range []string{"debian-12", "small", "bobtag"} {
								if !strings.Contains(r.body+strings.Join(r.header.Values("Category"), ","), shared) {
									t.Errorf("bob's discovery lacks %s", shared)
								}
							}
						}
					})
				}
			}

			// Collection operations over everything bob can see leave
			// alice's things alone.
			t.Run("action on the compute collection", func(t *testing.T) {
				h, b := md.action(computeAc + "start")
				r := bob("POST", "/compute/?action=start", h, b)
				mustStatus(t, r, 200)
				if l := leaks(secrets, "", r); len(l) > 0 {
					t.Errorf("the answer names alice's %q", l)
				}
			})
			t.Run("action on the shared OS template's collection", func(t *testing.T) {
				h, b := md.action(computeAc+"stop", attr{"method", "graceful"})
				r := bob("POST", "/os_tpl/debian-12/?action=stop", h, b)
				mustStatus(t, r, 200)
				if l := leaks(secrets, "", r); len(l) > 0 {
					t.Errorf("the answer names alice's %q", l)
				}
			})
			t.Run("delete all on kind collections", func(t *testing.T) {
				for _, p := range []string{"/storagelink/", "/networkinterface/", "/compute/", "/storage/", "/network/"} {
					r := bob("DELETE", p, md.accept(), "")
					mustStatus(t, r, 200)
					if l := leaks(secrets, "", r); len(l) > 0 {
						t.Errorf("DELETE %s names alice's %q", p, l)
					}
				}
				mustStatus(t, bob("GET", bVM, md.accept(), ""), 404)
			})
			h, b = md.mixin(bobScheme+"bobtag", "")
			mustStatus(t, bob("DELETE", "/-/", h, b), 200)

			after := snapshot()
			for p, was := range before {
				if after[p] != was {
					t.Errorf("alice's %s changed:\nbefore %s\nafter  %s", p, was, after[p])
				}
			}
		})
	}

	t.Run("saving under the name of alice's template", func(t *testing.T) {
		// Saved OS templates live in their owner's name space: bob's save
		// under the name alice used must answer exactly what a save under
		// a name nobody used answers, so that it tells him nothing.
		h, b := jsonMd.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
		bVM := created(t, base, do(t, "POST", base+"/compute/", as(bobToken, h, false), b))
		h, b = jsonMd.action(computeAc + "start")
		mustStatus(t, do(t, "POST", base+bVM+"?action=start", as(bobToken, h, false), b), 200)
		// saved is what bob sees of the template he saves as name, with
		// name replaced by a placeholder.
		type saved struct {
			Term, Scheme, Title, Location string
			Depends, Applies, Attributes  []string
			Discovered                    bool
		}
		save := func(name string) saved {
			t.Helper()
			h, b := jsonMd.action(computeAc+"save", attr{"method", "hot"}, attr{"name", name})
			r := do(t, "POST", base+bVM+"?action=save", as(bobToken, h, false), b)
			mustStatus(t, r, 200)
			var m struct {
				Term, Scheme, Title, Location string
				Depends, Applies              []string
				Attributes                    map[string]any
			}
			if err := json.Unmarshal([]byte(r.body), &m); err != nil {
				t.Fatalf("the answer to save as %s is not a mixin: %v: %.300q", name, err, r.body)
			}
			ph := func(s string) string { return strings.ReplaceAll(s, name, "{name}") }
			out := saved{Term: ph(m.Term), Scheme: m.Scheme, Title: ph(m.Title), Location: ph(strings.TrimPrefix(m.Location, base)),
				Depends: m.Depends, Applies: m.Applies}
			for k := range m.Attributes {
				out.Attributes = append(out.Attributes, k)
			}
			sort.Strings(out.Attributes)
			d := do(t, "GET", base+"/-/?category="+url.QueryEscape(m.Scheme+m.Term), as(bobToken, jsonMd.accept(), false), "")
			out.Discovered = d.status == 200 && strings.Contains(d.body, `"term":"`+m.Term+`"`)
			return out
		}
		fresh := save("bobfreshname")
		taken := save(aliceTplName)
		want := saved{Term: "{name}", Scheme: bobTplScm, Title: "{name}", Location: "/users/bob/os_tpl/{name}/",
			Depends: []string{infra + "os_tpl"}, Applies: []string{infra + "compute"}, Attributes: fresh.Attributes, Discovered: true}
		if diff := cmp.Diff(want, fresh); diff != "" {
			t.Errorf("bob's save under a fresh name (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(fresh, taken); diff != "" {
			t.Errorf("bob's save under alice's name differs from one under a fresh name (-fresh +alice's name):\n%s", diff)
		}
		// Alice's template is still hers, and only hers.
		r := do(t, "GET", base+"/-/?category="+url.QueryEscape(aliceTplScm+aliceTplName), as(aliceToken, jsonMd.accept(), false), "")
		mustStatus(t, r, 200)
		r = do(t, "GET", base+"/-/?category="+url.QueryEscape(aliceTplScm+aliceTplName), as(bobToken, jsonMd.accept(), false), "")
		mustStatus(t, r, 404)
	})
	t.Run("a Basic user sees none of alice's", func(t *testing.T) {
		carol := http.Header{"Authorization": {"Basic " + basic("carol", carolPassword)}, "Accept": {"text/plain"}}
		for _, p := range []string{aVM, aNet, aNIC, aTagLoc} {
			if r := do(t, "GET", base+p, carol, ""); r.status != 404 {
				t.Errorf("GET %s as carol: got status %d, want 404", p, r.status)
			}
		}
		for _, p := range []string{"/", "/compute/", "/-/"} {
			r := do(t, "GET", base+p, carol, "")
			mustStatus(t, r, 200)
			if l := leaks(secrets, p, r); len(l) > 0 {
				t.Errorf("GET %s as carol names alice's %q", p, l)
			}
		}
	})
	t.Run("shared provider templates visible to both", func(t *testing.T) {
		for _, who := range []string{aliceToken, bobToken} {
			r := do(t, "GET", base+"/-/", as(who, jsonMd.accept(), false), "")
			mustStatus(t, r, 200)
			for _, want := range []string{`"term":"debian-12"`, `"term":"small"`} {
				if !strings.Contains(r.body, want) {
					t.Errorf("discovery lacks %s", want)
				}
			}
		}
	})
	t.Run("secrets never in the log", func(t *testing.T) {
		// A few failures too, so that the failure paths log.
		do(t, "GET", base+"/compute/", http.Header{"X-Auth-Token": {"tok-forged-" + bobToken}}, "")
		do(t, "GET", base+"/compute/", http.Header{"Authorization": {"Basic " + basic("carol", carolPassword+"x")}}, "")
		do(t, "GET", base+"/compute/", http.Header{"Authorization": {"Basic " + basic("carol", carolPassword)}}, "")
		do(t, "GET", base+"/compute/", as(bobToken, nil, true), "")
		do(t, "GET", base+"/compute/", as(aliceToken, nil, false), "")
		m.logw.Flush()
		log := logs.String()
		for _, want := range []string{"msg=request", "user=alice", "user=bob", "user=carol", "reason=\"invalid user name or password\""} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %s", want)
			}
		}
		for _, s := range []string{aliceToken, bobToken, carolPassword, basic("carol", carolPassword), "tok-forged"} {
			if strings.Contains(log, s) {
				t.Errorf("the log contains the secret %q", s)
			}
		}
	})
}

// basic returns the base64 credentials of an HTTP Basic Authorization
// header for user and pass.
func basic(user, pass string) string {
	h := http.Header{}
	r := &http.Request{Header: h}
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestAuthentication checks occid's answers to missing, wrong and good
// credentials of each configured kind, and the Go client's ways of sending
// them.
func TestAuthentication(t *testing.T) {
	logs := &syncBuffer{}
	m := startAuthMain(t, logs)
	base := m.URL()
	tests := []struct {
		name       string
		hdr        http.Header
		path       string
		wantStatus int
		wantErr    string
	}{
		{name: "no credentials", hdr: nil, wantStatus: 401, wantErr: "authentication required"},
		{name: "unknown token as X-Auth-Token", hdr: http.Header{"X-Auth-Token": {"not-a-token"}}, wantStatus: 401},
		{name: "unknown token as Bearer", hdr: http.Header{"Authorization": {"Bearer not-a-token"}}, wantStatus: 401},
		{name: "wrong password", hdr: http.Header{"Authorization": {"Basic " + basic("carol", "guess")}}, wantStatus: 401, wantErr: "invalid user name or password"},
		{name: "unknown user", hdr: http.Header{"Authorization": {"Basic " + basic("mallory", carolPassword)}}, wantStatus: 401, wantErr: "invalid user name or password"},
		{name: "unknown scheme", hdr: http.Header{"Authorization": {"Digest username=carol"}}, wantStatus: 401},
		{name: "good token as X-Auth-Token", hdr: http.Header{"X-Auth-Token": {aliceToken}}, wantStatus: 200},
		{name: "good token as Bearer", hdr: http.Header{"Authorization": {"Bearer " + bobToken}}, wantStatus: 200},
		{name: "good password", hdr: http.Header{"Authorization": {"Basic " + basic("carol", carolPassword)}}, wantStatus: 200},
		{name: "metrics need authentication", path: "/metrics", wantStatus: 401},
		{name: "metrics with a token", path: "/metrics", hdr: http.Header{"X-Auth-Token": {aliceToken}}, wantStatus: 200},
		{name: "healthz is public", path: "/healthz", wantStatus: 200},
		{name: "readyz is public", path: "/readyz", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/compute/"
			}
			r := do(t, "GET", base+path, tt.hdr, "")
			if r.status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (X-OCCI-Error %q)", r.status, tt.wantStatus, r.header.Get("X-OCCI-Error"))
			}
			if tt.wantStatus != 401 {
				return
			}
			want := []string{`Bearer realm="occid"`, `Basic realm="occid"`}
			if got := r.header.Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("got WWW-Authenticate %q, want %q", got, want)
			}
			if got := r.header.Get("X-OCCI-Error"); got == "" || (tt.wantErr != "" && got != tt.wantErr) {
				t.Errorf("got X-OCCI-Error %q, want %q", got, tt.wantErr)
			}
			// Every response carries Server and Accept, 401s from the
			// authentication in front of the protocol handler too.
			if got := r.header.Get("Server"); !strings.HasSuffix(got, " OCCI/1.2") {
				t.Errorf("got Server %q on a 401, want occid/<version> OCCI/1.2", got)
			}
			if got := r.header.Get("Accept"); !strings.Contains(got, "application/occi+json") {
				t.Errorf("got Accept %q on a 401, want the offered media types", got)
			}
			// The server's error form: a request id, the error code, the
			// body in the default rendering.
			if r.header.Get("X-Request-Id") == "" || r.header.Get("Occid-Error-Code") != "Unauthenticated" {
				t.Errorf("got X-Request-Id %q Occid-Error-Code %q on a 401, want an id and Unauthenticated",
					r.header.Get("X-Request-Id"), r.header.Get("Occid-Error-Code"))
			}
		})
	}

	t.Run("401 in the negotiated rendering", func(t *testing.T) {
		h := http.Header{"X-Auth-Token": {"not-a-token"}, "Accept": {"application/occi+json"}}
		r := do(t, "GET", base+"/-/", h, "")
		mustStatus(t, r, 401)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/occi+json") {
			t.Errorf("Content-Type of a 401 asked for as JSON: %q", ct)
		}
		var body struct{ Code, Message string }
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Message != r.header.Get("X-OCCI-Error") {
			t.Errorf("JSON body of a 401: %q (%v), want the message of X-OCCI-Error %q", r.body, err, r.header.Get("X-OCCI-Error"))
		}
		// And the request has its line in the request log (written in
		// the background).
		id := r.header.Get("X-Request-Id")
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "request_id="+id); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no request log line with the 401's request id %s", id)
			}
		}
	})

	t.Run("403 for what the caller sees but may not change", func(t *testing.T) {
		md := medias[0]
		h, b := md.mixin(osTpl+"debian-12", "")
		r := do(t, "DELETE", base+"/-/", as(aliceToken, h, false), b)
		mustStatus(t, r, 403)
		h, b = md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
		loc := created(t, base, do(t, "POST", base+"/compute/", as(aliceToken, h, false), b))
		h, b = md.entity("", nil, []attr{{"occi.compute.state", "active"}}, nil)
		mustStatus(t, do(t, "POST", base+loc, as(aliceToken, h, false), b), 403)
		mustStatus(t, do(t, "POST", base+loc, as(bobToken, h, false), b), 404)
	})

	t.Run("405 on an action at an unbound path lists what is allowed", func(t *testing.T) {
		md := medias[0]
		// With a tag of her own, /users/ is an unbound path for alice.
		h, b := md.mixin(aliceScheme+"allowtag", "")
		mustStatus(t, do(t, "POST", base+"/-/", as(aliceToken, h, false), b), 200)
		h, b = md.action(computeAc + "start")
		for _, p := range []string{"/", "/users/"} {
			r := do(t, "POST", base+p+"?action=start", as(aliceToken, h, false), b)
			mustStatus(t, r, 405)
			if got := r.header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("POST %s?action=start: got Allow %q, want GET, HEAD", p, got)
			}
			if got := r.header.Get("X-OCCI-Error"); !strings.HasSuffix(got, "; allowed: GET, HEAD") {
				t.Errorf("POST %s?action=start: got X-OCCI-Error %q, want it to end in \"; allowed: GET, HEAD\"", p, got)
			}
		}
	})

	t.Run("client credentials", func(t *testing.T) {
		codecs := []render.Codec{occitext.Plain(), occijson.New()}
		for _, tt := range []struct {
			name string
			opts occihttp.ClientOptions
			want occi.Code
		}{
			{name: "bearer", opts: occihttp.ClientOptions{Token: aliceToken}},
			{name: "X-Auth-Token", opts: occihttp.ClientOptions{Token: bobToken, TokenHeader: "X-Auth-Token"}},
			{name: "basic", opts: occihttp.ClientOptions{User: "carol", Password: carolPassword}},
			{name: "basic, wrong password", opts: occihttp.ClientOptions{User: "carol", Password: "nope"}, want: occi.Unauthenticated},
			{name: "none", want: occi.Unauthenticated},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.opts.Codecs = codecs
				c := occihttp.NewClient(base, tt.opts)
				_, err := c.Discover(context.Background(), nil)
				if got := occi.ErrorCode(err); (err == nil && tt.want != occi.OK) || (err != nil && got != tt.want) {
					t.Errorf("got %v (%s), want %s", err, got, tt.want)
				}
			})
		}
	})
}

// TestListenWithoutAuthentication checks the safe default: without any
// authentication method occid refuses a non-loopback listen address
// unless --insecure, and with one it starts.
func TestListenWithoutAuthentication(t *testing.T) {
	dir := t.TempDir()
	tokens := writeTestFile(t, dir, "tokens", aliceToken+" alice\n")
	for _, tt := range []struct {
		name     string
		set      func(c *Config)
		wantErr  string
		wantAuth bool
	}{
		{name: "non-loopback, no authentication", set: func(c *Config) {}, wantErr: "is not a loopback address and no authentication method is configured"},
		{name: "non-loopback, --insecure", set: func(c *Config) { c.Insecure = true }},
		{name: "non-loopback, static tokens", set: func(c *Config) { c.AuthTokens = tokens }, wantAuth: true},
		{name: "bad tokens file", set: func(c *Config) { c.AuthTokens = filepath.Join(dir, "missing") }, wantErr: "authentication:"},
		{name: "client CA without TLS", set: func(c *Config) { c.ClientCA = tokens }, wantErr: "--client-ca needs --tls-cert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = &syncBuffer{}
			m.Config.Listen, m.Config.DataDir, m.Config.Store = "0.0.0.0:0", t.TempDir(), "memory:"
			tt.set(&m.Config)
			err := m.Run(context.Background())
			if err == nil {
				defer m.Close()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			port := m.URL()[strings.LastIndexByte(m.URL(), ':'):]
			r := do(t, "GET", "http://127.0.0.1"+port+"/-/", nil, "")
			if want := map[bool]int{false: 200, true: 401}[tt.wantAuth]; r.status != want {
				t.Errorf("got status %d, want %d", r.status, want)
			}
		})
	}
}

// TestMetricsUsers: with --metrics-users, /metrics (which counts every
// tenant's entities) is for the users it names; another authenticated user
// gets 403, and nobody gets it without authentication.
func TestMetricsUsers(t *testing.T) {
	logs := &syncBuffer{}
	m := startAuthMainWith(t, logs, func(c *Config) { c.MetricsUsers = []string{"carol"} })
	base := m.URL()
	r := do(t, "GET", base+"/metrics", http.Header{"Authorization": {"Basic " + basic("carol", carolPassword)}}, "")
	if r.status != 200 || !strings.Contains(r.body, "occid_") {
		t.Errorf("carol, named in --metrics-users: /metrics answered %d, want 200 with occid's metrics", r.status)
	}
	r = do(t, "GET", base+"/metrics", http.Header{"X-Auth-Token": {bobToken}}, "")
	if r.status != 403 || !strings.Contains(r.header.Get("X-OCCI-Error"), "--metrics-users") || strings.Contains(r.body, "occid_") {
		t.Errorf("bob, not named: /metrics answered %d (%q), want 403 naming --metrics-users and no metrics", r.status, r.header.Get("X-OCCI-Error"))
	}
	if r := do(t, "GET", base+"/metrics", nil, ""); r.status != 401 {
		t.Errorf("no credentials: /metrics answered %d, want 401", r.status)
	}
	if r := do(t, "GET", base+"/compute/", http.Header{"X-Auth-Token": {bobToken}}, ""); r.status != 200 {
		t.Errorf("bob's own listing answered %d, want 200", r.status)
	}
}

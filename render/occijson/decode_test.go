package occijson_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/rendertest"
)

const infra = "http://schemas.ogf.org/occi/infrastructure#"

var (
	computeKind = occi.CategoryID{Scheme: infra, Term: "compute"}
	network     = occi.CategoryID{Scheme: infra, Term: "network"}
	netIface    = occi.CategoryID{Scheme: infra, Term: "networkinterface"}
	ipnet       = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
)

func body(s string) *render.Reader {
	return &render.Reader{Header: http.Header{}, Body: []byte(s), Base: rendertest.Base}
}

func TestDecodeEntityForgiving(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *occi.Entity
	}{
		{"numbers: integer literal int64, others float64", `{"kind":"` + infra + `compute","attributes":{"a":2,"b":4.0,"c":1e3,"d":-7,"e":[1,1.5],"f":{"g":0}}}`,
			&occi.Entity{Kind: computeKind, Attributes: occi.Attributes{"a": int64(2), "b": 4.0, "c": 1000.0, "d": int64(-7), "e": []any{int64(1), 1.5}, "f": map[string]any{"g": int64(0)}}}},
		{"core attributes inside attributes", `{"kind":"` + infra + `compute","attributes":{"occi.core.id":"x","occi.core.title":"t","occi.core.summary":"s","occi.compute.cores":1}}`,
			&occi.Entity{Kind: computeKind, ID: "x", Title: "t", Summary: "s", Attributes: occi.Attributes{"occi.compute.cores": int64(1)}}},
		{"top level wins over attributes", `{"kind":"` + infra + `compute","id":"top","title":"top","attributes":{"occi.core.id":"attr","occi.core.title":"attr"}}`,
			&occi.Entity{Kind: computeKind, ID: "top", Title: "top"}},
		{"null asks to unset", `{"kind":"` + infra + `compute","attributes":{"a":null,"b":"x"}}`,
			&occi.Entity{Kind: computeKind, Attributes: occi.Attributes{"a": nil, "b": "x"}}},
		{"link source and target as strings", `{"kind":"` + infra + `networkinterface","id":"l","source":"/compute/c","target":"` + rendertest.Base + `/network/n"}`,
			&occi.Entity{Kind: netIface, ID: "l", Source: "/compute/c", Target: "/network/n"}},
		{"link source and target as objects", `{"kind":"` + infra + `networkinterface","id":"l","source":{"location":"` + rendertest.Base + `/compute/c","kind":"` + infra + `compute"},"target":{"location":"http://other.example/network/n","kind":"` + infra + `network"}}`,
			&occi.Entity{Kind: netIface, ID: "l", Source: "/compute/c", SourceKind: computeKind, Target: "http://other.example/network/n", TargetKind: network}},
		{"link source and target in attributes", `{"kind":"` + infra + `networkinterface","attributes":{"occi.core.source":"/compute/c","occi.core.target":"/network/n","occi.core.target.kind":"` + infra + `network"}}`,
			&occi.Entity{Kind: netIface, Source: "/compute/c", Target: "/network/n", TargetKind: network}},
		{"inline link without source", `{"kind":"` + infra + `compute","links":[{"kind":"` + infra + `networkinterface","target":{"location":"/network/n","kind":"` + infra + `network"},"attributes":{"occi.networkinterface.interface":"eth0"}}]}`,
			&occi.Entity{Kind: computeKind, Links: []*occi.Entity{{Kind: netIface, Target: "/network/n", TargetKind: network, Attributes: occi.Attributes{"occi.networkinterface.interface": "eth0"}}}}},
		{"legacy names", `{"kind":"` + infra + `network","mixins":["http://schemas.ogf.org/occi/infrastructure/network#ipnetworking"],"attributes":{"org.openstack.compute.user_data":"u","org.openstack.credentials.publickey.data":"k1","occi.crendentials.ssh.publickey":"k2"}}`,
			&occi.Entity{Kind: network, Mixins: []occi.CategoryID{ipnet}, Attributes: occi.Attributes{"occi.compute.userdata": "u", "occi.credentials.ssh.publickey": "k2"}}},
		{"MartServer location member and wrapper", `{"resources":[{"kind":"` + infra + `compute","id":"c","location":"` + rendertest.Base + `/compute/c"}]}`,
			&occi.Entity{Kind: computeKind, ID: "c", Location: "/compute/c"}},
		{"rOCCI mixin identifiers as a partial update", `{"mixins":["http://occid.local/tags#web"]}`,
			&occi.Entity{Mixins: []occi.CategoryID{{Scheme: "http://occid.local/tags#", Term: "web"}}}},
		{"links without a kind: a partial update that adds a link", `{"links":[{"kind":"` + infra + `networkinterface","target":"/network/n"}]}`,
			&occi.Entity{Links: []*occi.Entity{{Kind: netIface, Target: "/network/n"}}}},
		{"unknown members are ignored", `{"kind":"` + infra + `compute","rel":"x","extra":{"a":[1]}}`, &occi.Entity{Kind: computeKind}},
		{"escapes and unicode", `{"kind":"` + infra + `compute","title":"a\"b\\c\n\u00e9\ud83d\ude80"}`, &occi.Entity{Kind: computeKind, Title: "a\"b\\c\né🚀"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := occijson.New().DecodeEntity(body(tc.in))
			if err != nil {
				t.Fatalf("DecodeEntity: %v", err)
			}
			if d := rendertest.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeLocationsForgiving(t *testing.T) {
	want := []string{"/compute/a", "/compute/b"}
	for _, in := range []string{
		`["/compute/a","` + rendertest.Base + `/compute/b"]`,
		`{"resources":[{"location":"/compute/a"},{"id":"` + rendertest.Base + `/compute/b","kind":"` + infra + `compute"}]}`,
		`{"resources":[{"location":"/compute/a"}],"links":[{"location":"compute/b"}]}`,
		`[{"location":"/compute/a"},"/compute/b"]`,
	} {
		t.Run(in, func(t *testing.T) {
			got, err := occijson.New().DecodeLocations(body(in))
			if err != nil {
				t.Fatalf("DecodeLocations: %v", err)
			}
			if d := rendertest.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeMixinsForgiving(t *testing.T) {
	web := &occi.Mixin{ID: occi.CategoryID{Scheme: "http://occid.local/tags#", Term: "web"}, Title: "Web", Location: "/tags/web/"}
	idOnly := &occi.Mixin{ID: occi.CategoryID{Scheme: "http://occid.local/tags#", Term: "web"}}
	obj := `{"term":"web","scheme":"http://occid.local/tags#","title":"Web","location":"` + rendertest.Base + `/tags/web/"}`
	tests := []struct {
		name, in string
		want     []*occi.Mixin
	}{
		{"one object", obj, []*occi.Mixin{web}},
		{"collection", `{"mixins":[` + obj + `]}`, []*occi.Mixin{web}},
		{"bare array", `[` + obj + `]`, []*occi.Mixin{web}},
		{"rOCCI identifiers", `{"mixins":["http://occid.local/tags#web"]}`, []*occi.Mixin{idOnly}},
		{"legacy 1.1 name", `{"mixins":["http://schemas.ogf.org/occi/infrastructure/network#ipnetworking"]}`, []*occi.Mixin{{ID: ipnet}}},
		{"string pattern and OCCI type names", `{"term":"t","scheme":"a#","location":"/t/","attributes":{"x":{"type":"string","pattern":"(?-mix:^(x86|x64)$)"},"y":{"type":"integer"},"z":{"pattern":{"type":"string","enum":["a"]}}}}`,
			[]*occi.Mixin{{ID: occi.CategoryID{Scheme: "a#", Term: "t"}, Location: "/t/", Attributes: []occi.AttributeDef{
				{Name: "x", Pattern: "^(x86|x64)$"}, {Name: "y", Type: occi.TypeInteger}, {Name: "z", Type: occi.TypeEnum, Enum: []string{"a"}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := occijson.New().DecodeMixins(body(tc.in))
			if err != nil {
				t.Fatalf("DecodeMixins: %v", err)
			}
			if d := rendertest.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeErrorForms(t *testing.T) {
	for in, want := range map[string]occi.Code{
		`{"code":"NotFound","message":"m"}`: occi.NotFound,
		`{"code":404,"message":"m"}`:        occi.NotFound,
		`{"status":409,"error":"m"}`:        occi.Conflict,
	} {
		code, msg, err := occijson.New().DecodeError(body(in))
		if err != nil || code != want || msg != "m" {
			t.Errorf("DecodeError(%s): got %v %q %v, want %v \"m\"", in, code, msg, err, want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	c := occijson.New()
	ent := func(s string) func() error {
		return func() error { _, err := c.DecodeEntity(body(s)); return err }
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tests := []struct {
		name   string
		decode func() error
		want   string
	}{
		{"empty body", ent(""), "JSON body: empty body"},
		{"syntax error", ent(`{"kind":}`), "JSON body: invalid character '}' looking for the beginning of a value at offset 8"},
		{"truncated", ent(`{"kind":"a#b"`), "JSON body: unexpected end of JSON input"},
		{"non-ASCII character shown as itself", ent(`{"kind":é}`), "JSON body: invalid character 'é' looking for the beginning of a value at offset 8"},
		{"invalid UTF-8 shown as a byte", ent("{\"kind\":\xff}"), "JSON body: invalid byte 0xff (not UTF-8) looking for the beginning of a value at offset 8"},
		{"trailing data", ent(`{} {}`), "JSON body: unexpected data after the JSON value"},
		{"not an object", ent(`[1]`), "JSON body: want an entity object, got an array"},
		{"kind not a string", ent(`{"kind":5}`), "JSON body, kind: want a string, got a number"},
		{"bad kind", ent(`{"kind":"nohash"}`), `JSON body, kind: type identifier "nohash" has no '#'`},
		{"mixins not an array", ent(`{"mixins":{}}`), "JSON body, mixins: want an array of type identifiers, got an object"},
		{"bad mixin", ent(`{"mixins":["a#b",3]}`), "JSON body, mixins[1]: want a type identifier string, got a number"},
		{"attributes not an object", ent(`{"attributes":[]}`), "JSON body, attributes: want an object, got an array"},
		{"integer overflow", ent(`{"attributes":{"a":123456789012345678901234}}`), "JSON body, attributes.a: integer 123456789012345678901234 is out of range"},
		{"float overflow", ent(`{"attributes":{"a":1e999}}`), "JSON body, attributes.a: number 1e999 is out of range"},
		{"core attribute not a string", ent(`{"attributes":{"occi.core.title":1}}`), "JSON body, attributes.occi.core.title: want a string"},
		{"bad source", ent(`{"source":5}`), `JSON body, source: want an object {"location","kind"} or a string, got a number`},
		{"bad link", ent(`{"links":[{"kind":"a#b","target":{"location":5}}]}`), "JSON body, links[0].target.location: want a string, got a number"},
		{"links not an array", ent(`{"kind":"a#b","links":{}}`), "JSON body, links: want an array of link objects"},
		{"foreign location", ent(`{"location":"http://evil.example/x"}`), `JSON body, location: location "http://evil.example/x" is not on this server`},
		{"too deep", ent(`{"attributes":{"a":` + deep + `}}`), "values nested deeper than 64 levels"},
		{"collection of two as one entity", ent(`{"resources":[{},{}]}`), "want one entity, got a collection of 2"},
		{"action missing", func() error { _, err := c.DecodeAction(body(`{"attributes":{}}`)); return err }, `JSON body: missing member "action"`},
		{"action bad id", func() error { _, err := c.DecodeAction(body(`{"action":"x"}`)); return err }, `JSON body, action: type identifier "x" has no '#'`},
		{"location id not a URL", func() error { _, err := c.DecodeLocations(body(`{"resources":[{"id":"urn:uuid:1"}]}`)); return err }, `JSON body, resources[0]: id "urn:uuid:1" is not a location`},
		{"foreign location in list", func() error { _, err := c.DecodeLocations(body(`["/a","http://evil.example/b"]`)); return err }, `JSON body, [1]: location "http://evil.example/b" is not on this server`},
		{"empty location", func() error { _, err := c.DecodeLocations(body(`["/a",""]`)); return err }, `JSON body, [1]: empty location`},
		{"locations wrong shape", func() error { _, err := c.DecodeLocations(body(`{"x":1}`)); return err }, `want an array of locations`},
		{"mixin without scheme", func() error { _, err := c.DecodeMixins(body(`{"term":"t"}`)); return err }, `JSON body: a category needs "term" and "scheme"`},
		{"mixin bad term", func() error { _, err := c.DecodeMixins(body(`{"term":"-t","scheme":"a#"}`)); return err }, `JSON body, term: invalid term "-t"`},
		{"no mixins", func() error { _, err := c.DecodeMixins(body(`{"mixins":[]}`)); return err }, `no mixin definition`},
		{"bad attribute description", func() error {
			_, err := c.DecodeDiscovery(body(`{"kinds":[{"term":"t","scheme":"a#","attributes":{"x":{"mutable":"yes"}}}]}`))
			return err
		}, `JSON body, kinds[0].attributes.x.mutable: want a boolean, got a string`},
		// Duplicate member names are refused at every level, naming the
		// member and where it is (last-wins used to drop the first kind).
		{"duplicate kind", ent(`{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","kind":"http://schemas.ogf.org/occi/infrastructure#storage"}`),
			`JSON body, the top-level object: member "kind" appears twice in one object`},
		{"duplicate attribute", ent(`{"kind":"a#b","attributes":{"x":1,"x":2}}`), `JSON body, attributes: member "x" appears twice`},
		{"duplicate in a link target", ent(`{"kind":"a#b","links":[{"kind":"a#l","target":{"location":"/a","location":"/b"}}]}`),
			`JSON body, links[0].target: member "location" appears twice`},
		{"duplicate action", func() error { _, err := c.DecodeAction(body(`{"action":"a#b","action":"a#c"}`)); return err },
			`member "action" appears twice`},
		{"duplicate in a collection", func() error {
			_, err := c.DecodeEntities(body(`{"resources":[{"kind":"a#b"},{"kind":"a#b","id":"1","id":"2"}]}`))
			return err
		}, `JSON body, resources[1]: member "id" appears twice`},
		{"duplicate in a mixin definition", func() error { _, err := c.DecodeMixins(body(`{"term":"t","scheme":"a#","term":"u"}`)); return err },
			`member "term" appears twice`},
		// A string that is not UTF-8 is refused, naming where it is, not
		// turned into U+FFFD (text/plain refuses such a body too).
		{"invalid UTF-8 in an attribute value", ent("{\"kind\":\"a#b\",\"attributes\":{\"occi.core.title\":\"a\xffb\"}}"),
			"JSON body, attributes.occi.core.title: a string is not valid UTF-8: byte 0xff at offset 48"},
		{"invalid UTF-8 after an escape", ent("{\"kind\":\"a#b\",\"attributes\":{\"occi.core.summary\":\"\\n\xc3(\"}}"),
			"JSON body, attributes.occi.core.summary: a string is not valid UTF-8: byte 0xc3 at offset 51"},
		{"invalid UTF-8 in a member name", ent("{\"kind\":\"a#b\",\"attributes\":{\"x\xfe\":1}}"),
			"JSON body, attributes: a string is not valid UTF-8: byte 0xfe at offset 30"},
		{"invalid UTF-8 in a location", func() error { _, err := c.DecodeLocations(body("[\"/a\",\"/b\xff\"]")); return err },
			"JSON body, [1]: a string is not valid UTF-8: byte 0xff at offset 9"},
		{"too many values", func() error {
			_, err := c.DecodeLocations(body("[" + strings.Repeat(`"/a",`, render.MaxItems*4) + `"/a"]`))
			return err
		}, "more than 400000 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode()
			if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Fatalf("got %v (code %v), want InvalidArgument", err, occi.ErrorCode(err))
			}
			if msg := occi.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Errorf("got message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

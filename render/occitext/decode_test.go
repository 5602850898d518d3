package occitext_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

const (
	infra   = "http://schemas.ogf.org/occi/infrastructure#"
	compute = `compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`
)

var (
	computeKind = occi.CategoryID{Scheme: infra, Term: "compute"}
	network     = occi.CategoryID{Scheme: infra, Term: "network"}
	netIface    = occi.CategoryID{Scheme: infra, Term: "networkinterface"}
	ipnet       = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
)

func plain(body string) *render.Reader {
	return &render.Reader{Header: http.Header{}, Body: []byte(body), Base: rendertest.Base}
}

func headers(h map[string][]string) *render.Reader {
	return &render.Reader{Header: http.Header(h), Base: rendertest.Base}
}

// TestDecodeEntityForgiving has one case per input form real clients send.
func TestDecodeEntityForgiving(t *testing.T) {
	simple := &occi.Entity{Kind: computeKind, Title: "a, b; c: d=e", Attributes: occi.Attributes{"occi.compute.cores": int64(2)}}
	tests := []struct {
		name  string
		codec *occitext.Codec
		in    *render.Reader
		want  *occi.Entity
	}{
		{"header names in any case", occitext.Headers(), headers(map[string][]string{
			"category":         {compute},
			"X-Occi-Attribute": {`occi.core.title="a, b; c: d=e"`},
			"X-OCCI-ATTRIBUTE": {`occi.compute.cores=2`},
		}), simple},
		{"rOCCI header aliases", occitext.Headers(), headers(map[string][]string{
			"X-Occi-Category":  {compute},
			"X-Occi-Link":      {`</network/n1>; rel="http://schemas.ogf.org/occi/infrastructure#network"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"`},
			"X-Occi-Attribute": {`occi.core.title="a, b; c: d=e", occi.compute.cores=2`},
		}), &occi.Entity{Kind: computeKind, Title: "a, b; c: d=e", Attributes: occi.Attributes{"occi.compute.cores": int64(2)},
			Links: []*occi.Entity{{Kind: netIface, Target: "/network/n1", TargetKind: network}}}},
		{"comma-joined header values", occitext.Headers(), headers(map[string][]string{
			"Category":         {compute + `, ipnetworking; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"`},
			"X-Occi-Attribute": {`occi.core.title="a, b; c: d=e", occi.compute.cores=2`},
		}), &occi.Entity{Kind: computeKind, Mixins: []occi.CategoryID{ipnet}, Title: "a, b; c: d=e", Attributes: occi.Attributes{"occi.compute.cores": int64(2)}}},
		{"repeated header values", occitext.Headers(), headers(map[string][]string{
			"Category":         {compute},
			"X-Occi-Attribute": {`occi.core.title="a, b; c: d=e"`, `occi.compute.cores=2`},
		}), simple},
		{"no space after semicolon, trailing semicolon, unquoted class", occitext.Plain(), plain(
			"Category: compute;scheme=\"" + infra + "\";class=kind;\n" +
				"X-OCCI-Attribute: occi.core.title=\"a, b; c: d=e\"\nX-OCCI-Attribute: occi.compute.cores=2\n"), simple},
		{"blank lines and CRLF", occitext.Plain(), plain(
			"\r\n\r\nCategory: " + compute + "\r\n\r\n  \r\nX-OCCI-Attribute: occi.core.title=\"a, b; c: d=e\"\r\n\tX-OCCI-Attribute: occi.compute.cores=2\r\n\r\n"), simple},
		{"raw TAB and escapes in a quoted value", occitext.Plain(), plain(
			"Category: " + compute + "\r\nX-OCCI-Attribute: occi.core.title=\"a\tb \\\" \\\\ \\n\\r\\t \\u0000\"\r\n"),
			&occi.Entity{Kind: computeKind, Title: "a\tb \" \\ \n\r\t \x00"}},
		{"line keywords in any case", occitext.Plain(), plain(
			"CATEGORY: " + compute + "\nx-occi-attribute: occi.core.title=\"a, b; c: d=e\"\nX-Occi-Attribute:occi.compute.cores=2"), simple},
		{"several values on one body line", occitext.Plain(), plain(
			"Category: " + compute + "\nX-OCCI-Attribute: occi.core.title=\"a, b; c: d=e\", occi.compute.cores=2\n"), simple},
		{"text/plain with the rendering in headers", occitext.Plain(), headers(map[string][]string{
			"Category":         {compute},
			"X-Occi-Attribute": {`occi.core.title="a, b; c: d=e"`, `occi.compute.cores=2`},
		}), simple},
		{"booleans bare and quoted, numbers", occitext.Plain(), plain("Category: " + compute + "\n" +
			"X-OCCI-Attribute: a.bare=true\nX-OCCI-Attribute: a.quoted=\"true\"\nX-OCCI-Attribute: a.False=FALSE\n" +
			"X-OCCI-Attribute: n.neg=-5\nX-OCCI-Attribute: n.float=4.0\nX-OCCI-Attribute: n.exp=1e3\nX-OCCI-Attribute: n.dot=.5\nX-OCCI-Attribute: s.token=eth0\n" +
			"X-OCCI-Attribute: u.null=null\nX-OCCI-Attribute: u.quoted=\"null\"\n"),
			&occi.Entity{Kind: computeKind, Attributes: occi.Attributes{"a.bare": true, "a.quoted": "true", "a.False": false,
				"n.neg": int64(-5), "n.float": 4.0, "n.exp": 1000.0, "n.dot": 0.5, "s.token": "eth0", "u.null": nil, "u.quoted": "null"}}},
		{"escapes", occitext.Plain(), plain("Category: " + compute + "\n" +
			`X-OCCI-Attribute: occi.core.title="q\"b\\n\nt\tu\u00e9x\y"` + "\n"),
			&occi.Entity{Kind: computeKind, Title: "q\"b\\n\nt\tuéxy"}},
		{"legacy attribute and mixin names", occitext.Plain(), plain("Category: " + compute + "\n" +
			"Category: ipnetworking; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n" +
			"X-OCCI-Attribute: org.openstack.compute.user_data=\"I2Nsb3VkLWNvbmZpZwo=\"\n" +
			"X-OCCI-Attribute: org.openstack.credentials.publickey.data=\"ssh-rsa AAA\"\n"),
			&occi.Entity{Kind: computeKind, Mixins: []occi.CategoryID{ipnet}, Attributes: occi.Attributes{
				"occi.compute.userdata": "I2Nsb3VkLWNvbmZpZwo=", "occi.credentials.ssh.publickey": "ssh-rsa AAA"}}},
		{"ooi misspelt credentials", occitext.Plain(), plain("Category: " + compute + "\nX-OCCI-Attribute: occi.crendentials.ssh.publickey=\"k\"\n"),
			&occi.Entity{Kind: computeKind, Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "k"}}},
		{"inline link without self, relative target", occitext.Plain(), plain("Category: " + compute + "\n" +
			`Link: </network/n1>;rel="http://schemas.ogf.org/occi/infrastructure#network";category="http://schemas.ogf.org/occi/infrastructure#networkinterface";occi.networkinterface.interface="eth0";` + "\n"),
			&occi.Entity{Kind: computeKind, Links: []*occi.Entity{{Kind: netIface, Target: "/network/n1", TargetKind: network,
				Attributes: occi.Attributes{"occi.networkinterface.interface": "eth0"}}}}},
		{"inline link with self, absolute target, unquoted category", occitext.Plain(), plain("Category: " + compute + "\n" +
			`Link: <` + rendertest.Base + `/network/n1>; rel="http://schemas.ogf.org/occi/infrastructure#network"; self="/networkinterface/l1"; category=http://schemas.ogf.org/occi/infrastructure#networkinterface; occi.core.id="l1"` + "\n"),
			&occi.Entity{Kind: computeKind, Links: []*occi.Entity{{ID: "l1", Location: "/networkinterface/l1", Kind: netIface, Target: "/network/n1", TargetKind: network}}}},
		{"link to another server stays absolute", occitext.Plain(), plain("Category: " + compute + "\n" +
			`Link: <http://other.example/network/n1>; rel="http://schemas.ogf.org/occi/infrastructure#network"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"` + "\n"),
			&occi.Entity{Kind: computeKind, Links: []*occi.Entity{{Kind: netIface, Target: "http://other.example/network/n1", TargetKind: network}}}},
		{"link entity with relative source and target", occitext.Plain(), plain(
			"Category: networkinterface; scheme=\"" + infra + "\"; class=\"kind\"\n" +
				"X-OCCI-Attribute: occi.core.source=\"/compute/c1\"\nX-OCCI-Attribute: occi.core.target=\"" + rendertest.Base + "/network/n1\"\n" +
				"X-OCCI-Attribute: occi.core.target.kind=\"" + infra + "network\"\n"),
			&occi.Entity{Kind: netIface, Source: "/compute/c1", Target: "/network/n1", TargetKind: network}},
		{"partial update without a kind", occitext.Plain(), plain("X-OCCI-Attribute: occi.compute.cores=4\n"),
			&occi.Entity{Attributes: occi.Attributes{"occi.compute.cores": int64(4)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.codec.DecodeEntity(tc.in)
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
	want := []string{"/compute/a", "/compute/b", "/storage/c"}
	tests := []struct {
		name  string
		codec *occitext.Codec
		in    *render.Reader
	}{
		{"body, relative and absolute", occitext.Plain(), plain("X-OCCI-Location: /compute/a\r\nX-OCCI-Location: " + rendertest.Base + "/compute/b\r\n\r\nx-occi-location: storage/c\r\n")},
		{"body, comma-joined", occitext.Plain(), plain("X-OCCI-Location: /compute/a, " + rendertest.Base + "/compute/b,/storage/c\n")},
		{"body, bare URIs", occitext.Plain(), plain("/compute/a\n" + rendertest.Base + "/compute/b\nX-OCCI-Location: /storage/c\n")},
		{"headers, rOCCI Location alias", occitext.Headers(), headers(map[string][]string{"Location": {"/compute/a, /compute/b", rendertest.Base + "/storage/c"}})},
		{"headers, any case", occitext.Headers(), headers(map[string][]string{"x-occi-location": {"/compute/a", "/compute/b", "/storage/c"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.codec.DecodeLocations(tc.in)
			if err != nil {
				t.Fatalf("DecodeLocations: %v", err)
			}
			if d := rendertest.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeActionMixinsFilter(t *testing.T) {
	stop := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute/action#", Term: "stop"}
	inv, err := occitext.Plain().DecodeAction(plain("Category: stop;scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\";class=action\nX-OCCI-Attribute: method=\"graceful\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rendertest.Diff(&occi.ActionInvocation{Action: stop, Attributes: occi.Attributes{"method": "graceful"}}, inv); d != "" {
		t.Errorf("DecodeAction (-want +got):\n%s", d)
	}
	ms, err := occitext.Headers().DecodeMixins(headers(map[string][]string{"Category": {
		`web; scheme="http://occid.local/tags#"; class="mixin"; title="Web, tier"; location="/tags/web/", db; scheme="http://occid.local/tags#"; location="` + rendertest.Base + `/tags/db/"`}}))
	if err != nil {
		t.Fatal(err)
	}
	wantMs := []*occi.Mixin{
		{ID: occi.CategoryID{Scheme: "http://occid.local/tags#", Term: "web"}, Title: "Web, tier", Location: "/tags/web/"},
		{ID: occi.CategoryID{Scheme: "http://occid.local/tags#", Term: "db"}, Location: "/tags/db/"},
	}
	if d := rendertest.Diff(wantMs, ms); d != "" {
		t.Errorf("DecodeMixins (-want +got):\n%s", d)
	}
	cats, attrs, err := occitext.Plain().DecodeFilter(headers(map[string][]string{
		"Category": {compute}, "X-Occi-Attribute": {`occi.compute.state="active", occi.core.title="x"`}}))
	if err != nil {
		t.Fatal(err)
	}
	if d := rendertest.Diff([]occi.CategoryID{computeKind}, cats); d != "" {
		t.Errorf("DecodeFilter categories (-want +got):\n%s", d)
	}
	if d := rendertest.Diff(occi.Attributes{"occi.compute.state": "active", "occi.core.title": "x"}, attrs); d != "" {
		t.Errorf("DecodeFilter attributes (-want +got):\n%s", d)
	}
}

// TestDecodeMalformed checks that bad input is an InvalidArgument error
// whose message says where and quotes the offending text.
func TestDecodeMalformed(t *testing.T) {
	long := strings.Repeat("x ", 250)
	tests := []struct {
		name   string
		decode func() error
		want   string // substring of the message
	}{
		{"category without scheme", entity(plain("Category: compute; class=\"kind\"")), `line 1 (Category): category "compute; class=\"kind\"" has no scheme`},
		{"bad term", entity(plain("Category: -x; scheme=\"a#\"; class=kind")), `line 1 (Category): invalid term "-x"`},
		{"bad class", entity(plain("Category: x; scheme=\"a#\"; class=thing")), `class "thing" is not kind, mixin or action`},
		{"unknown line", entity(plain("Category: " + compute + "\nFoo: bar")), `line 2: expected "Category:", "Link:", "X-OCCI-Attribute:" or "X-OCCI-Location:", got "Foo: bar"`},
		{"value not a number", entity(plain("X-OCCI-Attribute: a.b=1 2")), `line 1 (X-OCCI-Attribute): attribute a.b: "1 2" is not a number`},
		{"unterminated quote", entity(plain(`X-OCCI-Attribute: a.b="abc`)), `attribute a.b has a badly quoted value "\"abc"`},
		{"integer out of range", entity(plain("X-OCCI-Attribute: a.b=99999999999999999999")), `integer "99999999999999999999" is out of range`},
		{"no value", entity(plain("X-OCCI-Attribute: a.b=")), `attribute a.b has no value`},
		{"not name=value", entity(plain("X-OCCI-Attribute: a.b")), `attribute "a.b" is not name=value`},
		{"bad attribute name", entity(plain("X-OCCI-Attribute: -a=1")), `invalid attribute name "-a"`},
		{"two kinds", entity(plain("Category: " + compute + "\nCategory: network; scheme=\"" + infra + "\"; class=kind")), `line 2 (Category): a second kind`},
		{"action category in entity", entity(plain("Category: stop; scheme=\"a#\"; class=action")), `action category "a#stop" is not part of an entity`},
		{"link without angle brackets", entity(plain("Link: /network/1; rel=\"a#b\"")), `line 1 (Link): link "/network/1; rel=\"a#b\"" does not start with <target>`},
		{"link without closing bracket", entity(plain("Link: </network/1; rel=\"a#b\"")), `has no closing '>'`},
		{"link with a bad rel", entity(plain("Link: </network/1>; rel=\"nohash\"")), `rel: type identifier "nohash" has no '#'`},
		{"link self on another server", entity(plain("Link: </n/1>; self=\"http://evil.example/l/1\"")), `line 1 (Link) self: location "http://evil.example/l/1" is not on this server`},
		{"action link without rel", entity(plain("Link: </c/1?action=stop>")), `action link "</c/1?action=stop>" needs rel`},
		{"core attribute not a string", entity(plain("X-OCCI-Attribute: occi.core.title=5")), `attribute occi.core.title must be a quoted string`},
		{"bad target kind", entity(plain("X-OCCI-Attribute: occi.core.target.kind=\"x\"")), `occi.core.target.kind: type identifier "x" has no '#'`},
		{"header errors name the header", entity(headers(map[string][]string{"X-Occi-Attribute": {"a=1", "b"}})), `X-Occi-Attribute header: attribute "b" is not name=value`},
		{"long text is truncated", entity(plain("X-OCCI-Attribute: a.b=" + long)), `value "` + strings.Repeat("x ", 50) + `…" is neither`},
		{"invalid UTF-8", entity(plain("X-OCCI-Attribute: a.b=\"\xff\"")), `body: not valid UTF-8`},
		// A quoted-string holds no raw control character but TAB
		// (RFC 7230; GFD.229's string); escaped, they are fine.
		{"NUL in a quoted value", entity(plain("Category: " + compute + "\nX-OCCI-Attribute: occi.core.title=\"a\x00b\"")),
			`line 2 (X-OCCI-Attribute): attribute occi.core.title: the quoted value holds the control character 0x00`},
		{"bare CR in a quoted value", entity(plain("Category: " + compute + "\r\nX-OCCI-Attribute: occi.core.title=\"a\rb\"\r\n")),
			`line 2 (X-OCCI-Attribute): attribute occi.core.title: the quoted value holds the control character 0x0d`},
		{"DEL in a quoted value", entity(plain("X-OCCI-Attribute: occi.core.summary=\"a\x7f\"")),
			`attribute occi.core.summary: the quoted value holds the control character 0x7f`},
		{"escaped control in a quoted value", entity(plain("X-OCCI-Attribute: occi.core.summary=\"\\\x01\"")),
			`attribute occi.core.summary: the quoted value holds the control character 0x01`},
		{"control in a header's quoted value", entity(headers(map[string][]string{"Category": {compute}, "X-Occi-Attribute": {"occi.core.title=\"a\x00b\""}})),
			`X-Occi-Attribute header: attribute occi.core.title: the quoted value holds the control character 0x00`},
		{"control in a link attribute", entity(plain("Link: </n/1>; rel=\"a#b\"; occi.networkinterface.interface=\"eth\x1b0\"")),
			`line 1 (Link): parameter "occi.networkinterface.interface": the quoted value holds the control character 0x1b`},
		{"control in a category title", func() error {
			_, err := occitext.Plain().DecodeMixins(plain("Category: db; scheme=\"http://example.org/tags#\"; class=\"mixin\"; title=\"a\x08\""))
			return err
		}, `line 1 (Category): parameter "title": the quoted value holds the control character 0x08`},
		{"empty entity", entity(plain("")), `no entity rendering in the request`},
		{"foreign location", func() error {
			_, err := occitext.Plain().DecodeLocations(plain("X-OCCI-Location: /a\nX-OCCI-Location: http://evil.example/compute/1"))
			return err
		}, `line 2 (X-OCCI-Location): location "http://evil.example/compute/1" is not on this server`},
		{"non-location in location list", func() error {
			_, err := occitext.Plain().DecodeLocations(plain("Category: " + compute))
			return err
		}, `expected only X-OCCI-Location elements`},
		{"action without category", func() error {
			_, err := occitext.Plain().DecodeAction(plain("X-OCCI-Attribute: method=\"x\""))
			return err
		}, `the action invocation has no Category naming the action`},
		{"empty action", func() error {
			_, err := occitext.Plain().DecodeAction(plain(""))
			return err
		}, `no action Category`},
		// An attribute given twice is refused, wherever it is given.
		{"duplicate attribute lines", entity(plain("Category: " + compute + "\nX-OCCI-Attribute: occi.compute.cores=1\nX-OCCI-Attribute: occi.compute.cores=2")),
			`line 3 (X-OCCI-Attribute): attribute "occi.compute.cores" is given twice (first at line 2 (X-OCCI-Attribute))`},
		{"duplicate attribute in one header", entity(headers(map[string][]string{"Category": {compute}, "X-Occi-Attribute": {`occi.core.title="a", occi.core.title="b"`}})),
			`X-Occi-Attribute header: attribute "occi.core.title" is given twice`},
		{"duplicate through a legacy name", entity(plain("Category: " + compute + "\nX-OCCI-Attribute: occi.compute.userdata=\"a\"\nX-OCCI-Attribute: org.openstack.compute.user_data=\"b\"")),
			`attribute "occi.compute.userdata" is given twice`},
		{"duplicate link attribute", entity(plain("Link: </n/1>; rel=\"a#b\"; occi.networkinterface.interface=\"eth0\"; occi.networkinterface.interface=\"eth1\"")),
			`line 1 (Link): attribute "occi.networkinterface.interface" is given twice`},
		{"duplicate action parameter", func() error {
			_, err := occitext.Plain().DecodeAction(plain("Category: stop; scheme=\"a#\"; class=\"action\"\nX-OCCI-Attribute: method=\"a\"\nX-OCCI-Attribute: method=\"b\""))
			return err
		}, `attribute "method" is given twice`},
		{"duplicate filter attribute", func() error {
			_, _, err := occitext.Plain().DecodeFilter(plain("X-OCCI-Attribute: occi.compute.state=\"active\"\nX-OCCI-Attribute: occi.compute.state=\"inactive\""))
			return err
		}, `attribute "occi.compute.state" is given twice`},
		{"action with a kind", func() error {
			_, err := occitext.Plain().DecodeAction(plain("Category: " + compute))
			return err
		}, `expected an action category, got class "kind"`},
		{"mixin definition of class kind", func() error {
			_, err := occitext.Plain().DecodeMixins(plain("Category: " + compute))
			return err
		}, `expected a mixin category, got class "kind"`},
		{"bad attribute definition", func() error {
			_, err := occitext.Plain().DecodeDiscovery(plain("Category: x; scheme=\"a#\"; class=kind; attributes=\"a{immutable\""))
			return err
		}, `attributes: unclosed '{' after "a"`},
		{"too many lines", func() error {
			_, err := occitext.Plain().DecodeLocations(plain(strings.Repeat("X-OCCI-Location: /a\n", render.MaxItems+1)))
			return err
		}, `more than 100000 elements`},
		{"too many comma-joined values", func() error {
			_, err := occitext.Headers().DecodeLocations(headers(map[string][]string{"X-Occi-Location": {strings.Repeat("/a,", render.MaxItems+1)}}))
			return err
		}, `more than 100000 elements`},
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

func entity(r *render.Reader) func() error {
	return func() error {
		_, err := occitext.Plain().DecodeEntity(r)
		return err
	}
}

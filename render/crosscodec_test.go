package render_test

import (
	"net/http"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

func reader(body string, h http.Header) *render.Reader {
	if h == nil {
		h = http.Header{}
	}
	return &render.Reader{Header: h, Body: []byte(body), Base: rendertest.Base}
}

// TestTextEqualsJSON decodes the same client request written in text/plain,
// text/occi and JSON and requires equal entities.
func TestTextEqualsJSON(t *testing.T) {
	const infra = "http://schemas.ogf.org/occi/infrastructure#"
	tests := []struct {
		name, text string
		headers    http.Header
		json       string
	}{
		{
			name: "create compute with an inline link",
			text: "Category: compute; scheme=\"" + infra + "\"; class=\"kind\"\n" +
				"Category: ubuntu; scheme=\"http://occid.local/os_tpl#\"; class=\"mixin\"\n" +
				"Category: ipnetworking; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n" +
				"Link: </network/n1>; rel=\"" + infra + "network\"; category=\"" + infra + "networkinterface\"; occi.networkinterface.interface=\"eth0\"; example.mtu=1500\n" +
				"X-OCCI-Attribute: occi.core.title=\"web, \\\"01\\\"; x=1\"\n" +
				"X-OCCI-Attribute: occi.core.summary=\"Grüße\\n🚀\"\n" +
				"X-OCCI-Attribute: occi.compute.cores=2\n" +
				"X-OCCI-Attribute: occi.compute.memory=4.0\n" +
				"X-OCCI-Attribute: example.on=true\n" +
				"X-OCCI-Attribute: example.s=\"true\"\n" +
				"X-OCCI-Attribute: org.openstack.compute.user_data=\"dXNlcg==\"\n",
			headers: http.Header{
				"Category": {`compute; scheme="` + infra + `"; class="kind", ubuntu; scheme="http://occid.local/os_tpl#"; class="mixin"`,
					`ipnetworking; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"`},
				"Link": {`<` + rendertest.Base + `/network/n1>;rel="` + infra + `network";category="` + infra + `networkinterface";occi.networkinterface.interface="eth0";example.mtu=1500`},
				"X-Occi-Attribute": {`occi.core.title="web, \"01\"; x=1", occi.core.summary="Grüße\n🚀"`,
					`occi.compute.cores=2, occi.compute.memory=4.0, example.on=true, example.s="true"`,
					`org.openstack.compute.user_data="dXNlcg=="`},
			},
			json: `{"kind":"` + infra + `compute","mixins":["http://occid.local/os_tpl#ubuntu","http://schemas.ogf.org/occi/infrastructure/network#ipnetworking"],
				"title":"web, \"01\"; x=1","summary":"Grüße\n🚀",
				"attributes":{"occi.compute.cores":2,"occi.compute.memory":4.0,"example.on":true,"example.s":"true","org.openstack.compute.user_data":"dXNlcg=="},
				"links":[{"kind":"` + infra + `networkinterface","target":{"location":"/network/n1","kind":"` + infra + `network"},"attributes":{"occi.networkinterface.interface":"eth0","example.mtu":1500}}]}`,
		},
		{
			name: "create a link",
			text: "Category: storagelink; scheme=\"" + infra + "\"; class=\"kind\"\n" +
				"X-OCCI-Attribute: occi.core.source=\"" + rendertest.Base + "/compute/c1\"\n" +
				"X-OCCI-Attribute: occi.core.target=\"/storage/s1\"\n" +
				"X-OCCI-Attribute: occi.core.target.kind=\"" + infra + "storage\"\n" +
				"X-OCCI-Attribute: occi.storagelink.deviceid=\"vdb\"\n",
			headers: http.Header{
				"Category":         {`storagelink; scheme="` + infra + `"; class=kind`},
				"X-Occi-Attribute": {`occi.core.source="/compute/c1", occi.core.target="/storage/s1", occi.core.target.kind="` + infra + `storage", occi.storagelink.deviceid="vdb"`},
			},
			json: `{"kind":"` + infra + `storagelink","source":"/compute/c1","target":{"location":"` + rendertest.Base + `/storage/s1","kind":"` + infra + `storage"},"attributes":{"occi.storagelink.deviceid":"vdb"}}`,
		},
		{
			name:    "partial update",
			text:    "X-OCCI-Attribute: occi.compute.cores=4\r\nX-OCCI-Attribute: occi.core.title=\"new\"\r\n",
			headers: http.Header{"X-Occi-Attribute": {`occi.compute.cores=4,occi.core.title="new"`}},
			json:    `{"title":"new","attributes":{"occi.compute.cores":4}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fromText, err := occitext.Plain().DecodeEntity(reader(tc.text, nil))
			if err != nil {
				t.Fatalf("text/plain: %v", err)
			}
			fromHeaders, err := occitext.Headers().DecodeEntity(reader("", tc.headers))
			if err != nil {
				t.Fatalf("text/occi: %v", err)
			}
			fromJSON, err := occijson.New().DecodeEntity(reader(tc.json, nil))
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if d := rendertest.Diff(fromJSON, fromText); d != "" {
				t.Errorf("text/plain differs from JSON (-json +text):\n%s", d)
			}
			if d := rendertest.Diff(fromJSON, fromHeaders); d != "" {
				t.Errorf("text/occi differs from JSON (-json +text):\n%s", d)
			}
		})
	}
}

// TestCorpusTextEqualsJSON renders every corpus entity in text and in JSON
// and requires the decoded entities to agree on everything both carry.
func TestCorpusTextEqualsJSON(t *testing.T) {
	text := rendertest.Fidelity{Text: true}
	common := func(e *occi.Entity) *occi.Entity {
		n := rendertest.NormalizeEntity(e, text)
		for _, l := range n.Links {
			l.Location, l.Actions = "", nil
		}
		return n
	}
	for _, tc := range rendertest.Entities() {
		t.Run(tc.Name, func(t *testing.T) {
			decoded := map[string]*occi.Entity{}
			for _, c := range []render.Codec{occitext.Plain(), occitext.Headers(), occijson.New()} {
				w, buf := rendertest.Writer()
				if err := c.EncodeEntity(w, tc.Entity); err != nil {
					t.Fatal(err)
				}
				e, err := c.DecodeEntity(rendertest.ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("%s: %v", c.MediaType(), err)
				}
				decoded[c.MediaType()] = common(e)
			}
			for _, mt := range []string{"text/plain", "text/occi"} {
				if d := rendertest.Diff(decoded["application/occi+json"], decoded[mt]); d != "" {
					t.Errorf("%s differs from JSON (-json +text):\n%s", mt, d)
				}
			}
		})
	}
}

package occitext_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

var textFidelity = rendertest.Fidelity{Text: true, CollectionLocations: true}

// seeds adds the golden renderings and a few hand-written oddities.
func seeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	for _, p := range files {
		if strings.Contains(p, "large") {
			continue
		}
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"",
		"Category: compute;scheme=\"http://schemas.ogf.org/occi/infrastructure#\";class=kind;\r\n\r\nX-OCCI-Attribute: a.b=\"x, y; z\", c.d=-1.5e3\r\n",
		"Link: </n/1>;rel=\"a#b\";self=\"/l/1\";category=a#c;x.y=\"\\u00e9\\n\"",
		"Link: <?action=stop>; rel=\"a#stop\"",
		"X-OCCI-Location: /a,b, /c, http://occi.example.org:8080/d\n/e\n",
		"Category: k; scheme=\"s#\"; class=\"kind\"; rel=\"s#p s#q\"; location=\"/k/\"; attributes=\"a{immutable required} b{required}c\"; actions=\"s#x\"",
		"category: \"t\"; SCHEME=\"s#\"; Class=MIXIN; title=\"\\\"\"",
		"X-OCCI-Attribute: org.openstack.compute.user_data=\"x\"",
		"NotFound: gone",
	} {
		f.Add(s)
	}
}

// FuzzPlain feeds arbitrary bodies to every text/plain decoder.
func FuzzPlain(f *testing.F) {
	seeds(f, "testdata/golden/plain")
	c := occitext.Plain()
	f.Fuzz(func(t *testing.T, body string) {
		r := &render.Reader{Header: http.Header{}, Body: []byte(body), Base: rendertest.Base}
		rendertest.CheckDecoders(t, c, textFidelity, r)
	})
}

// FuzzHeaders feeds arbitrary headers ("Name: value" lines of the input)
// to every text/occi decoder.
func FuzzHeaders(f *testing.F) {
	seeds(f, "testdata/golden/occi")
	c := occitext.Headers()
	f.Fuzz(func(t *testing.T, in string) {
		h := http.Header{}
		for _, line := range strings.Split(in, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			h[name] = append(h[name], strings.TrimSpace(value))
		}
		r := &render.Reader{Header: h, Body: []byte("OK"), Base: rendertest.Base}
		rendertest.CheckDecoders(t, c, textFidelity, r)
	})
}

package occijson_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/rendertest"
)

// FuzzJSON feeds arbitrary bodies to every JSON decoder.
func FuzzJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.json")
	for _, p := range files {
		if strings.Contains(p, "large") {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `["/a","http://occi.example.org:8080/b"]`,
		`{"resources":[{"id":"http://occi.example.org:8080/c/1"}],"links":[{"location":"/l/1"}]}`,
		`{"kind":"a#b","source":"/s","target":{"location":"http://x/y","kind":"a#c"},"attributes":{"occi.core.title":"t","n":1e2,"m":[null,{"a":1}]}}`,
		`{"mixins":["http://schemas.ogf.org/occi/infrastructure/network#ipnetworking"]}`,
		`{"term":"t","scheme":"s#","location":"/t/","attributes":{"x":{"type":"number","pattern":{"type":"integer","enum":[1]}},"y":{"pattern":"(?-mix:a)"}}}`,
		`{"action":"a#b","attributes":{"x":"y"}}`,
		`{"code":404,"message":"m"}`,
	} {
		f.Add(s)
	}
	c := occijson.New()
	f.Fuzz(func(t *testing.T, body string) {
		r := &render.Reader{Header: http.Header{}, Body: []byte(body), Base: rendertest.Base}
		rendertest.CheckDecoders(t, c, rendertest.Fidelity{}, r)
	})
}

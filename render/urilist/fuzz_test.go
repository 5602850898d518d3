package urilist_test

import (
	"net/http"
	"testing"

	"github.com/occid/occi/render"
	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

// FuzzURIList feeds arbitrary bodies to every text/uri-list decoder.
func FuzzURIList(f *testing.F) {
	for _, s := range []string{"", "/a\r\n# comment\r\n\r\nhttp://occi.example.org:8080/b\n", "compute/x", "http://evil/x", "/a b", "#NotFound: x"} {
		f.Add(s)
	}
	c := urilist.New()
	f.Fuzz(func(t *testing.T, body string) {
		r := &render.Reader{Header: http.Header{}, Body: []byte(body), Base: rendertest.Base}
		rendertest.CheckDecoders(t, c, rendertest.Fidelity{LocationsOnly: true}, r)
	})
}

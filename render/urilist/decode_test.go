package urilist_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

func body(s string) *render.Reader {
	return &render.Reader{Header: http.Header{}, Body: []byte(s), Base: rendertest.Base}
}

func TestDecodeLocations(t *testing.T) {
	got, err := urilist.New().DecodeLocations(body("# a comment\r\n/compute/a\r\n\r\n" + rendertest.Base + "/compute/b\nstorage/c\n  /d  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rendertest.Diff([]string{"/compute/a", "/compute/b", "/storage/c", "/d"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDecodeMalformed(t *testing.T) {
	c := urilist.New()
	tests := []struct {
		name   string
		decode func() error
		want   string
	}{
		{"space in URI", func() error { _, err := c.DecodeLocations(body("/a\n/b c\n")); return err }, `line 2: "/b c" is not a URI`},
		{"foreign URL", func() error { _, err := c.DecodeLocations(body("http://evil.example/x")); return err }, `line 1: location "http://evil.example/x" is not on this server`},
		{"invalid UTF-8", func() error { _, err := c.DecodeLocations(body("/\xff")); return err }, `body: not valid UTF-8`},
		{"entity", func() error { _, err := c.DecodeEntity(body("/a")); return err }, `text/uri-list can only carry a list of locations`},
		{"encode entity", func() error {
			w, _ := rendertest.Writer()
			return c.EncodeEntity(w, rendertest.NewCompute())
		}, `text/uri-list can only render collections`},
		{"encode discovery", func() error {
			w, _ := rendertest.Writer()
			return c.EncodeDiscovery(w, rendertest.NewDiscovery())
		}, `text/uri-list can only render collections`},
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

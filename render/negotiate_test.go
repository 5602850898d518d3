package render_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
)

func negotiator() *render.Negotiator {
	return render.NewNegotiator(occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New())
}

var wantOffered = []string{"text/plain", "text/occi+plain", "text/occi", "application/occi+json", "application/json", "text/uri-list"}

func TestOffered(t *testing.T) {
	if d := cmp.Diff(wantOffered, negotiator().Offered()); d != "" {
		t.Errorf("Offered (-want +got):\n%s", d)
	}
}

func TestForResponse(t *testing.T) {
	tests := []struct {
		accept string
		want   string // media type of the chosen codec, "" for 406
	}{
		{"", "text/plain"},
		{"   ", "text/plain"},
		{"*/*", "text/plain"},
		{"*", "text/plain"},
		{"text/plain", "text/plain"},
		{"TEXT/PLAIN", "text/plain"},
		{"text/occi+plain", "text/plain"},
		{"text/occi", "text/occi"},
		{"application/occi+json", "application/occi+json"},
		{"application/json", "application/occi+json"},
		{"application/occi+json; charset=utf-8", "application/occi+json"},
		{"text/uri-list", "text/uri-list"},
		{"text/*", "text/plain"},
		{"application/*", "application/occi+json"},
		{"application/json;q=0.5, text/occi", "text/occi"},
		{"application/json;q=0.9, text/occi;q=0.9", "application/occi+json"},
		{"text/occi;q=0.9,application/json;q=0.9", "text/occi"},
		{"text/*;q=0.5, text/occi", "text/occi"},
		{"*/*;q=0.1, text/uri-list", "text/uri-list"},
		{"text/plain;q=0, */*", "text/occi"},
		{"text/plain;q=0, text/occi;q=0, */*", "application/occi+json"},
		{"text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", "text/plain"},
		{`application/occi+json;profile="a,b";q=0.7, text/plain;q=0.6`, "application/occi+json"},
		{"text/occi;level=1;q=1.0", "text/occi"},
		{"garbage", "text/plain"},
		{"text/plain;q=abc", "text/plain"},
		{"text/plain;q=2", "text/plain"},
		{"application/xml", ""},
		{"text/plain;q=0", ""},
		{"image/*, application/pdf", ""},
		{"*/*;q=0", ""},
	}
	n := negotiator()
	for _, tc := range tests {
		t.Run(tc.accept, func(t *testing.T) {
			c, err := n.ForResponse(tc.accept)
			if tc.want == "" {
				var ne *render.NegotiationError
				if !errors.As(err, &ne) {
					t.Fatalf("got %v, %v; want a *NegotiationError", c, err)
				}
				if ne.Status != 406 {
					t.Errorf("got status %d, want 406", ne.Status)
				}
				if d := cmp.Diff(wantOffered, ne.Offered); d != "" {
					t.Errorf("Offered (-want +got):\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("ForResponse: %v", err)
			}
			if got := c.MediaType(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestForResponseType checks the media type a response carries: an alias
// asked for by name is answered under that name.
func TestForResponseType(t *testing.T) {
	tests := []struct {
		accept    string
		wantCodec string
		wantType  string
	}{
		{"", "text/plain", "text/plain"},
		{"*/*", "text/plain", "text/plain"},
		{"application/json", "application/occi+json", "application/json"},
		{"APPLICATION/JSON", "application/occi+json", "application/json"},
		{"application/occi+json", "application/occi+json", "application/occi+json"},
		{"application/*", "application/occi+json", "application/occi+json"},
		{"application/json, application/occi+json", "application/occi+json", "application/json"}, // the range listed first
		{"application/json;q=1, application/occi+json;q=0.5", "application/occi+json", "application/json"},
		{"application/occi+json, application/json", "application/occi+json", "application/occi+json"},
		{"text/occi+plain", "text/plain", "text/occi+plain"},
		{"text/*", "text/plain", "text/plain"},
		{"a/b, " + strings.Repeat("a/b, ", 63) + "text/plain", "text/plain", "text/plain"},
	}
	n := negotiator()
	for _, tc := range tests {
		t.Run(render.Truncate(tc.accept, 40), func(t *testing.T) {
			c, mt, err := n.ForResponseType(tc.accept)
			if err != nil {
				t.Fatalf("ForResponseType: %v", err)
			}
			if got := c.MediaType(); got != tc.wantCodec {
				t.Errorf("got codec %s, want %s", got, tc.wantCodec)
			}
			if mt != tc.wantType {
				t.Errorf("got media type %s, want %s", mt, tc.wantType)
			}
		})
	}
}

func TestCountRanges(t *testing.T) {
	tests := []struct {
		v    string
		want int
	}{
		{"", 0},
		{"text/plain", 1},
		{`text/plain, application/json;profile="a,b"`, 2},
		{strings.Repeat("a/b,", render.MaxAcceptRanges), render.MaxAcceptRanges},
		{strings.Repeat("a/b,", render.MaxAcceptRanges+5), render.MaxAcceptRanges + 1},
	}
	for _, tc := range tests {
		t.Run(render.Truncate(tc.v, 40), func(t *testing.T) {
			if got := render.CountRanges(tc.v); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestForRequest(t *testing.T) {
	tests := []struct {
		contentType string
		want        string // "" for 415
	}{
		{"", "text/plain"},
		{"text/plain", "text/plain"},
		{"text/plain; charset=utf-8", "text/plain"},
		{"text/plain,text/occi", "text/plain"},
		{"text/plain, text/occi", "text/plain"},
		{"text/occi+plain", "text/plain"},
		{"text/occi", "text/occi"},
		{"TEXT/OCCI", "text/occi"},
		{"application/json", "application/occi+json"},
		{"application/occi+json;charset=UTF-8", "application/occi+json"},
		{"text/uri-list", "text/uri-list"},
		{"garbage, text/occi", "text/occi"},
		{"application/xml", ""},
		{"multipart/form-data; boundary=x", ""},
		{"*/*", ""},
	}
	n := negotiator()
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			c, err := n.ForRequest(tc.contentType)
			if tc.want == "" {
				var ne *render.NegotiationError
				if !errors.As(err, &ne) {
					t.Fatalf("got %v, %v; want a *NegotiationError", c, err)
				}
				if ne.Status != 415 || len(ne.Offered) != len(wantOffered) {
					t.Errorf("got status %d offered %v, want 415 with %v", ne.Status, ne.Offered, wantOffered)
				}
				return
			}
			if err != nil {
				t.Fatalf("ForRequest: %v", err)
			}
			if got := c.MediaType(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNegotiationErrorMessage(t *testing.T) {
	_, err := negotiator().ForResponse("application/xml")
	want := `no acceptable media type for Accept "application/xml"; offered: text/plain, text/occi+plain, text/occi, application/occi+json, application/json, text/uri-list`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func FuzzAccept(f *testing.F) {
	for _, s := range []string{"", "*/*", "text/plain;q=0.5, application/json", `a/b;x="q=1,;";q=0.1`, "text/*;q=0", "*;q=1.000", "\x00/\xff;q="} {
		f.Add(s)
	}
	n := negotiator()
	f.Fuzz(func(t *testing.T, accept string) {
		c, err := n.ForResponse(accept)
		if (c == nil) == (err == nil) {
			t.Fatalf("ForResponse(%q) = %v, %v: want exactly one of codec and error", accept, c, err)
		}
		var ne *render.NegotiationError
		if err != nil && (!errors.As(err, &ne) || ne.Status != 406) {
			t.Fatalf("ForResponse(%q) error %v is not a 406 NegotiationError", accept, err)
		}
		tc, mt, terr := n.ForResponseType(accept)
		if tc != c || (terr == nil) != (err == nil) {
			t.Fatalf("ForResponseType(%q) = %v, %v; ForResponse = %v, %v", accept, tc, terr, c, err)
		}
		if tc != nil && mt != tc.MediaType() && !slices.Contains(tc.Aliases(), mt) {
			t.Fatalf("ForResponseType(%q) media type %q is not one of %s's", accept, mt, tc.MediaType())
		}
		for _, r := range render.ParseAccept(accept) {
			if r.Q < 0 || r.Q > 1000 {
				t.Fatalf("ParseAccept(%q): q %d out of range", accept, r.Q)
			}
		}
		c, err = n.ForRequest(accept)
		if (c == nil) == (err == nil) {
			t.Fatalf("ForRequest(%q) = %v, %v: want exactly one of codec and error", accept, c, err)
		}
		if err != nil && (!errors.As(err, &ne) || ne.Status != 415) {
			t.Fatalf("ForRequest(%q) error %v is not a 415 NegotiationError", accept, err)
		}
	})
}

package occijson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
		checkParser(t, []byte(body))
		r := &render.Reader{Header: http.Header{}, Body: []byte(body), Base: rendertest.Base}
		rendertest.CheckDecoders(t, c, rendertest.Fidelity{}, r)
	})
}

// checkParser compares the package's JSON parser with encoding/json.
func checkParser(t *testing.T, body []byte) {
	t.Helper()
	got, err := occijson.ParsePlain(body)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var want any
	werr := dec.Decode(&want)
	if werr == nil && dec.More() {
		werr = errors.New("trailing data")
	}
	if werr == nil {
		if _, err := dec.Token(); err != io.EOF {
			werr = errors.New("trailing data")
		}
	}
	if err != nil {
		// The parser is stricter than encoding/json on purpose: nesting
		// and size limits, duplicate member names (refused, not
		// last-wins), and strings that are not UTF-8 (refused, not
		// turned into U+FFFD).
		if werr == nil && !strings.Contains(err.Error(), "nested deeper") && !strings.Contains(err.Error(), "values; split") &&
			!strings.Contains(err.Error(), "appears twice in one object") && !strings.Contains(err.Error(), "is not valid UTF-8") {
			t.Fatalf("parser rejected what encoding/json accepts: %v", err)
		}
		return
	}
	if werr != nil {
		t.Fatalf("parser accepted what encoding/json rejects (%v)", werr)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("parser differs from encoding/json (-json +parser):\n%s", d)
	}
}

func TestParserMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{"a":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude80\n\"\\\/"],"b":{}}`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"", `[]`, ` 0 `, `-0.0E+1`,
		`01`, `1.`, `.5`, `+1`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `nul`, `"\x"`, "\"a\tb\"", `[1] [2]`, `"\u12"`,
	} {
		t.Run(s, func(t *testing.T) { checkParser(t, []byte(s)) })
	}
}

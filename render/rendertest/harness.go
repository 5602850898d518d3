package rendertest

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// Update makes Golden rewrite golden files instead of comparing
// ("go test ./render/... -update").
var Update = flag.Bool("update", false, "rewrite golden files")

// Fidelity says what a codec carries, so that the harness knows what a
// round trip must preserve. The zero value describes JSON.
type Fidelity struct {
	// LocationsOnly: the codec renders only collections and location
	// lists (text/uri-list); everything else must be an InvalidArgument
	// error.
	LocationsOnly bool
	// CollectionLocations: collections carry only entity locations
	// (text renderings); otherwise full entities without locations
	// (JSON).
	CollectionLocations bool
	// Text: the text rendering. Lists and hashes come back as JSON in a
	// string; discovery keeps only attribute names with immutable and
	// required, a mixin's first depends and no applies; inline links keep
	// their self location but not their actions.
	Text bool
}

// Writer returns a Writer over a fresh header and buffer with Base.
func Writer() (*render.Writer, *bytes.Buffer) {
	var buf bytes.Buffer
	return &render.Writer{Header: http.Header{}, Body: &buf, Base: Base}, &buf
}

// ReaderFrom returns the Reader a server would see for what w wrote: the
// same headers (minus Content-Type) and body.
func ReaderFrom(w *render.Writer, body []byte) *render.Reader {
	h := w.Header.Clone()
	h.Del("Content-Type")
	return &render.Reader{Header: h, Body: body, Base: Base}
}

func textValue(v any) any {
	switch v.(type) {
	case []any, map[string]any:
		b, err := render.AppendJSONValue(nil, v)
		if err != nil {
			return v
		}
		return string(b)
	}
	return v
}

func normAttrs(a occi.Attributes, f Fidelity) occi.Attributes {
	if len(a) == 0 {
		return nil
	}
	out := make(occi.Attributes, len(a))
	for k, v := range a {
		if f.Text {
			v = textValue(v)
		}
		out[k] = v
	}
	return out
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// NormalizeEntity returns what a codec with fidelity f gives back for e
// rendered as one entity: no top-level location (neither rendering carries
// it), no Owner, Revision or BackendRef, empty slices as nil; JSON drops
// link locations and the summary of links; text drops inline links'
// actions and renders lists and hashes as JSON strings.
func NormalizeEntity(e *occi.Entity, f Fidelity) *occi.Entity {
	return normalizeEntity(e, f, false)
}

func normalizeEntity(e *occi.Entity, f Fidelity, inline bool) *occi.Entity {
	if e == nil {
		return nil
	}
	n := &occi.Entity{
		ID: e.ID, Kind: e.Kind, Title: e.Title, Summary: e.Summary,
		Mixins:     nilIfEmpty(slices.Clone(e.Mixins)),
		Attributes: normAttrs(e.Attributes, f),
		Actions:    nilIfEmpty(slices.Clone(e.Actions)),
		Source:     e.Source, SourceKind: e.SourceKind, Target: e.Target, TargetKind: e.TargetKind,
	}
	if inline && f.Text {
		n.Location = e.Location
		n.Actions = nil
	}
	if !f.Text {
		// JSON: links have no summary and own no links; a link end's
		// kind travels only with its location.
		isLink := e.IsLink() || inline
		if isLink {
			n.Summary = ""
		}
		if !isLink || n.Source == "" {
			n.SourceKind = occi.CategoryID{}
		}
		if !isLink || n.Target == "" {
			n.TargetKind = occi.CategoryID{}
		}
		if isLink {
			return n
		}
	}
	if inline {
		return n
	}
	for _, l := range e.Links {
		if l != nil {
			n.Links = append(n.Links, normalizeEntity(l, f, true))
		}
	}
	return n
}

// NormalizeCollection returns what a codec gives back for es rendered as a
// collection.
func NormalizeCollection(es []*occi.Entity, f Fidelity) []*occi.Entity {
	out := []*occi.Entity{}
	if f.CollectionLocations || f.LocationsOnly {
		for _, e := range es {
			out = append(out, &occi.Entity{Location: e.Location})
		}
		return out
	}
	for _, e := range es {
		if !e.IsLink() {
			out = append(out, NormalizeEntity(e, f))
		}
	}
	for _, e := range es {
		if e.IsLink() {
			out = append(out, NormalizeEntity(e, f))
		}
	}
	return out
}

func normDefs(defs []occi.AttributeDef, f Fidelity, action bool) []occi.AttributeDef {
	if len(defs) == 0 {
		return nil
	}
	out := make([]occi.AttributeDef, len(defs))
	for i, d := range defs {
		if f.Text {
			d = occi.AttributeDef{Name: d.Name, Mutable: d.Mutable || action, Required: d.Required}
		} else {
			d.Enum = nilIfEmpty(d.Enum)
		}
		out[i] = d
	}
	return out
}

// NormalizeMixin returns what a codec gives back for m.
func NormalizeMixin(m *occi.Mixin, f Fidelity) *occi.Mixin {
	n := &occi.Mixin{
		ID: m.ID, Title: m.Title, Location: m.Location,
		Depends:    nilIfEmpty(slices.Clone(m.Depends)),
		Applies:    nilIfEmpty(slices.Clone(m.Applies)),
		Attributes: normDefs(m.Attributes, f, false),
		Actions:    nilIfEmpty(slices.Clone(m.Actions)),
	}
	if f.Text {
		n.Applies = nil
		if len(n.Depends) > 1 {
			n.Depends = n.Depends[:1]
		}
	}
	return n
}

// NormalizeDiscovery returns what a codec gives back for d.
func NormalizeDiscovery(d *occi.Discovery, f Fidelity) *occi.Discovery {
	n := &occi.Discovery{}
	for _, k := range d.Kinds {
		n.Kinds = append(n.Kinds, &occi.Kind{ID: k.ID, Title: k.Title, Parent: k.Parent, Location: k.Location,
			Attributes: normDefs(k.Attributes, f, false), Actions: nilIfEmpty(slices.Clone(k.Actions))})
	}
	for _, m := range d.Mixins {
		n.Mixins = append(n.Mixins, NormalizeMixin(m, f))
	}
	for _, a := range d.Actions {
		n.Actions = append(n.Actions, &occi.Action{ID: a.ID, Title: a.Title, Attributes: normDefs(a.Attributes, f, true)})
	}
	return n
}

// NormalizeAction returns what a codec gives back for inv.
func NormalizeAction(inv *occi.ActionInvocation, f Fidelity) *occi.ActionInvocation {
	return &occi.ActionInvocation{Action: inv.Action, Attributes: normAttrs(inv.Attributes, f)}
}

// Diff compares with cmp, treating nil and empty slices and maps alike.
func Diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

// Run round-trips the whole corpus through c: every document is encoded
// and decoded back, and the result must equal the normalised input.
// Codecs that cannot render a document must fail with InvalidArgument.
func Run(t *testing.T, c render.Codec, f Fidelity) {
	t.Helper()
	unsupported := func(t *testing.T, err error) {
		t.Helper()
		if got := occi.ErrorCode(err); got != occi.InvalidArgument {
			t.Fatalf("got error code %v (%v), want InvalidArgument", got, err)
		}
	}
	t.Run("entity", func(t *testing.T) {
		for _, tc := range Entities() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				err := c.EncodeEntity(w, tc.Entity)
				if f.LocationsOnly {
					unsupported(t, err)
					return
				}
				if err != nil {
					t.Fatalf("EncodeEntity: %v", err)
				}
				got, err := c.DecodeEntity(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeEntity: %v\n%s", err, buf.Bytes())
				}
				if d := Diff(NormalizeEntity(tc.Entity, f), got); d != "" {
					t.Errorf("round trip (-want +got):\n%s\nrendering:\n%s%v", d, buf.Bytes(), w.Header)
				}
				es, err := c.DecodeEntities(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeEntities of one entity: %v", err)
				}
				if d := Diff([]*occi.Entity{NormalizeEntity(tc.Entity, f)}, es); d != "" {
					t.Errorf("DecodeEntities of one entity (-want +got):\n%s", d)
				}
			})
		}
	})
	t.Run("collection", func(t *testing.T) {
		for _, tc := range Collections() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				if err := c.EncodeCollection(w, tc.Entities); err != nil {
					t.Fatalf("EncodeCollection: %v", err)
				}
				got, err := c.DecodeEntities(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeEntities: %v", err)
				}
				if d := Diff(NormalizeCollection(tc.Entities, f), got); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
				if f.CollectionLocations || f.LocationsOnly {
					locs, err := c.DecodeLocations(ReaderFrom(w, buf.Bytes()))
					if err != nil {
						t.Fatalf("DecodeLocations: %v", err)
					}
					var want []string
					for _, e := range tc.Entities {
						want = append(want, e.Location)
					}
					if d := Diff(want, locs); d != "" {
						t.Errorf("DecodeLocations (-want +got):\n%s", d)
					}
				}
			})
		}
	})
	t.Run("locations", func(t *testing.T) {
		for _, tc := range Locations() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				if err := c.EncodeLocations(w, tc.Locations); err != nil {
					t.Fatalf("EncodeLocations: %v", err)
				}
				got, err := c.DecodeLocations(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeLocations: %v", err)
				}
				if d := Diff(tc.Locations, got); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			})
		}
	})
	t.Run("discovery", func(t *testing.T) {
		for _, tc := range Discoveries() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				err := c.EncodeDiscovery(w, tc.Discovery)
				if f.LocationsOnly {
					unsupported(t, err)
					return
				}
				if err != nil {
					t.Fatalf("EncodeDiscovery: %v", err)
				}
				got, err := c.DecodeDiscovery(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeDiscovery: %v\n%s", err, buf.Bytes())
				}
				if d := Diff(NormalizeDiscovery(tc.Discovery, f), got); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			})
		}
	})
	t.Run("mixin", func(t *testing.T) {
		for _, tc := range Mixins() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				err := c.EncodeMixin(w, tc.Mixin)
				if f.LocationsOnly {
					unsupported(t, err)
					return
				}
				if err != nil {
					t.Fatalf("EncodeMixin: %v", err)
				}
				got, err := c.DecodeMixins(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeMixins: %v\n%s", err, buf.Bytes())
				}
				if d := Diff([]*occi.Mixin{NormalizeMixin(tc.Mixin, f)}, got); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			})
		}
	})
	t.Run("action", func(t *testing.T) {
		for _, tc := range Actions() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				err := c.EncodeAction(w, tc.Action)
				if f.LocationsOnly {
					unsupported(t, err)
					return
				}
				if err != nil {
					t.Fatalf("EncodeAction: %v", err)
				}
				got, err := c.DecodeAction(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeAction: %v\n%s", err, buf.Bytes())
				}
				if d := Diff(NormalizeAction(tc.Action, f), got); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			})
		}
	})
	t.Run("error", func(t *testing.T) {
		for _, tc := range Errors() {
			t.Run(tc.Name, func(t *testing.T) {
				w, buf := Writer()
				if err := c.EncodeError(w, tc.Code, tc.Message); err != nil {
					t.Fatalf("EncodeError: %v", err)
				}
				code, msg, err := c.DecodeError(ReaderFrom(w, buf.Bytes()))
				if err != nil {
					t.Fatalf("DecodeError: %v", err)
				}
				if code != tc.Code || msg != tc.Message {
					t.Errorf("got %v %q, want %v %q", code, msg, tc.Code, tc.Message)
				}
			})
		}
	})
}

// Golden compares got with the file at path (relative to the test's
// package directory), or rewrites the file when -update is set.
func Golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// HeaderDump renders a header map and a body as text for golden files:
// one "Name: value" line per header value, names sorted, then a blank line
// and the body.
func HeaderDump(h http.Header, body []byte) []byte {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	var b bytes.Buffer
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.Bytes()
}

// GoldenAll encodes every golden-sized corpus document with c and compares
// each rendering with dir/<document>-<case>.<ext>. dump turns what was
// written into the file's bytes (e.g. HeaderDump for text/occi). Documents
// c cannot render are skipped. The 10k cases are left out; a 120-entity
// collection shows how large renderings are split.
func GoldenAll(t *testing.T, c render.Codec, dir, ext string, dump func(w *render.Writer, body []byte) []byte) {
	t.Helper()
	check := func(t *testing.T, name string, encode func(w *render.Writer) error) {
		t.Helper()
		w, buf := Writer()
		if err := encode(w); err != nil {
			if occi.ErrorCode(err) == occi.InvalidArgument {
				return
			}
			t.Fatalf("encode: %v", err)
		}
		Golden(t, filepath.Join(dir, name+"."+ext), dump(w, buf.Bytes()))
	}
	for _, tc := range Entities() {
		t.Run("entity-"+tc.Name, func(t *testing.T) {
			check(t, "entity-"+tc.Name, func(w *render.Writer) error { return c.EncodeEntity(w, tc.Entity) })
		})
	}
	cols := append(Collections()[:4:4], CollectionCase{"large-120", Large(120)})
	for _, tc := range cols {
		t.Run("collection-"+tc.Name, func(t *testing.T) {
			check(t, "collection-"+tc.Name, func(w *render.Writer) error { return c.EncodeCollection(w, tc.Entities) })
		})
	}
	for _, tc := range Locations()[:3] {
		t.Run("locations-"+tc.Name, func(t *testing.T) {
			check(t, "locations-"+tc.Name, func(w *render.Writer) error { return c.EncodeLocations(w, tc.Locations) })
		})
	}
	for _, tc := range Discoveries() {
		t.Run("discovery-"+tc.Name, func(t *testing.T) {
			check(t, "discovery-"+tc.Name, func(w *render.Writer) error { return c.EncodeDiscovery(w, tc.Discovery) })
		})
	}
	for _, tc := range Mixins() {
		t.Run("mixin-"+tc.Name, func(t *testing.T) {
			check(t, "mixin-"+tc.Name, func(w *render.Writer) error { return c.EncodeMixin(w, tc.Mixin) })
		})
	}
	for _, tc := range Actions() {
		t.Run("action-"+tc.Name, func(t *testing.T) {
			check(t, "action-"+tc.Name, func(w *render.Writer) error { return c.EncodeAction(w, tc.Action) })
		})
	}
	for _, tc := range Errors() {
		t.Run("error-"+tc.Name, func(t *testing.T) {
			check(t, "error-"+tc.Name, func(w *render.Writer) error { return c.EncodeError(w, tc.Code, tc.Message) })
		})
	}
}

// BodyOnly is a GoldenAll dump that keeps only the body.
func BodyOnly(_ *render.Writer, body []byte) []byte { return body }

// HeadersAndBody is a GoldenAll dump that keeps headers and body.
func HeadersAndBody(w *render.Writer, body []byte) []byte { return HeaderDump(w.Header, body) }

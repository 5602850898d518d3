// Package occijson is the OCCI JSON rendering of GFD.225
// (application/occi+json, with application/json as an alias). Encoders are
// hand-written (no reflection) and emit only members the official schema
// allows, omitting empty arrays and objects; decoders accept the forms real
// clients send (core attributes inside "attributes", link source and target
// as strings, inline links without source, rOCCI's category identifier
// bodies, bare arrays of locations).
package occijson

import (
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// MediaType is the canonical media type of the rendering.
const MediaType = "application/occi+json"

// Codec is the JSON codec.
type Codec struct{}

var _ render.Codec = Codec{}

// New returns the application/occi+json codec.
func New() Codec { return Codec{} }

// MediaType returns "application/occi+json".
func (Codec) MediaType() string { return MediaType }

// Aliases returns "application/json".
func (Codec) Aliases() []string { return []string{"application/json"} }

type enc struct {
	base string
	b    []byte
	err  error
}

func (e *enc) raw(s string) { e.b = append(e.b, s...) }
func (e *enc) str(s string) { e.b = render.AppendJSONString(e.b, s) }
func (e *enc) key(k string) { e.b = render.AppendJSONString(e.b, k); e.b = append(e.b, ':') }
func (e *enc) comma(n *int) {
	if *n > 0 {
		e.b = append(e.b, ',')
	}
	*n++
}

func (e *enc) strMember(n *int, k, v string) {
	e.comma(n)
	e.key(k)
	e.str(v)
}

func (e *enc) optStr(n *int, k, v string) {
	if v != "" {
		e.strMember(n, k, v)
	}
}

func (e *enc) ids(n *int, k string, ids []occi.CategoryID) {
	if len(ids) == 0 {
		return
	}
	e.comma(n)
	e.key(k)
	e.b = append(e.b, '[')
	for i, id := range ids {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.id(id)
	}
	e.b = append(e.b, ']')
}

func (e *enc) id(id occi.CategoryID) {
	e.b = append(e.b, '"')
	e.b = render.AppendJSONStringContent(e.b, id.Scheme)
	e.b = render.AppendJSONStringContent(e.b, id.Term)
	e.b = append(e.b, '"')
}

func (e *enc) attrs(n *int, a occi.Attributes) {
	if len(a) == 0 {
		return
	}
	e.comma(n)
	e.key("attributes")
	e.b = append(e.b, '{')
	var keyBuf [32]string
	for i, k := range render.SortedKeys(keyBuf[:0], a) {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.key(k)
		var err error
		e.b, err = render.AppendJSONValue(e.b, a[k])
		if err != nil && e.err == nil {
			e.err = occi.Errorf(occi.Internal, "attribute %s: %s", k, occi.ErrorMessage(err))
		}
	}
	e.b = append(e.b, '}')
}

func (e *enc) kindedURI(n *int, k, loc string, kind occi.CategoryID) {
	e.comma(n)
	e.key(k)
	e.raw(`{"location":"`)
	e.b = render.AppendJSONStringContent(e.b, render.AbsoluteURL(e.base, loc))
	e.b = append(e.b, '"')
	if !kind.IsZero() {
		e.raw(`,"kind":`)
		e.id(kind)
	}
	e.b = append(e.b, '}')
}

// entity writes a resource or a link object. parent is the enclosing
// resource of an inline link, which is always rendered as a link.
func (e *enc) entity(x *occi.Entity, parent *occi.Entity) {
	e.b = append(e.b, '{')
	n := 0
	if !x.Kind.IsZero() {
		e.comma(&n)
		e.key("kind")
		e.id(x.Kind)
	}
	e.ids(&n, "mixins", x.Mixins)
	e.attrs(&n, x.Attributes)
	e.ids(&n, "actions", x.Actions)
	e.optStr(&n, "id", x.ID)
	isLink := x.IsLink() || parent != nil
	if isLink {
		e.optStr(&n, "title", x.Title)
		// An inline link without a source (a client creating a
		// resource with its links) leaves "source" out (GFD.225 J5).
		if x.Source != "" {
			e.kindedURI(&n, "source", x.Source, x.SourceKind)
		}
		if x.Target != "" {
			e.kindedURI(&n, "target", x.Target, x.TargetKind)
		}
		e.b = append(e.b, '}')
		return
	}
	if len(x.Links) > 0 {
		e.comma(&n)
		e.key("links")
		e.b = append(e.b, '[')
		first := true
		for _, l := range x.Links {
			if l == nil {
				continue
			}
			if !first {
				e.b = append(e.b, ',')
			}
			first = false
			e.entity(l, x)
		}
		e.b = append(e.b, ']')
	}
	e.optStr(&n, "summary", x.Summary)
	e.optStr(&n, "title", x.Title)
	e.b = append(e.b, '}')
}

// attrDefs writes "attributes":{name:{mutable,required,type,default?,
// description?,pattern?}} in definition order.
func (e *enc) attrDefs(n *int, defs []occi.AttributeDef) {
	if len(defs) == 0 {
		return
	}
	e.comma(n)
	e.key("attributes")
	e.b = append(e.b, '{')
	for i, d := range defs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.key(d.Name)
		e.raw(`{"mutable":`)
		e.b = appendBool(e.b, d.Mutable)
		e.raw(`,"required":`)
		e.b = appendBool(e.b, d.Required)
		e.raw(`,"type":`)
		e.str(d.Type.JSONType())
		if d.Default != nil {
			e.raw(`,"default":`)
			var err error
			e.b, err = render.AppendJSONValue(e.b, d.Default)
			if err != nil && e.err == nil {
				e.err = occi.Errorf(occi.Internal, "default of %s: %s", d.Name, occi.ErrorMessage(err))
			}
		}
		if d.Description != "" {
			e.raw(`,"description":`)
			e.str(d.Description)
		}
		e.pattern(d)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// Formats used in the JSON-Schema "pattern" object to keep OCCI types that
// JSON's type names cannot tell apart. "uri-reference" and "date-time" are
// JSON Schema formats (OCCI URIs may be relative); "ip" and "cidr" are
// OCCI-specific (validators ignore unknown formats).
var typeFormats = map[occi.AttrType]string{
	occi.TypeURI:      "uri-reference",
	occi.TypeIP:       "ip",
	occi.TypeCIDR:     "cidr",
	occi.TypeDatetime: "date-time",
}

// pattern writes the JSON-Schema object GFD.225 calls "pattern" when the
// definition needs one: integers ({"type":"integer"}), enums, formats and
// regular expressions (anchored as ^(?:re)$, since AttributeDef.Pattern is
// anchored and JSON Schema patterns are not).
func (e *enc) pattern(d occi.AttributeDef) {
	format := typeFormats[d.Type]
	if d.Type != occi.TypeInteger && d.Type != occi.TypeEnum && format == "" && d.Pattern == "" {
		return
	}
	e.raw(`,"pattern":{"type":`)
	switch d.Type {
	case occi.TypeInteger:
		e.raw(`"integer"`)
	case occi.TypeFloat:
		e.raw(`"number"`)
	case occi.TypeBool:
		e.raw(`"boolean"`)
	case occi.TypeList:
		e.raw(`"array"`)
	case occi.TypeHash:
		e.raw(`"object"`)
	default:
		e.raw(`"string"`)
	}
	if d.Type == occi.TypeEnum && len(d.Enum) > 0 {
		e.raw(`,"enum":[`)
		for i, v := range d.Enum {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.str(v)
		}
		e.b = append(e.b, ']')
	}
	if format != "" {
		e.raw(`,"format":`)
		e.str(format)
	}
	if d.Pattern != "" {
		e.raw(`,"pattern":`)
		e.str("^(?:" + d.Pattern + ")$")
	}
	e.b = append(e.b, '}')
}

func (e *enc) kind(k *occi.Kind) {
	e.b = append(e.b, '{')
	n := 0
	e.strMember(&n, "term", k.ID.Term)
	e.strMember(&n, "scheme", k.ID.Scheme)
	e.optStr(&n, "title", k.Title)
	if !k.Parent.IsZero() {
		e.comma(&n)
		e.key("parent")
		e.id(k.Parent)
	}
	if k.Location != "" {
		e.strMember(&n, "location", render.AbsoluteURL(e.base, k.Location))
	}
	e.attrDefs(&n, k.Attributes)
	e.ids(&n, "actions", k.Actions)
	e.b = append(e.b, '}')
}

func (e *enc) mixin(m *occi.Mixin) {
	e.b = append(e.b, '{')
	n := 0
	e.strMember(&n, "term", m.ID.Term)
	e.strMember(&n, "scheme", m.ID.Scheme)
	e.optStr(&n, "title", m.Title)
	e.ids(&n, "depends", m.Depends)
	e.ids(&n, "applies", m.Applies)
	// location is required by the schema for every mixin.
	e.strMember(&n, "location", render.AbsoluteURL(e.base, m.Location))
	e.attrDefs(&n, m.Attributes)
	e.ids(&n, "actions", m.Actions)
	e.b = append(e.b, '}')
}

func (e *enc) action(a *occi.Action) {
	e.b = append(e.b, '{')
	n := 0
	e.strMember(&n, "term", a.ID.Term)
	e.strMember(&n, "scheme", a.ID.Scheme)
	e.optStr(&n, "title", a.Title)
	e.attrDefs(&n, a.Attributes)
	e.b = append(e.b, '}')
}

func (c Codec) finish(w *render.Writer, e *enc) error {
	if e.err != nil {
		return e.err
	}
	if w.Header != nil {
		w.Header.Set("Content-Type", MediaType)
	}
	e.b = append(e.b, '\n')
	_, err := w.Body.Write(e.b)
	return err
}

func newEnc(w *render.Writer, size int) *enc {
	return &enc{base: w.Base, b: make([]byte, 0, size)}
}

// EncodeDiscovery renders {"kinds":[…],"mixins":[…],"actions":[…]},
// leaving out empty arrays ({} when there is nothing).
func (c Codec) EncodeDiscovery(w *render.Writer, d *occi.Discovery) error {
	e := newEnc(w, 4096)
	e.b = append(e.b, '{')
	n := 0
	if d != nil {
		if len(d.Kinds) > 0 {
			e.comma(&n)
			e.key("kinds")
			e.b = append(e.b, '[')
			for i, k := range d.Kinds {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.kind(k)
			}
			e.b = append(e.b, ']')
		}
		if len(d.Mixins) > 0 {
			e.comma(&n)
			e.key("mixins")
			e.b = append(e.b, '[')
			for i, m := range d.Mixins {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.mixin(m)
			}
			e.b = append(e.b, ']')
		}
		if len(d.Actions) > 0 {
			e.comma(&n)
			e.key("actions")
			e.b = append(e.b, '[')
			for i, a := range d.Actions {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.action(a)
			}
			e.b = append(e.b, ']')
		}
	}
	e.b = append(e.b, '}')
	return c.finish(w, e)
}

// EncodeEntity renders one resource or link object.
func (c Codec) EncodeEntity(w *render.Writer, x *occi.Entity) error {
	if x == nil {
		return occi.Errorf(occi.Internal, "no entity to render")
	}
	e := newEnc(w, 1024)
	e.entity(x, nil)
	return c.finish(w, e)
}

// EncodeCollection renders {"resources":[…]} and/or {"links":[…]} (both
// keys for a mixed collection; {"resources":[]} when empty).
func (c Codec) EncodeCollection(w *render.Writer, es []*occi.Entity) error {
	e := newEnc(w, 64+600*len(es))
	nres, nlinks := 0, 0
	for _, x := range es {
		if x == nil {
			continue
		}
		if x.IsLink() {
			nlinks++
		} else {
			nres++
		}
	}
	e.b = append(e.b, '{')
	if nres > 0 || nlinks == 0 {
		e.raw(`"resources":[`)
		i := 0
		for _, x := range es {
			if x == nil || x.IsLink() {
				continue
			}
			if i > 0 {
				e.b = append(e.b, ',')
			}
			i++
			e.entity(x, nil)
		}
		e.b = append(e.b, ']')
	}
	if nlinks > 0 {
		if nres > 0 {
			e.b = append(e.b, ',')
		}
		e.raw(`"links":[`)
		i := 0
		for _, x := range es {
			if x == nil || !x.IsLink() {
				continue
			}
			if i > 0 {
				e.b = append(e.b, ',')
			}
			i++
			e.entity(x, nil)
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, '}')
	return c.finish(w, e)
}

// EncodeLocations renders a JSON array of absolute URL strings.
func (c Codec) EncodeLocations(w *render.Writer, locations []string) error {
	e := newEnc(w, 16+80*len(locations))
	e.b = append(e.b, '[')
	for i, l := range locations {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(render.AbsoluteURL(w.Base, l))
	}
	e.b = append(e.b, ']')
	return c.finish(w, e)
}

// EncodeMixin renders one mixin object.
func (c Codec) EncodeMixin(w *render.Writer, m *occi.Mixin) error {
	if m == nil {
		return occi.Errorf(occi.Internal, "no mixin to render")
	}
	e := newEnc(w, 512)
	e.mixin(m)
	return c.finish(w, e)
}

// EncodeAction renders {"action": id, "attributes": {…}}.
func (c Codec) EncodeAction(w *render.Writer, inv *occi.ActionInvocation) error {
	if inv == nil {
		return occi.Errorf(occi.Internal, "no action invocation to render")
	}
	e := newEnc(w, 256)
	e.raw(`{"action":`)
	e.id(inv.Action)
	n := 1
	e.attrs(&n, inv.Attributes)
	e.b = append(e.b, '}')
	return c.finish(w, e)
}

// EncodeError renders {"code": "<Code name>", "message": "…"}, e.g.
// {"code":"NotFound","message":"…"}. The code is the occi.Code name, not
// the HTTP status (which the response line already carries).
func (c Codec) EncodeError(w *render.Writer, code occi.Code, message string) error {
	e := newEnc(w, 64+len(message))
	e.raw(`{"code":`)
	e.str(code.String())
	e.raw(`,"message":`)
	e.str(strings.ToValidUTF8(message, "\uFFFD"))
	e.b = append(e.b, '}')
	return c.finish(w, e)
}

// Package occitext is the OCCI text rendering of GFD.229: text/plain (and
// its alias text/occi+plain) with the rendering in the body, one element per
// line, and text/occi with the rendering in HTTP headers and "OK" as the
// body. Output follows the ABNF exactly (canonical header names, parameter
// order, quoting); input is read forgivingly (any header-name case, rOCCI's
// header aliases, comma-joined or repeated values, CRLF, blank lines,
// unquoted class, trailing ';', legacy attribute names).
package occitext

import (
	"io"
	"strconv"
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// Header names of the text rendering, as GFD.229 spells them.
const (
	HeaderCategory  = "Category"
	HeaderLink      = "Link"
	HeaderAttribute = "X-OCCI-Attribute"
	HeaderLocation  = "X-OCCI-Location"
	// HeaderError carries an error's code and message (not in GFD.229).
	HeaderError = "X-OCCI-Error"
)

// Limits of one text/occi header line: values beyond either start a new
// header line of the same name, so large renderings are never truncated.
const (
	MaxValuesPerHeader = 50
	MaxBytesPerHeader  = 4096
)

type kind int

const (
	kCategory kind = iota
	kLink
	kAttribute
	kLocation
	nKinds
)

var headerNames = [nKinds]string{HeaderCategory, HeaderLink, HeaderAttribute, HeaderLocation}

// Codec is a text codec: text/plain in the body or text/occi in headers.
type Codec struct {
	headers bool
}

// Plain returns the text/plain codec (alias text/occi+plain): the rendering
// goes in the body, one element per line.
func Plain() *Codec { return &Codec{} }

// Headers returns the text/occi codec: the rendering goes in HTTP headers
// (values comma-joined, at most MaxValuesPerHeader values or about
// MaxBytesPerHeader bytes per header line) and the body is "OK".
func Headers() *Codec { return &Codec{headers: true} }

// MediaType returns "text/plain" or "text/occi".
func (c *Codec) MediaType() string {
	if c.headers {
		return "text/occi"
	}
	return "text/plain"
}

// Aliases returns text/occi+plain for the plain codec and nothing for
// text/occi.
func (c *Codec) Aliases() []string {
	if c.headers {
		return nil
	}
	return []string{"text/occi+plain"}
}

var _ render.LocationLines = (*Codec)(nil)

// LocationLines reports true for text/plain, whose collections are one
// X-OCCI-Location line per member, and false for text/occi, which puts them
// in headers (see render.LocationLines).
func (c *Codec) LocationLines() bool { return !c.headers }

// emitter builds a rendering: in plain mode each element becomes a body
// line; in header mode each element a header value.
type emitter struct {
	headers bool
	base    string
	buf     []byte
	start   int
	// Header mode: finished header lines and the line being filled,
	// per kind.
	lines [nKinds][]string
	cur   [nKinds][]byte
	n     [nKinds]int
}

func (c *Codec) newEmitter(w *render.Writer, size int) *emitter {
	return &emitter{headers: c.headers, base: w.Base, buf: make([]byte, 0, size)}
}

func (em *emitter) begin(k kind) {
	if em.headers {
		em.start = len(em.buf)
		return
	}
	em.buf = append(em.buf, headerNames[k]...)
	em.buf = append(em.buf, ':', ' ')
}

func (em *emitter) end(k kind) {
	if em.headers {
		v := em.buf[em.start:]
		if em.n[k] > 0 && (em.n[k] >= MaxValuesPerHeader || len(em.cur[k])+2+len(v) > MaxBytesPerHeader) {
			em.lines[k] = append(em.lines[k], string(em.cur[k]))
			em.cur[k], em.n[k] = em.cur[k][:0], 0
		}
		if em.n[k] > 0 {
			em.cur[k] = append(em.cur[k], ',', ' ')
		}
		em.cur[k] = append(em.cur[k], v...)
		em.n[k]++
		em.buf = em.buf[:em.start]
		return
	}
	em.buf = append(em.buf, '\n')
}

// flush writes the rendering to w.
func (em *emitter) flush(w *render.Writer, mediaType string) error {
	h := w.Header
	if h != nil {
		h.Set("Content-Type", mediaType)
	}
	if !em.headers {
		if len(em.buf) == 0 {
			return nil
		}
		_, err := w.Body.Write(em.buf)
		return err
	}
	if h != nil {
		for k := kind(0); k < nKinds; k++ {
			if em.n[k] > 0 {
				em.lines[k] = append(em.lines[k], string(em.cur[k]))
			}
			if len(em.lines[k]) > 0 {
				// Direct map access keeps GFD.229's spelling
				// (X-OCCI-Attribute, not X-Occi-Attribute).
				h[headerNames[k]] = append(h[headerNames[k]], em.lines[k]...)
			}
		}
	}
	_, err := io.WriteString(w.Body, "OK")
	return err
}

// appendQuoted appends s as an RFC 7230 quoted-string: '"' and '\' are
// escaped with a backslash, LF, CR and TAB become \n, \r and \t, other control
// characters \u00XX; everything else (including UTF-8) is copied.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue appends an attribute value: strings quoted, integers and
// floats bare (floats always with a decimal point), booleans bare, lists and
// hashes as JSON inside a quoted string, nil (unset) as a bare null.
func appendValue(b []byte, name string, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendQuoted(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		b2, err := render.AppendFloat(b, x)
		if err != nil {
			return b, occi.Errorf(occi.Internal, "attribute %s: %s", name, occi.ErrorMessage(err))
		}
		return b2, nil
	case float32:
		return appendValue(b, name, float64(x))
	case bool:
		return strconv.AppendBool(b, x), nil
	default:
		js, err := render.AppendJSONValue(nil, v)
		if err != nil {
			return b, occi.Errorf(occi.Internal, "attribute %s: %s", name, occi.ErrorMessage(err))
		}
		return appendQuoted(b, string(js)), nil
	}
}

func (em *emitter) abs(loc string) string { return render.AbsoluteURL(em.base, loc) }

// shortCategory emits "term; scheme="…"; class="…"".
func (em *emitter) shortCategory(id occi.CategoryID, class occi.Class) {
	em.begin(kCategory)
	em.categoryHead(id, class)
	em.end(kCategory)
}

func (em *emitter) categoryHead(id occi.CategoryID, class occi.Class) {
	em.buf = append(em.buf, id.Term...)
	em.buf = append(em.buf, `; scheme=`...)
	em.buf = appendQuoted(em.buf, id.Scheme)
	em.buf = append(em.buf, `; class="`...)
	em.buf = append(em.buf, class...)
	em.buf = append(em.buf, '"')
}

func (em *emitter) param(name, value string) {
	em.buf = append(em.buf, "; "...)
	em.buf = append(em.buf, name...)
	em.buf = append(em.buf, '=')
	em.buf = appendQuoted(em.buf, value)
}

func (em *emitter) idList(name string, ids []occi.CategoryID) {
	if len(ids) == 0 {
		return
	}
	em.buf = append(em.buf, "; "...)
	em.buf = append(em.buf, name...)
	em.buf = append(em.buf, `="`...)
	for i, id := range ids {
		if i > 0 {
			em.buf = append(em.buf, ' ')
		}
		em.buf = appendIDBytes(em.buf, id)
	}
	em.buf = append(em.buf, '"')
}

// appendIDBytes appends a type identifier for use inside a quoted string.
func appendIDBytes(b []byte, id occi.CategoryID) []byte {
	q := appendQuoted(nil, id.Scheme+id.Term)
	return append(b, q[1:len(q)-1]...)
}

// attrDefs emits attributes="a{immutable} b{required}". For actions only
// {required} is shown (parameters are always supplied by the client).
func (em *emitter) attrDefs(defs []occi.AttributeDef, action bool) {
	if len(defs) == 0 {
		return
	}
	em.buf = append(em.buf, `; attributes="`...)
	for i, d := range defs {
		if i > 0 {
			em.buf = append(em.buf, ' ')
		}
		em.buf = append(em.buf, d.Name...)
		imm := !d.Mutable && !action
		switch {
		case imm && d.Required:
			em.buf = append(em.buf, "{immutable required}"...)
		case imm:
			em.buf = append(em.buf, "{immutable}"...)
		case d.Required:
			em.buf = append(em.buf, "{required}"...)
		}
	}
	em.buf = append(em.buf, '"')
}

func (em *emitter) kind(k *occi.Kind) {
	em.begin(kCategory)
	em.categoryHead(k.ID, occi.ClassKind)
	if k.Title != "" {
		em.param("title", k.Title)
	}
	if !k.Parent.IsZero() {
		em.idList("rel", []occi.CategoryID{k.Parent})
	}
	if k.Location != "" {
		em.param("location", em.abs(k.Location))
	}
	em.attrDefs(k.Attributes, false)
	em.idList("actions", k.Actions)
	em.end(kCategory)
}

func (em *emitter) mixin(m *occi.Mixin) {
	em.begin(kCategory)
	em.categoryHead(m.ID, occi.ClassMixin)
	if m.Title != "" {
		em.param("title", m.Title)
	}
	if len(m.Depends) > 0 {
		em.idList("rel", m.Depends[:1])
	}
	if m.Location != "" {
		em.param("location", em.abs(m.Location))
	}
	em.attrDefs(m.Attributes, false)
	em.idList("actions", m.Actions)
	em.end(kCategory)
}

func (em *emitter) action(a *occi.Action) {
	em.begin(kCategory)
	em.categoryHead(a.ID, occi.ClassAction)
	if a.Title != "" {
		em.param("title", a.Title)
	}
	em.attrDefs(a.Attributes, true)
	em.end(kCategory)
}

// attribute emits X-OCCI-Attribute: name=value.
func (em *emitter) attribute(name string, v any) error {
	em.begin(kAttribute)
	em.buf = append(em.buf, name...)
	em.buf = append(em.buf, '=')
	var err error
	em.buf, err = appendValue(em.buf, name, v)
	em.end(kAttribute)
	return err
}

func (em *emitter) strAttribute(name, v string) {
	if v == "" {
		return
	}
	em.begin(kAttribute)
	em.buf = append(em.buf, name...)
	em.buf = append(em.buf, '=')
	em.buf = appendQuoted(em.buf, v)
	em.end(kAttribute)
}

func (em *emitter) actionLinks(e *occi.Entity) {
	for _, a := range e.Actions {
		em.begin(kLink)
		em.buf = append(em.buf, '<')
		em.buf = render.AppendAbsoluteURL(em.buf, em.base, e.Location)
		em.buf = append(em.buf, "?action="...)
		em.buf = append(em.buf, a.Term...)
		em.buf = append(em.buf, `>; rel=`...)
		em.buf = appendQuoted(em.buf, a.String())
		em.end(kLink)
	}
}

// inlineLink emits a Link line for a link owned by a resource:
// <target>; rel="target kind"; self="link"; category="kind mixins"; attrs.
func (em *emitter) inlineLink(l *occi.Entity) error {
	em.begin(kLink)
	em.buf = append(em.buf, '<')
	em.buf = render.AppendAbsoluteURL(em.buf, em.base, l.Target)
	em.buf = append(em.buf, '>')
	if !l.TargetKind.IsZero() {
		em.idList("rel", []occi.CategoryID{l.TargetKind})
	}
	if l.Location != "" {
		em.param("self", em.abs(l.Location))
	}
	if !l.Kind.IsZero() {
		em.idList("category", append([]occi.CategoryID{l.Kind}, l.Mixins...))
	}
	linkAttr := func(name, v string) {
		if v != "" {
			em.param(name, v)
		}
	}
	linkAttr(occi.AttrID, l.ID)
	linkAttr(occi.AttrTitle, l.Title)
	linkAttr(occi.AttrSummary, l.Summary)
	if l.Source != "" {
		linkAttr(occi.AttrSource, em.abs(l.Source))
	}
	if !l.SourceKind.IsZero() {
		linkAttr(occi.AttrSourceKind, l.SourceKind.String())
	}
	var keyBuf [32]string
	var err error
	for _, k := range render.SortedKeys(keyBuf[:0], l.Attributes) {
		em.buf = append(em.buf, "; "...)
		em.buf = append(em.buf, k...)
		em.buf = append(em.buf, '=')
		var e2 error
		em.buf, e2 = appendValue(em.buf, k, l.Attributes[k])
		if e2 != nil && err == nil {
			err = e2
		}
	}
	em.end(kLink)
	return err
}

func (em *emitter) entity(e *occi.Entity) error {
	if !e.Kind.IsZero() {
		em.shortCategory(e.Kind, occi.ClassKind)
	}
	for _, m := range e.Mixins {
		em.shortCategory(m, occi.ClassMixin)
	}
	for _, l := range e.Links {
		if l == nil {
			continue
		}
		if err := em.inlineLink(l); err != nil {
			return err
		}
	}
	em.actionLinks(e)
	em.strAttribute(occi.AttrID, e.ID)
	em.strAttribute(occi.AttrTitle, e.Title)
	em.strAttribute(occi.AttrSummary, e.Summary)
	if e.Source != "" {
		em.strAttribute(occi.AttrSource, em.abs(e.Source))
	}
	if !e.SourceKind.IsZero() {
		em.strAttribute(occi.AttrSourceKind, e.SourceKind.String())
	}
	if e.Target != "" {
		em.strAttribute(occi.AttrTarget, em.abs(e.Target))
	}
	if !e.TargetKind.IsZero() {
		em.strAttribute(occi.AttrTargetKind, e.TargetKind.String())
	}
	var keyBuf [32]string
	for _, k := range render.SortedKeys(keyBuf[:0], e.Attributes) {
		if err := em.attribute(k, e.Attributes[k]); err != nil {
			return err
		}
	}
	return nil
}

func (em *emitter) location(loc string) {
	em.begin(kLocation)
	em.buf = render.AppendAbsoluteURL(em.buf, em.base, loc)
	em.end(kLocation)
}

// EncodeDiscovery renders every kind, mixin and action as a full Category
// (kinds, then mixins, then actions).
func (c *Codec) EncodeDiscovery(w *render.Writer, d *occi.Discovery) error {
	em := c.newEmitter(w, 2048)
	if d != nil {
		for _, k := range d.Kinds {
			if k != nil {
				em.kind(k)
			}
		}
		for _, m := range d.Mixins {
			if m != nil {
				em.mixin(m)
			}
		}
		for _, a := range d.Actions {
			if a != nil {
				em.action(a)
			}
		}
	}
	return em.flush(w, c.MediaType())
}

// EncodeEntity renders a resource (Category lines, Link lines for its
// links and actions, X-OCCI-Attribute lines) or a link (Category lines,
// action links, attributes including occi.core.source and
// occi.core.target).
func (c *Codec) EncodeEntity(w *render.Writer, e *occi.Entity) error {
	if e == nil {
		return occi.Errorf(occi.Internal, "no entity to render")
	}
	em := c.newEmitter(w, 2048)
	if err := em.entity(e); err != nil {
		return err
	}
	return em.flush(w, c.MediaType())
}

// EncodeCollection renders the entities' absolute locations as
// X-OCCI-Location elements; an empty collection renders nothing (an empty
// body for text/plain, no header and "OK" for text/occi).
func (c *Codec) EncodeCollection(w *render.Writer, es []*occi.Entity) error {
	em := c.newEmitter(w, 16+(len(w.Base)+60)*len(es))
	for _, e := range es {
		if e != nil {
			em.location(e.Location)
		}
	}
	return em.flush(w, c.MediaType())
}

// EncodeLocations renders locations as absolute X-OCCI-Location elements.
func (c *Codec) EncodeLocations(w *render.Writer, locations []string) error {
	em := c.newEmitter(w, 16+(len(w.Base)+60)*len(locations))
	for _, l := range locations {
		em.location(l)
	}
	return em.flush(w, c.MediaType())
}

// EncodeMixin renders one mixin as a full Category.
func (c *Codec) EncodeMixin(w *render.Writer, m *occi.Mixin) error {
	if m == nil {
		return occi.Errorf(occi.Internal, "no mixin to render")
	}
	em := c.newEmitter(w, 2048)
	em.mixin(m)
	return em.flush(w, c.MediaType())
}

// EncodeAction renders an action invocation: the action's Category and its
// parameters as X-OCCI-Attribute elements, sorted by name.
func (c *Codec) EncodeAction(w *render.Writer, inv *occi.ActionInvocation) error {
	if inv == nil {
		return occi.Errorf(occi.Internal, "no action invocation to render")
	}
	em := c.newEmitter(w, 2048)
	em.shortCategory(inv.Action, occi.ClassAction)
	var keyBuf [16]string
	for _, k := range render.SortedKeys(keyBuf[:0], inv.Attributes) {
		if err := em.attribute(k, inv.Attributes[k]); err != nil {
			return err
		}
	}
	return em.flush(w, c.MediaType())
}

// EncodeError renders "<Code>: <message>": for text/plain as the body
// line, for text/occi as an X-OCCI-Error header and as the body. Line
// breaks in the message become spaces.
func (c *Codec) EncodeError(w *render.Writer, code occi.Code, message string) error {
	line := code.String() + ": " + strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, message)
	if w.Header != nil {
		w.Header.Set("Content-Type", c.MediaType())
		if c.headers {
			w.Header[HeaderError] = []string{line}
		}
	}
	_, err := io.WriteString(w.Body, line+"\n")
	return err
}

var _ render.Codec = (*Codec)(nil)

// Package render is the codec contract of occid's renderings and the
// negotiator that picks one. Each media-type family lives in a subpackage
// (occitext for text/plain and text/occi, occijson for application/occi+json,
// urilist for text/uri-list). Handlers never read Accept or Content-Type
// themselves: they ask a Negotiator. The usual order is
//
//	render.NewNegotiator(occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New())
//
// which makes text/plain the default (GFD.185 behaviour). docs/renderings.md
// records the choices made where the specifications are silent.
package render

import (
	"io"
	"net/http"

	"github.com/occid/occi"
)

// Writer is where a codec writes one response. A codec sets every header it
// needs on Header, Content-Type included, before it writes the first byte
// of Body (text/occi puts the whole rendering in Header and writes "OK").
// Base is the absolute URL prefix, without a trailing slash (e.g.
// "http://127.0.0.1:8080"), that makes a location path absolute.
type Writer struct {
	Header http.Header
	Body   io.Writer
	Base   string
}

// Reader is one request as a codec reads it: its headers (text/occi carries
// the rendering there), its body, and the Base used to turn absolute URLs on
// this server back into paths (relative locations are taken as paths).
type Reader struct {
	Header http.Header
	Body   []byte
	Base   string
}

// Codec encodes and decodes every document the OCCI protocol carries in one
// media type. A codec that cannot render a document (text/uri-list for an
// entity) returns an error for which occi.ErrorCode reports InvalidArgument.
// Decoders never panic: malformed input is an InvalidArgument error whose
// message names what is wrong and where (header or line, offending text).
type Codec interface {
	// MediaType is the canonical media type, e.g. "text/plain".
	MediaType() string
	// Aliases are further media types the codec answers to, e.g.
	// "text/occi+plain" or "application/json".
	Aliases() []string

	// EncodeDiscovery renders the query interface's category collection.
	EncodeDiscovery(w *Writer, d *occi.Discovery) error
	// EncodeEntity renders one resource (with its links and action
	// links) or one link.
	EncodeEntity(w *Writer, e *occi.Entity) error
	// EncodeCollection renders an entity collection: locations in text,
	// full entities in JSON. An empty collection is a valid empty
	// rendering.
	EncodeCollection(w *Writer, es []*occi.Entity) error
	// EncodeLocations renders a list of locations, e.g. the body of a 201.
	EncodeLocations(w *Writer, locations []string) error
	// EncodeMixin renders one mixin in full, e.g. the result of save.
	EncodeMixin(w *Writer, m *occi.Mixin) error
	// EncodeError renders an error's code and client message.
	EncodeError(w *Writer, code occi.Code, message string) error
	// EncodeAction renders an action invocation (the request body of
	// POST ?action=), for clients.
	EncodeAction(w *Writer, inv *occi.ActionInvocation) error

	// DecodeEntity reads one resource (with inline links) or link.
	DecodeEntity(r *Reader) (*occi.Entity, error)
	// DecodeEntities reads one entity or a collection of them.
	DecodeEntities(r *Reader) ([]*occi.Entity, error)
	// DecodeAction reads an action invocation.
	DecodeAction(r *Reader) (*occi.ActionInvocation, error)
	// DecodeMixins reads one or more mixin definitions (POST and DELETE /-/).
	DecodeMixins(r *Reader) ([]*occi.Mixin, error)
	// DecodeLocations reads a list of entity locations (mixin membership),
	// returned as paths.
	DecodeLocations(r *Reader) ([]string, error)
	// DecodeDiscovery reads a category collection (the query interface's
	// answer), for clients.
	DecodeDiscovery(r *Reader) (*occi.Discovery, error)
	// DecodeError reads an error rendering made by EncodeError, for
	// clients; unknown forms give occi.Internal and the text as message.
	DecodeError(r *Reader) (occi.Code, string, error)
	// DecodeFilter reads a collection or discovery filter: categories and
	// attribute values. Codecs without a filter form return nothing.
	DecodeFilter(r *Reader) ([]occi.CategoryID, occi.Attributes, error)
}

// LocationLines is an optional interface of a Codec whose rendering of a
// collection is one body line per member's location and nothing else (no
// header but Content-Type). When LocationLines reports true:
// EncodeCollection(w, es) writes exactly what EncodeLocations(w, the
// locations of es) writes, and EncodeLocations of a list writes the
// concatenation of what it writes for consecutive parts of the list. A
// server may then list only the locations of a collection, and write a long
// one part by part instead of building it whole. text/plain and
// text/uri-list are such renderings; text/occi (headers) and JSON are not.
type LocationLines interface {
	LocationLines() bool
}

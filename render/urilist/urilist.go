// Package urilist is the text/uri-list rendering (RFC 2483) of OCCI
// listings: one absolute URL per line. It renders only collections and
// location lists; every other document is an InvalidArgument error, which
// the HTTP layer answers with 400 as GFD.229 requires.
package urilist

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// MediaType is the media type of the rendering.
const MediaType = "text/uri-list"

// Codec is the text/uri-list codec.
type Codec struct{}

var _ render.Codec = Codec{}

// New returns the text/uri-list codec.
func New() Codec { return Codec{} }

// MediaType returns "text/uri-list".
func (Codec) MediaType() string { return MediaType }

// Aliases returns nothing.
func (Codec) Aliases() []string { return nil }

var _ render.LocationLines = Codec{}

// LocationLines reports true: a collection is one line per member's
// absolute URL (see render.LocationLines).
func (Codec) LocationLines() bool { return true }

func unsupported() error {
	return occi.Errorf(occi.InvalidArgument, "text/uri-list can only render collections")
}

func unsupportedIn() error {
	return occi.Errorf(occi.InvalidArgument, "text/uri-list can only carry a list of locations")
}

func write(w *render.Writer, base string, locs []string) error {
	if w.Header != nil {
		w.Header.Set("Content-Type", MediaType)
	}
	n := 0
	for _, l := range locs {
		n += len(base) + len(l) + 2
	}
	b := make([]byte, 0, n)
	for _, l := range locs {
		b = render.AppendAbsoluteURL(b, base, l)
		b = append(b, '\r', '\n')
	}
	if len(b) == 0 {
		return nil
	}
	_, err := w.Body.Write(b)
	return err
}

// EncodeDiscovery fails: discovery is not a listing.
func (Codec) EncodeDiscovery(*render.Writer, *occi.Discovery) error { return unsupported() }

// EncodeEntity fails: an entity is not a listing.
func (Codec) EncodeEntity(*render.Writer, *occi.Entity) error { return unsupported() }

// EncodeMixin fails: a mixin is not a listing.
func (Codec) EncodeMixin(*render.Writer, *occi.Mixin) error { return unsupported() }

// EncodeAction fails: an action invocation is not a listing.
func (Codec) EncodeAction(*render.Writer, *occi.ActionInvocation) error { return unsupported() }

// EncodeCollection renders the entities' absolute URLs, one per CRLF-ended
// line; an empty collection is an empty body.
func (Codec) EncodeCollection(w *render.Writer, es []*occi.Entity) error {
	if w.Header != nil {
		w.Header.Set("Content-Type", MediaType)
	}
	b := make([]byte, 0, 16+(len(w.Base)+60)*len(es))
	for _, e := range es {
		if e != nil {
			b = render.AppendAbsoluteURL(b, w.Base, e.Location)
			b = append(b, '\r', '\n')
		}
	}
	if len(b) == 0 {
		return nil
	}
	_, err := w.Body.Write(b)
	return err
}

// EncodeLocations renders the locations as absolute URLs, one per line.
func (Codec) EncodeLocations(w *render.Writer, locations []string) error {
	return write(w, w.Base, locations)
}

// EncodeError renders the error as an RFC 2483 comment line
// "# <Code>: <message>".
func (Codec) EncodeError(w *render.Writer, code occi.Code, message string) error {
	if w.Header != nil {
		w.Header.Set("Content-Type", MediaType)
	}
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(message)
	_, err := io.WriteString(w.Body, "# "+code.String()+": "+msg+"\r\n")
	return err
}

// DecodeLocations reads one URI per line (CRLF or LF; blank lines and
// '#' comments skipped) and returns paths; a URL on another server is an
// InvalidArgument error naming the line.
func (Codec) DecodeLocations(r *render.Reader) ([]string, error) {
	if !utf8.Valid(r.Body) {
		return nil, occi.Errorf(occi.InvalidArgument, "body: not valid UTF-8")
	}
	var out []string
	s := string(r.Body)
	for n := 1; s != ""; n++ {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if len(out) >= render.MaxItems {
			return nil, occi.Errorf(occi.InvalidArgument, "body: more than %d locations; split the request", render.MaxItems)
		}
		where := "line " + strconv.Itoa(n)
		if strings.ContainsAny(line, " \t\"<>") {
			return nil, occi.Errorf(occi.InvalidArgument, "%s: %q is not a URI", where, render.Truncate(line, 100))
		}
		p, err := render.OwnPath(r.Base, line, where)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// DecodeEntities reads a location list as entities with only Location set.
func (c Codec) DecodeEntities(r *render.Reader) ([]*occi.Entity, error) {
	locs, err := c.DecodeLocations(r)
	if err != nil {
		return nil, err
	}
	es := make([]*occi.Entity, len(locs))
	for i, l := range locs {
		es[i] = &occi.Entity{Location: l}
	}
	return es, nil
}

// DecodeEntity fails: text/uri-list carries no entity.
func (Codec) DecodeEntity(*render.Reader) (*occi.Entity, error) { return nil, unsupportedIn() }

// DecodeAction fails: text/uri-list carries no action invocation.
func (Codec) DecodeAction(*render.Reader) (*occi.ActionInvocation, error) {
	return nil, unsupportedIn()
}

// DecodeMixins fails: text/uri-list carries no mixin definition.
func (Codec) DecodeMixins(*render.Reader) ([]*occi.Mixin, error) { return nil, unsupportedIn() }

// DecodeDiscovery fails: text/uri-list carries no categories.
func (Codec) DecodeDiscovery(*render.Reader) (*occi.Discovery, error) { return nil, unsupportedIn() }

// DecodeFilter returns no filter: text/uri-list has no filter form.
func (Codec) DecodeFilter(*render.Reader) ([]occi.CategoryID, occi.Attributes, error) {
	return nil, nil, nil
}

// DecodeError reads the "# <Code>: <message>" comment written by
// EncodeError; other bodies give Internal with the body as message.
func (Codec) DecodeError(r *render.Reader) (occi.Code, string, error) {
	line := strings.TrimSpace(string(r.Body))
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	t := strings.TrimSpace(strings.TrimPrefix(line, "#"))
	if name, msg, ok := strings.Cut(t, ":"); ok {
		name = strings.TrimSpace(name)
		if code := render.CodeByName(name); code != occi.Internal || name == "Internal" {
			return code, strings.TrimSpace(msg), nil
		}
	}
	return occi.Internal, line, nil
}

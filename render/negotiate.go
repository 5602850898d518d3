package render

import (
	"strconv"
	"strings"
)

// NegotiationError is returned by a Negotiator when no codec fits: Status is
// 406 (nothing acceptable for Accept) or 415 (an unsupported request
// Content-Type), and Offered lists every media type the negotiator serves, in
// preference order, for the response (e.g. in an Accept header or the body).
type NegotiationError struct {
	Status  int
	Offered []string
	// Asked is the header value that could not be satisfied, possibly
	// truncated.
	Asked string
}

// Error says what was asked and what is offered.
func (e *NegotiationError) Error() string {
	what := "no acceptable media type for Accept"
	if e.Status == 415 {
		what = "unsupported Content-Type"
	}
	return what + " " + strconv.Quote(Truncate(e.Asked, 120)) + "; offered: " + strings.Join(e.Offered, ", ")
}

// Negotiator picks a codec for a response (by Accept) and for a request (by
// Content-Type) from an ordered list of codecs. The first codec is the
// default. A Negotiator is immutable and safe for concurrent use.
type Negotiator struct {
	codecs  []Codec
	offered []string
	byType  map[string]Codec
}

// NewNegotiator returns a negotiator over codecs, in preference order; the
// first codec answers requests without Accept or with "*/*". Media types are
// matched case-insensitively; a media type claimed by two codecs belongs to
// the first.
func NewNegotiator(codecs ...Codec) *Negotiator {
	n := &Negotiator{byType: make(map[string]Codec)}
	for _, c := range codecs {
		if c == nil {
			continue
		}
		n.codecs = append(n.codecs, c)
		for _, mt := range append([]string{c.MediaType()}, c.Aliases()...) {
			mt = strings.ToLower(mt)
			if _, dup := n.byType[mt]; dup {
				continue
			}
			n.byType[mt] = c
			n.offered = append(n.offered, mt)
		}
	}
	return n
}

// Offered returns every media type served, canonical types and aliases, in
// preference order. The caller must not modify the slice.
func (n *Negotiator) Offered() []string { return n.offered }

// Codecs returns the codecs in preference order. The caller must not modify
// the slice.
func (n *Negotiator) Codecs() []Codec { return n.codecs }

// MaxAcceptRanges caps the number of media ranges read from one Accept or
// Content-Type header; the rest are ignored here. occihttp refuses a header
// with more (400) rather than drop ranges silently; see CountRanges.
const MaxAcceptRanges = 1000

// CountRanges returns the number of comma-separated elements of an Accept
// or Content-Type value, counting at most MaxAcceptRanges+1 (so a result
// above MaxAcceptRanges means the value has too many).
func CountRanges(v string) int {
	return len(SplitOutsideQuotes(v, ',', MaxAcceptRanges+1))
}

// mediaRange is one parsed element of Accept.
type mediaRange struct {
	typ, sub string
	q        int // thousandths, 0..1000
	pos      int
}

// ParseAccept parses an Accept header value into its media ranges, in order,
// each as "type/subtype" in lower case with its quality in thousandths
// (0..1000). Parameters other than q are ignored, as are malformed ranges
// and ranges beyond MaxAcceptRanges. It never fails.
func ParseAccept(accept string) []MediaRange {
	rs := parseAccept(accept)
	out := make([]MediaRange, len(rs))
	for i, r := range rs {
		out[i] = MediaRange{Type: r.typ + "/" + r.sub, Q: r.q}
	}
	return out
}

// MediaRange is a parsed element of an Accept header.
type MediaRange struct {
	Type string // "type/subtype", lower case; may contain "*"
	Q    int    // quality in thousandths, 0..1000
}

func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, part := range SplitOutsideQuotes(accept, ',', MaxAcceptRanges) {
		params := SplitOutsideQuotes(part, ';', 32)
		if len(params) == 0 {
			continue
		}
		typ, sub, ok := splitMediaType(params[0])
		if !ok {
			continue
		}
		q := 1000
		for _, p := range params[1:] {
			k, v, found := strings.Cut(p, "=")
			if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			pq, ok := parseQ(strings.TrimSpace(v))
			if !ok {
				q = -1
				break
			}
			q = pq
		}
		if q < 0 {
			continue
		}
		out = append(out, mediaRange{typ: typ, sub: sub, q: q, pos: len(out)})
	}
	return out
}

// splitMediaType splits "type/subtype" (surrounding spaces allowed) into
// lower-case parts; a bare "*" is taken as "*/*" (old Java clients send it).
func splitMediaType(s string) (typ, sub string, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "*" {
		return "*", "*", true
	}
	typ, sub, ok = strings.Cut(s, "/")
	if !ok || !isToken(typ) || !isToken(sub) {
		return "", "", false
	}
	if typ == "*" && sub != "*" {
		return "", "", false
	}
	return typ, sub, true
}

// parseQ parses a qvalue ("0", "0.5", "1.000") into thousandths.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	if s[0] != '0' && s[0] != '1' {
		return 0, false
	}
	whole := int(s[0] - '0')
	if len(s) == 1 {
		return whole * 1000, true
	}
	if s[1] != '.' {
		return 0, false
	}
	frac := 0
	digits := s[2:]
	for i := 0; i < 3; i++ {
		frac *= 10
		if i < len(digits) {
			c := digits[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			frac += int(c - '0')
		}
	}
	if whole == 1 && frac != 0 {
		return 0, false
	}
	return whole*1000 + frac, true
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ForResponse picks the codec for a response given the request's Accept
// header. An empty Accept, "*/*", or an Accept with no well-formed media
// range selects the first codec. Otherwise each codec gets, for each of its
// media types (canonical and aliases), the quality of the most specific
// range that matches that type (exact, then type/*, then */*) and keeps the
// best; a codec whose canonical type is refused by name (q=0) is never
// chosen, since its responses carry that type. The highest quality wins,
// ties going to the more specific match, then to the range listed first,
// then to codec order. If nothing is acceptable the error is a
// *NegotiationError with Status 406.
func (n *Negotiator) ForResponse(accept string) (Codec, error) {
	c, _, err := n.ForResponseType(accept)
	return c, err
}

// ForResponseType is ForResponse that also returns the media type the
// response should carry: the codec's canonical type, unless the type that
// won for that codec is one of its aliases matched by name (Accept:
// application/json answers Content-Type: application/json); a tie between
// the canonical type and an alias goes to the canonical type.
func (n *Negotiator) ForResponseType(accept string) (Codec, string, error) {
	if len(n.codecs) == 0 {
		return nil, "", &NegotiationError{Status: 406, Asked: accept}
	}
	ranges := parseAccept(accept)
	if len(ranges) == 0 {
		return n.codecs[0], n.codecs[0].MediaType(), nil
	}
	var (
		best                     Codec
		bestType                 string
		bestQ, bestSpec, bestPos = 0, -1, 0
	)
	for _, c := range n.codecs {
		types := append([]string{c.MediaType()}, c.Aliases()...)
		cq, cspec, cpos := -1, -1, 0
		ctype := c.MediaType()
		refused := false
		for i, mt := range types {
			q, spec, pos := match(ranges, strings.ToLower(mt))
			if i == 0 && spec == 2 && q == 0 {
				refused = true
				break
			}
			if q > cq || (q == cq && (spec > cspec || (spec == cspec && pos < cpos))) {
				cq, cspec, cpos = q, spec, pos
				ctype = c.MediaType()
				if i > 0 && spec == 2 {
					ctype = strings.ToLower(mt)
				}
			}
		}
		if refused || cspec < 0 || cq <= 0 {
			continue
		}
		if cq > bestQ || (cq == bestQ && (cspec > bestSpec || (cspec == bestSpec && cpos < bestPos))) {
			best, bestType, bestQ, bestSpec, bestPos = c, ctype, cq, cspec, cpos
		}
	}
	if best == nil {
		return nil, "", &NegotiationError{Status: 406, Offered: n.offered, Asked: accept}
	}
	return best, bestType, nil
}

// match returns the quality given to media type mt (lower case) by its
// most specific matching range, that range's specificity (2 exact, 1
// type/*, 0 */*, -1 no match) and its position.
func match(ranges []mediaRange, mt string) (q, spec, pos int) {
	typ, sub, _ := strings.Cut(mt, "/")
	q, spec = -1, -1
	for _, r := range ranges {
		s := -1
		switch {
		case r.typ == typ && r.sub == sub:
			s = 2
		case r.typ == typ && r.sub == "*":
			s = 1
		case r.typ == "*" && r.sub == "*":
			s = 0
		}
		if s > spec || (s == spec && s >= 0 && r.q > q) {
			q, spec, pos = r.q, s, r.pos
		}
	}
	return q, spec, pos
}

// ForRequest picks the codec that reads a request body of the given
// Content-Type. Parameters (charset) are ignored. An empty Content-Type
// selects the first codec, whose text decoders then read the headers (a
// request without a body has no Content-Type). A comma-separated list, as
// rOCCI sends ("text/plain,text/occi"), selects by its first known type. An
// unknown type is a *NegotiationError with Status 415.
func (n *Negotiator) ForRequest(contentType string) (Codec, error) {
	if strings.TrimSpace(contentType) == "" {
		if len(n.codecs) == 0 {
			return nil, &NegotiationError{Status: 415}
		}
		return n.codecs[0], nil
	}
	for _, part := range SplitOutsideQuotes(contentType, ',', MaxAcceptRanges) {
		mt, _, _ := strings.Cut(part, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if c, ok := n.byType[mt]; ok {
			return c, nil
		}
	}
	return nil, &NegotiationError{Status: 415, Offered: n.offered, Asked: contentType}
}

// SplitOutsideQuotes splits s at sep where sep is outside a quoted string
// and outside <...>, trims spaces and tabs from each part and drops empty
// parts. A backslash inside quotes escapes the next byte. At most max parts
// are returned (max <= 0 means no limit); the remainder is dropped.
func SplitOutsideQuotes(s string, sep byte, max int) []string {
	var out []string
	inQuote, inAngle, esc := false, false, false
	start := 0
	add := func(p string) bool {
		p = strings.Trim(p, " \t")
		if p != "" {
			out = append(out, p)
		}
		return max > 0 && len(out) >= max
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == sep && !inAngle:
			if add(s[start:i]) {
				return out
			}
			start = i + 1
		}
	}
	add(s[start:])
	return out
}

// Truncate shortens s to at most n bytes (on a rune boundary) for use in an
// error message, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

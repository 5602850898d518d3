// Package rowcodec turns entities and mixins into the rows that the SQL
// stores (sqlitestore, pgstore) keep, and back, and builds their List
// queries. The queried fields go to
// columns; the rest is a JSON body in which every number keeps its Go type:
// an int64 is written as an integer literal and a float64 always with a
// fraction or an exponent, so decoding tells them apart. Non-finite floats,
// which JSON cannot spell, are written as a one-key object whose key starts
// with a NUL byte (no attribute name or hash key from a rendering can), and
// hash keys that start with NUL are escaped the same way.
package rowcodec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// EntityRow is an entity as stored: the queried columns and the JSON body.
type EntityRow struct {
	Location string
	Kind     string // type identifier of the kind
	Owner    string
	Source   string
	Revision int64
	Mixins   []string // type identifiers of the mixins, for the membership table
	Body     []byte
}

type catJSON struct {
	S string `json:"s"`
	T string `json:"t"`
}

type entityJSON struct {
	ID         string          `json:"id,omitempty"`
	Kind       catJSON         `json:"kind"`
	Mixins     []catJSON       `json:"mixins,omitempty"`
	Title      string          `json:"title,omitempty"`
	Summary    string          `json:"summary,omitempty"`
	Attributes json.RawMessage `json:"attrs,omitempty"`
	SourceKind *catJSON        `json:"sourceKind,omitempty"`
	Target     string          `json:"target,omitempty"`
	TargetKind *catJSON        `json:"targetKind,omitempty"`
	BackendRef string          `json:"backendRef,omitempty"`
}

func cat(c occi.CategoryID) catJSON { return catJSON{c.Scheme, c.Term} }

func optCat(c occi.CategoryID) *catJSON {
	if c.IsZero() {
		return nil
	}
	x := cat(c)
	return &x
}

func (c *catJSON) id() occi.CategoryID {
	if c == nil {
		return occi.CategoryID{}
	}
	return occi.CategoryID{Scheme: c.S, Term: c.T}
}

func cats(ids []occi.CategoryID) []catJSON {
	if len(ids) == 0 {
		return nil
	}
	out := make([]catJSON, len(ids))
	for i, id := range ids {
		out[i] = cat(id)
	}
	return out
}

func ids(cs []catJSON) []occi.CategoryID {
	if len(cs) == 0 {
		return nil
	}
	out := make([]occi.CategoryID, len(cs))
	for i := range cs {
		out[i] = cs[i].id()
	}
	return out
}

// CheckColumn returns an InvalidArgument error if s cannot be kept in a text
// column: it is not valid UTF-8 or it holds a NUL byte. what names the field.
func CheckColumn(what, s string) error {
	if !utf8.ValidString(s) {
		return occi.Errorf(occi.InvalidArgument, "%s %q is not valid UTF-8", what, s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return occi.Errorf(occi.InvalidArgument, "%s %q contains a NUL character", what, s)
	}
	return nil
}

func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return occi.Errorf(occi.InvalidArgument, "%s %q is not valid UTF-8", what, s)
	}
	return nil
}

// EncodeEntity returns the row of e. Its Links and Actions are not stored:
// links are entities of their own and actions are computed on reading. It
// returns an InvalidArgument error for a value that cannot be stored
// faithfully (invalid UTF-8, a NUL in a queried field, a non-canonical
// attribute type).
func EncodeEntity(e *occi.Entity) (*EntityRow, error) {
	if e == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "cannot store a nil entity")
	}
	if e.Location == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "cannot store an entity without a location")
	}
	for _, c := range []struct{ what, s string }{
		{"location", e.Location}, {"kind", e.Kind.String()}, {"owner", e.Owner}, {"source", e.Source},
	} {
		if err := CheckColumn(c.what, c.s); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct{ what, s string }{
		{"occi.core.id", e.ID}, {"occi.core.title", e.Title}, {"occi.core.summary", e.Summary},
		{"occi.core.target", e.Target}, {"occi.core.source.kind", e.SourceKind.String()},
		{"occi.core.target.kind", e.TargetKind.String()}, {"backend reference", e.BackendRef},
	} {
		if err := checkText(c.what, c.s); err != nil {
			return nil, err
		}
	}
	row := &EntityRow{Location: e.Location, Kind: e.Kind.String(), Owner: e.Owner, Source: e.Source}
	seen := make(map[string]bool, len(e.Mixins))
	for _, m := range e.Mixins {
		s := m.String()
		if err := CheckColumn("mixin", s); err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			row.Mixins = append(row.Mixins, s)
		}
	}
	j := entityJSON{
		ID: e.ID, Kind: cat(e.Kind), Mixins: cats(e.Mixins), Title: e.Title, Summary: e.Summary,
		SourceKind: optCat(e.SourceKind), Target: e.Target, TargetKind: optCat(e.TargetKind),
		BackendRef: e.BackendRef,
	}
	if e.Attributes != nil {
		var buf bytes.Buffer
		if err := encodeAttrs(&buf, e.Attributes); err != nil {
			return nil, err
		}
		j.Attributes = buf.Bytes()
	}
	body, err := json.Marshal(j)
	if err != nil {
		return nil, occi.Wrap(err, occi.Internal, "cannot encode entity")
	}
	row.Body = body
	return row, nil
}

// DecodeEntity rebuilds the entity from its columns and body. The body is
// parsed once, into generic values, and the fields are taken from those.
func DecodeEntity(location, owner, source string, revision int64, body []byte) (*occi.Entity, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, occi.Wrap(err, occi.Internal, fmt.Sprintf("stored entity %s is corrupt", location))
	}
	bad := func(field string) error {
		return occi.Errorf(occi.Internal, "stored entity %s is corrupt: field %s", location, field)
	}
	str := func(k string) (string, error) {
		switch v := doc[k].(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		}
		return "", bad(k)
	}
	e := &occi.Entity{Location: location, Owner: owner, Source: source, Revision: revision}
	var err error
	for _, f := range []struct {
		k string
		p *string
	}{{"id", &e.ID}, {"title", &e.Title}, {"summary", &e.Summary}, {"target", &e.Target}, {"backendRef", &e.BackendRef}} {
		if *f.p, err = str(f.k); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		k string
		p *occi.CategoryID
	}{{"kind", &e.Kind}, {"sourceKind", &e.SourceKind}, {"targetKind", &e.TargetKind}} {
		if *f.p, err = catFrom(doc[f.k]); err != nil {
			return nil, bad(f.k)
		}
	}
	if ms, ok := doc["mixins"].([]any); ok {
		e.Mixins = make([]occi.CategoryID, len(ms))
		for i, m := range ms {
			if e.Mixins[i], err = catFrom(m); err != nil {
				return nil, bad("mixins")
			}
		}
	} else if doc["mixins"] != nil {
		return nil, bad("mixins")
	}
	if a, ok := doc["attrs"]; ok {
		v, err := fromJSON(a)
		if err != nil {
			return nil, occi.Wrap(err, occi.Internal, fmt.Sprintf("stored attributes of %s are corrupt", location))
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, occi.Errorf(occi.Internal, "stored attributes of %s are not an object", location)
		}
		e.Attributes = occi.Attributes(m)
	}
	return e, nil
}

func catFrom(v any) (occi.CategoryID, error) {
	if v == nil {
		return occi.CategoryID{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return occi.CategoryID{}, fmt.Errorf("not a category")
	}
	s, ok1 := m["s"].(string)
	t, ok2 := m["t"].(string)
	if (!ok1 && m["s"] != nil) || (!ok2 && m["t"] != nil) {
		return occi.CategoryID{}, fmt.Errorf("not a category")
	}
	return occi.CategoryID{Scheme: s, Term: t}, nil
}

type attrDefJSON struct {
	Name        string          `json:"name"`
	Type        int             `json:"type,omitempty"`
	Mutable     bool            `json:"mutable,omitempty"`
	Required    bool            `json:"required,omitempty"`
	Default     json.RawMessage `json:"default,omitempty"`
	Enum        []string        `json:"enum,omitempty"`
	Pattern     string          `json:"pattern,omitempty"`
	Description string          `json:"description,omitempty"`
}

type mixinJSON struct {
	ID         catJSON       `json:"id"`
	Title      string        `json:"title,omitempty"`
	Depends    []catJSON     `json:"depends,omitempty"`
	Applies    []catJSON     `json:"applies,omitempty"`
	Location   string        `json:"location,omitempty"`
	Attributes []attrDefJSON `json:"attrs,omitempty"`
	Actions    []catJSON     `json:"actions,omitempty"`
}

// EncodeMixin returns the type identifier column and JSON body of m; the
// owner goes to a column of its own.
func EncodeMixin(m *occi.Mixin) (id string, body []byte, err error) {
	if m == nil {
		return "", nil, occi.Errorf(occi.InvalidArgument, "cannot store a nil mixin")
	}
	id = m.ID.String()
	if m.ID.Term == "" {
		return "", nil, occi.Errorf(occi.InvalidArgument, "cannot store a mixin without a term")
	}
	if err := CheckColumn("mixin", id); err != nil {
		return "", nil, err
	}
	if err := CheckColumn("mixin owner", m.Owner); err != nil {
		return "", nil, err
	}
	for _, c := range []struct{ what, s string }{{"mixin title", m.Title}, {"mixin location", m.Location}} {
		if err := checkText(c.what, c.s); err != nil {
			return "", nil, err
		}
	}
	j := mixinJSON{ID: cat(m.ID), Title: m.Title, Depends: cats(m.Depends), Applies: cats(m.Applies),
		Location: m.Location, Actions: cats(m.Actions)}
	for _, a := range m.Attributes {
		d := attrDefJSON{Name: a.Name, Type: int(a.Type), Mutable: a.Mutable, Required: a.Required,
			Enum: a.Enum, Pattern: a.Pattern, Description: a.Description}
		for _, s := range append([]string{a.Name, a.Pattern, a.Description}, a.Enum...) {
			if err := checkText("attribute definition of "+id, s); err != nil {
				return "", nil, err
			}
		}
		if a.Default != nil {
			var buf bytes.Buffer
			if err := encodeValue(&buf, a.Name, a.Default); err != nil {
				return "", nil, err
			}
			d.Default = buf.Bytes()
		}
		j.Attributes = append(j.Attributes, d)
	}
	body, err = json.Marshal(j)
	if err != nil {
		return "", nil, occi.Wrap(err, occi.Internal, "cannot encode mixin")
	}
	return id, body, nil
}

// DecodeMixin rebuilds a mixin from its owner column and body.
func DecodeMixin(owner string, body []byte) (*occi.Mixin, error) {
	var j mixinJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, occi.Wrap(err, occi.Internal, "stored mixin is corrupt")
	}
	m := &occi.Mixin{ID: j.ID.id(), Title: j.Title, Depends: ids(j.Depends), Applies: ids(j.Applies),
		Location: j.Location, Actions: ids(j.Actions), Owner: owner}
	for _, d := range j.Attributes {
		a := occi.AttributeDef{Name: d.Name, Type: occi.AttrType(d.Type), Mutable: d.Mutable,
			Required: d.Required, Enum: d.Enum, Pattern: d.Pattern, Description: d.Description}
		if d.Default != nil {
			v, err := decodeValue(d.Default)
			if err != nil {
				return nil, occi.Wrap(err, occi.Internal, "stored mixin default is corrupt")
			}
			a.Default = v
		}
		m.Attributes = append(m.Attributes, a)
	}
	return m, nil
}

// nonFinite is the key prefix of the object that spells a NaN or infinity,
// and of escaped hash keys that themselves start with NUL.
const nonFinite = "\x00f"
const escapedKey = "\x00k"

func encodeAttrs(buf *bytes.Buffer, a occi.Attributes) error {
	return encodeValue(buf, "", map[string]any(a))
}

func encodeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// encodeValue writes v; path names the attribute for error messages.
func encodeValue(buf *bytes.Buffer, path string, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case string:
		if !utf8.ValidString(x) {
			return occi.Errorf(occi.InvalidArgument, "attribute %s: string %q is not valid UTF-8", path, x)
		}
		encodeString(buf, x)
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case int:
		buf.WriteString(strconv.FormatInt(int64(x), 10))
	case int32:
		buf.WriteString(strconv.FormatInt(int64(x), 10))
	case float64:
		encodeFloat(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if !utf8.ValidString(k) {
				return occi.Errorf(occi.InvalidArgument, "attribute %s: key %q is not valid UTF-8", path, k)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			sk := k
			if strings.HasPrefix(k, "\x00") {
				sk = escapedKey + k
			}
			encodeString(buf, sk)
			buf.WriteByte(':')
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if err := encodeValue(buf, sub, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case occi.Attributes:
		return encodeValue(buf, path, map[string]any(x))
	default:
		return occi.Errorf(occi.InvalidArgument, "attribute %s: a value of type %T cannot be stored", path, v)
	}
	return nil
}

func encodeFloat(buf *bytes.Buffer, f float64) {
	switch {
	case math.IsNaN(f):
		buf.WriteString(`{"\u0000f":"NaN"}`)
		return
	case math.IsInf(f, 1):
		buf.WriteString(`{"\u0000f":"+Inf"}`)
		return
	case math.IsInf(f, -1):
		buf.WriteString(`{"\u0000f":"-Inf"}`)
		return
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	buf.WriteString(s)
}

func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return fromJSON(v)
}

func fromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			return strconv.ParseFloat(s, 64)
		}
		return strconv.ParseInt(s, 10, 64)
	case []any:
		for i, e := range x {
			d, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = d
		}
		return x, nil
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x[nonFinite].(string); ok {
				switch s {
				case "NaN":
					return math.NaN(), nil
				case "+Inf":
					return math.Inf(1), nil
				case "-Inf":
					return math.Inf(-1), nil
				}
				return nil, fmt.Errorf("unknown non-finite number %q", s)
			}
		}
		var escaped []string
		for k, e := range x {
			d, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = d
			if strings.HasPrefix(k, escapedKey) {
				escaped = append(escaped, k)
			}
		}
		for _, k := range escaped {
			x[k[len(escapedKey):]] = x[k]
			delete(x, k)
		}
		return x, nil
	default:
		return v, nil // string, bool, nil
	}
}

// PrefixEnd returns the least string greater than every string that starts
// with prefix in byte (and so code point) order, and false if there is none.
// Both are valid UTF-8 when prefix is, so they can be bound as text.
func PrefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i] + 1
		if r == 0xD800 {
			r = 0xE000
		}
		if r <= utf8.MaxRune {
			rs[i] = r
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

func errorf(format string, args ...any) error {
	return occi.Errorf(occi.InvalidArgument, format, args...)
}

// Rows is the part of a result set that database/sql and pgx both offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanEntities decodes every row of rows, each holding (location, owner,
// source, revision, body) as Select returns them. An error from scanning or
// iterating is passed through classify, which maps it to an occi code the
// store's way; a row that does not decode is returned as DecodeEntity's
// error.
func ScanEntities(rows Rows, classify func(error) error) ([]*occi.Entity, error) {
	var out []*occi.Entity
	for rows.Next() {
		var loc, owner, source string
		var rev int64
		var body []byte
		if err := rows.Scan(&loc, &owner, &source, &rev, &body); err != nil {
			return nil, classify(err)
		}
		e, err := DecodeEntity(loc, owner, source, rev, body)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// ScanLinked decodes the rows of a GetLinked statement, each holding
// (k, location, owner, source, revision, body): k is 0 for the entity at
// location and 1 for each entity whose source it is. It returns the
// entity and those links ordered by location, or a NotFound error naming
// location when no row had k 0; errors are handled as in ScanEntities.
func ScanLinked(rows Rows, location string, classify func(error) error) (*occi.Entity, []*occi.Entity, error) {
	var ent *occi.Entity
	var links []*occi.Entity
	for rows.Next() {
		var k int64
		var loc, owner, source string
		var rev int64
		var body []byte
		if err := rows.Scan(&k, &loc, &owner, &source, &rev, &body); err != nil {
			return nil, nil, classify(err)
		}
		e, err := DecodeEntity(loc, owner, source, rev, body)
		if err != nil {
			return nil, nil, err
		}
		if k == 0 {
			ent = e
		} else {
			links = append(links, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, classify(err)
	}
	if ent == nil {
		return nil, nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	// An index scan yields the links in location order; a plan that
	// does not (PostgreSQL's bitmap scan, for a source with many links)
	// needs the sort.
	byLocation := func(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) }
	if !slices.IsSortedFunc(links, byLocation) {
		slices.SortFunc(links, byLocation)
	}
	return ent, links, nil
}

// ScanNotes reads every row of rows, each holding (key, revision, body)
// of a note, in order; a body stored empty comes back as an empty, not a
// nil, slice. Errors are handled as in ScanEntities.
func ScanNotes(rows Rows, classify func(error) error) ([]*store.Note, error) {
	out := []*store.Note{}
	for rows.Next() {
		n := &store.Note{}
		if err := rows.Scan(&n.Key, &n.Revision, &n.Body); err != nil {
			return nil, classify(err)
		}
		if n.Body == nil {
			n.Body = []byte{}
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// ScanMixins decodes every row of rows, each holding (owner, body) of a
// stored mixin; errors are handled as in ScanEntities.
func ScanMixins(rows Rows, classify func(error) error) ([]*occi.Mixin, error) {
	var out []*occi.Mixin
	for rows.Next() {
		var owner string
		var body []byte
		if err := rows.Scan(&owner, &body); err != nil {
			return nil, classify(err)
		}
		m, err := DecodeMixin(owner, body)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

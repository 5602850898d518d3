package rowcodec

import (
	"fmt"
	"strings"

	"github.com/occid/occi/store"
)

// Dialect is what differs between the SQL databases for a List query.
type Dialect struct {
	// Placeholder returns the n-th (1-based) parameter marker: "?" or "$n".
	Placeholder func(n int) string
	// NoLimit is the LIMIT clause to write when there is an OFFSET but no
	// limit ("LIMIT -1" for SQLite, "" for PostgreSQL).
	NoLimit string
	// BindLimit passes LIMIT and OFFSET as parameters rather than as
	// literals, so that the statement text depends only on the shape of
	// the query and a prepared statement serves every page (SQLite).
	BindLimit bool
}

// Select builds the statement for q over the tables entities (location,
// kind, owner, source, revision, body) and entity_mixins (mixin,
// location). With count set it counts the rows instead, ignoring After,
// Offset and Limit. The statement drives from entity_mixins by (mixin,
// location) when q has a mixin, and otherwise from entities, ordered by
// location, so a page is read from an index in order and never sorted.
func Select(d Dialect, q store.Query, count bool) (string, []any) {
	if count {
		return build(d, q, modeCount)
	}
	return build(d, q, modeRows)
}

// SelectLocations builds the statement that returns only the locations of
// the entities Select returns for q, in the same order: where an index
// holds every column the conditions need, it reads nothing else.
func SelectLocations(d Dialect, q store.Query) (string, []any) {
	return build(d, q, modeLocations)
}

type mode int

const (
	modeRows mode = iota
	modeCount
	modeLocations
)

func build(d Dialect, q store.Query, m mode) (string, []any) {
	count := m == modeCount
	var b strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	loc := "e.location"
	// With an offset, the rows to skip are counted in a subquery that reads
	// locations only (from the index alone where it can), and only the
	// page's rows are fetched whole.
	// For locations only, that subquery is the whole statement.
	deferred := m == modeLocations || (m == modeRows && q.Offset > 0)
	switch {
	case count:
		b.WriteString("SELECT count(*)")
	case m == modeLocations:
		b.WriteString("SELECT ")
	case deferred:
		b.WriteString("SELECT o.location, o.owner, o.source, o.revision, o.body FROM entities o WHERE o.location IN (SELECT ")
	default:
		b.WriteString("SELECT e.location, e.owner, e.source, e.revision, e.body")
	}
	var conds []string
	if !q.Mixin.IsZero() {
		loc = "m.location"
		conds = append(conds, "m.mixin = "+arg(q.Mixin.String()))
		if deferred {
			b.WriteString(loc)
		}
		if !deferred || len(q.Kinds) > 0 || q.Owner != "" || q.Source != "" {
			b.WriteString(" FROM entity_mixins m JOIN entities e ON e.location = m.location")
		} else {
			b.WriteString(" FROM entity_mixins m") // every membership row has its entity
		}
	} else {
		if deferred {
			b.WriteString(loc)
		}
		b.WriteString(" FROM entities e")
	}
	if len(q.Kinds) == 1 {
		conds = append(conds, "e.kind = "+arg(q.Kinds[0].String()))
	} else if len(q.Kinds) > 1 {
		ps := make([]string, len(q.Kinds))
		for i, k := range q.Kinds {
			ps[i] = arg(k.String())
		}
		conds = append(conds, "e.kind IN ("+strings.Join(ps, ", ")+")")
	}
	if q.Owner != "" {
		conds = append(conds, "e.owner = "+arg(q.Owner))
	}
	if q.Source != "" {
		conds = append(conds, "e.source = "+arg(q.Source))
	}
	// The location bounds go on every joined table, though the join makes
	// them equal: that keeps a planner from merge-joining with a walk of
	// the entities index from its start up to the bound.
	locs := []string{loc}
	if loc == "m.location" && strings.Contains(b.String(), " JOIN ") {
		locs = append(locs, "e.location")
	}
	for _, l := range locs {
		if q.Prefix != "" {
			conds = append(conds, l+" >= "+arg(q.Prefix))
			if end, ok := PrefixEnd(q.Prefix); ok {
				conds = append(conds, l+" < "+arg(end))
			}
		}
		if q.After != "" && !count {
			conds = append(conds, l+" > "+arg(q.After))
		}
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	if count {
		return b.String(), args
	}
	b.WriteString(" ORDER BY " + loc)
	switch {
	case q.Limit > 0 && d.BindLimit:
		b.WriteString(" LIMIT " + arg(int64(q.Limit)))
	case q.Limit > 0:
		fmt.Fprintf(&b, " LIMIT %d", q.Limit)
	case q.Offset > 0 && d.NoLimit != "":
		b.WriteString(" " + d.NoLimit)
	}
	switch {
	case q.Offset > 0 && d.BindLimit:
		b.WriteString(" OFFSET " + arg(int64(q.Offset)))
	case q.Offset > 0:
		fmt.Fprintf(&b, " OFFSET %d", q.Offset)
	}
	if deferred && m == modeRows {
		b.WriteString(") ORDER BY o.location")
	}
	return b.String(), args
}

// CheckQuery returns an InvalidArgument error for a query no store can
// answer: a negative offset or limit, or text a column cannot hold.
func CheckQuery(q store.Query) error {
	if q.Offset < 0 || q.Limit < 0 {
		return errorf("query offset %d and limit %d must not be negative", q.Offset, q.Limit)
	}
	for _, c := range []struct{ what, s string }{
		{"owner", q.Owner}, {"source", q.Source}, {"prefix", q.Prefix}, {"after", q.After}, {"mixin", q.Mixin.String()},
	} {
		if err := CheckColumn(c.what, c.s); err != nil {
			return err
		}
	}
	for _, k := range q.Kinds {
		if err := CheckColumn("kind", k.String()); err != nil {
			return err
		}
	}
	return nil
}

// CheckMutation returns an InvalidArgument error unless exactly one of
// Put, PutMixin, Delete, DeleteMixin, PutNote and DeleteNote is set, and
// for a delete or a note unless its key can be stored (see CheckNoteKey).
// i is the mutation's index in its batch, for the message.
func CheckMutation(i int, m store.Mutation) error {
	n := 0
	if m.Put != nil {
		n++
	}
	if m.PutMixin != nil {
		n++
	}
	if m.Delete != "" {
		n++
	}
	if !m.DeleteMixin.IsZero() {
		n++
	}
	if m.PutNote != nil {
		n++
	}
	if m.DeleteNote != "" {
		n++
	}
	if n != 1 {
		return errorf("mutation %d of the batch sets %d of Put, PutMixin, Delete, DeleteMixin, PutNote and DeleteNote, want exactly one", i, n)
	}
	switch {
	case m.Delete != "":
		return CheckColumn("location", m.Delete)
	case !m.DeleteMixin.IsZero():
		return CheckColumn("mixin", m.DeleteMixin.String())
	case m.PutNote != nil:
		return CheckNoteKey(m.PutNote.Key)
	case m.DeleteNote != "":
		return CheckNoteKey(m.DeleteNote)
	}
	return nil
}

// CheckNoteKey returns an InvalidArgument error unless key can be a
// note's key: the rules of an entity's location, that is not empty, valid
// UTF-8 and without a NUL character.
func CheckNoteKey(key string) error {
	if key == "" {
		return errorf("cannot store a note without a key")
	}
	return CheckColumn("note key", key)
}

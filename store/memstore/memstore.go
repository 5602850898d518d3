// Package memstore is an in-memory store.Store: the default for development
// and the store of the engine's tests. Nothing survives Close.
package memstore

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	mu       sync.RWMutex
	entities map[string]*occi.Entity
	mixins   map[occi.CategoryID]*occi.Mixin
	mixRevs  map[occi.CategoryID]int64
	notes    map[string]*store.Note
	closed   bool
}

// New returns an empty store.
func New() *Store {
	return &Store{entities: map[string]*occi.Entity{}, mixins: map[occi.CategoryID]*occi.Mixin{}, mixRevs: map[occi.CategoryID]int64{},
		notes: map[string]*store.Note{}}
}

var _ store.Store = (*Store)(nil)

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return occi.Wrap(err, occi.Unavailable, "request cancelled")
	}
	if s.closed {
		return occi.Errorf(occi.Unavailable, "store is closed")
	}
	return nil
}

func stored(e *occi.Entity) *occi.Entity {
	c := e.Clone()
	c.Links = nil
	c.Actions = nil
	return c
}

// Get returns the entity at location, or a NotFound error.
func (s *Store) Get(ctx context.Context, location string) (*occi.Entity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	e, ok := s.entities[location]
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	return e.Clone(), nil
}

func (s *Store) selectLocked(q store.Query) []*occi.Entity {
	var out []*occi.Entity
	for loc, e := range s.entities {
		if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
			continue
		}
		if !q.Mixin.IsZero() && !e.HasMixin(q.Mixin) {
			continue
		}
		if q.Owner != "" && e.Owner != q.Owner {
			continue
		}
		if q.Source != "" && e.Source != q.Source {
			continue
		}
		if q.Prefix != "" && !strings.HasPrefix(loc, q.Prefix) {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out
}

// List returns the entities q selects, ordered by location.
func (s *Store) List(ctx context.Context, q store.Query) ([]*occi.Entity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if q.Offset < 0 || q.Limit < 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "negative offset or limit")
	}
	sel := s.selectLocked(q)
	if q.After != "" {
		i := sort.Search(len(sel), func(i int) bool { return sel[i].Location > q.After })
		sel = sel[i:]
	}
	if q.Offset >= len(sel) {
		sel = nil
	} else {
		sel = sel[q.Offset:]
	}
	if q.Limit > 0 && len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	out := make([]*occi.Entity, len(sel))
	for i, e := range sel {
		out[i] = e.Clone()
	}
	return out, nil
}

// Count returns how many entities q selects.
func (s *Store) Count(ctx context.Context, q store.Query) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return len(s.selectLocked(q)), nil
}

// GetMixin returns the stored mixin id, or a NotFound error.
func (s *Store) GetMixin(ctx context.Context, id occi.CategoryID) (*occi.Mixin, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	m, ok := s.mixins[id]
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "no mixin %s", id)
	}
	return occi.CloneMixin(m), nil
}

// ListMixins returns every stored mixin ordered by type identifier.
func (s *Store) ListMixins(ctx context.Context) ([]*occi.Mixin, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := make([]*occi.Mixin, 0, len(s.mixins))
	for _, m := range s.mixins {
		out = append(out, occi.CloneMixin(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out, nil
}

// copyNote returns a copy of n that shares nothing with it, its Body never
// nil.
func copyNote(n *store.Note) *store.Note {
	body := make([]byte, len(n.Body))
	copy(body, n.Body)
	return &store.Note{Key: n.Key, Body: body, Revision: n.Revision}
}

// ListNotes returns copies of the notes whose key starts with prefix,
// ordered by key.
func (s *Store) ListNotes(ctx context.Context, prefix string) ([]*store.Note, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckColumn("note key prefix", prefix); err != nil {
		return nil, err
	}
	out := []*store.Note{}
	for k, n := range s.notes {
		if strings.HasPrefix(k, prefix) {
			out = append(out, copyNote(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Write applies muts atomically, honouring Expect as the store contract
// says. Mixins keep a revision of their own (1 when created, plus one per
// put) that Expect is checked against; notes keep theirs in Revision, as
// entities do. A delete of a missing record is
// NotFound whatever Expect says; a delete with MustNotExist deletes any
// revision.
func (s *Store) Write(ctx context.Context, muts ...store.Mutation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	// Validate against a view that includes the earlier mutations of the batch.
	ents := map[string]*occi.Entity{}
	gone := map[string]bool{}
	mix := map[occi.CategoryID]*occi.Mixin{}
	mixRev := map[occi.CategoryID]int64{}
	mixGone := map[occi.CategoryID]bool{}
	notes := map[string]*store.Note{}
	notesGone := map[string]bool{}
	getE := func(loc string) (*occi.Entity, bool) {
		if gone[loc] {
			return nil, false
		}
		if e, ok := ents[loc]; ok {
			return e, true
		}
		e, ok := s.entities[loc]
		return e, ok
	}
	getN := func(key string) (*store.Note, bool) {
		if notesGone[key] {
			return nil, false
		}
		if n, ok := notes[key]; ok {
			return n, true
		}
		n, ok := s.notes[key]
		return n, ok
	}
	getM := func(id occi.CategoryID) (int64, bool) {
		if mixGone[id] {
			return 0, false
		}
		if _, ok := mix[id]; ok {
			return mixRev[id], true
		}
		_, ok := s.mixins[id]
		return s.mixRevs[id], ok
	}
	checkExpect := func(what string, exists bool, rev, expect int64) error {
		switch {
		case expect == store.AnyRevision:
			return nil
		case expect == store.MustNotExist:
			if exists {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", what)
			}
		case !exists:
			return occi.Errorf(occi.NotFound, "%s does not exist", what)
		case rev != expect:
			return occi.Errorf(occi.Conflict, "%s changed concurrently (revision %d, expected %d)", what, rev, expect)
		}
		return nil
	}
	var order []func()
	for i, m := range muts {
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
			return occi.Errorf(occi.InvalidArgument, "mutation %d sets %d changes, want exactly one", i, n)
		}
		switch {
		case m.Put != nil:
			if m.Put.Location == "" {
				return occi.Errorf(occi.InvalidArgument, "mutation %d puts an entity without a location", i)
			}
			old, ok := getE(m.Put.Location)
			var rev int64
			if ok {
				rev = old.Revision
			}
			if err := checkExpect("entity "+m.Put.Location, ok, rev, m.Expect); err != nil {
				return err
			}
			c := stored(m.Put)
			c.Revision = rev + 1
			ents[c.Location] = c
			delete(gone, c.Location)
			put := m.Put
			order = append(order, func() { put.Revision = c.Revision })
		case m.Delete != "":
			old, ok := getE(m.Delete)
			var rev int64
			if ok {
				rev = old.Revision
			}
			if !ok {
				return occi.Errorf(occi.NotFound, "entity %s does not exist", m.Delete)
			}
			expect := m.Expect
			if expect == store.MustNotExist {
				expect = store.AnyRevision
			}
			if err := checkExpect("entity "+m.Delete, ok, rev, expect); err != nil {
				return err
			}
			gone[m.Delete] = true
			delete(ents, m.Delete)
		case m.PutMixin != nil:
			rev, ok := getM(m.PutMixin.ID)
			if err := checkExpect("mixin "+m.PutMixin.ID.String(), ok, rev, m.Expect); err != nil {
				return err
			}
			mix[m.PutMixin.ID] = occi.CloneMixin(m.PutMixin)
			mixRev[m.PutMixin.ID] = rev + 1
			delete(mixGone, m.PutMixin.ID)
		case !m.DeleteMixin.IsZero():
			rev, ok := getM(m.DeleteMixin)
			if !ok {
				return occi.Errorf(occi.NotFound, "mixin %s does not exist", m.DeleteMixin)
			}
			expect := m.Expect
			if expect == store.MustNotExist {
				expect = store.AnyRevision
			}
			if err := checkExpect("mixin "+m.DeleteMixin.String(), ok, rev, expect); err != nil {
				return err
			}
			mixGone[m.DeleteMixin] = true
			delete(mix, m.DeleteMixin)
		case m.PutNote != nil:
			if err := rowcodec.CheckNoteKey(m.PutNote.Key); err != nil {
				return err
			}
			old, ok := getN(m.PutNote.Key)
			var rev int64
			if ok {
				rev = old.Revision
			}
			if err := checkExpect("note "+m.PutNote.Key, ok, rev, m.Expect); err != nil {
				return err
			}
			c := copyNote(m.PutNote)
			c.Revision = rev + 1
			notes[c.Key] = c
			delete(notesGone, c.Key)
			put := m.PutNote
			order = append(order, func() { put.Revision = c.Revision })
		case m.DeleteNote != "":
			if err := rowcodec.CheckNoteKey(m.DeleteNote); err != nil {
				return err
			}
			old, ok := getN(m.DeleteNote)
			if !ok {
				return occi.Errorf(occi.NotFound, "note %s does not exist", m.DeleteNote)
			}
			expect := m.Expect
			if expect == store.MustNotExist {
				expect = store.AnyRevision
			}
			if err := checkExpect("note "+m.DeleteNote, ok, old.Revision, expect); err != nil {
				return err
			}
			notesGone[m.DeleteNote] = true
			delete(notes, m.DeleteNote)
		}
	}
	for loc := range gone {
		delete(s.entities, loc)
	}
	for loc, e := range ents {
		s.entities[loc] = e
	}
	for id := range mixGone {
		delete(s.mixins, id)
		delete(s.mixRevs, id)
	}
	for id, m := range mix {
		s.mixins[id] = m
		s.mixRevs[id] = mixRev[id]
	}
	for key := range notesGone {
		delete(s.notes, key)
	}
	for key, n := range notes {
		s.notes[key] = n
	}
	for _, f := range order {
		f()
	}
	return nil
}

// Close marks the store closed; later calls fail with Unavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// noteOpts compares notes: a nil Body equals an empty one.
var noteOpts = cmp.Options{cmpopts.EquateEmpty()}

func note(key, body string) *store.Note {
	return &store.Note{Key: key, Body: []byte(body)}
}

func putNote(n *store.Note, expect int64) store.Mutation {
	return store.Mutation{PutNote: n, Expect: expect}
}

func listNotes(t *testing.T, s store.Store, prefix string) []*store.Note {
	t.Helper()
	ns, err := s.ListNotes(context.Background(), prefix)
	if err != nil {
		t.Fatalf("ListNotes(%q): %v", prefix, err)
	}
	return ns
}

// getNote returns the note with key, or nil when there is none.
func getNote(t *testing.T, s store.Store, key string) *store.Note {
	t.Helper()
	for _, n := range listNotes(t, s, key) {
		if n.Key == key {
			return n
		}
	}
	return nil
}

func noteKeys(ns []*store.Note) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Key
	}
	return out
}

// testNotes checks the keyspace of notes: revisions and Expect as for
// entities, listing by prefix in byte order, batches shared with entities,
// separation from entities, invalid keys, reopening and concurrent creates.
func testNotes(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("revisions", func(t *testing.T) {
		s, _ := open(t, h)
		key := "/.pending/compute/r"
		tests := []struct {
			name     string
			expect   int64
			body     string
			wantCode occi.Code
			wantRev  int64 // revision stored afterwards
		}{
			{"create", store.MustNotExist, "v1", occi.OK, 1},
			{"create again", store.MustNotExist, "x", occi.AlreadyExists, 1},
			{"update with current revision", 1, "v2", occi.OK, 2},
			{"update with stale revision", 1, "x", occi.Conflict, 2},
			{"update with future revision", 7, "x", occi.Conflict, 2},
			{"overwrite any revision", store.AnyRevision, "v3", occi.OK, 3},
			{"update again", 3, "v4", occi.OK, 4},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n := note(key, tc.body)
				n.Revision = 42 // whatever the caller had
				err := s.Write(ctx, putNote(n, tc.expect))
				wantCode(t, "Write", err, tc.wantCode)
				if err == nil && n.Revision != tc.wantRev {
					t.Errorf("Revision set in the written note: got %d, want %d", n.Revision, tc.wantRev)
				}
				if err != nil && n.Revision != 42 {
					t.Errorf("failed Write changed the note's Revision: got %d, want 42", n.Revision)
				}
				got := getNote(t, s, key)
				if got == nil {
					t.Fatalf("note %s is gone", key)
				}
				if got.Revision != tc.wantRev {
					t.Errorf("stored Revision: got %d, want %d", got.Revision, tc.wantRev)
				}
				if err == nil && string(got.Body) != tc.body {
					t.Errorf("stored Body: got %q, want %q", got.Body, tc.body)
				}
				if err != nil && string(got.Body) == "x" {
					t.Errorf("failed Write changed the stored note: Body %q", got.Body)
				}
			})
		}
		t.Run("AnyRevision creates", func(t *testing.T) {
			n := note("/any", "a")
			mustWrite(t, s, putNote(n, store.AnyRevision))
			if n.Revision != 1 {
				t.Errorf("Revision: got %d, want 1", n.Revision)
			}
			if got := getNote(t, s, "/any"); got == nil || got.Revision != 1 {
				t.Errorf("stored: got %+v, want revision 1", got)
			}
		})
		t.Run("update of a missing note", func(t *testing.T) {
			n := note("/missing", "m")
			wantCode(t, "Write", s.Write(ctx, putNote(n, 1)), occi.NotFound)
			if got := getNote(t, s, "/missing"); got != nil {
				t.Errorf("a failed update created %+v", got)
			}
			if n.Revision != 0 {
				t.Errorf("failed Write changed the note's Revision: got %d, want 0", n.Revision)
			}
		})
	})

	t.Run("delete", func(t *testing.T) {
		s, _ := open(t, h)
		a, b, c := note("/a", "a"), note("/b", "b"), note("/c", "c")
		mustWrite(t, s, putNote(a, store.MustNotExist), putNote(b, store.MustNotExist), putNote(c, store.MustNotExist))
		mustWrite(t, s, putNote(a, 1)) // a is at revision 2
		tests := []struct {
			name     string
			key      string
			expect   int64
			wantCode occi.Code
			gone     bool
		}{
			{"stale revision", "/a", 1, occi.Conflict, false},
			{"current revision", "/a", 2, occi.OK, true},
			{"already deleted", "/a", 2, occi.NotFound, true},
			{"missing without revision", "/nothing", store.AnyRevision, occi.NotFound, true},
			{"missing with MustNotExist", "/nothing", store.MustNotExist, occi.NotFound, true},
			{"any revision", "/b", store.AnyRevision, occi.OK, true},
			{"MustNotExist deletes any revision", "/c", store.MustNotExist, occi.OK, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Write(ctx, store.Mutation{DeleteNote: tc.key, Expect: tc.expect})
				wantCode(t, "Write(DeleteNote)", err, tc.wantCode)
				got := getNote(t, s, tc.key)
				if tc.gone && got != nil {
					t.Errorf("note %s is still there: %+v", tc.key, got)
				}
				if !tc.gone && got == nil {
					t.Errorf("a failed delete removed note %s", tc.key)
				}
			})
		}
		if got := listNotes(t, s, ""); len(got) != 0 {
			t.Errorf("ListNotes after deleting everything: got %v, want nothing", noteKeys(got))
		}
		// A deleted key can be created again, from revision 1.
		again := note("/a", "again")
		mustWrite(t, s, putNote(again, store.MustNotExist))
		if again.Revision != 1 {
			t.Errorf("Revision of a re-created note: got %d, want 1", again.Revision)
		}
	})

	t.Run("list", func(t *testing.T) {
		s, _ := open(t, h)
		// Keys in byte order, which is the order ListNotes must return:
		// "/Z" before "/a", "/z" before "/é", and every multi-byte rune
		// after every ASCII one.
		keys := []string{"/Z", "/a", "/a/1", "/a/2", "/ab", "/a\x7f", "/b", "/z", "/é", "/é/x", "/\u4e16", "/\U0001F600", "/\U0010FFFF", "/\U0010FFFF/x"}
		bodies := map[string][]byte{}
		var muts []store.Mutation
		for i, k := range keys {
			body := []byte(fmt.Sprintf("body of %s", k))
			switch i {
			case 1:
				body = []byte{0, 1, 2, 0xff, 0xfe, 0, '\n'} // not text
			case 2:
				body = nil
			case 3:
				body = []byte{}
			}
			bodies[k] = body
			muts = append(muts, putNote(&store.Note{Key: k, Body: body}, store.MustNotExist))
		}
		// Written out of order.
		sort.Slice(muts, func(i, j int) bool { return muts[i].PutNote.Key > muts[j].PutNote.Key })
		mustWrite(t, s, muts...)
		sorted := append([]string(nil), keys...)
		sort.Strings(sorted)
		if diff := cmp.Diff(keys, sorted); diff != "" {
			t.Fatalf("the suite's keys are not in byte order (-keys +sorted):\n%s", diff)
		}
		all := listNotes(t, s, "")
		if diff := cmp.Diff(keys, noteKeys(all)); diff != "" {
			t.Errorf("ListNotes(\"\") keys (-want +got):\n%s", diff)
		}
		for _, n := range all {
			if diff := cmp.Diff(bodies[n.Key], n.Body, noteOpts); diff != "" {
				t.Errorf("Body of %s (-want +got):\n%s", n.Key, diff)
			}
			if n.Revision != 1 {
				t.Errorf("Revision of %s: got %d, want 1", n.Key, n.Revision)
			}
		}
		for _, prefix := range []string{"/", "/a", "/a/", "/a/1", "/a/10", "/é", "/\U0010FFFF", "/\U0010FFFF/", "/q", "/Z", "x", "/\U0001F600"} {
			var want []string
			for _, k := range keys {
				if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
					want = append(want, k)
				}
			}
			if diff := cmp.Diff(want, noteKeys(listNotes(t, s, prefix)), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListNotes(%q) keys (-want +got):\n%s", prefix, diff)
			}
		}
	})

	t.Run("copies", func(t *testing.T) {
		s, _ := open(t, h)
		n := note("/copy", "original")
		mustWrite(t, s, putNote(n, store.MustNotExist))
		n.Body[0] = 'X' // the caller's value changes after Write
		got := listNotes(t, s, "")
		if len(got) != 1 || string(got[0].Body) != "original" {
			t.Fatalf("after changing the written note: got %+v, want body original", got)
		}
		got[0].Body[0] = 'Y' // and the listed one
		got[0].Key = "/changed"
		if again := getNote(t, s, "/copy"); again == nil || string(again.Body) != "original" {
			t.Errorf("after changing the listed note: got %+v, want body original", again)
		}
	})

	t.Run("batch order", func(t *testing.T) {
		s, _ := open(t, h)
		first, second, third := note("/o", "first"), note("/o", "second"), note("/o", "third")
		mustWrite(t, s, putNote(first, store.MustNotExist), putNote(second, 1), putNote(third, store.AnyRevision))
		if first.Revision != 1 || second.Revision != 2 || third.Revision != 3 {
			t.Errorf("revisions in one batch: got %d, %d, %d; want 1, 2, 3", first.Revision, second.Revision, third.Revision)
		}
		if got := getNote(t, s, "/o"); got == nil || string(got.Body) != "third" || got.Revision != 3 {
			t.Errorf("after the batch: got %+v, want body third at revision 3", got)
		}
		gone := note("/gone", "g")
		mustWrite(t, s, putNote(gone, store.MustNotExist), store.Mutation{DeleteNote: "/gone", Expect: 1})
		if got := getNote(t, s, "/gone"); got != nil {
			t.Errorf("a note created and deleted in one batch is there: %+v", got)
		}
		// What the engine does: a note, then the entity and the removal
		// of the note in one batch.
		rec := note("/.pending/compute/e", "pending")
		mustWrite(t, s, putNote(rec, store.MustNotExist))
		e := compute("/compute/e", "alice", mixTag)
		mustWrite(t, s, put(e, store.MustNotExist), store.Mutation{DeleteNote: rec.Key, Expect: rec.Revision})
		if e.Revision != 1 {
			t.Errorf("Revision of the entity written with a note delete: got %d, want 1", e.Revision)
		}
		mustGet(t, s, e.Location)
		if got := getNote(t, s, rec.Key); got != nil {
			t.Errorf("the note deleted with the entity's create is there: %+v", got)
		}
		// And under a deferred sync.
		dctx := store.WithDeferredSync(ctx)
		rec2 := note("/.pending/compute/f", "pending")
		if err := s.Write(dctx, putNote(rec2, store.MustNotExist)); err != nil {
			t.Fatalf("deferred note write: %v", err)
		}
		if err := s.Write(dctx, put(compute("/compute/f", "alice"), store.MustNotExist), store.Mutation{DeleteNote: rec2.Key, Expect: 1}); err != nil {
			t.Fatalf("deferred batch with a note delete: %v", err)
		}
		if got := listNotes(t, s, "/.pending/"); len(got) != 0 {
			t.Errorf("notes left: %v, want none", noteKeys(got))
		}
	})

	t.Run("atomicity", func(t *testing.T) {
		s, _ := open(t, h)
		a := compute("/compute/a", "alice", mixUbuntu)
		kept := note("/kept", "kept")
		mustWrite(t, s, put(a, store.MustNotExist), putNote(kept, store.MustNotExist), store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Owner: "alice"}})
		mustWrite(t, s, putNote(kept, 1)) // kept at revision 2
		before := snap(t, s)
		beforeNotes := listNotes(t, s, "")
		changedA := func() *occi.Entity {
			e := compute("/compute/a", "bob", mixDebian)
			e.Title = "changed"
			return e
		}
		tests := []struct {
			name     string
			muts     []store.Mutation
			wantCode occi.Code
		}{
			{"failing entity after a note", []store.Mutation{putNote(note("/new", "n"), store.MustNotExist), put(compute("/compute/a", ""), store.MustNotExist)}, occi.AlreadyExists},
			{"failing entity update after note changes", []store.Mutation{
				putNote(note("/kept", "changed"), 2), {DeleteNote: "/kept", Expect: 3}, putNote(note("/new", "n"), store.AnyRevision),
				put(changedA(), 7),
			}, occi.Conflict},
			{"failing note create after an entity", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), put(changedA(), 1), putNote(note("/kept", "x"), store.MustNotExist)}, occi.AlreadyExists},
			{"failing note update", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), putNote(note("/kept", "x"), 1)}, occi.Conflict},
			{"failing note delete", []store.Mutation{{Delete: "/compute/a", Expect: 1}, {DeleteMixin: mixTag}, {DeleteNote: "/kept", Expect: 1}}, occi.Conflict},
			{"deleting a missing note", []store.Mutation{putNote(note("/new", "n"), store.MustNotExist), {Delete: "/compute/a", Expect: 1}, {DeleteNote: "/missing", Expect: store.AnyRevision}}, occi.NotFound},
			// The shape of the engine's completing write of a create.
			{"entity create with a stale note delete", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), {DeleteNote: "/kept", Expect: 1}}, occi.Conflict},
			{"entity create with a missing note delete", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), {DeleteNote: "/missing", Expect: 1}}, occi.NotFound},
			{"taken entity after a note delete", []store.Mutation{{DeleteNote: "/kept", Expect: 2}, put(compute("/compute/a", "alice"), store.MustNotExist)}, occi.AlreadyExists},
			{"second create taken", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), {DeleteNote: "/kept", Expect: 2}, put(compute("/compute/a", "alice"), store.MustNotExist)}, occi.AlreadyExists},
			{"one note deleted twice", []store.Mutation{put(compute("/compute/b", "alice"), store.MustNotExist), {DeleteNote: "/kept", Expect: 2}, {DeleteNote: "/kept", Expect: 2}}, occi.NotFound},
			{"invalid note last", []store.Mutation{putNote(note("/new", "n"), store.MustNotExist), put(compute("/compute/b", "alice"), store.MustNotExist), putNote(note("", "no key"), store.MustNotExist)}, occi.InvalidArgument},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for _, m := range tc.muts {
					if m.Put != nil {
						m.Put.Revision = 42
					}
					if m.PutNote != nil {
						m.PutNote.Revision = 42
					}
				}
				err := s.Write(ctx, tc.muts...)
				wantCode(t, "Write", err, tc.wantCode)
				if diff := cmp.Diff(before, snap(t, s), snapOpts); diff != "" {
					t.Errorf("a failed batch changed the entities or mixins (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(beforeNotes, listNotes(t, s, ""), noteOpts); diff != "" {
					t.Errorf("a failed batch changed the notes (-before +after):\n%s", diff)
				}
				for _, m := range tc.muts {
					if m.Put != nil && m.Put.Revision != 42 {
						t.Errorf("failed batch set Revision of entity %s: got %d, want it left at 42", m.Put.Location, m.Put.Revision)
					}
					if m.PutNote != nil && m.PutNote.Revision != 42 {
						t.Errorf("failed batch set Revision of note %s: got %d, want it left at 42", m.PutNote.Key, m.PutNote.Revision)
					}
				}
			})
		}
	})

	t.Run("apart from entities", func(t *testing.T) {
		s, _ := open(t, h)
		// A note and an entity with the same key and location live side
		// by side.
		e := compute("/compute/same", "alice", mixTag)
		n := note("/compute/same", "a note")
		mustWrite(t, s, put(e, store.MustNotExist), putNote(n, store.MustNotExist))
		if e.Revision != 1 || n.Revision != 1 {
			t.Errorf("revisions: entity %d, note %d; want 1 and 1", e.Revision, n.Revision)
		}
		mustWrite(t, s, putNote(note("/compute/only-a-note", ""), store.MustNotExist), putNote(note("/.pending/compute/x", "{}"), store.MustNotExist))
		_, err := s.Get(ctx, "/compute/only-a-note")
		wantCode(t, "Get of a note's key", err, occi.NotFound)
		_, err = s.Get(ctx, "/.pending/compute/x")
		wantCode(t, "Get of a note's key", err, occi.NotFound)
		for _, q := range []store.Query{{}, {Prefix: "/compute/"}, {Prefix: "/.pending/"}, {Owner: ""}, {Kinds: []occi.CategoryID{kindCompute}}, {Mixin: mixTag}} {
			got, err := s.List(ctx, q)
			if err != nil {
				t.Fatalf("List(%+v): %v", q, err)
			}
			var want []string
			if q.Prefix != "/.pending/" {
				want = []string{"/compute/same"}
			}
			if diff := cmp.Diff(want, locations(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("List(%+v) (-want +got):\n%s", q, diff)
			}
			if c, err := s.Count(ctx, q); err != nil || c != len(want) {
				t.Errorf("Count(%+v): got %d, %v; want %d", q, c, err, len(want))
			}
			if ls, ok := s.Store.(locationStore); ok {
				got, err := ls.ListLocations(ctx, q)
				if err != nil {
					t.Fatalf("ListLocations(%+v): %v", q, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ListLocations(%+v) (-want +got):\n%s", q, diff)
				}
			}
		}
		if ms, err := s.ListMixins(ctx); err != nil || len(ms) != 0 {
			t.Errorf("ListMixins: got %d mixins, %v; want none", len(ms), err)
		}
		// Deleting one leaves the other.
		mustWrite(t, s, store.Mutation{DeleteNote: "/compute/same", Expect: 1})
		if got := mustGet(t, s, "/compute/same"); got.Revision != 1 {
			t.Errorf("the entity after deleting the note with its location: revision %d, want 1", got.Revision)
		}
		mustWrite(t, s, putNote(note("/compute/same", "again"), store.MustNotExist))
		mustWrite(t, s, store.Mutation{Delete: "/compute/same", Expect: 1})
		if got := getNote(t, s, "/compute/same"); got == nil || string(got.Body) != "again" {
			t.Errorf("the note after deleting the entity at its key: got %+v, want body again", got)
		}
		wantCode(t, "DeleteNote of an entity's location", s.Write(ctx, store.Mutation{DeleteNote: "/compute/none"}), occi.NotFound)
		mustWrite(t, s, put(compute("/compute/none", "alice"), store.MustNotExist))
		wantCode(t, "DeleteNote of an entity's location", s.Write(ctx, store.Mutation{DeleteNote: "/compute/none"}), occi.NotFound)
		wantCode(t, "Delete of a note's key", s.Write(ctx, store.Mutation{Delete: "/compute/only-a-note"}), occi.NotFound)
	})

	t.Run("invalid", func(t *testing.T) {
		s, _ := open(t, h)
		mustWrite(t, s, putNote(note("/valid", "v"), store.MustNotExist))
		tests := []struct {
			name string
			m    store.Mutation
		}{
			{"note without a key", putNote(note("", "body"), store.MustNotExist)},
			{"note key with NUL", putNote(note("/nul\x00key", "body"), store.AnyRevision)},
			{"note key not UTF-8", putNote(note("/bad\xff", "body"), store.MustNotExist)},
			{"delete of a key with NUL", store.Mutation{DeleteNote: "/valid\x00"}},
			{"delete of a key not UTF-8", store.Mutation{DeleteNote: "/valid\xc3"}},
			{"note and entity", store.Mutation{PutNote: note("/x", ""), Put: compute("/compute/x", "")}},
			{"note and note delete", store.Mutation{PutNote: note("/x", ""), DeleteNote: "/valid"}},
			{"note delete and entity delete", store.Mutation{DeleteNote: "/valid", Delete: "/compute/x"}},
			{"note delete and mixin", store.Mutation{DeleteNote: "/valid", PutMixin: &occi.Mixin{ID: mixTag}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, "Write", s.Write(ctx, tc.m), occi.InvalidArgument)
			})
		}
		for _, prefix := range []string{"/nul\x00", "bad\xff"} {
			_, err := s.ListNotes(ctx, prefix)
			wantCode(t, fmt.Sprintf("ListNotes(%q)", prefix), err, occi.InvalidArgument)
		}
		if diff := cmp.Diff([]string{"/valid"}, noteKeys(listNotes(t, s, ""))); diff != "" {
			t.Errorf("notes after invalid writes (-want +got):\n%s", diff)
		}
		if n, err := s.Count(ctx, store.Query{}); err != nil || n != 0 {
			t.Errorf("Count after invalid writes: got %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("reopen", func(t *testing.T) {
		s, reopen := open(t, h)
		if reopen == nil {
			t.Skip("the store keeps nothing after Close (Harness.Open returned no Reopen)")
		}
		up := note("/.pending/compute/up", "v1")
		mustWrite(t, s, putNote(up, store.MustNotExist), putNote(note("/.pending/compute/gone", "g"), store.MustNotExist),
			putNote(&store.Note{Key: "/bin", Body: []byte{0, 0xff, 1}}, store.MustNotExist), put(compute("/compute/c", "alice"), store.MustNotExist))
		up.Body = []byte("v2")
		mustWrite(t, s, putNote(up, 1), store.Mutation{DeleteNote: "/.pending/compute/gone", Expect: 1})
		if err := s.Write(store.WithDeferredSync(ctx), putNote(note("/deferred", "d"), store.MustNotExist)); err != nil {
			t.Fatalf("deferred Write: %v", err)
		}
		before := listNotes(t, s, "")
		entities := snap(t, s)

		s2 := reopenStore(t, s, reopen)
		if diff := cmp.Diff(before, listNotes(t, s2, ""), noteOpts); diff != "" {
			t.Fatalf("notes after reopen (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(entities, snap(t, s2), snapOpts); diff != "" {
			t.Errorf("entities after reopen (-before +after):\n%s", diff)
		}
		wantCode(t, "stale update after reopen", s2.Write(ctx, putNote(note(up.Key, "x"), 1)), occi.Conflict)
		up.Body = []byte("v3")
		mustWrite(t, s2, putNote(up, 2))
		if up.Revision != 3 {
			t.Errorf("revision after reopen and update: got %d, want 3", up.Revision)
		}
		s3 := reopenStore(t, s2, reopen)
		if got := getNote(t, s3, up.Key); got == nil || got.Revision != 3 || string(got.Body) != "v3" {
			t.Errorf("after the second reopen: got %+v, want v3 at revision 3", got)
		}
	})

	t.Run("concurrent creates", func(t *testing.T) {
		ss := stores(t, h)
		const writers, keys = 8, 6
		for k := range keys {
			key := fmt.Sprintf("/.pending/compute/k%d", k)
			var wins, taken atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := ss[w%len(ss)].Write(ctx, putNote(note(key, fmt.Sprintf("writer %d", w)), store.MustNotExist))
					switch occi.ErrorCode(err) {
					case occi.OK:
						wins.Add(1)
					case occi.AlreadyExists:
						taken.Add(1)
					default:
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("%s: Write: got %v, want success or AlreadyExists", key, err)
			}
			if wins.Load() != 1 || taken.Load() != writers-1 {
				t.Errorf("%s: %d creates succeeded and %d were AlreadyExists, want 1 and %d", key, wins.Load(), taken.Load(), writers-1)
			}
		}
		for i, s := range ss {
			if got := listNotes(t, s, "/.pending/"); len(got) != keys {
				t.Errorf("store %d: %d notes, want %d", i, len(got), keys)
			}
		}
	})
}

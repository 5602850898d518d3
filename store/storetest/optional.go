package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// The optional reads a store may offer besides store.Store. The engine
// declares the same method sets (engine.LocationStore, engine.LinkedStore,
// engine.SourcedStore) and uses them when the store implements them; this
// package cannot import the engine, so it declares its own. When the store
// under test implements one, the suite checks that it answers what Get and
// List answer; otherwise that group is skipped.
type (
	// locationStore: ListLocations returns the locations of the entities
	// List(ctx, q) returns, in the same order and with the same errors.
	locationStore interface {
		ListLocations(ctx context.Context, q store.Query) ([]string, error)
	}
	// linkedStore: GetLinked returns what Get(ctx, location) returns and,
	// read at the same time, the entities whose Source is location (of any
	// owner), ordered by location.
	linkedStore interface {
		GetLinked(ctx context.Context, location string) (*occi.Entity, []*occi.Entity, error)
	}
	// sourcedStore: ListSourced returns the entities whose Source is one of
	// sources (of any owner), each once, ordered by location.
	sourcedStore interface {
		ListSourced(ctx context.Context, sources []string) ([]*occi.Entity, error)
	}
)

// optional returns the store of s as a T, or skips the test when the store
// does not implement T.
func optional[T any](t *testing.T, s *handle, what string) T {
	t.Helper()
	x, ok := s.Store.(T)
	if !ok {
		t.Skipf("the store does not implement %s", what)
	}
	return x
}

// seeded opens a store holding the seed data, all at revision 1.
func seeded(t *testing.T, h Harness) (*handle, []*occi.Entity) {
	t.Helper()
	s, _ := open(t, h)
	es := seed()
	var muts []store.Mutation
	for _, e := range es {
		muts = append(muts, put(e.Clone(), store.MustNotExist))
	}
	mustWrite(t, s, muts...)
	return s, es
}

func testListLocations(t *testing.T, h Harness) {
	ctx := context.Background()
	s, es := seeded(t, h)
	ls := optional[locationStore](t, s, "ListLocations")
	// compare checks ListLocations against List, and both against the
	// reference when es is not nil.
	compare := func(t *testing.T, q store.Query, es []*occi.Entity) {
		t.Helper()
		listed, err := s.List(ctx, q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got, err := ls.ListLocations(ctx, q)
		if err != nil {
			t.Fatalf("ListLocations: %v", err)
		}
		if diff := cmp.Diff(locations(listed), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListLocations against List (-List +ListLocations):\n%s", diff)
		}
		if es != nil {
			want, _ := expect(es, q)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListLocations (-want +got):\n%s", diff)
			}
		}
	}
	for _, tc := range listQueries() {
		t.Run(tc.name, func(t *testing.T) { compare(t, tc.q, es) })
	}
	t.Run("invalid queries", func(t *testing.T) {
		for _, q := range []store.Query{{Limit: -1}, {Offset: -3}, {Owner: "bad\xff"}, {Prefix: "nul\x00"}} {
			_, err := ls.ListLocations(ctx, q)
			wantCode(t, "ListLocations", err, occi.InvalidArgument)
			_, lerr := s.List(ctx, q)
			if occi.ErrorCode(err) != occi.ErrorCode(lerr) {
				t.Errorf("query %+v: ListLocations got %v, List got %v: want the same code", q, err, lerr)
			}
		}
	})
	t.Run("after changes", func(t *testing.T) {
		// c01 loses its mixins and changes owner, c05 is deleted, a new
		// compute and a new link arrive.
		c01 := compute("/compute/c01", "carol")
		mustWrite(t, s, put(c01, 1), store.Mutation{Delete: "/compute/c05", Expect: 1},
			put(compute("/compute/c99", "alice", mixTag), store.MustNotExist),
			put(link("/link/networkinterface/l9", "network", "/compute/c99", "/network/n1", "alice"), store.MustNotExist))
		for _, q := range []store.Query{
			{Mixin: mixUbuntu}, {Mixin: mixTag, Owner: "alice"}, {Kinds: []occi.CategoryID{kindCompute}, Owner: "alice"},
			{Owner: "carol"}, {Source: "/compute/c99"}, {Prefix: "/compute/c0", Offset: 2, Limit: 3},
		} {
			compare(t, q, nil)
		}
	})
}

func testGetLinked(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := seeded(t, h)
	ls := optional[linkedStore](t, s, "GetLinked")
	// Links of a third and a fourth owner, and a link out of a link (the
	// engine never makes one, but the store does not judge); /link/a comes
	// first in location order, last written.
	mustWrite(t, s, put(link("/link/storagelink/sl9", "storage", "/compute/c01", "/storage/s5", "dave"), store.MustNotExist),
		put(link("/link/networkinterface/lx", "network", "/link/storagelink/sl0", "/network/n1", "bob"), store.MustNotExist))
	mustWrite(t, s, put(link("/link/a", "network", "/compute/c01", "/network/n1", "erin"), store.MustNotExist))
	tests := []struct {
		name, location string
		wantLinks      []string // nil: compare with List only
	}{
		{"links of two owners", "/compute/c00", []string{"/link/networkinterface/l0", "/link/networkinterface/l3",
			"/link/networkinterface/l6", "/link/storagelink/sl0", "/link/storagelink/sl1", "/link/storagelink/sl2"}},
		{"links of three other owners", "/compute/c01", []string{"/link/a", "/link/networkinterface/l1", "/link/networkinterface/l4",
			"/link/networkinterface/l7", "/link/storagelink/sl9"}},
		{"no links", "/compute/c03", []string{}},
		{"a link with none", "/link/networkinterface/l1", []string{}},
		{"a link with one", "/link/storagelink/sl0", []string{"/link/networkinterface/lx"}},
		{"a storage", "/storage/s1", []string{}},
		{"odd characters", "/network/n_%", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ent, links, err := ls.GetLinked(ctx, tc.location)
			if err != nil {
				t.Fatalf("GetLinked: %v", err)
			}
			if diff := cmp.Diff(mustGet(t, s, tc.location), ent, entityOpts); diff != "" {
				t.Errorf("entity (-Get +GetLinked):\n%s", diff)
			}
			want, err := s.List(ctx, store.Query{Source: tc.location})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(want, links, entityOpts); diff != "" {
				t.Errorf("links (-List by source +GetLinked):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLinks, locations(links), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("link locations (-want +got):\n%s", diff)
			}
		})
	}
	// Whatever Get says of a location, GetLinked says too.
	for _, loc := range []string{"/compute/missing", "", "/compute/c00/", "/compute/c0", "nul\x00", "bad\xff"} {
		t.Run("as Get: "+strings.ToValidUTF8(strings.ReplaceAll(loc, "\x00", `\0`), "?"), func(t *testing.T) {
			_, gerr := s.Get(ctx, loc)
			ent, links, err := ls.GetLinked(ctx, loc)
			if occi.ErrorCode(err) != occi.ErrorCode(gerr) {
				t.Errorf("GetLinked: got %v, want the code of Get's %v", err, gerr)
			}
			if err != nil && (ent != nil || links != nil) {
				t.Errorf("GetLinked failed with %v and returned %v and %d links", err, ent, len(links))
			}
			if loc == "/compute/missing" {
				wantCode(t, "GetLinked", err, occi.NotFound)
			}
		})
	}
	t.Run("after changes", func(t *testing.T) {
		mustWrite(t, s, store.Mutation{Delete: "/link/networkinterface/l3", Expect: 1},
			put(link("/link/storagelink/sl1", "storage", "/compute/c02", "/storage/s1", "bob"), 1))
		_, links, err := ls.GetLinked(ctx, "/compute/c00")
		if err != nil {
			t.Fatalf("GetLinked: %v", err)
		}
		want := []string{"/link/networkinterface/l0", "/link/networkinterface/l6", "/link/storagelink/sl0", "/link/storagelink/sl2"}
		if diff := cmp.Diff(want, locations(links)); diff != "" {
			t.Errorf("links after a delete and a move (-want +got):\n%s", diff)
		}
		mustWrite(t, s, store.Mutation{Delete: "/compute/c00", Expect: 1})
		_, _, err = ls.GetLinked(ctx, "/compute/c00")
		wantCode(t, "GetLinked of a deleted entity whose links remain", err, occi.NotFound)
	})
}

func testListSourced(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := seeded(t, h)
	ss := optional[sourcedStore](t, s, "ListSourced")
	// Two more links, the second written last but first in location order.
	mustWrite(t, s, put(link("/link/storagelink/sl9", "storage", "/compute/c01", "/storage/s5", "dave"), store.MustNotExist))
	mustWrite(t, s, put(link("/link/a", "network", "/compute/c02", "/network/n1", "erin"), store.MustNotExist))
	tests := []struct {
		name    string
		sources []string
		want    []string
	}{
		{"three sources", []string{"/compute/c02", "/compute/c00", "/compute/c01"}, []string{
			"/link/a", "/link/networkinterface/l0", "/link/networkinterface/l1", "/link/networkinterface/l2", "/link/networkinterface/l3",
			"/link/networkinterface/l4", "/link/networkinterface/l5", "/link/networkinterface/l6", "/link/networkinterface/l7",
			"/link/storagelink/sl0", "/link/storagelink/sl1", "/link/storagelink/sl2", "/link/storagelink/sl9"}},
		{"one source", []string{"/compute/c01"}, []string{"/link/networkinterface/l1", "/link/networkinterface/l4",
			"/link/networkinterface/l7", "/link/storagelink/sl9"}},
		{"a source twice", []string{"/compute/c02", "/compute/c02"}, []string{"/link/a", "/link/networkinterface/l2", "/link/networkinterface/l5"}},
		{"known and unknown", []string{"/compute/none", "/compute/c02", "/compute/c03"}, []string{"/link/a", "/link/networkinterface/l2", "/link/networkinterface/l5"}},
		{"unknown sources", []string{"/compute/none", `a "quoted", one`, "/compute/c0", "/compute/c00/", "nul\x00", "bad\xff"}, nil},
		{"resources without links", []string{"/compute/c03", "/storage/s1", "/network/n_%"}, nil},
		{"none", []string{}, nil},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ss.ListSourced(ctx, tc.sources)
			if err != nil {
				t.Fatalf("ListSourced: %v", err)
			}
			if diff := cmp.Diff(tc.want, locations(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListSourced (-want +got):\n%s", diff)
			}
			// The same entities as List by each source, put together.
			var want []*occi.Entity
			seen := map[string]bool{}
			for _, src := range tc.sources {
				if src == "" || seen[src] || strings.ContainsRune(src, 0) || !utf8.ValidString(src) {
					continue
				}
				seen[src] = true
				es, err := s.List(ctx, store.Query{Source: src})
				if err != nil {
					t.Fatalf("List by source %q: %v", src, err)
				}
				want = append(want, es...)
			}
			slices.SortFunc(want, func(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) })
			if diff := cmp.Diff(want, got, entityOpts); diff != "" {
				t.Errorf("ListSourced against List by source (-List +ListSourced):\n%s", diff)
			}
		})
	}
}

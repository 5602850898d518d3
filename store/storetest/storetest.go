// Package storetest is the conformance suite of the store contract. Every
// store.Store implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: func(t *testing.T) (store.Store, storetest.Reopen) { ... }})
//	}
//
// Beyond what store.go states, the suite pins these behaviours down:
//
//   - Get returns a copy: changing the returned entity, or the written one
//     after Write, does not change what is stored. Get never fills Links;
//     Actions are not part of the stored state (the engine computes them).
//   - Attribute values keep their Go types through a round trip: an int64
//     stays an int64 and a float64 (even 2.0, NaN or ±Inf) a float64; lists,
//     hashes and Unicode text come back equal. nil and empty slices are
//     treated alike.
//   - Put with a positive Expect on a missing entity is NotFound; with
//     AnyRevision it creates (revision 1) or overwrites (revision + 1).
//   - Delete with Expect <= 0 deletes whatever is there and is NotFound when
//     nothing is; with a positive Expect it is Conflict on a mismatch.
//   - Mixins carry a revision in the store too (1 on creation, + 1 on every
//     put); Expect applies to PutMixin and DeleteMixin as to entities.
//   - The mutations of one batch apply in order (a batch may create an entity
//     and then update it); when any fails, none applies and the written
//     values' Revision fields are left as they were.
//   - A mutation that sets none or more than one of Put, PutMixin, Delete,
//     DeleteMixin, PutNote and DeleteNote, and an entity without a
//     location, are InvalidArgument.
//   - A call whose context is already cancelled fails with an error for which
//     errors.Is(err, context.Canceled) holds, and changes nothing.
//   - List orders by location in byte order (so "/z" sorts before "/é").
//   - Notes (store.Note) follow the rules of entities for Expect, revisions,
//     batches (with entities and mixins, all or none) and reopening; the
//     stored body is a copy and a nil body comes back empty. ListNotes
//     orders by key in byte order, and a note never shows in Get, List,
//     Count or the optional reads, even at a key that is an entity's
//     location. An empty note key, or one that is not valid UTF-8 or holds
//     a NUL character, is InvalidArgument, as is a ListNotes prefix that is
//     not valid UTF-8 or holds a NUL character.
//   - The optional reads the engine uses when a store has them
//     (ListLocations, GetLinked, ListSourced; see optional.go) answer what
//     List and Get answer, for every query of the list tests and after
//     changes; GetLinked fails where Get fails, with the same code, and
//     ListSourced of no sources, or of sources no entity has, is empty.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// Reopen opens another store on the data of the store that Harness.Open
// returned. The suite calls it after closing every store on that data,
// unless Harness.Shared is set.
type Reopen func(t *testing.T) store.Store

// Harness tells the suite how to get stores.
type Harness struct {
	// Open opens a store on fresh, empty data and registers with t.Cleanup
	// whatever removes that data. The suite closes every store it is given
	// exactly once. Reopen is nil for a store that keeps nothing after
	// Close (the tests of reopening are then skipped).
	Open func(t *testing.T) (store.Store, Reopen)
	// Shared reports that Reopen may be called while other stores on the
	// same data are open, as several occid processes share one database;
	// the suite then also runs its concurrency tests across two stores.
	Shared bool
}

// Run runs the conformance suite against the stores h opens.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Copies", testCopies},
		{"Revisions", testRevisions},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"InvalidMutations", testInvalidMutations},
		{"Atomicity", testAtomicity},
		{"BatchOrder", testBatchOrder},
		{"List", testList},
		{"Pagination", testPagination},
		{"Mixins", testMixins},
		{"Reopen", testReopen},
		{"ConcurrentSameEntity", testConcurrentSameEntity},
		{"ConcurrentDifferentEntities", testConcurrentDifferentEntities},
		{"Shared", testShared},
		{"ContextCancelled", testContextCancelled},
		{"ListLocations", testListLocations},
		{"GetLinked", testGetLinked},
		{"ListSourced", testListSourced},
		{"Notes", testNotes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// Category identifiers used by the suite; the store does not interpret them.
const (
	infraScheme = "http://schemas.ogf.org/occi/infrastructure#"
	tplScheme   = "http://example.org/occid/os_tpl#"
	userScheme  = "http://example.org/occid/users/alice/tags#"
)

var (
	kindCompute = occi.CategoryID{Scheme: infraScheme, Term: "compute"}
	kindStorage = occi.CategoryID{Scheme: infraScheme, Term: "storage"}
	kindNetwork = occi.CategoryID{Scheme: infraScheme, Term: "network"}
	kindNetIf   = occi.CategoryID{Scheme: infraScheme, Term: "networkinterface"}
	kindStLink  = occi.CategoryID{Scheme: infraScheme, Term: "storagelink"}
	mixUbuntu   = occi.CategoryID{Scheme: tplScheme, Term: "ubuntu"}
	mixDebian   = occi.CategoryID{Scheme: tplScheme, Term: "debian"}
	mixTag      = occi.CategoryID{Scheme: userScheme, Term: "prod"}
	mixIPIf     = occi.CategoryID{Scheme: infraScheme, Term: "ipnetworkinterface"}
	actStart    = occi.CategoryID{Scheme: infraScheme + "compute/action#", Term: "start"}
)

// entityOpts compares entities as the store contract defines them: Links
// and Actions are not stored, and nil equals empty.
var entityOpts = cmp.Options{
	cmpopts.IgnoreFields(occi.Entity{}, "Links", "Actions"),
	cmpopts.EquateEmpty(),
	cmpopts.EquateNaNs(),
}

var mixinOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateNaNs()}

var snapOpts = entityOpts // covers mixins too: nil equals empty, NaN equals NaN

// handle wraps a store so the suite closes it exactly once.
type handle struct {
	store.Store
	once sync.Once
	err  error
}

func (h *handle) Close() error {
	h.once.Do(func() { h.err = h.Store.Close() })
	return h.err
}

func wrap(t *testing.T, s store.Store) *handle {
	t.Helper()
	if s == nil {
		t.Fatal("storetest: the harness returned a nil store")
	}
	h := &handle{Store: s}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func open(t *testing.T, h Harness) (*handle, Reopen) {
	t.Helper()
	s, reopen := h.Open(t)
	return wrap(t, s), reopen
}

// reopenAll closes s and opens the data again.
func reopenStore(t *testing.T, s *handle, reopen Reopen) *handle {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return wrap(t, reopen(t))
}

func put(e *occi.Entity, expect int64) store.Mutation {
	return store.Mutation{Put: e, Expect: expect}
}

func mustWrite(t *testing.T, s store.Store, muts ...store.Mutation) {
	t.Helper()
	if err := s.Write(context.Background(), muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func mustGet(t *testing.T, s store.Store, loc string) *occi.Entity {
	t.Helper()
	e, err := s.Get(context.Background(), loc)
	if err != nil {
		t.Fatalf("Get(%q): %v", loc, err)
	}
	return e
}

func wantCode(t *testing.T, what string, err error, want occi.Code) {
	t.Helper()
	if got := occi.ErrorCode(err); got != want {
		t.Errorf("%s: got error %v (code %v), want code %v", what, err, got, want)
	}
}

func compute(loc, owner string, mixins ...occi.CategoryID) *occi.Entity {
	return &occi.Entity{
		ID: strings.TrimPrefix(loc, "/compute/"), Location: loc, Kind: kindCompute, Mixins: mixins,
		Title: "vm " + loc, Owner: owner,
		Attributes: occi.Attributes{"occi.compute.cores": int64(2), "occi.compute.memory": 4.0},
	}
}

func link(loc, kind string, src, tgt string, owner string) *occi.Entity {
	k := kindNetIf
	tk := kindNetwork
	if kind == "storage" {
		k, tk = kindStLink, kindStorage
	}
	return &occi.Entity{
		ID: loc[strings.LastIndexByte(loc, '/')+1:], Location: loc, Kind: k, Source: src, SourceKind: kindCompute,
		Target: tgt, TargetKind: tk, Owner: owner,
	}
}

// richResource has every field set, and attribute values of every
// canonical type.
func richResource() *occi.Entity {
	return &occi.Entity{
		ID:       "6a1f0e2c-8b7d-4c1e-9f00-d3adb33f0001",
		Location: "/compute/6a1f0e2c-8b7d-4c1e-9f00-d3adb33f0001",
		Kind:     kindCompute,
		Mixins:   []occi.CategoryID{mixUbuntu, mixTag},
		Title:    "web ☃ server «prod»",
		Summary:  "Zusammenfassung: äöü — 日本語 — emoji 🚀",
		Attributes: occi.Attributes{
			"occi.compute.cores":    int64(4),
			"occi.compute.memory":   2.0, // a whole float must stay a float
			"occi.compute.speed":    2.4,
			"occi.compute.hostname": "web-01.example.org",
			"occi.compute.state":    "active",
			"x.int.max":             int64(math.MaxInt64),
			"x.int.min":             int64(math.MinInt64),
			"x.int.zero":            int64(0),
			"x.float.zero":          0.0,
			"x.float.neg":           -0.25,
			"x.float.tiny":          5e-324,
			"x.float.huge":          1e300,
			"x.float.int53":         9007199254740993.0,
			"x.float.nan":           math.NaN(),
			"x.float.inf":           math.Inf(1),
			"x.float.ninf":          math.Inf(-1),
			"x.bool.true":           true,
			"x.bool.false":          false,
			"x.string.empty":        "",
			"x.string.tricky":       "quotes \" backslash \\ tab \t newline \n nul \x00 and <html> & ünïcødé",
			"x.list": []any{int64(1), 2.0, "three", true, nil, []any{}, []any{int64(7), 7.0},
				map[string]any{"k": int64(1)}},
			"x.list.empty": []any{},
			"x.hash": map[string]any{
				"a":         1.0,
				"b":         map[string]any{"c": []any{int64(-7), -7.5}},
				"ключ":      "значение",
				"":          "empty key",
				"\x00f":     "a key that looks like an escape",
				"with.dots": int64(3),
			},
			"x.hash.empty": map[string]any{},
		},
		Owner:      "alice",
		BackendRef: "domain-uuid-4c1e9f00",
	}
}

func richLink() *occi.Entity {
	return &occi.Entity{
		ID:         "l-1",
		Location:   "/link/networkinterface/l-1",
		Kind:       kindNetIf,
		Mixins:     []occi.CategoryID{mixIPIf},
		Title:      "eth0",
		Source:     "/compute/6a1f0e2c-8b7d-4c1e-9f00-d3adb33f0001",
		SourceKind: kindCompute,
		Target:     "/network/net-1",
		TargetKind: kindNetwork,
		Attributes: occi.Attributes{
			"occi.networkinterface.interface": "eth0",
			"occi.networkinterface.mac":       "52:54:00:12:34:56",
			"occi.networkinterface.address":   "10.0.0.5/24",
		},
		Owner:      "alice",
		BackendRef: "vnet0",
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	s, _ := open(t, h)
	external := richLink()
	external.Location = "/link/networkinterface/l-2"
	external.Target = "https://other.example.org/occi/network/n9?x=1#frag"
	external.TargetKind = occi.CategoryID{}
	tests := []struct {
		name string
		e    *occi.Entity
	}{
		{"resource with every field", richResource()},
		{"link", richLink()},
		{"link to an external target", external},
		{"minimal", &occi.Entity{Location: "/storage/s1", Kind: kindStorage}},
		{"empty attributes", &occi.Entity{Location: "/storage/s2", Kind: kindStorage, Attributes: occi.Attributes{}}},
		{"unicode location", &occi.Entity{Location: "/compute/ünï-☃-日本", Kind: kindCompute, Title: "ü"}},
		{"scheme without hash", &occi.Entity{Location: "/compute/odd", Kind: occi.CategoryID{Scheme: "urn:x:", Term: "odd"},
			Mixins: []occi.CategoryID{{Scheme: "http://a#b#", Term: "c"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.e.Clone()
			in.Actions = []occi.CategoryID{actStart}
			mustWrite(t, s, put(in, store.MustNotExist))
			if in.Revision != 1 {
				t.Errorf("Revision of the written entity: got %d, want 1", in.Revision)
			}
			want := tc.e.Clone()
			want.Revision = 1
			got := mustGet(t, s, tc.e.Location)
			if diff := cmp.Diff(want, got, entityOpts); diff != "" {
				t.Errorf("Get after create (-want +got):\n%s", diff)
			}
			checkTypes(t, "", map[string]any(want.Attributes), map[string]any(got.Attributes))
			if len(got.Links) != 0 {
				t.Errorf("Get filled Links: got %d links, want none", len(got.Links))
			}
		})
	}
}

// checkTypes reports every value whose dynamic type changed; cmp.Diff
// reports them too, but this names the int64/float64 confusion plainly.
func checkTypes(t *testing.T, path string, want, got any) {
	t.Helper()
	if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
		t.Errorf("attribute %s: got type %T (%v), want %T (%v)", path, got, got, want, want)
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, v := range w {
			checkTypes(t, path+"/"+k, v, g[k])
		}
	case []any:
		g := got.([]any)
		for i := 0; i < len(w) && i < len(g); i++ {
			checkTypes(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	}
}

func testCopies(t *testing.T, h Harness) {
	s, _ := open(t, h)
	in := richResource()
	mustWrite(t, s, put(in, store.MustNotExist))
	want := richResource()
	want.Revision = 1

	in.Title = "changed after Write"
	in.Attributes["occi.compute.cores"] = int64(99)
	in.Attributes["x.hash"].(map[string]any)["a"] = 5.0
	in.Mixins[0] = mixDebian
	got := mustGet(t, s, in.Location)
	if diff := cmp.Diff(want, got, entityOpts); diff != "" {
		t.Errorf("changing the written value changed the store (-want +got):\n%s", diff)
	}
	got.Title = "changed after Get"
	got.Attributes["x.list"].([]any)[0] = "x"
	got.Mixins[0] = mixDebian
	again := mustGet(t, s, in.Location)
	if diff := cmp.Diff(want, again, entityOpts); diff != "" {
		t.Errorf("changing a returned value changed the store (-want +got):\n%s", diff)
	}
	list, err := s.List(context.Background(), store.Query{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("List: got %d entities, want 1", len(list))
	}
	list[0].Attributes["occi.compute.cores"] = int64(1)
	again = mustGet(t, s, in.Location)
	if diff := cmp.Diff(want, again, entityOpts); diff != "" {
		t.Errorf("changing a listed value changed the store (-want +got):\n%s", diff)
	}
}

func testRevisions(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	loc := "/compute/r"
	tests := []struct {
		name     string
		expect   int64
		title    string
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
			e := compute(loc, "alice")
			e.Title = tc.title
			e.Revision = 42 // whatever the caller had
			err := s.Write(ctx, put(e, tc.expect))
			wantCode(t, "Write", err, tc.wantCode)
			if err == nil && e.Revision != tc.wantRev {
				t.Errorf("Revision set in the written value: got %d, want %d", e.Revision, tc.wantRev)
			}
			if err != nil && e.Revision != 42 {
				t.Errorf("failed Write changed the value's Revision: got %d, want 42", e.Revision)
			}
			got := mustGet(t, s, loc)
			if got.Revision != tc.wantRev {
				t.Errorf("stored Revision: got %d, want %d", got.Revision, tc.wantRev)
			}
			if err == nil && got.Title != tc.title {
				t.Errorf("stored Title: got %q, want %q", got.Title, tc.title)
			}
			if err != nil && got.Title == "x" {
				t.Errorf("failed Write changed the stored entity: Title %q", got.Title)
			}
		})
	}
	t.Run("AnyRevision creates", func(t *testing.T) {
		e := compute("/compute/any", "bob")
		mustWrite(t, s, put(e, store.AnyRevision))
		if e.Revision != 1 {
			t.Errorf("Revision: got %d, want 1", e.Revision)
		}
		if got := mustGet(t, s, e.Location); got.Revision != 1 || got.Owner != "bob" {
			t.Errorf("stored: got revision %d owner %q, want 1 and bob", got.Revision, got.Owner)
		}
	})
}

func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	a := compute("/compute/a", "alice", mixTag)
	b := compute("/compute/b", "alice", mixTag)
	mustWrite(t, s, put(a, store.MustNotExist), put(b, store.MustNotExist))
	mustWrite(t, s, put(a, 1)) // a is at revision 2

	tests := []struct {
		name     string
		loc      string
		expect   int64
		wantCode occi.Code
		gone     bool
	}{
		{"stale revision", "/compute/a", 1, occi.Conflict, false},
		{"current revision", "/compute/a", 2, occi.OK, true},
		{"already deleted", "/compute/a", 2, occi.NotFound, true},
		{"missing without revision", "/compute/nothing", store.AnyRevision, occi.NotFound, true},
		{"missing with MustNotExist", "/compute/nothing", store.MustNotExist, occi.NotFound, true},
		{"any revision", "/compute/b", store.AnyRevision, occi.OK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Write(ctx, store.Mutation{Delete: tc.loc, Expect: tc.expect})
			wantCode(t, "Write(Delete)", err, tc.wantCode)
			_, err = s.Get(ctx, tc.loc)
			if tc.gone {
				wantCode(t, "Get after delete", err, occi.NotFound)
			} else if err != nil {
				t.Errorf("Get after failed delete: %v", err)
			}
		})
	}
	for _, q := range []store.Query{{}, {Mixin: mixTag}, {Kinds: []occi.CategoryID{kindCompute}}, {Owner: "alice"}} {
		got, err := s.List(ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(got) != 0 {
			t.Errorf("List(%+v) after deleting everything: got %v, want nothing", q, locations(got))
		}
	}
	// A deleted location can be created again, from revision 1.
	c := compute("/compute/a", "carol")
	mustWrite(t, s, put(c, store.MustNotExist))
	if c.Revision != 1 {
		t.Errorf("Revision of a re-created entity: got %d, want 1", c.Revision)
	}
	if got, err := s.List(ctx, store.Query{Mixin: mixTag}); err != nil || len(got) != 0 {
		t.Errorf("mixin membership survived delete and re-create: got %v, %v", locations(got), err)
	}
}

func testNotFound(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "/compute/missing"); return err }},
		{"GetMixin", func() error { _, err := s.GetMixin(ctx, mixTag); return err }},
		{"update missing", func() error { return s.Write(ctx, put(compute("/compute/missing", ""), 1)) }},
		{"Delete", func() error { return s.Write(ctx, store.Mutation{Delete: "/compute/missing", Expect: 3}) }},
		{"DeleteMixin", func() error { return s.Write(ctx, store.Mutation{DeleteMixin: mixTag}) }},
		{"update missing mixin", func() error {
			return s.Write(ctx, store.Mutation{PutMixin: &occi.Mixin{ID: mixTag}, Expect: 1})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, tc.call(), occi.NotFound) })
	}
	if n, err := s.Count(ctx, store.Query{}); err != nil || n != 0 {
		t.Errorf("Count after failed writes: got %d, %v; want 0, nil", n, err)
	}
}

func testInvalidMutations(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	tests := []struct {
		name string
		m    store.Mutation
	}{
		{"empty mutation", store.Mutation{}},
		{"put and delete", store.Mutation{Put: compute("/compute/x", ""), Delete: "/compute/x"}},
		{"put and put mixin", store.Mutation{Put: compute("/compute/x", ""), PutMixin: &occi.Mixin{ID: mixTag}}},
		{"delete and delete mixin", store.Mutation{Delete: "/compute/x", DeleteMixin: mixTag}},
		{"entity without location", store.Mutation{Put: &occi.Entity{Kind: kindCompute}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "Write", s.Write(ctx, tc.m), occi.InvalidArgument)
		})
	}
	if n, err := s.Count(ctx, store.Query{}); err != nil || n != 0 {
		t.Errorf("Count after invalid writes: got %d, %v; want 0, nil", n, err)
	}
}

// snapshot is everything a store holds, for before/after comparisons.
type snapshot struct {
	Entities []*occi.Entity
	Mixins   []*occi.Mixin
}

func snap(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	es, err := s.List(ctx, store.Query{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ms, err := s.ListMixins(ctx)
	if err != nil {
		t.Fatalf("ListMixins: %v", err)
	}
	return snapshot{es, ms}
}

func testAtomicity(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	a := compute("/compute/a", "alice", mixUbuntu)
	b := compute("/compute/b", "alice")
	l := link("/link/networkinterface/l", "network", "/compute/a", "/network/n", "alice")
	m := &occi.Mixin{ID: mixTag, Title: "prod", Location: "/tags/prod/", Owner: "alice"}
	mustWrite(t, s, put(a, 0), put(b, 0), put(l, 0), store.Mutation{PutMixin: m})
	mustWrite(t, s, put(b, 1)) // b at revision 2
	before := snap(t, s)

	newC := func() *occi.Entity { return compute("/compute/c", "alice", mixTag) }
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
		{"failing last", []store.Mutation{put(newC(), 0), put(changedA(), 1), put(compute("/compute/b", ""), 1)}, occi.Conflict},
		{"failing first", []store.Mutation{put(compute("/compute/b", ""), 0), put(newC(), 0), put(changedA(), 1)}, occi.AlreadyExists},
		{"failing middle", []store.Mutation{put(newC(), 0), {Delete: "/compute/missing", Expect: 1}, {Delete: "/compute/b", Expect: 2}}, occi.NotFound},
		{"mixins then failing", []store.Mutation{
			{PutMixin: &occi.Mixin{ID: mixDebian, Owner: "alice"}},
			{DeleteMixin: mixTag},
			{Delete: "/compute/a", Expect: 1},
			{Delete: "/link/networkinterface/l", Expect: store.AnyRevision},
			{PutMixin: &occi.Mixin{ID: mixUbuntu}, Expect: 5},
		}, occi.NotFound},
		{"failing mixin create", []store.Mutation{{Delete: "/compute/b", Expect: 2}, put(newC(), 0), {PutMixin: m, Expect: store.MustNotExist}}, occi.AlreadyExists},
		{"invalid last", []store.Mutation{put(newC(), 0), {Delete: "/compute/b", Expect: 2}, {}}, occi.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var revs []int64
			for _, m := range tc.muts {
				if m.Put != nil {
					m.Put.Revision = 42
					revs = append(revs, 42)
				}
			}
			err := s.Write(ctx, tc.muts...)
			wantCode(t, "Write", err, tc.wantCode)
			if diff := cmp.Diff(before, snap(t, s), snapOpts); diff != "" {
				t.Errorf("a failed batch changed the store (-before +after):\n%s", diff)
			}
			i := 0
			for _, m := range tc.muts {
				if m.Put != nil {
					if m.Put.Revision != revs[i] {
						t.Errorf("failed batch set Revision of %s: got %d, want it left at %d", m.Put.Location, m.Put.Revision, revs[i])
					}
					i++
				}
			}
		})
	}
}

func testBatchOrder(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	first := compute("/compute/o", "alice")
	second := compute("/compute/o", "alice")
	second.Title = "second"
	third := compute("/compute/o", "alice")
	third.Title = "third"
	mustWrite(t, s, put(first, store.MustNotExist), put(second, 1), put(third, store.AnyRevision))
	if first.Revision != 1 || second.Revision != 2 || third.Revision != 3 {
		t.Errorf("revisions in one batch: got %d, %d, %d; want 1, 2, 3", first.Revision, second.Revision, third.Revision)
	}
	got := mustGet(t, s, "/compute/o")
	if got.Title != "third" || got.Revision != 3 {
		t.Errorf("after the batch: got title %q revision %d, want third and 3", got.Title, got.Revision)
	}
	gone := compute("/compute/gone", "alice", mixTag)
	mustWrite(t, s, put(gone, store.MustNotExist), store.Mutation{Delete: gone.Location, Expect: 1})
	if _, err := s.Get(ctx, gone.Location); occi.ErrorCode(err) != occi.NotFound {
		t.Errorf("Get of an entity created and deleted in one batch: got %v, want NotFound", err)
	}
	if n, err := s.Count(ctx, store.Query{Mixin: mixTag}); err != nil || n != 0 {
		t.Errorf("Count by mixin after create+delete: got %d, %v; want 0", n, err)
	}
	m := &occi.Mixin{ID: mixTag, Title: "one"}
	m2 := &occi.Mixin{ID: mixTag, Title: "two"}
	mustWrite(t, s, store.Mutation{PutMixin: m}, store.Mutation{PutMixin: m2, Expect: 1})
	gm, err := s.GetMixin(ctx, mixTag)
	if err != nil || gm.Title != "two" {
		t.Errorf("GetMixin after two puts in one batch: got %+v, %v; want title two", gm, err)
	}
}

// seed is the data set of the list tests.
func seed() []*occi.Entity {
	var es []*occi.Entity
	for i := 0; i < 25; i++ {
		owner := "alice"
		if i%3 == 0 {
			owner = "bob"
		}
		var mixins []occi.CategoryID
		switch i % 4 {
		case 0:
			mixins = []occi.CategoryID{mixUbuntu}
		case 1:
			mixins = []occi.CategoryID{mixUbuntu, mixTag}
		case 2:
			mixins = []occi.CategoryID{mixDebian}
		}
		es = append(es, compute(fmt.Sprintf("/compute/c%02d", i), owner, mixins...))
	}
	for i := 0; i < 6; i++ {
		es = append(es, &occi.Entity{Location: fmt.Sprintf("/storage/s%d", i), Kind: kindStorage, Owner: "carol",
			Mixins: []occi.CategoryID{mixTag}, Attributes: occi.Attributes{"occi.storage.size": float64(i)}})
	}
	es = append(es,
		&occi.Entity{Location: "/network/n1", Kind: kindNetwork, Owner: "alice"},
		&occi.Entity{Location: "/network/n_%", Kind: kindNetwork, Owner: "alice"},
		&occi.Entity{Location: "/network/nX", Kind: kindNetwork, Owner: "alice"},
		&occi.Entity{Location: "/network/n%1", Kind: kindNetwork, Owner: "alice"},
		&occi.Entity{Location: "/compute/é-unicode", Kind: kindCompute, Owner: "alice"},
		&occi.Entity{Location: "/compute/z-last-ascii", Kind: kindCompute, Owner: "alice"},
		&occi.Entity{Location: "/compute/Z-upper", Kind: kindCompute, Owner: "alice"},
		&occi.Entity{Location: "/compute/\U0010FFFF", Kind: kindCompute, Owner: "alice"},
		&occi.Entity{Location: "/compute/\U0010FFFF/sub", Kind: kindCompute, Owner: "alice"},
		&occi.Entity{Location: "/computer/x", Kind: kindCompute, Owner: "alice"},
	)
	for i := 0; i < 8; i++ {
		src := fmt.Sprintf("/compute/c%02d", i%3)
		es = append(es, link(fmt.Sprintf("/link/networkinterface/l%d", i), "network", src, "/network/n1", "alice"))
	}
	for i := 0; i < 3; i++ {
		l := link(fmt.Sprintf("/link/storagelink/sl%d", i), "storage", "/compute/c00", fmt.Sprintf("/storage/s%d", i), "bob")
		l.Mixins = []occi.CategoryID{mixTag}
		es = append(es, l)
	}
	return es
}

func matches(e *occi.Entity, q store.Query) bool {
	if len(q.Kinds) > 0 {
		ok := false
		for _, k := range q.Kinds {
			ok = ok || k == e.Kind
		}
		if !ok {
			return false
		}
	}
	return (q.Mixin.IsZero() || e.HasMixin(q.Mixin)) &&
		(q.Owner == "" || e.Owner == q.Owner) &&
		(q.Source == "" || e.Source == q.Source) &&
		strings.HasPrefix(e.Location, q.Prefix)
}

// expect computes what q selects from es: the reference the stores must
// agree with.
func expect(es []*occi.Entity, q store.Query) (page []string, total int) {
	var all []string
	for _, e := range es {
		if matches(e, q) {
			all = append(all, e.Location)
		}
	}
	sort.Strings(all)
	total = len(all)
	if q.After != "" {
		i := sort.Search(len(all), func(i int) bool { return all[i] > q.After })
		all = all[i:]
	}
	if q.Offset > 0 {
		all = all[min(q.Offset, len(all)):]
	}
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return all, total
}

func locations(es []*occi.Entity) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Location)
	}
	return out
}

func testList(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	es := seed()
	var muts []store.Mutation
	for _, e := range es {
		muts = append(muts, put(e.Clone(), store.MustNotExist))
	}
	mustWrite(t, s, muts...)
	byLoc := map[string]*occi.Entity{}
	for _, e := range es {
		c := e.Clone()
		c.Revision = 1
		byLoc[e.Location] = c
	}
	for _, tc := range listQueries() {
		t.Run(tc.name, func(t *testing.T) {
			want, total := expect(es, tc.q)
			got, err := s.List(ctx, tc.q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(want, locations(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("List locations (-want +got):\n%s", diff)
			}
			for _, e := range got {
				if diff := cmp.Diff(byLoc[e.Location], e, entityOpts); diff != "" {
					t.Errorf("listed entity %s (-want +got):\n%s", e.Location, diff)
				}
			}
			n, err := s.Count(ctx, tc.q)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if n != total {
				t.Errorf("Count: got %d, want %d", n, total)
			}
		})
	}
}

// namedQuery is one case of the list tests.
type namedQuery struct {
	name string
	q    store.Query
}

// listQueries are the queries the list tests ask of the seed data: every
// field alone and combined, the shapes the engine asks (a collection of
// one owner, a page of it by offset or after a location), and edge cases.
func listQueries() []namedQuery {
	ks := func(ids ...occi.CategoryID) []occi.CategoryID { return ids }
	return []namedQuery{
		{"everything", store.Query{}},
		{"by kind", store.Query{Kinds: ks(kindCompute)}},
		{"by two kinds", store.Query{Kinds: ks(kindStorage, kindNetwork)}},
		{"by unknown kind", store.Query{Kinds: ks(occi.CategoryID{Scheme: infraScheme, Term: "nope"})}},
		{"by mixin", store.Query{Mixin: mixUbuntu}},
		{"by mixin across kinds", store.Query{Mixin: mixTag}},
		{"by mixin and kind", store.Query{Mixin: mixTag, Kinds: ks(kindStorage, kindStLink)}},
		{"by unknown mixin", store.Query{Mixin: occi.CategoryID{Scheme: tplScheme, Term: "nope"}}},
		{"by owner", store.Query{Owner: "bob"}},
		{"by owner and kind", store.Query{Owner: "bob", Kinds: ks(kindCompute)}},
		{"by owner and mixin", store.Query{Owner: "alice", Mixin: mixUbuntu}},
		{"by source", store.Query{Source: "/compute/c01"}},
		{"by source and kind", store.Query{Source: "/compute/c00", Kinds: ks(kindStLink)}},
		{"by prefix", store.Query{Prefix: "/compute/"}},
		{"by prefix without slash", store.Query{Prefix: "/compute"}},
		{"by prefix with LIKE wildcards", store.Query{Prefix: "/network/n_"}},
		{"by prefix with percent", store.Query{Prefix: "/network/n%"}},
		{"by prefix ending in the last code point", store.Query{Prefix: "/compute/\U0010FFFF"}},
		{"by prefix and mixin", store.Query{Prefix: "/link/", Mixin: mixTag}},
		{"limit", store.Query{Kinds: ks(kindCompute), Limit: 5}},
		{"offset", store.Query{Kinds: ks(kindCompute), Offset: 20}},
		{"offset past the end", store.Query{Kinds: ks(kindCompute), Offset: 500, Limit: 3}},
		{"offset and limit", store.Query{Kinds: ks(kindCompute), Offset: 3, Limit: 4}},
		{"after", store.Query{Kinds: ks(kindCompute), After: "/compute/c10"}},
		{"after a missing location", store.Query{Kinds: ks(kindCompute), After: "/compute/c10x"}},
		{"after, offset and limit", store.Query{Kinds: ks(kindCompute), After: "/compute/c03", Offset: 2, Limit: 3}},
		{"after by mixin with limit", store.Query{Mixin: mixUbuntu, After: "/compute/c05", Limit: 4}},
		{"after by owner with limit", store.Query{Owner: "alice", After: "/compute/c20", Limit: 6}},
		{"after the last", store.Query{After: "/\U0010FFFF"}},
		{"everything combined", store.Query{Kinds: ks(kindCompute, kindStorage), Mixin: mixTag, Owner: "alice", Prefix: "/compute/c", After: "/compute/c01", Limit: 2}},
		{"kind of an owner", store.Query{Kinds: ks(kindCompute), Owner: "alice"}},
		{"kinds of an owner, a page", store.Query{Kinds: ks(kindCompute, kindStorage), Owner: "alice", Offset: 4, Limit: 5}},
		{"kind of an owner, after", store.Query{Kinds: ks(kindCompute), Owner: "bob", After: "/compute/c06", Limit: 3}},
		{"kind of an owner, offset past the end", store.Query{Kinds: ks(kindCompute), Owner: "bob", Offset: 100, Limit: 10}},
		{"mixin of an owner", store.Query{Mixin: mixTag, Owner: "carol"}},
		{"mixin, offset", store.Query{Mixin: mixUbuntu, Offset: 5, Limit: 5}},
		{"mixin of an owner, offset without limit", store.Query{Mixin: mixUbuntu, Owner: "alice", Offset: 2}},
		{"source of an owner", store.Query{Source: "/compute/c00", Owner: "bob"}},
		{"prefix of an owner", store.Query{Prefix: "/compute/", Owner: "alice", Offset: 3}},
		{"prefix of an owner, after", store.Query{Prefix: "/link/", Owner: "alice", After: "/link/networkinterface/l3", Limit: 2}},
		{"nobody's", store.Query{Owner: "nobody"}},
	}
}

func testPagination(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	es := seed()
	for _, e := range es {
		mustWrite(t, s, put(e.Clone(), store.MustNotExist))
	}
	for _, q := range []store.Query{{}, {Kinds: []occi.CategoryID{kindCompute}}, {Mixin: mixTag}, {Owner: "alice"}} {
		want, _ := expect(es, q)
		for _, size := range []int{1, 4, 7, 100} {
			t.Run(fmt.Sprintf("%+v/keyset %d", q, size), func(t *testing.T) {
				var got []string
				p := q
				p.Limit = size
				for pages := 0; pages <= len(want)+1; pages++ {
					page, err := s.List(ctx, p)
					if err != nil {
						t.Fatalf("List: %v", err)
					}
					if len(page) > size {
						t.Fatalf("page of %d entities, want at most %d", len(page), size)
					}
					got = append(got, locations(page)...)
					if len(page) < size {
						break
					}
					p.After = page[len(page)-1].Location
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("pages put together (-want +got):\n%s", diff)
				}
			})
			t.Run(fmt.Sprintf("%+v/offset %d", q, size), func(t *testing.T) {
				var got []string
				p := q
				p.Limit = size
				for p.Offset = 0; p.Offset <= len(want); p.Offset += size {
					page, err := s.List(ctx, p)
					if err != nil {
						t.Fatalf("List: %v", err)
					}
					got = append(got, locations(page)...)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("pages put together (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func richMixin() *occi.Mixin {
	return &occi.Mixin{
		ID:       occi.CategoryID{Scheme: "http://example.org/occid/users/alice/os_tpl#", Term: "saved-web-01"},
		Title:    "Saved image of web-01 — ünïcødé",
		Depends:  []occi.CategoryID{{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "os_tpl"}},
		Applies:  []occi.CategoryID{kindCompute},
		Location: "/os_tpl/saved-web-01/",
		Attributes: []occi.AttributeDef{
			{Name: "occi.compute.cores", Type: occi.TypeInteger, Mutable: true, Default: int64(2)},
			{Name: "occi.compute.memory", Type: occi.TypeFloat, Mutable: true, Required: true, Default: 4.0},
			{Name: "x.enum", Type: occi.TypeEnum, Enum: []string{"a", "b"}, Default: "a", Description: "an enum"},
			{Name: "x.pattern", Pattern: "[a-z]+", Description: "lower case"},
			{Name: "x.list", Type: occi.TypeList, Default: []any{int64(1), 1.5, "x"}},
			{Name: "x.hash", Type: occi.TypeHash, Default: map[string]any{"k": []any{true}}},
			{Name: "x.bool", Type: occi.TypeBool, Default: false},
		},
		Actions: []occi.CategoryID{actStart},
		Owner:   "alice",
	}
}

func testMixins(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	rich := richMixin()
	tag := &occi.Mixin{ID: mixTag, Title: "prod", Location: "/tags/prod/", Owner: "alice"}
	provider := &occi.Mixin{ID: mixUbuntu, Title: "Ubuntu", Location: "/os_tpl/ubuntu/"}
	mustWrite(t, s, store.Mutation{PutMixin: rich}, store.Mutation{PutMixin: tag}, store.Mutation{PutMixin: provider})

	t.Run("round trip", func(t *testing.T) {
		got, err := s.GetMixin(ctx, rich.ID)
		if err != nil {
			t.Fatalf("GetMixin: %v", err)
		}
		if diff := cmp.Diff(richMixin(), got, mixinOpts); diff != "" {
			t.Errorf("GetMixin (-want +got):\n%s", diff)
		}
		for i, a := range richMixin().Attributes {
			checkTypes(t, a.Name, a.Default, got.Attributes[i].Default)
		}
		got.Attributes[0].Default = "changed"
		again, _ := s.GetMixin(ctx, rich.ID)
		if diff := cmp.Diff(richMixin(), again, mixinOpts); diff != "" {
			t.Errorf("changing a returned mixin changed the store (-want +got):\n%s", diff)
		}
	})
	t.Run("list ordered by type identifier", func(t *testing.T) {
		got, err := s.ListMixins(ctx)
		if err != nil {
			t.Fatalf("ListMixins: %v", err)
		}
		want := []*occi.Mixin{rich, tag, provider}
		sort.Slice(want, func(i, j int) bool { return want[i].ID.String() < want[j].ID.String() })
		if diff := cmp.Diff(want, got, mixinOpts); diff != "" {
			t.Errorf("ListMixins (-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name     string
		m        store.Mutation
		wantCode occi.Code
	}{
		{"create existing", store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Title: "x"}, Expect: store.MustNotExist}, occi.AlreadyExists},
		{"update with stale revision", store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Title: "x"}, Expect: 2}, occi.Conflict},
		{"update with current revision", store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Title: "v2", Owner: "alice"}, Expect: 1}, occi.OK},
		{"overwrite", store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Title: "v3", Owner: "alice"}, Expect: store.AnyRevision}, occi.OK},
		{"delete with stale revision", store.Mutation{DeleteMixin: mixTag, Expect: 2}, occi.Conflict},
		{"delete with current revision", store.Mutation{DeleteMixin: mixTag, Expect: 3}, occi.OK},
		{"delete again", store.Mutation{DeleteMixin: mixTag}, occi.NotFound},
		{"delete any revision", store.Mutation{DeleteMixin: mixUbuntu, Expect: store.AnyRevision}, occi.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "Write", s.Write(ctx, tc.m), tc.wantCode)
			if tc.m.PutMixin != nil && tc.wantCode == occi.OK {
				got, err := s.GetMixin(ctx, tc.m.PutMixin.ID)
				if err != nil {
					t.Fatalf("GetMixin: %v", err)
				}
				if diff := cmp.Diff(tc.m.PutMixin, got, mixinOpts); diff != "" {
					t.Errorf("GetMixin after put (-want +got):\n%s", diff)
				}
			}
			if !tc.m.DeleteMixin.IsZero() && tc.wantCode == occi.OK {
				_, err := s.GetMixin(ctx, tc.m.DeleteMixin)
				wantCode(t, "GetMixin after delete", err, occi.NotFound)
			}
		})
	}
	got, err := s.ListMixins(ctx)
	if err != nil {
		t.Fatalf("ListMixins: %v", err)
	}
	if diff := cmp.Diff([]*occi.Mixin{rich}, got, mixinOpts); diff != "" {
		t.Errorf("ListMixins after deletes (-want +got):\n%s", diff)
	}
}

func testReopen(t *testing.T, h Harness) {
	ctx := context.Background()
	s, reopen := open(t, h)
	if reopen == nil {
		t.Skip("the store keeps nothing after Close (Harness.Open returned no Reopen)")
	}
	var muts []store.Mutation
	for _, e := range seed() {
		muts = append(muts, put(e, store.MustNotExist))
	}
	muts = append(muts, put(richResource(), store.MustNotExist), store.Mutation{PutMixin: richMixin()},
		store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Owner: "alice"}})
	mustWrite(t, s, muts...)
	up := richResource()
	up.Title = "updated"
	mustWrite(t, s, put(up, 1), store.Mutation{Delete: "/compute/c00", Expect: 1}, store.Mutation{DeleteMixin: mixTag})
	before := snap(t, s)

	s2 := reopenStore(t, s, reopen)
	if diff := cmp.Diff(before, snap(t, s2), snapOpts); diff != "" {
		t.Fatalf("after reopen (-before +after):\n%s", diff)
	}
	if got := mustGet(t, s2, up.Location); got.Revision != 2 || got.Title != "updated" {
		t.Errorf("after reopen: got revision %d title %q, want 2 and updated", got.Revision, got.Title)
	}
	up.Title = "after reopen"
	mustWrite(t, s2, put(up, 2))
	if up.Revision != 3 {
		t.Errorf("revision after reopen and update: got %d, want 3", up.Revision)
	}
	wantCode(t, "stale update after reopen", s2.Write(ctx, put(richResource(), 2)), occi.Conflict)
	n, err := s2.Count(ctx, store.Query{Mixin: mixUbuntu})
	if want, _ := expect(before.Entities, store.Query{Mixin: mixUbuntu}); err != nil || n != len(want) {
		t.Errorf("Count by mixin after reopen: got %d, %v; want %d", n, err, len(want))
	}

	s3 := reopenStore(t, s2, reopen)
	if got := mustGet(t, s3, up.Location); got.Revision != 3 || got.Title != "after reopen" {
		t.Errorf("after second reopen: got revision %d title %q, want 3 and %q", got.Revision, got.Title, "after reopen")
	}
}

// stores returns n stores for concurrency tests: one, or with a shared
// harness, the given one and a second on the same data.
func stores(t *testing.T, h Harness) []store.Store {
	s, reopen := open(t, h)
	if h.Shared && reopen != nil {
		return []store.Store{s, wrap(t, reopen(t))}
	}
	return []store.Store{s}
}

func testConcurrentSameEntity(t *testing.T, h Harness) {
	ctx := context.Background()
	ss := stores(t, h)
	e := compute("/compute/contended", "alice")
	e.Attributes["counter"] = int64(0)
	mustWrite(t, ss[0], put(e, store.MustNotExist))

	const writers, rounds = 8, 4
	rev := int64(1)
	t.Run("one winner per revision", func(t *testing.T) {
		for r := 0; r < rounds; r++ {
			var wins, conflicts atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := compute(e.Location, "alice")
					c.Attributes["counter"] = int64(0)
					c.Title = fmt.Sprintf("round %d writer %d", r, w)
					err := ss[w%len(ss)].Write(ctx, put(c, rev))
					switch occi.ErrorCode(err) {
					case occi.OK:
						wins.Add(1)
					case occi.Conflict:
						conflicts.Add(1)
					default:
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("round %d: Write: got %v, want success or Conflict", r, err)
			}
			if wins.Load() != 1 || conflicts.Load() != writers-1 {
				t.Fatalf("round %d: got %d winners and %d conflicts, want 1 and %d", r, wins.Load(), conflicts.Load(), writers-1)
			}
			rev++
			if got := mustGet(t, ss[0], e.Location); got.Revision != rev {
				t.Fatalf("round %d: stored revision %d, want %d", r, got.Revision, rev)
			}
		}
	})

	t.Run("no lost update", func(t *testing.T) {
		const workers, increments = 6, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := ss[w%len(ss)]
				for done := 0; done < increments; {
					cur, err := s.Get(ctx, e.Location)
					if err != nil {
						errs <- err
						return
					}
					cur.Attributes["counter"] = cur.Attributes["counter"].(int64) + 1
					err = s.Write(ctx, put(cur, cur.Revision))
					switch occi.ErrorCode(err) {
					case occi.OK:
						done++
					case occi.Conflict:
					default:
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("increment: %v", err)
		}
		for i, s := range ss {
			got := mustGet(t, s, e.Location)
			if c := got.Attributes["counter"]; c != int64(workers*increments) {
				t.Errorf("store %d: counter: got %v, want %d", i, c, workers*increments)
			}
			if want := rev + workers*increments; got.Revision != want {
				t.Errorf("store %d: revision: got %d, want %d", i, got.Revision, want)
			}
		}
	})
}

func testConcurrentDifferentEntities(t *testing.T, h Harness) {
	ctx := context.Background()
	ss := stores(t, h)
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ss[w%len(ss)]
			for i := 0; i < each; i++ {
				e := compute(fmt.Sprintf("/compute/w%d-%03d", w, i), fmt.Sprintf("user%d", w), mixTag)
				if err := s.Write(ctx, put(e, store.MustNotExist)); err != nil {
					errs <- err
					continue
				}
				if i%3 == 0 {
					e.Title = "updated"
					if err := s.Write(ctx, put(e, e.Revision)); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Write: %v", err)
	}
	for i, s := range ss {
		for _, q := range []store.Query{{}, {Mixin: mixTag}, {Kinds: []occi.CategoryID{kindCompute}}} {
			n, err := s.Count(ctx, q)
			if err != nil || n != workers*each {
				t.Errorf("store %d: Count(%+v): got %d, %v; want %d", i, q, n, err, workers*each)
			}
		}
		n, err := s.Count(ctx, store.Query{Owner: "user3"})
		if err != nil || n != each {
			t.Errorf("store %d: Count by owner: got %d, %v; want %d", i, n, err, each)
		}
		for w := 0; w < workers; w++ {
			for j := 0; j < each; j++ {
				loc := fmt.Sprintf("/compute/w%d-%03d", w, j)
				got, err := s.Get(ctx, loc)
				if err != nil {
					t.Errorf("store %d: Get(%s): %v", i, loc, err)
					continue
				}
				wantRev := int64(1)
				if j%3 == 0 {
					wantRev = 2
				}
				if got.Revision != wantRev {
					t.Errorf("store %d: %s: revision %d, want %d", i, loc, got.Revision, wantRev)
				}
			}
		}
	}
}

func testShared(t *testing.T, h Harness) {
	if !h.Shared {
		t.Skip("the harness does not share data between open stores (Harness.Shared is false)")
	}
	ctx := context.Background()
	s1, reopen := open(t, h)
	if reopen == nil {
		t.Fatal("Harness.Shared is set but Open returned no Reopen")
	}
	s2 := wrap(t, reopen(t))

	e := compute("/compute/shared", "alice", mixTag)
	mustWrite(t, s1, put(e, store.MustNotExist))
	got := mustGet(t, s2, e.Location)
	if got.Revision != 1 {
		t.Errorf("seen through the other store: revision %d, want 1", got.Revision)
	}
	got.Title = "from s2"
	mustWrite(t, s2, put(got, 1))
	if seen := mustGet(t, s1, e.Location); seen.Title != "from s2" || seen.Revision != 2 {
		t.Errorf("change through s2 seen through s1: got %q revision %d, want %q revision 2", seen.Title, seen.Revision, "from s2")
	}
	wantCode(t, "stale write through s1", s1.Write(ctx, put(e, 1)), occi.Conflict)
	wantCode(t, "create through s2 of what s1 created", s2.Write(ctx, put(compute(e.Location, ""), store.MustNotExist)), occi.AlreadyExists)
	mustWrite(t, s1, store.Mutation{PutMixin: &occi.Mixin{ID: mixTag, Owner: "alice"}})
	if _, err := s2.GetMixin(ctx, mixTag); err != nil {
		t.Errorf("mixin put through s1, GetMixin through s2: %v", err)
	}
	mustWrite(t, s2, store.Mutation{Delete: e.Location, Expect: 2})
	_, err := s1.Get(ctx, e.Location)
	wantCode(t, "Get through s1 after delete through s2", err, occi.NotFound)
}

func testContextCancelled(t *testing.T, h Harness) {
	s, _ := open(t, h)
	mustWrite(t, s, put(compute("/compute/here", "alice"), store.MustNotExist), putNote(note("/note/here", "kept"), store.MustNotExist))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	type namedCall struct {
		name string
		call func() error
	}
	tests := []namedCall{
		{"Get", func() error { _, err := s.Get(ctx, "/compute/here"); return err }},
		{"List", func() error { _, err := s.List(ctx, store.Query{}); return err }},
		{"Count", func() error { _, err := s.Count(ctx, store.Query{}); return err }},
		{"GetMixin", func() error { _, err := s.GetMixin(ctx, mixTag); return err }},
		{"ListMixins", func() error { _, err := s.ListMixins(ctx); return err }},
		{"Write", func() error { return s.Write(ctx, put(compute("/compute/new", "alice"), store.MustNotExist)) }},
		{"Write delete", func() error { return s.Write(ctx, store.Mutation{Delete: "/compute/here"}) }},
		{"ListNotes", func() error { _, err := s.ListNotes(ctx, ""); return err }},
		{"Write note", func() error { return s.Write(ctx, putNote(note("/note/new", "new"), store.MustNotExist)) }},
		{"Write note delete", func() error { return s.Write(ctx, store.Mutation{DeleteNote: "/note/here"}) }},
	}
	if ls, ok := s.Store.(locationStore); ok {
		tests = append(tests, namedCall{"ListLocations", func() error { _, err := ls.ListLocations(ctx, store.Query{}); return err }})
	}
	if ls, ok := s.Store.(linkedStore); ok {
		tests = append(tests, namedCall{"GetLinked", func() error { _, _, err := ls.GetLinked(ctx, "/compute/here"); return err }})
	}
	if ss, ok := s.Store.(sourcedStore); ok {
		tests = append(tests, namedCall{"ListSourced", func() error { _, err := ss.ListSourced(ctx, []string{"/compute/here"}); return err }})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want an error wrapping context.Canceled", err)
			}
		})
	}
	got, err := s.List(context.Background(), store.Query{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff([]string{"/compute/here"}, locations(got)); diff != "" {
		t.Errorf("cancelled writes changed the store (-want +got):\n%s", diff)
	}
	notes := listNotes(t, s, "")
	if len(notes) != 1 || notes[0].Key != "/note/here" || notes[0].Revision != 1 || string(notes[0].Body) != "kept" {
		t.Errorf("cancelled writes changed the notes: got %+v, want /note/here at revision 1", notes)
	}
}

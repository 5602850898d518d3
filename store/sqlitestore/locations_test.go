package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// TestListLocations checks that ListLocations returns the locations of
// what List returns, in the same order, for every kind of query.
func TestListLocations(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loc.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	storage := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storage"}
	mixin := occi.CategoryID{Scheme: "http://example.org/os_tpl#", Term: "ubuntu"}
	var muts []store.Mutation
	for i := range 300 {
		kind := compute
		if i%3 == 0 {
			kind = storage
		}
		e := &occi.Entity{Location: fmt.Sprintf("/%s/%04d", kind.Term, i), Kind: kind, Owner: fmt.Sprintf("u%d", i%4)}
		if i%5 == 0 {
			e.Mixins = []occi.CategoryID{mixin}
		}
		if i%7 == 0 {
			e.Source = "/compute/0001"
		}
		muts = append(muts, store.Mutation{Put: e})
	}
	if err := s.Write(ctx, muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	tests := []struct {
		name string
		q    store.Query
	}{
		{"everything", store.Query{}},
		{"kind", store.Query{Kinds: []occi.CategoryID{compute}}},
		{"kind of an owner", store.Query{Kinds: []occi.CategoryID{compute}, Owner: "u1"}},
		{"kinds of an owner, a page", store.Query{Kinds: []occi.CategoryID{compute, storage}, Owner: "u2", Offset: 10, Limit: 20}},
		{"kind, after", store.Query{Kinds: []occi.CategoryID{compute}, Owner: "u1", After: "/compute/0100", Limit: 7}},
		{"mixin of an owner", store.Query{Mixin: mixin, Owner: "u0"}},
		{"mixin, offset", store.Query{Mixin: mixin, Offset: 5, Limit: 5}},
		{"source", store.Query{Source: "/compute/0001", Owner: "u3"}},
		{"prefix", store.Query{Prefix: "/storage/", Owner: "u0", Offset: 3}},
		{"past the end", store.Query{Kinds: []occi.CategoryID{compute}, Offset: 1000, Limit: 10}},
		{"nothing", store.Query{Owner: "nobody"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.List(ctx, tc.q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := []string{}
			for _, e := range es {
				want = append(want, e.Location)
			}
			got, err := s.ListLocations(ctx, tc.q)
			if err != nil {
				t.Fatalf("ListLocations: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListLocations (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("bad query", func(t *testing.T) {
		if _, err := s.ListLocations(ctx, store.Query{Limit: -1}); occi.ErrorCode(err) != occi.InvalidArgument {
			t.Errorf("got %v, want InvalidArgument", err)
		}
	})
}

// TestGetLinked checks that GetLinked returns what Get returns and the
// entities whose source is the location, of every owner, in order.
func TestGetLinked(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "linked.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	link := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storagelink"}
	muts := []store.Mutation{
		{Put: &occi.Entity{Location: "/compute/c1", Kind: compute, Owner: "u1", Title: "one", Attributes: occi.Attributes{"occi.compute.cores": int64(2)}}},
		{Put: &occi.Entity{Location: "/compute/c2", Kind: compute, Owner: "u1"}},
		{Put: &occi.Entity{Location: "/storagelink/l2", Kind: link, Owner: "u1", Source: "/compute/c1", Target: "/storage/s1"}},
		{Put: &occi.Entity{Location: "/storagelink/l1", Kind: link, Owner: "u2", Source: "/compute/c1", Target: "/storage/s2"}},
		{Put: &occi.Entity{Location: "/storagelink/l3", Kind: link, Owner: "u1", Source: "/compute/c2", Target: "/storage/s1"}},
	}
	if err := s.Write(ctx, muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	tests := []struct {
		name, location string
		wantLinks      []string
		wantCode       occi.Code
	}{
		{"two links of two owners", "/compute/c1", []string{"/storagelink/l1", "/storagelink/l2"}, occi.OK},
		{"one link", "/compute/c2", []string{"/storagelink/l3"}, occi.OK},
		{"a link has none", "/storagelink/l1", nil, occi.OK},
		{"missing", "/compute/none", nil, occi.NotFound},
		{"empty location", "", nil, occi.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ent, links, err := s.GetLinked(ctx, tc.location)
			if occi.ErrorCode(err) != tc.wantCode {
				t.Fatalf("got error %v, want code %v", err, tc.wantCode)
			}
			if err != nil {
				return
			}
			want, err := s.Get(ctx, tc.location)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if diff := cmp.Diff(want, ent); diff != "" {
				t.Errorf("entity (-Get +GetLinked):\n%s", diff)
			}
			var got []string
			for _, l := range links {
				got = append(got, l.Location)
				if l.Source != tc.location {
					t.Errorf("link %s has source %q, want %q", l.Location, l.Source, tc.location)
				}
			}
			if diff := cmp.Diff(tc.wantLinks, got); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListSourced(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "sourced.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	link := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storagelink"}
	var muts []store.Mutation
	for i, src := range []string{"/compute/c2", "/compute/c1", "/compute/c2", "/compute/c3", "/compute/c1"} {
		muts = append(muts, store.Mutation{Put: &occi.Entity{Location: fmt.Sprintf("/storagelink/l%d", i), Kind: link, Owner: fmt.Sprintf("u%d", i%2), Source: src, Target: "/storage/s"}})
	}
	if err := s.Write(ctx, muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	tests := []struct {
		name    string
		sources []string
		want    []string
	}{
		{"two sources", []string{"/compute/c1", "/compute/c2"}, []string{"/storagelink/l0", "/storagelink/l1", "/storagelink/l2", "/storagelink/l4"}},
		{"one source", []string{"/compute/c3"}, []string{"/storagelink/l3"}},
		{"no links", []string{"/compute/none", "a \"quoted\" one"}, nil},
		{"none asked", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.ListSourced(ctx, tc.sources)
			if err != nil {
				t.Fatalf("ListSourced: %v", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Location)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ListSourced (-want +got):\n%s", diff)
			}
		})
	}
}

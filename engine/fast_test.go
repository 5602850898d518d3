package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// fastStore adds the optional store interfaces to a store, built from its
// plain methods, and counts their use.
type fastStore struct {
	store.Store
	locations, linked, sourced int
}

func (s *fastStore) ListSourced(ctx context.Context, sources []string) ([]*occi.Entity, error) {
	s.sourced++
	var out []*occi.Entity
	for _, src := range sources {
		es, err := s.List(ctx, store.Query{Source: src})
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	slices.SortFunc(out, func(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) })
	return out, nil
}

func (s *fastStore) ListLocations(ctx context.Context, q store.Query) ([]string, error) {
	s.locations++
	es, err := s.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range es {
		out = append(out, e.Location)
	}
	return out, nil
}

func (s *fastStore) GetLinked(ctx context.Context, location string) (*occi.Entity, []*occi.Entity, error) {
	s.linked++
	e, err := s.Get(ctx, location)
	if err != nil {
		return nil, nil, err
	}
	links, err := s.List(ctx, store.Query{Source: location})
	return e, links, err
}

var (
	_ engine.LocationStore = (*fastStore)(nil)
	_ engine.LinkedStore   = (*fastStore)(nil)
	_ engine.SourcedStore  = (*fastStore)(nil)
)

func TestListLocationsMatchesList(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		f := newFixture(t, 0, nil, engine.Config{DefaultPage: 4, MaxPage: 10})
		eng := f.eng
		fs := &fastStore{Store: f.store}
		if withStore {
			var err error
			eng, err = engine.New(engine.Config{Store: fs, Driver: f.sim, DefaultPage: 4, MaxPage: 10})
			mustOK(t, err)
			t.Cleanup(func() { eng.Close() })
		}
		tag := &occi.Mixin{ID: occi.CategoryID{Scheme: eng.UserScheme("alice"), Term: "web"}, Location: "/users/alice/tags/web/"}
		tag, err := eng.DefineMixin(ctx, tag)
		mustOK(t, err)
		for i := range 7 {
			c, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Title: "c", Attributes: occi.Attributes{"occi.compute.cores": int64(1 + i%2)}})
			mustOK(t, err)
			if i%2 == 0 {
				_, err = eng.Associate(ctx, "/users/alice/tags/web/", []string{c.Location})
				mustOK(t, err)
			}
		}
		_, err = eng.Create(ctx, "/storage/", &occi.Entity{Kind: infra.Storage, Attributes: occi.Attributes{"occi.storage.size": 1.0}})
		mustOK(t, err)
		tests := []struct {
			name string
			q    occi.ListQuery
		}{
			{"kind collection", occi.ListQuery{Collection: "/compute/"}},
			{"second page", occi.ListQuery{Collection: "/compute/", Page: 2, Number: 3}},
			{"past the end", occi.ListQuery{Collection: "/compute/", Page: 9}},
			{"mixin collection", occi.ListQuery{Collection: "/users/alice/tags/web/"}},
			{"unbound", occi.ListQuery{Collection: "/", Number: 10}},
			{"filtered by kind", occi.ListQuery{Collection: "/resource/", Categories: []occi.CategoryID{infra.Storage}}},
			{"filtered by mixin", occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{tag.ID}}},
			{"filtered by attribute", occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.cores": int64(2)}}},
			{"too large", occi.ListQuery{Collection: "/compute/", Number: 11}},
			{"negative page", occi.ListQuery{Collection: "/compute/", Page: -1}},
			{"unknown mixin", occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{{Scheme: "http://x#", Term: "y"}}}},
			{"not a collection", occi.ListQuery{Collection: "/nowhere/"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				es, lerr := eng.List(ctx, tc.q)
				locs, err := eng.ListLocations(ctx, tc.q)
				if occi.ErrorCode(err) != occi.ErrorCode(lerr) || occi.ErrorMessage(err) != occi.ErrorMessage(lerr) {
					t.Fatalf("ListLocations error %v, List error %v; want the same", err, lerr)
				}
				if lerr != nil {
					return
				}
				want := []string{}
				for _, e := range es {
					want = append(want, e.Location)
				}
				if diff := cmp.Diff(want, locs); diff != "" {
					t.Errorf("ListLocations (-List +ListLocations):\n%s", diff)
				}
			})
		}
		if withStore && fs.locations == 0 {
			t.Errorf("the engine never used the store's ListLocations")
		}
	}
}

func TestRequestScopeGet(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	fs := &fastStore{Store: f.store}
	eng, err := engine.New(engine.Config{Store: fs, Driver: f.sim})
	mustOK(t, err)
	t.Cleanup(func() { eng.Close() })
	c, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Title: "c"})
	mustOK(t, err)
	s, err := eng.Create(ctx, "/storage/", &occi.Entity{Kind: infra.Storage, Attributes: occi.Attributes{"occi.storage.size": 1.0}})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/storagelink/", &occi.Entity{Kind: infra.StorageLink, Source: c.Location, Target: s.Location})
	mustOK(t, err)
	bob := occi.WithIdentity(context.Background(), occi.Identity{User: "bob"})
	tests := []struct {
		name     string
		ctx      context.Context
		location string
		wantCode occi.Code
	}{
		{"compute with a link", ctx, c.Location, occi.OK},
		{"storage", ctx, s.Location, occi.OK},
		{"someone else's", bob, c.Location, occi.NotFound},
		{"missing", ctx, "/compute/none", occi.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fs.linked
			sctx := eng.WithRequestScope(tc.ctx)
			target, err := eng.Resolve(sctx, tc.location)
			if occi.ErrorCode(err) != tc.wantCode {
				t.Fatalf("Resolve: got %v, want code %v", err, tc.wantCode)
			}
			if err != nil {
				return
			}
			if target.Type != occi.TargetEntity {
				t.Fatalf("Resolve: got %v, want an entity", target.Type)
			}
			got, err := eng.Get(sctx, tc.location)
			mustOK(t, err)
			want, err := eng.Get(tc.ctx, tc.location)
			mustOK(t, err)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Get in a request scope (-plain +scoped):\n%s", diff)
			}
			if fs.linked != before+1 {
				t.Errorf("GetLinked calls: got %d, want 1", fs.linked-before)
			}
		})
	}
}

func TestDiscoveryVersion(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	v := func(c context.Context) string {
		t.Helper()
		s, err := f.eng.DiscoveryVersion(c)
		mustOK(t, err)
		return s
	}
	bob := occi.WithIdentity(context.Background(), occi.Identity{User: "bob"})
	first := v(ctx)
	if again := v(ctx); again != first {
		t.Errorf("version changed without a change: %q, then %q", first, again)
	}
	if v(bob) == first {
		t.Errorf("two users share the version %q; their tags differ", first)
	}
	_, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Scheme: f.eng.UserScheme("alice"), Term: "db"}, Location: "/users/alice/tags/db/"})
	mustOK(t, err)
	if v(ctx) == first {
		t.Errorf("version %q did not change when a tag was defined", first)
	}
}

func TestListWithSourcedStore(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	fs := &fastStore{Store: f.store}
	eng, err := engine.New(engine.Config{Store: fs, Driver: f.sim})
	mustOK(t, err)
	t.Cleanup(func() { eng.Close() })
	s, err := eng.Create(ctx, "/storage/", &occi.Entity{Kind: infra.Storage, Attributes: occi.Attributes{"occi.storage.size": 1.0}})
	mustOK(t, err)
	for i := range 4 {
		c, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute})
		mustOK(t, err)
		for range i % 3 {
			_, err = eng.Create(ctx, "/storagelink/", &occi.Entity{Kind: infra.StorageLink, Source: c.Location, Target: s.Location})
			mustOK(t, err)
		}
	}
	for _, q := range []occi.ListQuery{
		{Collection: "/compute/"},
		{Collection: "/resource/"},
		{Collection: "/", Number: 3, Page: 2},
		{Collection: "/storagelink/"},
	} {
		t.Run(q.Collection, func(t *testing.T) {
			want, err := f.eng.List(ctx, q)
			mustOK(t, err)
			got, err := eng.List(ctx, q)
			mustOK(t, err)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("List with SourcedStore (-without +with):\n%s", diff)
			}
		})
	}
	if fs.sourced == 0 {
		t.Errorf("the engine never used the store's ListSourced")
	}
}

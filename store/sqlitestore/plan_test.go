package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

// TestQueryPlans checks that a page of every kind of collection the engine
// lists is read from an index in location order: no full scan of entities
// and no sort. A kind of every owner, which the engine never lists (it
// lists a kind for one owner), has no index of its own since schema 3: its
// page is read from the index of kind and owner and sorted, and its count
// is read from that index alone.
func TestQueryPlans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	kind := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	mixin := occi.CategoryID{Scheme: "http://example.org/os_tpl#", Term: "ubuntu"}
	var muts []store.Mutation
	for i := range 500 {
		e := &occi.Entity{Location: fmt.Sprintf("/compute/%04d", i), Kind: kind, Owner: fmt.Sprintf("u%d", i%7)}
		if i%5 == 0 {
			e.Mixins = []occi.CategoryID{mixin}
		}
		if i%9 == 0 {
			e.Source = "/compute/0000"
		}
		muts = append(muts, store.Mutation{Put: e})
	}
	if err := s.Write(ctx, muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// No ANALYZE: the store never runs it, so plans must be good without statistics.
	tests := []struct {
		name      string
		q         store.Query
		wantIndex string
		sorts     bool // the plan may sort
	}{
		{"kind", store.Query{Kinds: []occi.CategoryID{kind}, After: "/compute/0100", Limit: 100}, "entities_kind_owner (kind=?)", true},
		{"mixin", store.Query{Mixin: mixin, After: "/compute/0100", Limit: 100}, "SEARCH m USING PRIMARY KEY (mixin=?", false},
		{"owner", store.Query{Owner: "u3", Limit: 100}, "entities_owner", false},
		{"source", store.Query{Source: "/compute/0000", Limit: 100}, "entities_source", false},
		{"prefix", store.Query{Prefix: "/compute/", Offset: 100, Limit: 100}, "PRIMARY KEY", false},
		{"kind and mixin", store.Query{Kinds: []occi.CategoryID{kind}, Mixin: mixin, Limit: 100}, "SEARCH m USING PRIMARY KEY (mixin=?", false},
		{"kind with offset", store.Query{Kinds: []occi.CategoryID{kind}, Offset: 300, Limit: 100}, "COVERING INDEX entities_kind_owner (kind=?)", true},
		{"mixin with offset", store.Query{Mixin: mixin, Offset: 50, Limit: 20}, "SEARCH m USING PRIMARY KEY (mixin=?", false},
		{"owner with offset", store.Query{Owner: "u1", Offset: 30, Limit: 20}, "COVERING INDEX entities_owner", false},
		{"kind of an owner", store.Query{Kinds: []occi.CategoryID{kind}, Owner: "u3", After: "/compute/0100", Limit: 100}, "entities_kind_owner (kind=? AND owner=?", false},
		{"kind of an owner with offset", store.Query{Kinds: []occi.CategoryID{kind}, Owner: "u3", Offset: 30, Limit: 20}, "COVERING INDEX entities_kind_owner", false},
		// Locations only (ListLocations), from an index alone.
		{"locations of a kind of an owner", store.Query{Kinds: []occi.CategoryID{kind}, Owner: "u3"}, "COVERING INDEX entities_kind_owner (kind=? AND owner=?)", false},
		{"locations of a kind", store.Query{Kinds: []occi.CategoryID{kind}, Offset: 10, Limit: 100}, "COVERING INDEX entities_kind_owner (kind=?)", true},
		{"locations of a mixin", store.Query{Mixin: mixin, Limit: 100}, "PRIMARY KEY (mixin=?", false},
		// Counts (Count), from an index alone.
		{"count of a kind", store.Query{Kinds: []occi.CategoryID{kind}}, "COVERING INDEX entities_kind_owner (kind=?)", false},
		{"count of a kind of an owner", store.Query{Kinds: []occi.CategoryID{kind}, Owner: "u3"}, "COVERING INDEX entities_kind_owner (kind=? AND owner=?)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, args := rowcodec.Select(dialect, tc.q, false)
			if strings.HasPrefix(tc.name, "locations") {
				query, args = rowcodec.SelectLocations(dialect, tc.q)
			}
			if strings.HasPrefix(tc.name, "count") {
				query, args = rowcodec.Select(dialect, tc.q, true)
			}
			rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatalf("scan plan: %v", err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			t.Logf("plan: %s", all)
			if strings.Contains(all, "TEMP B-TREE") && !tc.sorts {
				t.Errorf("plan sorts: %s", all)
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX") {
					t.Errorf("plan scans a table: %s", all)
				}
			}
			if !strings.Contains(all, tc.wantIndex) {
				t.Errorf("plan %q does not use %s", all, tc.wantIndex)
			}
		})
	}
}

package pgstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

var pgDialect = rowcodec.Dialect{Placeholder: func(n int) string { return "$" + strconv.Itoa(n) }}

// TestQueryPlans checks that a page of every kind of collection is read
// from an index in location order: no sequential scan of entities, no sort.
func TestQueryPlans(t *testing.T) {
	dsn := freshSchema(t)
	s := openDSN(t, dsn)
	defer s.Close()
	ctx := context.Background()
	kind := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	other := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storage"}
	mixin := occi.CategoryID{Scheme: "http://example.org/os_tpl#", Term: "ubuntu"}
	var muts []store.Mutation
	for i := range 5000 {
		e := &occi.Entity{Location: fmt.Sprintf("/compute/%05d", i), Kind: kind, Owner: fmt.Sprintf("u%d", i%7)}
		if i%2 == 0 {
			e.Kind = other
		}
		if i%5 == 0 {
			e.Mixins = []occi.CategoryID{mixin}
		}
		if i%9 == 0 {
			e.Source = "/compute/00000"
		}
		muts = append(muts, store.Mutation{Put: e})
	}
	if err := s.Write(ctx, muts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	tests := []struct {
		name string
		q    store.Query
	}{
		{"kind", store.Query{Kinds: []occi.CategoryID{kind}, After: "/compute/01000", Limit: 100}},
		{"mixin", store.Query{Mixin: mixin, After: "/compute/03000", Limit: 100}},
		{"mixin and kind", store.Query{Mixin: mixin, Kinds: []occi.CategoryID{kind}, After: "/compute/03000", Limit: 100}},
		{"owner", store.Query{Owner: "u3", After: "/compute/02000", Limit: 100}},
		{"prefix", store.Query{Prefix: "/compute/", After: "/compute/02000", Limit: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, args := rowcodec.Select(pgDialect, tc.q, false)
			rows, err := conn.Query(ctx, "EXPLAIN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			all := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", all)
			if strings.Contains(all, "Seq Scan") || strings.Contains(all, "Sort") {
				t.Errorf("plan scans or sorts:\n%s", all)
			}
			// Every index scan must be bounded by the page's start: one
			// without an Index Cond walks the index from its beginning.
			for i, line := range plan {
				if strings.Contains(line, "Index Scan") || strings.Contains(line, "Index Only Scan") {
					if i+1 >= len(plan) || !strings.Contains(plan[i+1], "Index Cond") {
						t.Errorf("unbounded index scan %q in plan:\n%s", strings.TrimSpace(line), all)
					}
				}
			}
		})
	}
}

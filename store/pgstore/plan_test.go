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
	"github.com/occid/occi/store/internal/benchdata"
	"github.com/occid/occi/store/internal/rowcodec"
	"github.com/occid/occi/store/pgstore"
)

var pgDialect = rowcodec.Dialect{Placeholder: func(n int) string { return "$" + strconv.Itoa(n) }}

// planData writes the data set of TestQueryPlans into a fresh schema and
// returns a connection to it, freshly analyzed: 5,000 computes and
// storages of 7 owners, a fifth with a mixin, one in nine linked from
// /compute/00000.
func planData(t *testing.T) (*pgx.Conn, occi.CategoryID, occi.CategoryID) {
	t.Helper()
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
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	return conn, kind, mixin
}

// explain returns the plan of query with args. generic asks for the plan
// a prepared statement gets once PostgreSQL stops planning it for its
// arguments (pgx prepares and caches every statement), by preparing it
// under plan_cache_mode = force_generic_plan.
func explain(t *testing.T, conn *pgx.Conn, query string, args []any, generic bool) []string {
	t.Helper()
	ctx := context.Background()
	stmt := "EXPLAIN " + query
	if generic {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatalf("SET plan_cache_mode: %v", err)
		}
		if _, err := conn.Exec(ctx, "PREPARE p AS "+query); err != nil {
			t.Fatalf("PREPARE: %v", err)
		}
		defer func() {
			if _, err := conn.Exec(ctx, "DEALLOCATE p; RESET plan_cache_mode"); err != nil {
				t.Fatalf("DEALLOCATE: %v", err)
			}
		}()
		ps := make([]string, len(args))
		for i := range args {
			ps[i] = "$" + strconv.Itoa(i+1)
		}
		stmt = "EXPLAIN EXECUTE p"
		if len(ps) > 0 {
			stmt += "(" + strings.Join(ps, ", ") + ")"
		}
	}
	if generic {
		// EXECUTE takes its arguments as literals: have pgx write them.
		args = append([]any{pgx.QueryExecModeSimpleProtocol}, args...)
	}
	rows, err := conn.Query(ctx, stmt, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	return plan
}

// checkPlan fails unless plan reads from indexes only (no sequential scan),
// in their order (no sort), every index scan bounded by a condition (one
// without an Index Cond walks the index from its beginning), and using
// each of the indexes in want.
func checkPlan(t *testing.T, plan []string, want ...string) {
	t.Helper()
	all := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", all)
	if strings.Contains(all, "Seq Scan") || strings.Contains(all, "Sort") {
		t.Errorf("plan scans or sorts:\n%s", all)
	}
	for i, line := range plan {
		if strings.Contains(line, "Index Scan") || strings.Contains(line, "Index Only Scan") {
			if i+1 >= len(plan) || !strings.Contains(plan[i+1], "Index Cond") {
				t.Errorf("unbounded index scan %q in plan:\n%s", strings.TrimSpace(line), all)
			}
		}
	}
	for _, idx := range want {
		if !strings.Contains(all, " on "+idx+" ") && !strings.Contains(all, " using "+idx+" ") {
			t.Errorf("plan does not use index %s:\n%s", idx, all)
		}
	}
}

// TestQueryPlans checks that a page of every kind of collection is read
// from an index in location order: no sequential scan of entities, no sort.
func TestQueryPlans(t *testing.T) {
	conn, kind, mixin := planData(t)
	kinds := []occi.CategoryID{kind}
	tests := []struct {
		name string
		q    store.Query
		want []string // indexes the plan must use
	}{
		{"kind", store.Query{Kinds: kinds, After: "/compute/01000", Limit: 100}, nil},
		{"mixin", store.Query{Mixin: mixin, After: "/compute/03000", Limit: 100}, nil},
		{"mixin and kind", store.Query{Mixin: mixin, Kinds: kinds, After: "/compute/03000", Limit: 100}, nil},
		{"owner", store.Query{Owner: "u3", After: "/compute/02000", Limit: 100}, nil},
		{"prefix", store.Query{Prefix: "/compute/", After: "/compute/02000", Limit: 100}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, args := rowcodec.Select(pgDialect, tc.q, false)
			checkPlan(t, explain(t, conn, query, args, false), tc.want...)
		})
	}
}

// benchData loads n entities of the benchmarks' data set
// (store/internal/benchdata: four kinds under their own paths, 50 owners,
// a mixin on a quarter, a network interface link from one compute in four)
// into a fresh schema by COPY, VACUUM ANALYZEs it as autovacuum would, and
// returns a connection to it.
func benchData(t *testing.T, n int) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	dsn := freshSchema(t)
	openDSN(t, dsn).Close() // creates the tables
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	var ents, mixins [][]any
	for i := range n {
		row, err := rowcodec.EncodeEntity(benchdata.Entity(i))
		if err != nil {
			t.Fatal(err)
		}
		ents = append(ents, []any{row.Location, row.Kind, row.Owner, row.Source, int64(1), string(row.Body)})
		for _, m := range row.Mixins {
			mixins = append(mixins, []any{m, row.Location})
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"entities"}, []string{"location", "kind", "owner", "source", "revision", "body"}, pgx.CopyFromRows(ents)); err != nil {
		t.Fatalf("copy entities: %v", err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"entity_mixins"}, []string{"mixin", "location"}, pgx.CopyFromRows(mixins)); err != nil {
		t.Fatalf("copy entity_mixins: %v", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatalf("VACUUM ANALYZE: %v", err)
	}
	return conn
}

// TestOptionalReadPlans checks the statements of GetLinked, ListSourced and
// ListLocations the same way on the benchmarks' data, for the queries the
// engine sends (a collection is always listed for one owner): each both
// as planned for its arguments and as the generic plan that a prepared
// statement (pgx prepares and caches every statement) may get.
func TestOptionalReadPlans(t *testing.T) {
	conn := benchData(t, 30_000)
	kinds := []occi.CategoryID{benchdata.Compute}
	// /compute/00000010 has one link, /link/networkinterface/00000019.
	var sources []string
	for i := range 100 {
		sources = append(sources, fmt.Sprintf("/compute/%08d", 100*i+10))
	}
	type planCase struct {
		name  string
		query string
		args  []any
		want  []string
	}
	tests := []planCase{
		{"GetLinked", pgstore.SQLGetLinked, []any{"/compute/00000010"}, []string{"entities_pkey", "entities_source"}},
		{"GetLinked, no links", pgstore.SQLGetLinked, []any{"/storage/00000014"}, []string{"entities_pkey", "entities_source"}},
		{"ListSourced", pgstore.SQLListSourced, []any{sources}, []string{"entities_source"}},
		{"ListSourced, one source", pgstore.SQLListSourced, []any{sources[:1]}, []string{"entities_source"}},
	}
	for _, lc := range []struct {
		name string
		q    store.Query
		want string
	}{
		{"kind of an owner", store.Query{Kinds: kinds, Owner: "user03"}, "entities_kind_owner"},
		{"kind of an owner, after", store.Query{Kinds: kinds, Owner: "user03", After: "/compute/00010000", Limit: 100}, "entities_kind_owner"},
		{"kind of an owner, offset", store.Query{Kinds: kinds, Owner: "user03", Offset: 20, Limit: 100}, "entities_kind_owner"},
		{"mixin of an owner", store.Query{Mixin: benchdata.Ubuntu, Owner: "user04", Limit: 100}, "entity_mixins_pkey"},
		{"prefix of an owner", store.Query{Prefix: "/storage/", Owner: "user05", Offset: 10}, "entities_owner"},
		{"source of an owner", store.Query{Source: "/compute/00000010", Owner: "user19"}, "entities_source"},
	} {
		query, args := pgstore.SelectLocations(lc.q)
		tests = append(tests, planCase{"ListLocations, " + lc.name, query, args, []string{lc.want}})
	}
	for _, tc := range tests {
		for _, generic := range []bool{false, true} {
			name := tc.name
			if generic {
				name += ", generic"
			}
			t.Run(name, func(t *testing.T) {
				checkPlan(t, explain(t, conn, tc.query, tc.args, generic), tc.want...)
			})
		}
	}
	// A keyset page of a kind collection, through List, uses the index
	// of kind and owner. (Its generic plan, and a page by offset, may sort
	// the page's rows: see the statement rowcodec.Select builds.)
	q := store.Query{Kinds: kinds, Owner: "user03", After: "/compute/00010000", Limit: 100}
	query, args := rowcodec.Select(pgDialect, q, false)
	t.Run("List, kind of an owner, after", func(t *testing.T) {
		checkPlan(t, explain(t, conn, query, args, false), "entities_kind_owner")
	})
}

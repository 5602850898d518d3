package pgstore_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
	"github.com/occid/occi/store/pgstore"
	"github.com/occid/occi/store/storetest"
)

// baseDSN returns the test server's DSN or skips the test.
func baseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("OCCID_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL tests need a server: set OCCID_TEST_POSTGRES to a pgx DSN, e.g. by running scripts/test.sh (scripts/setup/postgres.sh starts one)")
	}
	return dsn
}

var schemaSeq atomic.Int64

// freshSchema creates an empty schema for one test and returns a DSN whose
// search_path selects it; the schema is dropped when the test ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	dsn := baseDSN(t)
	ctx := context.Background()
	name := fmt.Sprintf("occid_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to OCCID_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("OCCID_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func openDSN(t testing.TB, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	baseDSN(t)
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) (store.Store, storetest.Reopen) {
			dsn := freshSchema(t)
			return openDSN(t, dsn), func(t *testing.T) store.Store { return openDSN(t, dsn) }
		},
		Shared: true,
	})
}

// TestConcurrentOpen starts several stores at once on an empty schema: the
// advisory lock lets exactly one migrate, and all of them work.
func TestConcurrentOpen(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	const n = 6
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = pgstore.Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, max int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM schema_version").Scan(&rows, &max); err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	if rows != pgstore.SchemaVersion || max != pgstore.SchemaVersion {
		t.Errorf("schema_version: got %d rows, max %d; want %d and %d", rows, max, pgstore.SchemaVersion, pgstore.SchemaVersion)
	}
	for i, s := range stores {
		e := &occi.Entity{Location: fmt.Sprintf("/compute/%d", i), Kind: occi.CategoryID{Scheme: "http://x#", Term: "compute"}}
		if err := s.Write(ctx, store.Mutation{Put: e}); err != nil {
			t.Errorf("Write through store %d: %v", i, err)
		}
	}
	if n, err := stores[0].Count(ctx, store.Query{}); err != nil || n != len(stores) {
		t.Errorf("Count: got %d, %v; want %d", n, err, len(stores))
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		want occi.Code
	}{
		{"nothing listens", "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", occi.Unavailable},
		{"not a DSN", "postgres://%zz", occi.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pgstore.Open(context.Background(), tc.dsn)
			if err == nil {
				s.Close()
			}
			if got := occi.ErrorCode(err); got != tc.want {
				t.Errorf("Open: got %v (code %v), want code %v", err, got, tc.want)
			}
		})
	}
	t.Run("closed store", func(t *testing.T) {
		s := openDSN(t, freshSchema(t))
		s.Close()
		_, err := s.Get(context.Background(), "/compute/x")
		if got := occi.ErrorCode(err); got != occi.Unavailable {
			t.Errorf("Get on a closed store: got %v (code %v), want Unavailable", err, got)
		}
	})
}

// TestMigrationToNotes opens a schema at version 2, which has entities
// (among them a pending record of an older engine) but no notes table:
// Open adds the notes table and drops the index of kinds alone, and the
// entities and every query of them stay as they were.
func TestMigrationToNotes(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{"CREATE TABLE schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"}
	stmts = append(stmts, pgstore.Migrations[:2]...)
	stmts = append(stmts, "INSERT INTO schema_version (version) VALUES (1), (2)")
	kind := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	pendingKind := occi.CategoryID{Scheme: "http://occid.local/engine#", Term: "pending"}
	ents := []*occi.Entity{
		{Location: "/.pending/compute/a", Kind: pendingKind, Owner: "\toccid-engine", Attributes: occi.Attributes{"x": "y"}},
		{Location: "/compute/a", Kind: kind, Owner: "alice"},
		{Location: "/compute/b", Kind: kind, Owner: "bob"},
	}
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st); err != nil {
			t.Fatalf("build schema 2: %v", err)
		}
	}
	for _, e := range ents {
		row, err := rowcodec.EncodeEntity(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO entities (location, kind, owner, source, revision, body) VALUES ($1, $2, $3, $4, 1, $5)",
			row.Location, row.Kind, row.Owner, row.Source, string(row.Body)); err != nil {
			t.Fatalf("write at schema 2: %v", err)
		}
	}

	s := openDSN(t, dsn)
	defer s.Close()
	var rows, max, kindIndexes int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM schema_version").Scan(&rows, &max); err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	if rows != pgstore.SchemaVersion || max != pgstore.SchemaVersion {
		t.Errorf("schema_version: got %d rows, max %d; want %d and %d", rows, max, pgstore.SchemaVersion, pgstore.SchemaVersion)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'entities_kind'").Scan(&kindIndexes); err != nil || kindIndexes != 0 {
		t.Errorf("index entities_kind: %d (%v), want it dropped", kindIndexes, err)
	}
	for _, e := range ents {
		if _, err := s.Get(ctx, e.Location); err != nil {
			t.Errorf("Get %s after the migration: %v", e.Location, err)
		}
	}
	for _, tc := range []struct {
		q    store.Query
		want int
	}{
		{store.Query{Kinds: []occi.CategoryID{kind}}, 2},
		{store.Query{Kinds: []occi.CategoryID{kind}, Owner: "bob"}, 1},
		{store.Query{Kinds: []occi.CategoryID{pendingKind}}, 1},
		{store.Query{Prefix: "/.pending/"}, 1},
	} {
		got, err := s.List(ctx, tc.q)
		if err != nil || len(got) != tc.want {
			t.Errorf("List(%+v) after the migration: %d entities (%v), want %d", tc.q, len(got), err, tc.want)
		}
		if c, err := s.Count(ctx, tc.q); err != nil || c != tc.want {
			t.Errorf("Count(%+v) after the migration: %d (%v), want %d", tc.q, c, err, tc.want)
		}
	}
	note := &store.Note{Key: "/.pending/compute/c", Body: []byte("{}")}
	if err := s.Write(ctx, store.Mutation{PutNote: note}); err != nil || note.Revision != 1 {
		t.Fatalf("PutNote after the migration: revision %d, %v", note.Revision, err)
	}
	if notes, err := s.ListNotes(ctx, "/.pending/"); err != nil || len(notes) != 1 {
		t.Errorf("ListNotes after the migration: %d notes (%v), want 1", len(notes), err)
	}
}

package sqlitestore

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

func schemaRows(t *testing.T, path string) (rows, max int) {
	t.Helper()
	u := url.URL{Scheme: "file", Opaque: path}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT count(*), coalesce(max(version), 0) FROM schema_version").Scan(&rows, &max); err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	return rows, max
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for i := range 3 {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
		if rows, max := schemaRows(t, path); rows != SchemaVersion || max != SchemaVersion {
			t.Errorf("after open %d: schema_version has %d rows, max %d; want %d and %d", i, rows, max, SchemaVersion, SchemaVersion)
		}
	}

	// A database written by a newer occid is refused, not misread.
	u := url.URL{Scheme: "file", Opaque: path}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_version (version, applied) VALUES (?, 'future')", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path)
	if err == nil {
		s.Close()
	}
	if got := occi.ErrorCode(err); got != occi.FailedPrecondition {
		t.Errorf("Open of a newer schema: got %v (code %v), want FailedPrecondition", err, got)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
		want occi.Code
	}{
		{"empty path", "", occi.InvalidArgument},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), occi.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path)
			if err == nil {
				s.Close()
			}
			if got := occi.ErrorCode(err); got != tc.want {
				t.Errorf("Open(%q): got %v (code %v), want %v", tc.path, err, got, tc.want)
			}
		})
	}
}

// TestMigrationToNotes opens a database of schema 2, which has entities
// (among them a pending record of an older engine) but no notes table:
// Open adds the notes table and drops the index of kinds alone, and the
// entities and every query of them stay as they were.
func TestMigrationToNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	u := url.URL{Scheme: "file", Opaque: path}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied TEXT NOT NULL)"}
	stmts = append(stmts, migrations[:2]...)
	stmts = append(stmts, "INSERT INTO schema_version (version, applied) VALUES (1, 'then'), (2, 'then')")
	// What an engine of schema 2 wrote: entities, among them a pending
	// record.
	kind := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	pendingKind := occi.CategoryID{Scheme: "http://occid.local/engine#", Term: "pending"}
	ents := []*occi.Entity{
		{Location: "/.pending/compute/a", Kind: pendingKind, Owner: "\toccid-engine", Attributes: occi.Attributes{"x": "y"}},
		{Location: "/compute/a", Kind: kind, Owner: "alice"},
		{Location: "/compute/b", Kind: kind, Owner: "bob"},
	}
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			db.Close()
			t.Fatalf("build schema 2: %v", err)
		}
	}
	for _, e := range ents {
		row, err := rowcodec.EncodeEntity(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO entities (location, kind, owner, source, revision, body) VALUES (?, ?, ?, ?, 1, ?)",
			row.Location, row.Kind, row.Owner, row.Source, row.Body); err != nil {
			db.Close()
			t.Fatalf("write at schema 2: %v", err)
		}
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if rows, max := schemaRows(t, path); rows != SchemaVersion || max != SchemaVersion {
		t.Errorf("schema_version has %d rows, max %d; want %d and %d", rows, max, SchemaVersion, SchemaVersion)
	}
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'entities_kind'").Scan(&n); err != nil || n != 0 {
		t.Errorf("index entities_kind: %d (%v), want it dropped", n, err)
	}
	ctx := context.Background()
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

package sqlitestore

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/occid/occi"
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

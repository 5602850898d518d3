package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// versionChildEnv makes the test binary, run as a child, write one entity
// to the database it names and exit: a write by another process.
const versionChildEnv = "OCCID_SQLITESTORE_VERSION_CHILD"

func init() {
	if path := os.Getenv(versionChildEnv); path != "" {
		s, err := Open(path)
		if err == nil {
			err = s.Write(context.Background(), store.Mutation{Put: &occi.Entity{
				Location: "/compute/child", Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}, Owner: "u"}})
			err = errorsJoin(err, s.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestVersion checks that the version changes with every commit, whoever
// makes it (this Store, a second Store on the file, a plain SQLite
// connection, another process, a WAL checkpoint that restarts the log),
// stays the same while nothing is written, and is gone after Close.
func TestVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	seen := map[uint64]string{}
	last := ""
	step := func(what string) {
		t.Helper()
		v, ok := s.Version()
		if !ok {
			t.Fatalf("after %s: Version not available", what)
		}
		if prev, dup := seen[v]; dup {
			t.Fatalf("after %s: version %x is the one seen after %s", what, v, prev)
		}
		seen[v] = what
		last = what
	}
	same := func(what string) {
		t.Helper()
		v, ok := s.Version()
		if !ok || seen[v] != last {
			t.Fatalf("after %s (nothing written): version %x ok=%v changed from the one after %s", what, v, ok, last)
		}
	}
	step("open")
	put := func(st *Store, loc string) {
		t.Helper()
		if err := st.Write(ctx, store.Mutation{Put: &occi.Entity{Location: loc, Kind: compute, Owner: "u"}, Expect: store.AnyRevision}); err != nil {
			t.Fatalf("Write %s: %v", loc, err)
		}
	}
	put(s, "/compute/a")
	step("a write through the store")
	if _, err := s.Get(ctx, "/compute/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, store.Query{}); err != nil {
		t.Fatal(err)
	}
	same("reads")
	if err := s.Write(ctx, store.Mutation{Put: &occi.Entity{Location: "/compute/a", Kind: compute, Owner: "u"}, Expect: store.MustNotExist}); occi.ErrorCode(err) != occi.AlreadyExists {
		t.Fatalf("create over an existing entity: %v", err)
	}
	put(s, "/compute/a")
	step("an update through the store")

	other, err := Open(path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	put(other, "/compute/b")
	step("a write through a second Store")
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	same("closing the second Store")

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM entities WHERE location = '/compute/b'"); err != nil {
		t.Fatal(err)
	}
	step("a delete through a plain connection")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), versionChildEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	step("a write by another process")
	if _, err := s.Get(ctx, "/compute/child"); err != nil {
		t.Fatalf("the child's write: %v", err)
	}

	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	put(s, "/compute/c")
	step("a write after a checkpoint that truncated the WAL")
	put(s, "/compute/d")
	step("another write")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Version(); ok {
		t.Fatal("Version is available after Close")
	}
}

// BenchmarkVersion measures what a reader pays to learn whether anything
// changed.
func BenchmarkVersion(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "v.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if _, ok := s.Version(); !ok {
			b.Fatal("no version")
		}
	}
}

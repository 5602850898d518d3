package pgstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/pgstore"
)

var testKind = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}

func testEntity(loc string) *occi.Entity {
	return &occi.Entity{Location: loc, Kind: testKind, Owner: "alice", Title: "t " + loc,
		Mixins: []occi.CategoryID{{Scheme: "http://example.org/os_tpl#", Term: "ubuntu"}}}
}

// TestDeferredSyncSetting checks the setting each write transaction
// commits with, read inside it just before its commit: off for a Write
// whose context carries store.WithDeferredSync, on for every other, also
// on a connection that has just committed a deferred one; and the
// sessions of the pool keep synchronous_commit on.
func TestDeferredSyncSetting(t *testing.T) {
	s := openDSN(t, freshSchema(t))
	defer s.Close()
	var got []string
	pgstore.SetProbe(s, "SELECT current_setting('synchronous_commit')", func(v string) { got = append(got, v) })
	bg := context.Background()
	deferred := store.WithDeferredSync(bg)
	put := func(loc string, expect int64) store.Mutation {
		return store.Mutation{Put: testEntity(loc), Expect: expect}
	}
	tests := []struct {
		name string
		ctx  context.Context
		muts []store.Mutation
		want string
	}{
		{"create", bg, []store.Mutation{put("/compute/a", store.MustNotExist)}, "on"},
		{"create, deferred", deferred, []store.Mutation{put("/compute/b", store.MustNotExist)}, "off"},
		{"create after a deferred create", bg, []store.Mutation{put("/compute/c", store.MustNotExist)}, "on"},
		{"batch, deferred", deferred, []store.Mutation{put("/compute/d", store.MustNotExist), put("/compute/a", 1)}, "off"},
		{"batch after a deferred batch", bg, []store.Mutation{put("/compute/e", store.MustNotExist), put("/compute/b", 1)}, "on"},
		{"update, deferred", deferred, []store.Mutation{put("/compute/c", 1)}, "off"},
		{"update after a deferred update", bg, []store.Mutation{put("/compute/d", 1)}, "on"},
		{"delete, deferred", deferred, []store.Mutation{{Delete: "/compute/e"}}, "off"},
		{"delete", bg, []store.Mutation{{Delete: "/compute/d"}}, "on"},
		{"note create", bg, []store.Mutation{{PutNote: &store.Note{Key: "/n/a"}}}, "on"},
		{"note create, deferred", deferred, []store.Mutation{{PutNote: &store.Note{Key: "/n/b"}}}, "off"},
		{"note create after a deferred one", bg, []store.Mutation{{PutNote: &store.Note{Key: "/n/c"}}}, "on"},
		{"create with a note delete, deferred", deferred, []store.Mutation{put("/compute/f", store.MustNotExist), {DeleteNote: "/n/a", Expect: 1}}, "off"},
		{"create with a note delete", bg, []store.Mutation{put("/compute/g", store.MustNotExist), {DeleteNote: "/n/c", Expect: 1}}, "on"},
		{"note update, deferred", deferred, []store.Mutation{{PutNote: &store.Note{Key: "/n/b"}, Expect: 1}}, "off"},
		{"note delete", bg, []store.Mutation{{DeleteNote: "/n/b"}}, "on"},
		{"create of a taken location, deferred", deferred, []store.Mutation{put("/compute/a", store.MustNotExist)}, "off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			err := s.Write(tc.ctx, tc.muts...)
			if tc.name == "create of a taken location, deferred" {
				if occi.ErrorCode(err) != occi.AlreadyExists {
					t.Fatalf("Write: got %v, want AlreadyExists", err)
				}
			} else if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if diff := cmp.Diff([]string{tc.want}, got); diff != "" {
				t.Errorf("synchronous_commit at commit (-want +got):\n%s", diff)
			}
			idle, err := pgstore.IdleSettings(bg, s, "synchronous_commit")
			if err != nil {
				t.Fatalf("IdleSettings: %v", err)
			}
			if len(idle) == 0 {
				t.Fatalf("no idle connection after Write")
			}
			for i, v := range idle {
				if v != "on" {
					t.Errorf("idle connection %d of %d: synchronous_commit is %q for the session, want on", i, len(idle), v)
				}
			}
		})
	}
}

// TestDeferredSyncWrites checks that a deferred write is acknowledged as
// any other (revisions, errors), is seen at once through another store on
// the same database, and is there after every store is closed and the
// database opened again.
func TestDeferredSyncWrites(t *testing.T) {
	dsn := freshSchema(t)
	ctx := store.WithDeferredSync(context.Background())
	s1 := openDSN(t, dsn)
	s2 := openDSN(t, dsn)
	a := testEntity("/compute/a")
	if err := s1.Write(ctx, store.Mutation{Put: a}); err != nil {
		t.Fatalf("deferred create: %v", err)
	}
	if a.Revision != 1 {
		t.Errorf("revision after a deferred create: got %d, want 1", a.Revision)
	}
	if got, err := s2.Get(context.Background(), a.Location); err != nil || got.Revision != 1 || got.Title != a.Title {
		t.Errorf("through the other store at once: got %+v, %v; want revision 1", got, err)
	}
	a.Title = "changed"
	b := testEntity("/compute/b")
	if err := s1.Write(ctx, store.Mutation{Put: a, Expect: 1}, store.Mutation{Put: b}); err != nil {
		t.Fatalf("deferred batch: %v", err)
	}
	if a.Revision != 2 || b.Revision != 1 {
		t.Errorf("revisions after a deferred batch: got %d and %d, want 2 and 1", a.Revision, b.Revision)
	}
	if err := s2.Write(ctx, store.Mutation{Put: testEntity("/compute/b")}); occi.ErrorCode(err) != occi.AlreadyExists {
		t.Errorf("deferred create of a taken location: got %v, want AlreadyExists", err)
	}
	if err := s2.Write(ctx, store.Mutation{Put: testEntity("/compute/a"), Expect: 1}); occi.ErrorCode(err) != occi.Conflict {
		t.Errorf("deferred stale update: got %v, want Conflict", err)
	}
	if err := s2.Write(ctx, store.Mutation{Delete: "/compute/b", Expect: 1}); err != nil {
		t.Errorf("deferred delete through the other store: %v", err)
	}
	if _, err := s1.Get(context.Background(), "/compute/b"); occi.ErrorCode(err) != occi.NotFound {
		t.Errorf("Get after a deferred delete through the other store: got %v, want NotFound", err)
	}
	s1.Close()
	s2.Close()
	s3 := openDSN(t, dsn)
	defer s3.Close()
	got, err := s3.List(context.Background(), store.Query{})
	if err != nil {
		t.Fatalf("List after reopening: %v", err)
	}
	if len(got) != 1 || got[0].Location != "/compute/a" || got[0].Revision != 2 || got[0].Title != "changed" {
		t.Errorf("after reopening: got %v, want /compute/a at revision 2", got)
	}
}

// TestSyncCommitFlushed checks from outside that a Write without
// store.WithDeferredSync is acknowledged only once its commit is flushed:
// the WAL is flushed past the position it had reached before the Write.
// (A deferred write may be acknowledged before; how many were is logged,
// not checked, since any other commit on the server flushes them too.)
func TestSyncCommitFlushed(t *testing.T) {
	dsn := freshSchema(t)
	s := openDSN(t, dsn)
	defer s.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// flushedPast writes muts with ctx and reports whether the WAL was
	// flushed past its insert position of before the Write once Write
	// returned.
	flushedPast := func(ctx context.Context, muts ...store.Mutation) bool {
		t.Helper()
		var before string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&before); err != nil {
			t.Fatalf("read the WAL position: %v", err)
		}
		if err := s.Write(ctx, muts...); err != nil {
			t.Fatalf("Write: %v", err)
		}
		var flushed bool
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() > $1::pg_lsn", before).Scan(&flushed); err != nil {
			t.Fatalf("read the WAL flush position: %v", err)
		}
		return flushed
	}
	deferred := store.WithDeferredSync(ctx)
	unflushed := 0
	for i := range 20 {
		if !flushedPast(deferred, store.Mutation{Put: testEntity(fmt.Sprintf("/compute/d%d", i))}) {
			unflushed++
		}
		if !flushedPast(ctx, store.Mutation{Put: testEntity(fmt.Sprintf("/compute/s%d", i))}) {
			t.Errorf("create %d: acknowledged before its commit was flushed", i)
		}
		if !flushedPast(deferred, store.Mutation{Put: testEntity(fmt.Sprintf("/compute/d%d", i)), Expect: 1}) {
			unflushed++
		}
		if !flushedPast(ctx, store.Mutation{Put: testEntity(fmt.Sprintf("/compute/s%d", i)), Expect: 1},
			store.Mutation{Put: testEntity(fmt.Sprintf("/compute/t%d", i))}) {
			t.Errorf("batch %d: acknowledged before its commit was flushed", i)
		}
	}
	t.Logf("%d of 40 deferred writes were acknowledged before their commit was flushed", unflushed)
}

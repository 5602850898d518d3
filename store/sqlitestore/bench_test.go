package sqlitestore

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/benchdata"
	"github.com/occid/occi/store/internal/rowcodec"
)

// The benchmarks measure durable creates (each acknowledged only after its
// commit is fsynced), serially and from 16 goroutines, alone and as the
// engine makes them (a pending note first), against a baseline
// of raw inserts of the same rows into the same schema with the same
// connection settings: one transaction per create holding its INSERTs,
// through one connection (SQLite has one writer at a time), without the
// store's revision checks, group commit or encoding. Then one page of 100
// out of 100,000 entities by kind, by mixin and by owner, through the store
// and as the raw SELECT it runs.
//
//	go test -run '^$' -bench . -benchtime 2000x ./store/sqlitestore/

func openBench(b *testing.B) (*Store, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := Open(path)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s, path
}

func perSecond(b *testing.B, what string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), what+"/s")
}

// BenchmarkCreate measures durable creates through the store and, right
// after each, the raw-insert baseline on the same database, so that
// -count interleaves them and their ratio is measured under the same load.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	b.Run("store/serial", func(b *testing.B) {
		s, _ := openBench(b)
		b.ResetTimer()
		for i := range b.N {
			if err := s.Write(ctx, store.Mutation{Put: benchdata.Entity(i)}); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, "creates")
	})
	b.Run("pending/serial", func(b *testing.B) {
		s, _ := openBench(b)
		b.ResetTimer()
		for i := range b.N {
			if err := createPending(ctx, s, benchdata.Entity(i)); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, "creates")
	})
	b.Run("raw/serial", func(b *testing.B) {
		s, path := openBench(b)
		s.Close()
		db := rawDB(b, path)
		b.ResetTimer()
		for i := range b.N {
			if err := rawInsert(db, benchdata.Entity(i)); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, "creates")
	})
	b.Run("store/concurrent16", func(b *testing.B) {
		s, _ := openBench(b)
		var n atomic.Int64
		b.SetParallelism(8) // 16 goroutines on 2 CPUs
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Write(ctx, store.Mutation{Put: benchdata.Entity(int(n.Add(1)))}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perSecond(b, "creates")
	})
	b.Run("pending/concurrent16", func(b *testing.B) {
		s, _ := openBench(b)
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := createPending(ctx, s, benchdata.Entity(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perSecond(b, "creates")
	})
	b.Run("raw/concurrent16", func(b *testing.B) {
		s, path := openBench(b)
		s.Close()
		db := rawDB(b, path)
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rawInsert(db, benchdata.Entity(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perSecond(b, "creates")
	})
}

// createPending writes e as the engine creates a driven entity (see
// engine/pending.go): a durable pending note holding the entity, then the
// entity and the removal of the note in one write with a deferred sync.
func createPending(ctx context.Context, s *Store, e *occi.Entity) error {
	row, err := rowcodec.EncodeEntity(e)
	if err != nil {
		return err
	}
	n := &store.Note{Key: "/.pending" + e.Location, Body: row.Body}
	if err := s.Write(ctx, store.Mutation{PutNote: n}); err != nil {
		return err
	}
	return s.Write(store.WithDeferredSync(ctx), store.Mutation{Put: e}, store.Mutation{DeleteNote: n.Key, Expect: n.Revision})
}

// rawDB opens the store's database file with the store's writer settings.
func rawDB(b *testing.B, path string) *sql.DB {
	b.Helper()
	u := url.URL{Scheme: "file", Opaque: path}
	db, err := sql.Open("sqlite", u.String()+writerParams)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	return db
}

func rawInsert(db *sql.DB, e *occi.Entity) error {
	row, err := rowcodec.EncodeEntity(e)
	if err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO entities (location, kind, owner, source, revision, body) VALUES (?, ?, ?, ?, 1, ?)",
		row.Location, row.Kind, row.Owner, row.Source, row.Body); err != nil {
		return err
	}
	for _, m := range row.Mixins {
		if _, err := tx.Exec("INSERT INTO entity_mixins (mixin, location) VALUES (?, ?)", m, row.Location); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const pageEntities = 100_000

// BenchmarkPage reads one page of 100 out of 100,000 entities, starting at
// a different place in the collection each time (keyset pagination).
func BenchmarkPage(b *testing.B) {
	ctx := context.Background()
	s, _ := openBench(b)
	var muts []store.Mutation
	for i := range pageEntities {
		muts = append(muts, store.Mutation{Put: benchdata.Entity(i)})
		if len(muts) == 5000 {
			if err := s.Write(ctx, muts...); err != nil {
				b.Fatal(err)
			}
			muts = muts[:0]
		}
	}
	queries := []struct {
		name string
		q    store.Query
	}{
		{"kind", store.Query{Kinds: []occi.CategoryID{benchdata.Compute}}},
		{"mixin", store.Query{Mixin: benchdata.Ubuntu}},
		{"owner", store.Query{Owner: "user07"}},
	}
	for _, tc := range queries {
		total, err := s.Count(ctx, tc.q)
		if err != nil {
			b.Fatal(err)
		}
		// starting points spread over the collection
		var afters []string
		for off := 0; off < total-benchdata.PageSize; off += total / 20 {
			q := tc.q
			q.Offset, q.Limit = off, 1
			page, err := s.List(ctx, q)
			if err != nil || len(page) != 1 {
				b.Fatalf("List: %v", err)
			}
			afters = append(afters, page[0].Location)
		}
		b.Run(tc.name, func(b *testing.B) {
			for i := range b.N {
				q := tc.q
				q.After, q.Limit = afters[i%len(afters)], benchdata.PageSize
				page, err := s.List(ctx, q)
				if err != nil || len(page) != benchdata.PageSize {
					b.Fatalf("List: got %d entities, %v", len(page), err)
				}
			}
		})
		b.Run(tc.name+"-raw", func(b *testing.B) {
			for i := range b.N {
				q := tc.q
				q.After, q.Limit = afters[i%len(afters)], benchdata.PageSize
				query, args := rowcodec.Select(dialect, q, false)
				rows, err := s.r.QueryContext(ctx, query, args...)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var loc, owner, source string
					var rev int64
					var body []byte
					if err := rows.Scan(&loc, &owner, &source, &rev, &body); err != nil {
						b.Fatal(err)
					}
					n++
				}
				rows.Close()
				if n != benchdata.PageSize {
					b.Fatalf("got %d rows", n)
				}
			}
		})
		b.Run(tc.name+"-offset50000", func(b *testing.B) {
			for range b.N {
				q := tc.q
				q.Offset, q.Limit = min(50_000, total-benchdata.PageSize), benchdata.PageSize
				page, err := s.List(ctx, q)
				if err != nil || len(page) != benchdata.PageSize {
					b.Fatalf("List: got %d entities, %v", len(page), err)
				}
			}
		})
	}
}

package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/benchdata"
	"github.com/occid/occi/store/internal/rowcodec"
	"github.com/occid/occi/store/pgstore"
)

// The benchmarks measure durable creates (synchronous_commit=on: each is
// acknowledged after its commit is flushed to the WAL), serially and from
// 16 goroutines, against a baseline of raw inserts of the same rows into
// the same schema through a pool of the same size: one transaction per
// create holding its INSERTs, without the store's revision conditions or
// encoding. Then one page of 100 out of 100,000 entities by kind, by mixin
// and by owner, through the store and as the raw SELECT it runs. Each
// benchmark works in a schema of its own, dropped afterwards.
//
//	OCCID_TEST_POSTGRES=postgres://... go test -run '^$' -bench . -benchtime 2000x ./store/pgstore/

func perSecond(b *testing.B, what string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), what+"/s")
}

func openBench(b *testing.B) (*pgstore.Store, string) {
	b.Helper()
	dsn := freshSchema(b)
	s := openDSN(b, dsn)
	b.Cleanup(func() { s.Close() })
	return s, dsn
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
	b.Run("raw/serial", func(b *testing.B) {
		_, dsn := openBench(b)
		pool := rawPool(b, dsn)
		b.ResetTimer()
		for i := range b.N {
			if err := rawInsert(ctx, pool, benchdata.Entity(i)); err != nil {
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
	b.Run("raw/concurrent16", func(b *testing.B) {
		_, dsn := openBench(b)
		pool := rawPool(b, dsn)
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rawInsert(ctx, pool, benchdata.Entity(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perSecond(b, "creates")
	})
}

// rawPool opens a pool like the store's on the same schema.
func rawPool(b *testing.B, dsn string) *pgxpool.Pool {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = max(cfg.MaxConns, 8)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

func rawInsert(ctx context.Context, pool *pgxpool.Pool, e *occi.Entity) error {
	row, err := rowcodec.EncodeEntity(e)
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO entities (location, kind, owner, source, revision, body) VALUES ($1, $2, $3, $4, 1, $5)",
		row.Location, row.Kind, row.Owner, row.Source, row.Body); err != nil {
		return err
	}
	if len(row.Mixins) > 0 {
		if _, err := tx.Exec(ctx, "INSERT INTO entity_mixins (mixin, location) SELECT m, $1 FROM unnest($2::text[]) AS m", row.Location, row.Mixins); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

const pageEntities = 100_000

// BenchmarkPage reads one page of 100 out of 100,000 entities, starting at
// a different place in the collection each time (keyset pagination). The
// rows are loaded with COPY (the same encoded rows the store writes) to
// keep the setup short, then VACUUM ANALYZEd as autovacuum would.
func BenchmarkPage(b *testing.B) {
	ctx := context.Background()
	s, dsn := openBench(b)
	pool := rawPool(b, dsn)
	var ents, mixins [][]any
	for i := range pageEntities {
		row, err := rowcodec.EncodeEntity(benchdata.Entity(i))
		if err != nil {
			b.Fatal(err)
		}
		ents = append(ents, []any{row.Location, row.Kind, row.Owner, row.Source, int64(1), string(row.Body)})
		for _, m := range row.Mixins {
			mixins = append(mixins, []any{m, row.Location})
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"entities"}, []string{"location", "kind", "owner", "source", "revision", "body"}, pgx.CopyFromRows(ents)); err != nil {
		b.Fatalf("copy entities: %v", err)
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"entity_mixins"}, []string{"mixin", "location"}, pgx.CopyFromRows(mixins)); err != nil {
		b.Fatalf("copy entity_mixins: %v", err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
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
				query, args := rowcodec.Select(pgDialect, q, false)
				rows, err := pool.Query(ctx, query, args...)
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

package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the driver sqlitestore uses, for the raw inserts

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/pgstore"
	"github.com/occid/occi/store/sqlitestore"
)

// database is the store occid runs on, as the harness reaches it
// directly: to bulk-load entities through the store package, and to insert
// rows with plain SQL for the raw-insert ceiling.
type database interface {
	// occidArgs are the flags that make occid use this database.
	occidArgs() []string
	// open opens it through the store package.
	open(ctx context.Context) (store.Store, error)
	// rows reads up to n stored computes as rows.
	rows(ctx context.Context, n int) ([]row, error)
	// rawInserter returns a function that inserts one row in a transaction
	// of its own, with occid's connection and durability settings.
	rawInserter(ctx context.Context) (insert func(context.Context, row) error, closeFn func() error, err error)
	// deleteRaw deletes the rows rawInserter wrote.
	deleteRaw(ctx context.Context) error
	describe() string
	close() error
}

// row is an entity as the SQL stores keep it.
type row struct {
	location, kind, owner, source string
	body                          []byte
	mixins                        []string
}

// rawPrefix starts the locations of raw-inserted rows.
const rawPrefix = "/compute/raw-"

// ---- SQLite ----

// sqliteDB is occid's default store, the file occid.db in its data dir.
type sqliteDB struct{ path string }

func (d sqliteDB) occidArgs() []string { return nil }
func (d sqliteDB) describe() string    { return "SQLite (" + d.path + ")" }
func (d sqliteDB) close() error        { return nil }

func (d sqliteDB) open(context.Context) (store.Store, error) { return sqlitestore.Open(d.path) }

// The writer settings of sqlitestore (see its package documentation):
// WAL, a full fsync at every commit, BEGIN IMMEDIATE, one connection.
const sqliteWriterParams = "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"

func (d sqliteDB) sqlOpen(params string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Opaque: d.path}
	return sql.Open("sqlite", u.String()+params)
}

func (d sqliteDB) rows(ctx context.Context, n int) ([]row, error) {
	db, err := d.sqlOpen("?_busy_timeout=10000&_query_only=1")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return readRows(ctx, n, func(q string, args ...any) (rowScanner, error) {
		return db.QueryContext(ctx, q, args...)
	}, "?")
}

func (d sqliteDB) rawInserter(ctx context.Context) (func(context.Context, row) error, func() error, error) {
	db, err := d.sqlOpen(sqliteWriterParams)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	// Prepared once, as occid prepares its own statements: the ceiling
	// pays for neither compiling SQL nor anything else occid does not.
	insEntity, err := db.PrepareContext(ctx, "INSERT INTO entities (location, kind, owner, source, revision, body) VALUES (?, ?, ?, ?, 1, ?)")
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	insMixin, err := db.PrepareContext(ctx, "INSERT INTO entity_mixins (mixin, location) VALUES (?, ?)")
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	insert := func(ctx context.Context, r row) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.StmtContext(ctx, insEntity).ExecContext(ctx, r.location, r.kind, r.owner, r.source, r.body); err != nil {
			return err
		}
		for _, m := range r.mixins {
			if _, err := tx.StmtContext(ctx, insMixin).ExecContext(ctx, m, r.location); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	closeFn := func() error {
		insEntity.Close()
		insMixin.Close()
		return db.Close()
	}
	return insert, closeFn, nil
}

func (d sqliteDB) deleteRaw(ctx context.Context) error {
	db, err := d.sqlOpen(sqliteWriterParams)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{"DELETE FROM entity_mixins WHERE location LIKE ?", "DELETE FROM entities WHERE location LIKE ?"} {
		if _, err := db.ExecContext(ctx, q, rawPrefix+"%"); err != nil {
			return err
		}
	}
	return nil
}

// ---- PostgreSQL ----

// pgDB is a fresh schema in the PostgreSQL database of a DSN, dropped at
// the end.
type pgDB struct {
	base, dsn, schema string
	pool              *pgxpool.Pool
}

func newPG(ctx context.Context, dsn string) (*pgDB, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("occibench_%d_%d", os.Getpid(), time.Now().Unix())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("create schema %s: %v", schema, err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL DSN must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &pgDB{base: dsn, dsn: u.String(), schema: schema}, nil
}

func (d *pgDB) occidArgs() []string { return []string{"--store", d.dsn} }
func (d *pgDB) describe() string {
	u, err := url.Parse(d.base)
	if err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL (" + u.Host + u.Path + ", schema " + d.schema + ")"
}

func (d *pgDB) open(ctx context.Context) (store.Store, error) { return pgstore.Open(ctx, d.dsn) }

// poolLikeStore opens a pool configured as pgstore configures its own.
func (d *pgDB) poolLikeStore(ctx context.Context) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(d.dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = max(cfg.MaxConns, 8)
	return pgxpool.NewWithConfig(ctx, cfg)
}

func (d *pgDB) rows(ctx context.Context, n int) ([]row, error) {
	pool, err := d.poolLikeStore(ctx)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return readRows(ctx, n, func(q string, args ...any) (rowScanner, error) {
		rs, err := pool.Query(ctx, q, args...)
		return pgRows{rs}, err
	}, "$1")
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error { r.Rows.Close(); return nil }

func (d *pgDB) rawInserter(ctx context.Context) (func(context.Context, row) error, func() error, error) {
	pool, err := d.poolLikeStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	insert := func(ctx context.Context, r row) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "INSERT INTO entities (location, kind, owner, source, revision, body) VALUES ($1, $2, $3, $4, 1, $5)",
			r.location, r.kind, r.owner, r.source, r.body); err != nil {
			return err
		}
		for _, m := range r.mixins {
			if _, err := tx.Exec(ctx, "INSERT INTO entity_mixins (mixin, location) VALUES ($1, $2)", m, r.location); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
	return insert, func() error { pool.Close(); return nil }, nil
}

func (d *pgDB) deleteRaw(ctx context.Context) error {
	pool, err := d.poolLikeStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, q := range []string{"DELETE FROM entity_mixins WHERE location LIKE $1", "DELETE FROM entities WHERE location LIKE $1"} {
		if _, err := pool.Exec(ctx, q, rawPrefix+"%"); err != nil {
			return err
		}
	}
	return nil
}

func (d *pgDB) close() error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA "+d.schema+" CASCADE")
	return err
}

// ---- shared ----

type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// readRows reads up to n compute rows and their mixins; ph is the
// placeholder of the dialect.
func readRows(ctx context.Context, n int, query func(string, ...any) (rowScanner, error), ph string) ([]row, error) {
	rs, err := query("SELECT location, kind, owner, source, body FROM entities WHERE kind = "+ph+" ORDER BY location LIMIT "+fmt.Sprint(n),
		computeKind.String())
	if err != nil {
		return nil, fmt.Errorf("read stored rows: %v", err)
	}
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.location, &r.kind, &r.owner, &r.source, &r.body); err != nil {
			rs.Close()
			return nil, err
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		rs.Close()
		return nil, err
	}
	rs.Close()
	for i := range out {
		ms, err := query("SELECT mixin FROM entity_mixins WHERE location = "+ph, out[i].location)
		if err != nil {
			return nil, err
		}
		for ms.Next() {
			var m string
			if err := ms.Scan(&m); err != nil {
				ms.Close()
				return nil, err
			}
			out[i].mixins = append(out[i].mixins, m)
		}
		ms.Close()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no stored compute to copy")
	}
	return out, nil
}

// rawInsertLoad inserts copies of rows (each under a new location) from
// conns goroutines for d, one transaction per row: the ceiling of a
// durable create.
func rawInsertLoad(ctx context.Context, db database, rows []row, conns int, d time.Duration) (loadResult, error) {
	insert, closeFn, err := db.rawInserter(ctx)
	if err != nil {
		return loadResult{}, err
	}
	defer closeFn()
	var next atomic.Int64
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			n, errs := 0, 0
			firstErr := ""
			for time.Now().Before(deadline) {
				r := rows[int(next.Add(1))%len(rows)]
				r.location = rawPrefix + uuid.NewString()
				t0 := time.Now()
				if err := insert(ctx, r); err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
			}
			mu.Lock()
			res.requests += n
			res.errors += errs
			res.lat = append(res.lat, lat...)
			if res.firstErr == "" {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res, nil
}

// bulkLoad writes computes through the store until the compute collection
// holds total entities: copies of the stored entity at template, each under
// a new UUID location, in batches of one transaction each. It returns how
// many it wrote.
func bulkLoad(ctx context.Context, db database, template string, total int) (int, error) {
	st, err := db.open(ctx)
	if err != nil {
		return 0, fmt.Errorf("open the store: %v", err)
	}
	defer st.Close()
	tpl, err := st.Get(ctx, template)
	if err != nil {
		return 0, fmt.Errorf("read %s: %v", template, err)
	}
	have, err := st.Count(ctx, store.Query{Kinds: []occi.CategoryID{computeKind}})
	if err != nil {
		return 0, err
	}
	const batch = 5000
	written := 0
	muts := make([]store.Mutation, 0, batch)
	for n := have; n < total; n++ {
		id := uuid.New()
		e := tpl.Clone()
		e.Location = "/compute/" + id.String()
		e.ID = "urn:uuid:" + id.String()
		e.Title = fmt.Sprintf("bulk-%06d", n)
		e.Revision = 0
		// Not a machine the backend knows; nothing in the harness GETs
		// one (a GET would observe it as gone).
		e.BackendRef = ""
		e.Links = nil
		muts = append(muts, store.Mutation{Put: e, Expect: store.MustNotExist})
		if len(muts) == batch || n == total-1 {
			if err := st.Write(ctx, muts...); err != nil {
				return written, err
			}
			written += len(muts)
			muts = muts[:0]
		}
	}
	return written, nil
}

// sqliteIn returns the default SQLite store of occid's data dir.
func sqliteIn(dataDir string) sqliteDB { return sqliteDB{path: filepath.Join(dataDir, "occid.db")} }

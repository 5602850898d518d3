// Package sqlitestore is occid's default store: one SQLite database file in
// the data dir, through modernc.org/sqlite (pure Go, no C toolchain).
//
// Durability: the database runs in WAL mode with synchronous=FULL, so the
// WAL is fsynced before a commit returns; Write acknowledges only after its
// transaction has committed. An acknowledged write therefore survives the
// process being killed (SIGKILL) and, as far as the disk honours fsync, a
// power loss. (synchronous=NORMAL in WAL mode would survive SIGKILL too, but
// may lose the last commits on power loss, which the contract forbids.)
//
// Writes are serialized through one connection and group-committed:
// concurrent Write calls that arrive while a commit is in flight are
// applied in the next transaction, each inside its own savepoint, so one
// failing batch does not affect the others and one fsync serves them all.
// Reads use a separate pool of read-only connections and see the last
// committed state. Several processes may open the same file (SQLite's
// locks and a busy timeout serialize their writes), though occid uses
// PostgreSQL for that.
//
// The schema is versioned (table schema_version) and migrations run at Open.
// Entities keep their queried fields in columns (location, kind, owner,
// source, revision) and the rest in a JSON body; entity_mixins holds mixin
// membership keyed by (mixin, location), so a page of a kind (of one
// owner), mixin, owner or source collection is read in location order from
// an index. Notes (store.Note) live in a table of their own, keyed by key
// alone.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

// Store is a store.Store on one SQLite file.
type Store struct {
	path   string
	w      *sql.DB // exactly one connection, used only by the writer goroutine
	r      *sql.DB // read-only connections
	reqs   chan *writeReq
	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	done   chan struct{} // closed when the writer goroutine has exited

	reads  stmtCache  // prepared read statements, by SQL text
	writes writeStmts // prepared write statements, on w's one connection
	shm    *walIndex  // the mapped WAL-index header, for Version; nil if unavailable
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Versioner = (*Store)(nil)
)

// The connection settings: WAL with a full fsync at every commit, a busy
// timeout for other processes' locks, and BEGIN IMMEDIATE so a write
// transaction takes the write lock at its start.
const (
	writerParams = "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"
	readerParams = "?_busy_timeout=10000&_query_only=1"
)

// maxGroup caps how many Write calls share one transaction.
const maxGroup = 128

var dialect = rowcodec.Dialect{Placeholder: func(int) string { return "?" }, NoLimit: "LIMIT -1", BindLimit: true}

// Statements are prepared once and reused: compiling SQL costs more than
// running these small queries. The read statements are prepared on demand
// (database/sql prepares each on every pooled connection that runs it);
// the write statements at Open, on the writer's one connection.

// maxReadStmts caps the read statements kept prepared; the SQL of List
// depends only on the shape of the query (LIMIT and OFFSET are bound), so
// the set is small in practice, and past the cap queries are compiled
// each time as before.
const maxReadStmts = 256

// stmtCache holds prepared statements of one *sql.DB by SQL text.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// get returns the prepared statement for query, or nil when the cache is
// full (the caller then runs query on the DB directly).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		return st, nil
	}
	if len(c.m) >= maxReadStmts {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) queryRow(ctx context.Context, scan func(*sql.Row) error, query string, args ...any) error {
	st, err := c.get(ctx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return scan(c.db.QueryRowContext(ctx, query, args...))
	}
	return scan(st.QueryRowContext(ctx, args...))
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// The write statements, by purpose.
const (
	sqlSavepoint      = "SAVEPOINT w"
	sqlRollbackTo     = "ROLLBACK TO w"
	sqlRelease        = "RELEASE w"
	sqlEntityRevision = "SELECT revision FROM entities WHERE location = ?"
	sqlUpdateEntity   = "UPDATE entities SET kind = ?, owner = ?, source = ?, revision = ?, body = ? WHERE location = ?"
	sqlInsertEntity   = "INSERT INTO entities (location, kind, owner, source, revision, body) VALUES (?, ?, ?, ?, 1, ?)"
	sqlDeleteEntity   = "DELETE FROM entities WHERE location = ?"
	sqlDeleteMembers  = "DELETE FROM entity_mixins WHERE location = ?"
	sqlInsertMember   = "INSERT INTO entity_mixins (mixin, location) VALUES (?, ?)"
	sqlMixinRevision  = "SELECT revision FROM mixins WHERE id = ?"
	sqlPutMixin       = `INSERT INTO mixins (id, owner, revision, body) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, revision = excluded.revision, body = excluded.body`
	sqlDeleteMixin = "DELETE FROM mixins WHERE id = ?"
	// A note is written or deleted by one statement that returns the
	// revision it now has or had; apply checks Expect against it, and a
	// failed check rolls the change back with the rest of the batch.
	sqlPutNote = `INSERT INTO notes (key, revision, body) VALUES (?, 1, ?)
				ON CONFLICT (key) DO UPDATE SET revision = notes.revision + 1, body = excluded.body RETURNING revision`
	sqlDeleteNote = "DELETE FROM notes WHERE key = ? RETURNING revision"
)

var writeSQL = []string{sqlSavepoint, sqlRollbackTo, sqlRelease, sqlEntityRevision, sqlUpdateEntity, sqlInsertEntity,
	sqlDeleteEntity, sqlDeleteMembers, sqlInsertMember, sqlMixinRevision, sqlPutMixin, sqlDeleteMixin,
	sqlPutNote, sqlDeleteNote}

// writeStmts are the write statements prepared on the writer's connection.
type writeStmts map[string]*sql.Stmt

func prepareWrites(db *sql.DB) (writeStmts, error) {
	out := writeStmts{}
	for _, q := range writeSQL {
		st, err := db.Prepare(q)
		if err != nil {
			out.close()
			return nil, classify(err, "prepare "+q)
		}
		out[q] = st
	}
	return out, nil
}

func (w writeStmts) close() error {
	var errs []error
	for _, st := range w {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// in returns the statement query bound to tx; tx runs on the connection
// the statement was prepared on, so it is not compiled again.
func (w writeStmts) in(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(ctx, w[query])
}

// Open opens (creating if needed) the database file at path and applies
// any pending schema migrations. It fails if the file was written by a
// newer schema than this code knows.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "sqlitestore: empty database path")
	}
	u := url.URL{Scheme: "file", Opaque: path}
	base := u.String()
	w, err := sql.Open("sqlite", base+writerParams)
	if err != nil {
		return nil, classify(err, "open database "+path)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, err
	}
	// Prepared before the writer goroutine holds the one connection.
	ws, err := prepareWrites(w)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+readerParams)
	if err != nil {
		ws.close()
		w.Close()
		return nil, classify(err, "open database "+path)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s := &Store{path: path, w: w, r: r, reqs: make(chan *writeReq, maxGroup), done: make(chan struct{}),
		reads: stmtCache{db: r}, writes: ws}
	// The writer's connection, open until Close, keeps the WAL-index file
	// in place (SQLite removes it only when the last connection closes).
	s.shm = mapWALIndex(path)
	go s.writer()
	return s, nil
}

// Close waits for writes in flight, then closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	// The WAL-index mapping stays: it is the process's, shared by every
	// Store on the file, and its file must never be closed (see
	// mapWALIndex).
	return errors.Join(s.reads.close(), s.writes.close(), s.r.Close(), s.w.Close())
}

func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return occi.Wrap(err, occi.Unavailable, "request cancelled or timed out")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return occi.Wrap(err, occi.Unavailable, "database busy: "+what)
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return occi.Wrap(err, occi.Unavailable, "database unavailable: "+what)
		}
	}
	return occi.Wrap(err, occi.Internal, "database error: "+what)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return occi.Wrap(err, occi.Unavailable, "request cancelled or timed out")
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

var errClosed = occi.Errorf(occi.Unavailable, "sqlitestore: the store is closed")

// Get returns the entity at location.
func (s *Store) Get(ctx context.Context, location string) (*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	var owner, source string
	var rev int64
	var body []byte
	err := s.reads.queryRow(ctx, func(r *sql.Row) error { return r.Scan(&owner, &source, &rev, &body) },
		"SELECT owner, source, revision, body FROM entities WHERE location = ?", location)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	if err != nil {
		return nil, classify(err, "get "+location)
	}
	return rowcodec.DecodeEntity(location, owner, source, rev, body)
}

// sqlGetLinked reads an entity (k = 0) and the entities whose source it is
// (k = 1, its links) in one statement, so in one read transaction. The
// links come from the source index, in location order; GetLinked checks
// that order rather than have SQLite sort the compound.
const sqlGetLinked = `SELECT 0 AS k, location, owner, source, revision, body FROM entities WHERE location = ?1
	UNION ALL
	SELECT 1 AS k, location, owner, source, revision, body FROM entities WHERE source = ?1`

// GetLinked returns the entity at location, as Get does, and the entities
// whose Source is location (of any owner), ordered by location, read at
// the same time in one statement (see engine.LinkedStore).
func (s *Store) GetLinked(ctx context.Context, location string) (*occi.Entity, []*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, nil, err
	}
	if s.isClosed() {
		return nil, nil, errClosed
	}
	if location == "" {
		return nil, nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	rows, err := s.reads.query(ctx, sqlGetLinked, location)
	if err != nil {
		return nil, nil, classify(err, "get "+location)
	}
	defer rows.Close()
	return rowcodec.ScanLinked(rows, location, func(err error) error { return classify(err, "get "+location) })
}

// sqlListSourced reads the entities whose source is one of a JSON array
// of locations, through the source index.
const sqlListSourced = `SELECT location, owner, source, revision, body FROM entities
	WHERE source IN (SELECT value FROM json_each(?)) ORDER BY location`

// ListSourced returns the entities whose Source is one of sources (of any
// owner), ordered by location, in one statement: the links of a whole page
// of resources at once (see engine.SourcedStore).
func (s *Store) ListSourced(ctx context.Context, sources []string) ([]*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	if len(sources) == 0 {
		return nil, nil
	}
	arg, err := json.Marshal(sources)
	if err != nil {
		return nil, occi.Wrap(err, occi.Internal, "list links")
	}
	rows, err := s.reads.query(ctx, sqlListSourced, string(arg))
	if err != nil {
		return nil, classify(err, "list links")
	}
	defer rows.Close()
	return rowcodec.ScanEntities(rows, func(err error) error { return classify(err, "list links") })
}

func byLocation(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) }

// List returns the entities q selects, ordered by location.
func (s *Store) List(ctx context.Context, q store.Query) ([]*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckQuery(q); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	query, args := rowcodec.Select(dialect, q, false)
	rows, err := s.reads.query(ctx, query, args...)
	if err != nil {
		return nil, classify(err, "list")
	}
	defer rows.Close()
	return rowcodec.ScanEntities(rows, func(err error) error { return classify(err, "list") })
}

// ListLocations returns the locations of the entities List(ctx, q)
// returns, in the same order, reading only locations (from an index alone
// where one covers the query); see engine.LocationStore.
func (s *Store) ListLocations(ctx context.Context, q store.Query) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckQuery(q); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	// The locations come back as one value, joined by NUL (which no
	// stored location holds): one row instead of one per entity, which for
	// a large collection saves most of the time. SQLite concatenates them
	// in the order the subquery yields them, which is location order; the
	// order is checked all the same, and restored if it ever differs.
	query, args := rowcodec.SelectLocations(dialect, q)
	var joined sql.NullString
	err := s.reads.queryRow(ctx, func(r *sql.Row) error { return r.Scan(&joined) },
		"SELECT group_concat(location, char(0)) FROM ("+query+")", args...)
	if err != nil {
		return nil, classify(err, "list locations")
	}
	if !joined.Valid {
		return []string{}, nil
	}
	out := strings.Split(joined.String, "\x00")
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return out, nil
}

// Count returns how many entities q selects, ignoring After, Offset and Limit.
func (s *Store) Count(ctx context.Context, q store.Query) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if err := rowcodec.CheckQuery(q); err != nil {
		return 0, err
	}
	if s.isClosed() {
		return 0, errClosed
	}
	query, args := rowcodec.Select(dialect, q, true)
	var n int
	if err := s.reads.queryRow(ctx, func(r *sql.Row) error { return r.Scan(&n) }, query, args...); err != nil {
		return 0, classify(err, "count")
	}
	return n, nil
}

// GetMixin returns the stored mixin id.
func (s *Store) GetMixin(ctx context.Context, id occi.CategoryID) (*occi.Mixin, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	var owner string
	var body []byte
	err := s.reads.queryRow(ctx, func(r *sql.Row) error { return r.Scan(&owner, &body) },
		"SELECT owner, body FROM mixins WHERE id = ?", id.String())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, occi.Errorf(occi.NotFound, "no mixin %s", id)
	}
	if err != nil {
		return nil, classify(err, "get mixin "+id.String())
	}
	return rowcodec.DecodeMixin(owner, body)
}

// ListMixins returns every stored mixin, ordered by type identifier.
func (s *Store) ListMixins(ctx context.Context) ([]*occi.Mixin, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	rows, err := s.reads.query(ctx, "SELECT owner, body FROM mixins ORDER BY id")
	if err != nil {
		return nil, classify(err, "list mixins")
	}
	defer rows.Close()
	return rowcodec.ScanMixins(rows, func(err error) error { return classify(err, "list mixins") })
}

// ListNotes returns the notes whose key starts with prefix, ordered by key.
func (s *Store) ListNotes(ctx context.Context, prefix string) ([]*store.Note, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckColumn("note key prefix", prefix); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, errClosed
	}
	query, args := "SELECT key, revision, body FROM notes WHERE key >= ?", []any{prefix}
	if end, ok := rowcodec.PrefixEnd(prefix); ok {
		query, args = query+" AND key < ?", append(args, end)
	}
	rows, err := s.reads.query(ctx, query+" ORDER BY key", args...)
	if err != nil {
		return nil, classify(err, "list notes")
	}
	defer rows.Close()
	return rowcodec.ScanNotes(rows, func(err error) error { return classify(err, "list notes") })
}

// writeReq is one Write call waiting for the writer goroutine.
type writeReq struct {
	ctx  context.Context
	muts []store.Mutation
	rows []*rowcodec.EntityRow // encoded Put entities, by mutation index
	mix  [][]byte              // encoded PutMixin bodies, by mutation index
	revs []int64               // new revision of each Put and PutNote, by mutation index
	err  error
	done chan struct{}
}

// Write applies muts atomically. It returns once the transaction that holds
// them has committed durably, or with the error that stopped them.
func (s *Store) Write(ctx context.Context, muts ...store.Mutation) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, muts: muts, rows: make([]*rowcodec.EntityRow, len(muts)),
		mix: make([][]byte, len(muts)), revs: make([]int64, len(muts)), done: make(chan struct{})}
	for i, m := range muts {
		if err := rowcodec.CheckMutation(i, m); err != nil {
			return err
		}
		switch {
		case m.Put != nil:
			row, err := rowcodec.EncodeEntity(m.Put)
			if err != nil {
				return err
			}
			req.rows[i] = row
		case m.PutMixin != nil:
			_, body, err := rowcodec.EncodeMixin(m.PutMixin)
			if err != nil {
				return err
			}
			req.mix[i] = body
		}
	}
	if len(muts) == 0 {
		return nil
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	s.reqs <- req
	s.mu.RUnlock()
	<-req.done
	if req.err != nil {
		return req.err
	}
	for i, m := range muts {
		switch {
		case m.Put != nil:
			m.Put.Revision = req.revs[i]
		case m.PutNote != nil:
			m.PutNote.Revision = req.revs[i]
		}
	}
	return nil
}

// writer applies queued writes, several per transaction, until Close.
func (s *Store) writer() {
	defer close(s.done)
	conn, connErr := s.w.Conn(context.Background())
	var sync *syncModes
	if connErr == nil {
		defer conn.Close()
		sync, connErr = newSyncModes(conn)
	}
	for req := range s.reqs {
		group := []*writeReq{req}
	more:
		for len(group) < maxGroup {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		if connErr != nil {
			for _, r := range group {
				r.err = classify(connErr, "connect")
				close(r.done)
			}
			continue
		}
		s.commitGroup(conn, sync, group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// syncModes switches the writer's connection between synchronous=FULL
// (the default: a commit returns once the WAL is fsynced) and
// synchronous=NORMAL (the commit is written to the WAL but not fsynced;
// the next FULL commit's fsync covers it) for a group of writes that all
// carry store.WithDeferredSync. In WAL mode a commit that is written but
// not fsynced survives the process being killed; a power loss may undo it
// (SQLite's checksums stop recovery at the first frame that did not reach
// the disk, so nothing is half applied).
//
// The PRAGMA is run afresh at each switch, never prepared once and
// stepped again: SQLite applies PRAGMA synchronous when it compiles the
// statement, so merely preparing "PRAGMA synchronous = NORMAL" would leave
// the connection in that mode.
type syncModes struct {
	conn     *sql.Conn
	deferred bool // the connection's current mode is NORMAL
}

// newSyncModes puts conn in synchronous=FULL and returns its switch.
func newSyncModes(conn *sql.Conn) (*syncModes, error) {
	if _, err := conn.ExecContext(context.Background(), "PRAGMA synchronous = FULL"); err != nil {
		return nil, err
	}
	return &syncModes{conn: conn}, nil
}

// set puts the connection in the mode a group needs, outside a
// transaction.
func (m *syncModes) set(ctx context.Context, deferred bool) error {
	if m.deferred == deferred {
		return nil
	}
	q := "PRAGMA synchronous = FULL"
	if deferred {
		q = "PRAGMA synchronous = NORMAL"
	}
	if _, err := m.conn.ExecContext(ctx, q); err != nil {
		return err
	}
	m.deferred = deferred
	return nil
}

func (s *Store) commitGroup(conn *sql.Conn, sync *syncModes, group []*writeReq) {
	ctx := context.Background()
	fail := func(err error) {
		for _, r := range group {
			if r.err == nil {
				r.err = err
			}
		}
	}
	deferred := true
	for _, r := range group {
		deferred = deferred && store.DeferredSync(r.ctx)
	}
	if err := sync.set(ctx, deferred); err != nil {
		fail(classify(err, "set synchronous mode"))
		return
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		fail(classify(err, "begin transaction"))
		return
	}
	if len(group) == 1 {
		// One batch alone needs no savepoint: if it fails, the whole
		// transaction is rolled back.
		r := group[0]
		if r.err = ctxErr(r.ctx); r.err == nil {
			r.err = s.apply(ctx, tx, r)
		}
		if r.err != nil {
			tx.Rollback()
			return
		}
	} else {
		for _, r := range group {
			if err := ctxErr(r.ctx); err != nil {
				r.err = err
				continue
			}
			if _, err := s.writes.in(ctx, tx, sqlSavepoint).ExecContext(ctx); err != nil {
				tx.Rollback()
				fail(classify(err, "savepoint"))
				return
			}
			r.err = s.apply(ctx, tx, r)
			if r.err != nil {
				if _, err := s.writes.in(ctx, tx, sqlRollbackTo).ExecContext(ctx); err != nil {
					tx.Rollback()
					fail(classify(err, "rollback to savepoint"))
					return
				}
			}
			if _, err := s.writes.in(ctx, tx, sqlRelease).ExecContext(ctx); err != nil {
				tx.Rollback()
				fail(classify(err, "release savepoint"))
				return
			}
		}
	}
	if testCommitHook != nil {
		// The mode the commit runs in, as SQLite has it.
		var mode int
		if err := tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil {
			tx.Rollback()
			fail(classify(err, "read synchronous mode"))
			return
		}
		defer testCommitHook(len(group), mode)
	}
	if err := tx.Commit(); err != nil {
		fail(classify(err, "commit"))
		return
	}
}

// testCommitHook, set by tests only, is told of every commit: how many
// Write calls it held and the connection's synchronous mode as SQLite
// reports it (2 FULL: fsynced; 1 NORMAL: not).
var testCommitHook func(writes int, mode int)

func (s *Store) revision(ctx context.Context, tx *sql.Tx, query, key string) (rev int64, exists bool, err error) {
	err = s.writes.in(ctx, tx, query).QueryRowContext(ctx, key).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, classify(err, "read revision of "+key)
	}
	return rev, true, nil
}

// check applies the Expect rules of store.Mutation to a record that has
// revision cur (exists false: no record). For deletes, Expect <= 0 means
// no revision check.
func check(what string, expect, cur int64, exists, del bool) error {
	switch {
	case !exists && (del || expect > 0):
		return occi.Errorf(occi.NotFound, "%s does not exist", what)
	case exists && !del && expect == store.MustNotExist:
		return occi.Errorf(occi.AlreadyExists, "%s already exists", what)
	case exists && expect > 0 && cur != expect:
		return occi.Errorf(occi.Conflict, "%s has revision %d, not %d: it was changed concurrently", what, cur, expect)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, r *writeReq) error {
	exec := func(query string, args ...any) error {
		_, err := s.writes.in(ctx, tx, query).ExecContext(ctx, args...)
		return err
	}
	for i, m := range r.muts {
		switch {
		case m.Put != nil:
			row := r.rows[i]
			cur, exists, err := s.revision(ctx, tx, sqlEntityRevision, row.Location)
			if err != nil {
				return err
			}
			if err := check("entity "+row.Location, m.Expect, cur, exists, false); err != nil {
				return err
			}
			if exists {
				err = exec(sqlUpdateEntity, row.Kind, row.Owner, row.Source, cur+1, row.Body, row.Location)
				if err == nil {
					err = exec(sqlDeleteMembers, row.Location)
				}
			} else {
				err = exec(sqlInsertEntity, row.Location, row.Kind, row.Owner, row.Source, row.Body)
			}
			if err != nil {
				return classify(err, "write entity "+row.Location)
			}
			for _, mx := range row.Mixins {
				if err := exec(sqlInsertMember, mx, row.Location); err != nil {
					return classify(err, "write mixins of "+row.Location)
				}
			}
			r.revs[i] = cur + 1
		case m.Delete != "":
			cur, exists, err := s.revision(ctx, tx, sqlEntityRevision, m.Delete)
			if err != nil {
				return err
			}
			if err := check("entity "+m.Delete, m.Expect, cur, exists, true); err != nil {
				return err
			}
			if err := exec(sqlDeleteEntity, m.Delete); err != nil {
				return classify(err, "delete "+m.Delete)
			}
			if err := exec(sqlDeleteMembers, m.Delete); err != nil {
				return classify(err, "delete mixins of "+m.Delete)
			}
		case m.PutMixin != nil:
			id := m.PutMixin.ID.String()
			cur, exists, err := s.revision(ctx, tx, sqlMixinRevision, id)
			if err != nil {
				return err
			}
			if err := check("mixin "+id, m.Expect, cur, exists, false); err != nil {
				return err
			}
			err = exec(sqlPutMixin, id, m.PutMixin.Owner, cur+1, r.mix[i])
			if err != nil {
				return classify(err, "write mixin "+id)
			}
		case !m.DeleteMixin.IsZero():
			id := m.DeleteMixin.String()
			cur, exists, err := s.revision(ctx, tx, sqlMixinRevision, id)
			if err != nil {
				return err
			}
			if err := check("mixin "+id, m.Expect, cur, exists, true); err != nil {
				return err
			}
			if err := exec(sqlDeleteMixin, id); err != nil {
				return classify(err, "delete mixin "+id)
			}
		case m.PutNote != nil:
			key := m.PutNote.Key
			body := m.PutNote.Body
			if body == nil {
				body = []byte{}
			}
			var rev int64
			if err := s.writes.in(ctx, tx, sqlPutNote).QueryRowContext(ctx, key, body).Scan(&rev); err != nil {
				return classify(err, "write note "+key)
			}
			// rev is 1 for a new note: an existing one had rev - 1.
			if err := check("note "+key, m.Expect, rev-1, rev > 1, false); err != nil {
				return err
			}
			r.revs[i] = rev
		case m.DeleteNote != "":
			var cur int64
			err := s.writes.in(ctx, tx, sqlDeleteNote).QueryRowContext(ctx, m.DeleteNote).Scan(&cur)
			exists := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return classify(err, "delete note "+m.DeleteNote)
			}
			if err := check("note "+m.DeleteNote, m.Expect, cur, exists, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// migrations are applied in order; migrations[i] brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE entities (
		location TEXT NOT NULL PRIMARY KEY,
		kind     TEXT NOT NULL,
		owner    TEXT NOT NULL,
		source   TEXT NOT NULL,
		revision INTEGER NOT NULL,
		body     BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX entities_kind ON entities (kind, location);
	CREATE INDEX entities_owner ON entities (owner, location);
	CREATE INDEX entities_source ON entities (source, location);
	CREATE TABLE entity_mixins (
		mixin    TEXT NOT NULL,
		location TEXT NOT NULL,
		PRIMARY KEY (mixin, location)
	) WITHOUT ROWID;
	CREATE INDEX entity_mixins_location ON entity_mixins (location);
	CREATE TABLE mixins (
		id       TEXT NOT NULL PRIMARY KEY,
		owner    TEXT NOT NULL,
		revision INTEGER NOT NULL,
		body     BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX mixins_owner ON mixins (owner, id);`,
	// A kind collection is always listed for one owner (the engine asks
	// for the caller's entities): kind and owner together, in location
	// order, from an index that also answers a listing of locations alone.
	`CREATE INDEX entities_kind_owner ON entities (kind, owner, location);`,
	// Notes, the engine's bookkeeping (pending creations), have a table
	// of their own with no secondary index: a note costs one B-tree
	// insert and one delete, not one per index of entities. The index of
	// kinds alone goes: the engine lists a kind for one owner
	// (entities_kind_owner), which also serves a count of a kind; a page of
	// a kind of every owner is still answered, if more slowly.
	`CREATE TABLE notes (
		key      TEXT NOT NULL PRIMARY KEY,
		revision INTEGER NOT NULL,
		body     BLOB NOT NULL
	) WITHOUT ROWID;
	DROP INDEX entities_kind;`,
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

func migrate(db *sql.DB) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrating process at a time
	if err != nil {
		return classify(err, "begin migration")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied TEXT NOT NULL)"); err != nil {
		return classify(err, "create schema_version")
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&cur); err != nil {
		return classify(err, "read schema version")
	}
	if cur > len(migrations) {
		return occi.Errorf(occi.FailedPrecondition, "sqlitestore: the database has schema version %d, newer than this occid knows (%d)", cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return classify(err, fmt.Sprintf("apply migration %d", v))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, applied) VALUES (?, datetime('now'))", v); err != nil {
			return classify(err, "record schema version")
		}
	}
	if err := tx.Commit(); err != nil {
		return classify(err, "commit migration")
	}
	return nil
}

// Package pgstore is the store for several occid processes sharing one
// state: PostgreSQL through pgx and a pgxpool connection pool.
//
// Every write is a transaction at READ COMMITTED whose updates are
// conditional on the revision the caller read (UPDATE ... WHERE revision =
// $n; INSERT ... ON CONFLICT DO NOTHING for creates). Row locks make a
// concurrent writer wait and then re-check that condition, so of two
// processes updating the same entity from the same revision exactly one
// succeeds and the other gets a Conflict: no update is lost silently. A
// change committed through one process is visible to the next read through
// any other.
//
// The tables live in the connection's current schema (set search_path in
// the DSN to use another). Migrations are versioned (table schema_version)
// and applied at Open in one transaction under an advisory lock, so several
// processes starting at once on one database are safe. Locations, note
// keys and category identifiers are text columns with the "C" collation,
// so order is byte order and every page is read from an index in location
// order. Notes (store.Note) live in a table of their own.
//
// Besides store.Store, Store implements the engine's optional reads
// (GetLinked, ListSourced, ListLocations), each one statement, so one round
// trip once pgx has prepared it, answered from indexes. A Write whose
// context carries store.WithDeferredSync commits with synchronous_commit
// off for that transaction only: it is acknowledged once committed, before
// its WAL record is flushed.
//
// Failures to reach the server are Unavailable errors.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/internal/rowcodec"
)

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool

	// probe, set only by tests before the first Write, is a query that
	// every write transaction runs last, just before it commits; probed
	// receives its one text value. It shows the settings a commit runs
	// with.
	probe  string
	probed func(string)
}

var _ store.Store = (*Store)(nil)

var dialect = rowcodec.Dialect{Placeholder: func(n int) string { return "$" + strconv.Itoa(n) }}

// Open connects to the database named by dsn (a libpq URL or key=value
// string as pgx accepts it) and applies pending schema migrations. A DSN
// that does not parse is InvalidArgument; a server that cannot be reached
// is Unavailable.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, occi.Wrap(err, occi.InvalidArgument, "pgstore: invalid PostgreSQL DSN")
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify(err, "connect")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classify(err, "connect")
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return occi.Wrap(err, occi.Unavailable, "request cancelled or timed out")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == stateNotFound:
			return occi.Wrap(err, occi.NotFound, pe.Message)
		case pe.Code == stateConflict:
			return occi.Wrap(err, occi.Conflict, pe.Message)
		case pe.Code == stateExists:
			return occi.Wrap(err, occi.AlreadyExists, pe.Message)
		case pe.Code == "23505":
			return occi.Wrap(err, occi.AlreadyExists, what+": already exists")
		case pe.Code == "40001" || pe.Code == "40P01":
			return occi.Wrap(err, occi.Conflict, what+": a concurrent change won; retry")
		case pe.Code[:2] == "08", pe.Code[:2] == "53", pe.Code[:2] == "57", pe.Code[:2] == "58":
			return occi.Wrap(err, occi.Unavailable, "database unavailable: "+what)
		}
		return occi.Wrap(err, occi.Internal, "database error: "+what)
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return occi.Wrap(err, occi.Unavailable, "database unavailable: "+what)
	}
	if err.Error() == "closed pool" || err.Error() == "conn closed" {
		return occi.Wrap(err, occi.Unavailable, "database unavailable: "+what)
	}
	return occi.Wrap(err, occi.Internal, "database error: "+what)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return occi.Wrap(err, occi.Unavailable, "request cancelled or timed out")
	}
	return nil
}

// Get returns the entity at location.
func (s *Store) Get(ctx context.Context, location string) (*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckColumn("location", location); err != nil {
		return nil, err
	}
	var owner, source string
	var rev int64
	var body []byte
	err := s.pool.QueryRow(ctx, "SELECT owner, source, revision, body FROM entities WHERE location = $1", location).
		Scan(&owner, &source, &rev, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	if err != nil {
		return nil, classify(err, "get "+location)
	}
	return rowcodec.DecodeEntity(location, owner, source, rev, body)
}

// List returns the entities q selects, ordered by location.
func (s *Store) List(ctx context.Context, q store.Query) ([]*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckQuery(q); err != nil {
		return nil, err
	}
	query, args := rowcodec.Select(dialect, q, false)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(err, "list")
	}
	defer rows.Close()
	return rowcodec.ScanEntities(rows, func(err error) error { return classify(err, "list") })
}

// sqlGetLinked reads an entity (k = 0) and the entities whose source it is
// (k = 1, its links) in one statement, so from one snapshot: the entity by
// the primary key, its links from the source index, (source, location),
// so in location order. GetLinked checks that order rather than have the
// plan sort the links, which the planner might otherwise do for a source
// with many.
const sqlGetLinked = `SELECT 0 AS k, location, owner, source, revision, body FROM entities WHERE location = $1
	UNION ALL
	SELECT 1 AS k, location, owner, source, revision, body FROM entities WHERE source = $1`

// GetLinked returns the entity at location, as Get does (with the same
// errors), and the entities whose Source is location (of any owner),
// ordered by location, read in one statement from one snapshot. It
// implements the engine's optional LinkedStore.
func (s *Store) GetLinked(ctx context.Context, location string) (*occi.Entity, []*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, nil, err
	}
	if err := rowcodec.CheckColumn("location", location); err != nil {
		return nil, nil, err
	}
	if location == "" {
		// Every resource has the source "": no entity has this location.
		return nil, nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	rows, err := s.pool.Query(ctx, sqlGetLinked, location)
	if err != nil {
		return nil, nil, classify(err, "get "+location)
	}
	defer rows.Close()
	return rowcodec.ScanLinked(rows, location, func(err error) error { return classify(err, "get "+location) })
}

// sqlListSourced reads the entities whose source is one of an array of
// locations, through the source index. They come back in index order,
// (source, location); ListSourced orders them by location, which is
// cheaper in Go than in a sort step of the plan carrying every body.
const sqlListSourced = `SELECT location, owner, source, revision, body FROM entities WHERE source = ANY($1::text[])`

// ListSourced returns the entities whose Source is one of sources (of any
// owner), each once, ordered by location, in one statement: the links of
// a whole page of resources at once. No sources, or only sources that no
// entity can have (such as text with a NUL character), select nothing.
// It implements the engine's optional SourcedStore.
func (s *Store) ListSourced(ctx context.Context, sources []string) ([]*occi.Entity, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	valid := make([]string, 0, len(sources))
	for _, src := range sources {
		// "" is the source of every resource, not a link's; text a column
		// cannot hold is no stored entity's source.
		if src != "" && rowcodec.CheckColumn("source", src) == nil {
			valid = append(valid, src)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlListSourced, valid)
	if err != nil {
		return nil, classify(err, "list links")
	}
	defer rows.Close()
	out, err := rowcodec.ScanEntities(rows, func(err error) error { return classify(err, "list links") })
	if err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(out, byLocation) {
		slices.SortFunc(out, byLocation)
	}
	return out, nil
}

// selectLocations builds the statement of ListLocations: the locations q
// selects, in location order, as one array. array_agg takes the rows in
// the order the subquery yields them, which is location order (ListLocations
// checks it all the same).
func selectLocations(q store.Query) (string, []any) {
	query, args := rowcodec.SelectLocations(dialect, q)
	return "SELECT array_agg(location) FROM (" + query + ") AS l", args
}

func byLocation(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) }

// ListLocations returns the locations of the entities List(ctx, q)
// returns, in the same order and with the same errors, reading only
// locations: from an index alone where one covers the query. They come
// back as one array value rather than one row per entity. It implements
// the engine's optional LocationStore.
func (s *Store) ListLocations(ctx context.Context, q store.Query) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckQuery(q); err != nil {
		return nil, err
	}
	query, args := selectLocations(q)
	var out []string
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&out); err != nil {
		return nil, classify(err, "list locations")
	}
	if out == nil {
		return []string{}, nil
	}
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
	query, args := rowcodec.Select(dialect, q, true)
	var n int
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, classify(err, "count")
	}
	return n, nil
}

// GetMixin returns the stored mixin id.
func (s *Store) GetMixin(ctx context.Context, id occi.CategoryID) (*occi.Mixin, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckColumn("mixin", id.String()); err != nil {
		return nil, err
	}
	var owner string
	var body []byte
	err := s.pool.QueryRow(ctx, "SELECT owner, body FROM mixins WHERE id = $1", id.String()).Scan(&owner, &body)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := s.pool.Query(ctx, "SELECT owner, body FROM mixins ORDER BY id")
	if err != nil {
		return nil, classify(err, "list mixins")
	}
	defer rows.Close()
	return rowcodec.ScanMixins(rows, func(err error) error { return classify(err, "list mixins") })
}

// ListNotes returns the notes whose key starts with prefix, ordered by key
// (byte order: the key column has the "C" collation), from the primary key.
func (s *Store) ListNotes(ctx context.Context, prefix string) ([]*store.Note, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := rowcodec.CheckColumn("note key prefix", prefix); err != nil {
		return nil, err
	}
	query, args := "SELECT key, revision, body FROM notes WHERE key >= $1", []any{prefix}
	if end, ok := rowcodec.PrefixEnd(prefix); ok {
		query, args = query+" AND key < $2", append(args, end)
	}
	rows, err := s.pool.Query(ctx, query+" ORDER BY key", args...)
	if err != nil {
		return nil, classify(err, "list notes")
	}
	defer rows.Close()
	return rowcodec.ScanNotes(rows, func(err error) error { return classify(err, "list notes") })
}

// Write applies muts atomically in one transaction and returns once it has
// committed: durably, with the server's default synchronous_commit=on,
// unless ctx comes from store.WithDeferredSync. Such a transaction commits
// with synchronous_commit off, set for that transaction alone (SET LOCAL,
// or set_config with is_local in the single-statement create), so the
// sessions of the pool keep the server's setting: it is acknowledged once
// committed, when every other connection sees it, but before its WAL
// record is flushed, which the WAL writer does within three times
// wal_writer_delay (600 ms by default) and any later durable commit does
// too. A crash of the database server or of its machine before then may
// undo it; a crash of occid cannot. Without the flag nothing changes.
func (s *Store) Write(ctx context.Context, muts ...store.Mutation) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	rows := make([]*rowcodec.EntityRow, len(muts))
	mix := make([][]byte, len(muts))
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
			rows[i] = row
		case m.PutMixin != nil:
			_, body, err := rowcodec.EncodeMixin(m.PutMixin)
			if err != nil {
				return err
			}
			mix[i] = body
		}
	}
	if len(muts) == 0 {
		return nil
	}
	deferred := store.DeferredSync(ctx)
	if len(muts) == 1 && muts[0].Put != nil && muts[0].Expect == store.MustNotExist {
		return s.create(ctx, muts[0].Put, rows[0], deferred)
	}
	if len(muts) == 1 && muts[0].PutNote != nil && muts[0].Expect == store.MustNotExist {
		return s.createNote(ctx, muts[0].PutNote, deferred)
	}
	if pipelined(muts) {
		return s.pipeline(ctx, muts, rows, deferred)
	}
	revs := make([]int64, len(muts))
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if deferred {
		// Sent as one simple query with the BEGIN: no extra round trip.
		opts = pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit = off"}
	}
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return classify(err, "begin transaction")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for i, m := range muts {
		if err := applyOne(ctx, tx, m, rows[i], mix[i], &revs[i]); err != nil {
			return err
		}
	}
	if s.probe != "" {
		var v string
		if err := tx.QueryRow(ctx, s.probe).Scan(&v); err != nil {
			return classify(err, "probe")
		}
		s.probed(v)
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err, "commit")
	}
	for i, m := range muts {
		switch {
		case m.Put != nil:
			m.Put.Revision = revs[i]
		case m.PutNote != nil:
			m.PutNote.Revision = revs[i]
		}
	}
	return nil
}

// sqlCreateRows inserts one new entity and its mixin rows: $1–$5 are the
// entity's columns, $6 its mixins. e holds the location when it was
// free and nothing when it was taken.
const sqlCreateRows = `WITH e AS (
		INSERT INTO entities (location, kind, owner, source, revision, body) VALUES ($1, $2, $3, $4, 1, $5)
		ON CONFLICT (location) DO NOTHING RETURNING location
	), m AS (
		INSERT INTO entity_mixins (mixin, location) SELECT x, e.location FROM e, unnest($6::text[]) AS x
	)
	`

// sqlCreate is the create of one entity as a single statement: 1 when it
// was created, 0 when the location is taken.
const sqlCreate = sqlCreateRows + `SELECT count(*) FROM e`

// sqlCreateDeferred is sqlCreate that also turns synchronous_commit off
// for the transaction it runs in (set_config with is_local true). Sent on
// its own, a statement is a transaction of its own, which so commits
// without waiting for the WAL flush. The second column is the new
// setting, "off".
const sqlCreateDeferred = sqlCreateRows + `SELECT count(*), set_config('synchronous_commit', 'off', true) FROM e`

// create writes one new entity and its mixin rows in a single statement,
// so in a single round trip, committed on its own: the common case.
// deferred selects sqlCreateDeferred, still one statement and one round
// trip.
func (s *Store) create(ctx context.Context, e *occi.Entity, row *rowcodec.EntityRow, deferred bool) error {
	mixins := row.Mixins
	if mixins == nil {
		mixins = []string{}
	}
	args := []any{row.Location, row.Kind, row.Owner, row.Source, row.Body, mixins}
	var n int
	var setting string
	scan := func(r pgx.Row) error {
		if deferred {
			return r.Scan(&n, &setting)
		}
		return r.Scan(&n)
	}
	query := sqlCreate
	if deferred {
		query = sqlCreateDeferred
	}
	if err := s.single(ctx, scan, query, args...); err != nil {
		return classify(err, "create entity "+row.Location)
	}
	if n == 0 {
		return occi.Errorf(occi.AlreadyExists, "entity %s already exists", row.Location)
	}
	e.Revision = 1
	return nil
}

// single runs query, a statement that is a transaction of its own, and
// scans its one row with scan; with a probe set, the probe runs after the
// statement in the same implicit transaction (the statements of a batch
// share one).
func (s *Store) single(ctx context.Context, scan func(pgx.Row) error, query string, args ...any) error {
	if s.probe == "" {
		return scan(s.pool.QueryRow(ctx, query, args...))
	}
	b := &pgx.Batch{}
	b.Queue(query, args...).QueryRow(scan)
	s.queueProbe(b)
	return s.pool.SendBatch(ctx, b).Close()
}

// queueProbe adds the probe, if one is set, to the end of b; its value
// goes to probed when the batch's results are read (at Close).
func (s *Store) queueProbe(b *pgx.Batch) {
	if s.probe == "" {
		return
	}
	b.Queue(s.probe).QueryRow(func(r pgx.Row) error {
		var v string
		if err := r.Scan(&v); err != nil {
			return err
		}
		s.probed(v)
		return nil
	})
}

// The statements that write notes. sqlInsertNote creates the note $1 with
// the body $2 unless one is there; sqlCreateNote does so as a statement of
// its own, returning 1 when it created the note and 0 when the key is
// taken, and sqlCreateNoteDeferred also turns synchronous_commit off for
// its transaction, as sqlCreateDeferred does.
const (
	sqlInsertNote         = `INSERT INTO notes (key, revision, body) VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING`
	sqlCreateNote         = `WITH n AS (` + sqlInsertNote + ` RETURNING 1) SELECT count(*) FROM n`
	sqlCreateNoteDeferred = `WITH n AS (` + sqlInsertNote + ` RETURNING 1) SELECT count(*), set_config('synchronous_commit', 'off', true) FROM n`
	sqlUpsertNote         = `INSERT INTO notes (key, revision, body) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET body = excluded.body, revision = notes.revision + 1 RETURNING revision`
	sqlUpdateNote         = `UPDATE notes SET body = $2, revision = revision + 1 WHERE key = $1 AND revision = $3 RETURNING revision`
	sqlNoteRevision       = `SELECT revision FROM notes WHERE key = $1`
	sqlDeleteNote         = `DELETE FROM notes WHERE key = $1 RETURNING revision`
	sqlDeleteNoteRevision = `DELETE FROM notes WHERE key = $1 AND revision = $2 RETURNING revision`
)

// noteBody is the body of n as stored: never nil, since the column is NOT
// NULL and pgx sends a nil slice as NULL.
func noteBody(n *store.Note) []byte {
	if n.Body == nil {
		return []byte{}
	}
	return n.Body
}

// createNote writes one new note in a single statement committed on its
// own, so in a single round trip: the engine's record of a pending
// creation. deferred selects sqlCreateNoteDeferred.
func (s *Store) createNote(ctx context.Context, n *store.Note, deferred bool) error {
	var created int
	var setting string
	scan := func(r pgx.Row) error {
		if deferred {
			return r.Scan(&created, &setting)
		}
		return r.Scan(&created)
	}
	query := sqlCreateNote
	if deferred {
		query = sqlCreateNoteDeferred
	}
	if err := s.single(ctx, scan, query, n.Key, noteBody(n)); err != nil {
		return classify(err, "create note "+n.Key)
	}
	if created == 0 {
		return occi.Errorf(occi.AlreadyExists, "note %s already exists", n.Key)
	}
	n.Revision = 1
	return nil
}

// pipelined reports whether muts can be written by pipeline: several
// creates of entities (Put with MustNotExist) and deletions of notes at a
// given revision, the engine's completing write of a create.
func pipelined(muts []store.Mutation) bool {
	if len(muts) < 2 {
		return false
	}
	for _, m := range muts {
		switch {
		case m.Put != nil && m.Expect == store.MustNotExist:
		case m.DeleteNote != "" && m.Expect > 0:
		default:
			return false
		}
	}
	return true
}

// The SQLSTATEs occid_expect raises in pipelined writes, which classify
// maps to NotFound, Conflict and AlreadyExists with the message raised
// (class OC is not used by PostgreSQL).
const (
	stateNotFound = "OC404"
	stateConflict = "OC409"
	stateExists   = "OC410"
)

// The statements of a pipelined write. Each checks its own outcome with
// occid_expect (migration 4), which raises an error with the given
// SQLSTATE and message when its first argument is false: an error aborts
// the implicit transaction of the whole batch, so nothing of it stays.
// sqlPipeCreate is sqlCreateRows with $7 the message when the location is
// taken. sqlPipeDeleteNote deletes the note $1 at revision $2; $3 and $4
// are the messages when the note is at another revision and when there is
// none (the main query still sees the note the CTE deleted, so it tells
// the two apart).
const (
	sqlPipeCreate     = sqlCreateRows + `SELECT occid_expect(count(*) = 1, '` + stateExists + `', $7) FROM e`
	sqlPipeDeleteNote = `WITH d AS (DELETE FROM notes WHERE key = $1 AND revision = $2 RETURNING 1)
		SELECT occid_expect(EXISTS (SELECT FROM d),
			CASE WHEN EXISTS (SELECT FROM notes WHERE key = $1) THEN '` + stateConflict + `' ELSE '` + stateNotFound + `' END,
			CASE WHEN EXISTS (SELECT FROM notes WHERE key = $1) THEN $3 ELSE $4 END)`
	sqlSyncOff = `SELECT set_config('synchronous_commit', 'off', true)`
)

// pipeline writes muts (see pipelined) as one batch: the statements are
// sent together and run in the one implicit transaction the extended
// protocol gives a batch, so the write costs one round trip instead of one
// per statement plus BEGIN and COMMIT. deferred turns synchronous_commit
// off for that transaction, as sqlCreateDeferred does.
func (s *Store) pipeline(ctx context.Context, muts []store.Mutation, rows []*rowcodec.EntityRow, deferred bool) error {
	b := &pgx.Batch{}
	if deferred {
		b.Queue(sqlSyncOff)
	}
	for i, m := range muts {
		if m.Put != nil {
			row := rows[i]
			mixins := row.Mixins
			if mixins == nil {
				mixins = []string{}
			}
			b.Queue(sqlPipeCreate, row.Location, row.Kind, row.Owner, row.Source, row.Body, mixins,
				"entity "+row.Location+" already exists")
			continue
		}
		what := "note " + m.DeleteNote
		b.Queue(sqlPipeDeleteNote, m.DeleteNote, m.Expect,
			fmt.Sprintf("%s does not have revision %d: it was changed concurrently", what, m.Expect),
			what+" does not exist")
	}
	n := b.Len()
	s.queueProbe(b)
	br := s.pool.SendBatch(ctx, b)
	var first error
	for range n {
		if _, err := br.Exec(); err != nil && first == nil {
			first = err
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return classify(first, "write")
	}
	for _, m := range muts {
		if m.Put != nil {
			m.Put.Revision = 1
		}
	}
	return nil
}

// missing tells NotFound from Conflict after a conditional statement
// matched no row.
func missing(ctx context.Context, tx pgx.Tx, query, key, what string, expect int64) error {
	var cur int64
	err := tx.QueryRow(ctx, query, key).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return occi.Errorf(occi.NotFound, "%s does not exist", what)
	}
	if err != nil {
		return classify(err, "read revision of "+key)
	}
	return occi.Errorf(occi.Conflict, "%s has revision %d, not %d: it was changed concurrently", what, cur, expect)
}

// sqlDelete deletes the entity at $1 and its mixin rows in one statement
// and returns the revision it had; no row when there was none.
// sqlDeleteRevision does so only if its revision is $2.
const (
	sqlDelete = `WITH d AS (DELETE FROM entities WHERE location = $1 RETURNING revision),
		m AS (DELETE FROM entity_mixins WHERE location = $1 AND EXISTS (SELECT FROM d))
		SELECT revision FROM d`
	sqlDeleteRevision = `WITH d AS (DELETE FROM entities WHERE location = $1 AND revision = $2 RETURNING revision),
		m AS (DELETE FROM entity_mixins WHERE location = $1 AND EXISTS (SELECT FROM d))
		SELECT revision FROM d`
)

// applyOne applies m inside tx, each change of an entity, mixin or note as
// one statement where it can (a create, a delete, every change of a note),
// so one round trip.
func applyOne(ctx context.Context, tx pgx.Tx, m store.Mutation, row *rowcodec.EntityRow, mixBody []byte, rev *int64) error {
	switch {
	case m.Put != nil:
		what := "entity " + row.Location
		var err error
		switch {
		case m.Expect == store.MustNotExist:
			// The entity and its mixin rows in one statement.
			mixins := row.Mixins
			if mixins == nil {
				mixins = []string{}
			}
			var n int
			err := tx.QueryRow(ctx, sqlCreate, row.Location, row.Kind, row.Owner, row.Source, row.Body, mixins).Scan(&n)
			if err != nil {
				return classify(err, "write "+what)
			}
			if n == 0 {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", what)
			}
			*rev = 1
			return nil
		case m.Expect < 0:
			err = tx.QueryRow(ctx, `INSERT INTO entities (location, kind, owner, source, revision, body)
				VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (location) DO UPDATE SET kind = excluded.kind,
				owner = excluded.owner, source = excluded.source, body = excluded.body, revision = entities.revision + 1
				RETURNING revision`,
				row.Location, row.Kind, row.Owner, row.Source, row.Body).Scan(rev)
		default:
			err = tx.QueryRow(ctx, `UPDATE entities SET kind = $2, owner = $3, source = $4, body = $5, revision = revision + 1
				WHERE location = $1 AND revision = $6 RETURNING revision`,
				row.Location, row.Kind, row.Owner, row.Source, row.Body, m.Expect).Scan(rev)
			if errors.Is(err, pgx.ErrNoRows) {
				return missing(ctx, tx, "SELECT revision FROM entities WHERE location = $1", row.Location, what, m.Expect)
			}
		}
		if err != nil {
			return classify(err, "write "+what)
		}
		if *rev > 1 {
			if _, err := tx.Exec(ctx, "DELETE FROM entity_mixins WHERE location = $1", row.Location); err != nil {
				return classify(err, "write mixins of "+row.Location)
			}
		}
		if len(row.Mixins) > 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO entity_mixins (mixin, location) SELECT m, $1 FROM unnest($2::text[]) AS m",
				row.Location, row.Mixins); err != nil {
				return classify(err, "write mixins of "+row.Location)
			}
		}
	case m.Delete != "":
		what := "entity " + m.Delete
		var err error
		if m.Expect > 0 {
			err = tx.QueryRow(ctx, sqlDeleteRevision, m.Delete, m.Expect).Scan(rev)
		} else {
			err = tx.QueryRow(ctx, sqlDelete, m.Delete).Scan(rev)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return missing(ctx, tx, "SELECT revision FROM entities WHERE location = $1", m.Delete, what, m.Expect)
		}
		if err != nil {
			return classify(err, "delete "+what)
		}
		*rev = 0
	case m.PutMixin != nil:
		id := m.PutMixin.ID.String()
		what := "mixin " + id
		var err error
		var r int64
		switch {
		case m.Expect == store.MustNotExist:
			var tag pgconn.CommandTag
			tag, err = tx.Exec(ctx, "INSERT INTO mixins (id, owner, revision, body) VALUES ($1, $2, 1, $3) ON CONFLICT (id) DO NOTHING",
				id, m.PutMixin.Owner, mixBody)
			if err == nil && tag.RowsAffected() == 0 {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", what)
			}
		case m.Expect < 0:
			err = tx.QueryRow(ctx, `INSERT INTO mixins (id, owner, revision, body) VALUES ($1, $2, 1, $3)
				ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, body = excluded.body, revision = mixins.revision + 1
				RETURNING revision`, id, m.PutMixin.Owner, mixBody).Scan(&r)
		default:
			err = tx.QueryRow(ctx, "UPDATE mixins SET owner = $2, body = $3, revision = revision + 1 WHERE id = $1 AND revision = $4 RETURNING revision",
				id, m.PutMixin.Owner, mixBody, m.Expect).Scan(&r)
			if errors.Is(err, pgx.ErrNoRows) {
				return missing(ctx, tx, "SELECT revision FROM mixins WHERE id = $1", id, what, m.Expect)
			}
		}
		if err != nil {
			return classify(err, "write "+what)
		}
	case !m.DeleteMixin.IsZero():
		id := m.DeleteMixin.String()
		what := "mixin " + id
		var r int64
		var err error
		if m.Expect > 0 {
			err = tx.QueryRow(ctx, "DELETE FROM mixins WHERE id = $1 AND revision = $2 RETURNING revision", id, m.Expect).Scan(&r)
		} else {
			err = tx.QueryRow(ctx, "DELETE FROM mixins WHERE id = $1 RETURNING revision", id).Scan(&r)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return missing(ctx, tx, "SELECT revision FROM mixins WHERE id = $1", id, what, m.Expect)
		}
		if err != nil {
			return classify(err, "delete "+what)
		}
	case m.PutNote != nil:
		key := m.PutNote.Key
		what := "note " + key
		var err error
		switch {
		case m.Expect == store.MustNotExist:
			var tag pgconn.CommandTag
			tag, err = tx.Exec(ctx, sqlInsertNote, key, noteBody(m.PutNote))
			if err == nil && tag.RowsAffected() == 0 {
				return occi.Errorf(occi.AlreadyExists, "%s already exists", what)
			}
			*rev = 1
		case m.Expect < 0:
			err = tx.QueryRow(ctx, sqlUpsertNote, key, noteBody(m.PutNote)).Scan(rev)
		default:
			err = tx.QueryRow(ctx, sqlUpdateNote, key, noteBody(m.PutNote), m.Expect).Scan(rev)
			if errors.Is(err, pgx.ErrNoRows) {
				return missing(ctx, tx, sqlNoteRevision, key, what, m.Expect)
			}
		}
		if err != nil {
			return classify(err, "write "+what)
		}
	case m.DeleteNote != "":
		what := "note " + m.DeleteNote
		var r int64
		var err error
		if m.Expect > 0 {
			err = tx.QueryRow(ctx, sqlDeleteNoteRevision, m.DeleteNote, m.Expect).Scan(&r)
		} else {
			err = tx.QueryRow(ctx, sqlDeleteNote, m.DeleteNote).Scan(&r)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return missing(ctx, tx, sqlNoteRevision, m.DeleteNote, what, m.Expect)
		}
		if err != nil {
			return classify(err, "delete "+what)
		}
	}
	return nil
}

// migrations are applied in order; migrations[i] brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE entities (
		location text COLLATE "C" PRIMARY KEY,
		kind     text COLLATE "C" NOT NULL,
		owner    text COLLATE "C" NOT NULL,
		source   text COLLATE "C" NOT NULL,
		revision bigint NOT NULL,
		body     json NOT NULL
	);
	CREATE INDEX entities_kind ON entities (kind, location);
	CREATE INDEX entities_owner ON entities (owner, location);
	CREATE INDEX entities_source ON entities (source, location);
	CREATE TABLE entity_mixins (
		mixin    text COLLATE "C" NOT NULL,
		location text COLLATE "C" NOT NULL,
		PRIMARY KEY (mixin, location)
	);
	CREATE INDEX entity_mixins_location ON entity_mixins (location);
	CREATE TABLE mixins (
		id       text COLLATE "C" PRIMARY KEY,
		owner    text COLLATE "C" NOT NULL,
		revision bigint NOT NULL,
		body     json NOT NULL
	);
	CREATE INDEX mixins_owner ON mixins (owner, id);`,
	// A kind collection is always listed for one owner (the engine asks
	// for the caller's entities): kind and owner together, in location
	// order, from an index that also answers a listing of locations alone.
	`CREATE INDEX entities_kind_owner ON entities (kind, owner, location);`,
	// Notes, the engine's bookkeeping (pending creations), have a table
	// of their own with no secondary index, the key in byte order like
	// locations: a note costs one index entry, not one per index of
	// entities. The index of kinds alone goes: the engine lists a kind for
	// one owner (entities_kind_owner), which also serves a count of a
	// kind; a page of a kind of every owner is still answered, if more
	// slowly.
	`CREATE TABLE notes (
		key      text COLLATE "C" NOT NULL PRIMARY KEY,
		revision bigint NOT NULL,
		body     bytea NOT NULL
	);
	DROP INDEX entities_kind;`,
	// occid_expect lets one statement of a pipelined write (see pipeline)
	// fail the whole batch when its outcome is not the expected one: it
	// raises an error with the SQLSTATE state and the message msg when ok
	// is false, and returns true otherwise.
	`CREATE FUNCTION occid_expect(ok boolean, state text, msg text) RETURNS boolean
	LANGUAGE plpgsql AS $$
	BEGIN
		IF NOT ok THEN
			RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg;
		END IF;
		RETURN true;
	END
	$$;`,
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

// migrationLock is the first key of the advisory lock taken while
// migrating; the second is a hash of the schema, so migrations of
// different schemas do not wait for each other.
const migrationLock = 0x0cc1d

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return classify(err, "begin migration")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", migrationLock); err != nil {
		return classify(err, "take the migration lock")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return classify(err, "create schema_version")
	}
	var cur int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&cur); err != nil {
		return classify(err, "read schema version")
	}
	if cur > len(migrations) {
		return occi.Errorf(occi.FailedPrecondition, "pgstore: the database has schema version %d, newer than this occid knows (%d)", cur, len(migrations))
	}
	for v := cur + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return classify(err, fmt.Sprintf("apply migration %d", v))
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", v); err != nil {
			return classify(err, "record schema version")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err, "commit migration")
	}
	return nil
}

// Package store is the persistence contract of occid: entities (resources
// and links), mixins (user-defined tags and saved OS templates) and notes
// (the engine's own bookkeeping) with revisions for optimistic
// concurrency, written atomically in batches.
// Implementations live in subpackages (memstore, sqlitestore, pgstore) and
// all pass the conformance suite in storetest.
package store

import (
	"context"

	"github.com/occid/occi"
)

// Revision expectations for Mutation.Expect.
const (
	MustNotExist int64 = 0  // the write creates: AlreadyExists if present
	AnyRevision  int64 = -1 // overwrite whatever is there, or create
)

// Note is a small record in a keyspace of its own, apart from entities and
// mixins, for the engine's bookkeeping (its records of pending creations).
// A note is never listed, counted or returned with entities: List, Count
// and Get do not see it, and a note and an entity may have the same key
// and location without touching each other. Key must not be empty, must
// be valid UTF-8 and must hold no NUL character (what the SQL stores
// require of an entity's location); Body is opaque to the store (a nil
// Body is stored as an empty one). Revision is the note's revision, which
// Mutation.Expect is checked against exactly as an entity's.
type Note struct {
	Key      string
	Body     []byte
	Revision int64
}

// Mutation is one change in an atomic batch. Exactly one of Put, PutMixin,
// Delete, DeleteMixin, PutNote and DeleteNote is set. Expect is the
// revision the stored record (entity, mixin or note) must have for the
// change to apply: MustNotExist (a put is AlreadyExists if the record is
// present), AnyRevision (a put creates or overwrites), or a positive
// revision (Conflict if it differs, NotFound if the record is gone). A
// delete of a missing record is NotFound whatever Expect is, and a delete
// with MustNotExist or AnyRevision deletes any revision. A note key that
// is empty, not valid UTF-8 or holds a NUL character is InvalidArgument,
// as is a Put of an entity without a location.
type Mutation struct {
	Put         *occi.Entity
	PutMixin    *occi.Mixin
	Delete      string          // location of an entity to delete
	DeleteMixin occi.CategoryID // type identifier of a mixin to delete
	PutNote     *Note
	DeleteNote  string // key of a note to delete
	Expect      int64
}

// Query selects entities. Every non-zero field narrows the result: Kinds
// keeps entities whose kind is one of the list, Mixin those that carry the
// mixin, Owner those with that owner, Source links whose source is that
// location, Prefix entities whose location starts with it. The result is
// ordered by location; After skips locations up to and including it
// (keyset pagination), then Offset skips that many, and Limit (0: no limit)
// caps the count. Implementations do this in the database, using indexes.
type Query struct {
	Kinds  []occi.CategoryID
	Mixin  occi.CategoryID
	Owner  string
	Source string
	Prefix string
	After  string
	Offset int
	Limit  int
}

// Store persists entities, mixins and notes. Every method is safe for
// concurrent use. Errors carry occi codes: NotFound for a missing record,
// AlreadyExists for a create over an existing one, Conflict for a revision
// mismatch, Unavailable when the database cannot be reached.
type Store interface {
	// Get returns the entity at location; its Links field is not filled.
	Get(ctx context.Context, location string) (*occi.Entity, error)
	// List returns the entities q selects.
	List(ctx context.Context, q Query) ([]*occi.Entity, error)
	// Count returns how many entities q selects, ignoring After, Offset and Limit.
	Count(ctx context.Context, q Query) (int, error)
	// GetMixin returns the stored mixin with the type identifier id.
	GetMixin(ctx context.Context, id occi.CategoryID) (*occi.Mixin, error)
	// ListMixins returns every stored mixin, ordered by type identifier.
	ListMixins(ctx context.Context) ([]*occi.Mixin, error)
	// ListNotes returns the notes whose key starts with prefix (every
	// note for ""), ordered by key in byte order. A prefix that is not
	// valid UTF-8 or holds a NUL character is InvalidArgument.
	ListNotes(ctx context.Context, prefix string) ([]*Note, error)
	// Write applies the mutations atomically, in order: all or none,
	// notes with entities and mixins alike. Each written entity's and
	// note's Revision is set to its new revision (the previous one plus
	// one, or 1 for a new record), in the caller's value too; when the
	// batch fails, no Revision is changed. A Write whose ctx comes from
	// WithDeferredSync defers the flush of the whole batch, notes
	// included.
	Write(ctx context.Context, muts ...Mutation) error
	// Close releases the store. A store opened again on the same data
	// returns everything that Write acknowledged.
	Close() error
}

// Versioner is an optional interface of a Store. Version returns a value
// that differs from every value it returned before whenever a write has
// been committed to the store's data since, by this process or by any
// other process that shares the data, and is cheap enough to call on every
// request. ok is false when the store cannot tell at the moment; callers
// must then take the data as changed. A caller that caches what it reads
// keys it by the version read before the read: the cached answer is then
// never older than the data at that version.
type Versioner interface {
	Version() (v uint64, ok bool)
}

type deferredSyncKey struct{}

// WithDeferredSync returns a context whose Write may be acknowledged once
// it is committed and survives the occid process being killed, but before
// it is flushed to stable storage: a power loss or an operating-system
// crash may undo it. The next write that is flushed makes it durable too.
// Callers use it only for a write whose loss at a power failure an earlier
// durable write lets them recover from (the engine completes a create so,
// after the durable pending record that lets it adopt the entity; see
// engine/pending.go). A store that cannot defer the flush ignores it.
func WithDeferredSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredSyncKey{}, true)
}

// DeferredSync reports whether ctx comes from WithDeferredSync.
func DeferredSync(ctx context.Context) bool {
	v, _ := ctx.Value(deferredSyncKey{}).(bool)
	return v
}

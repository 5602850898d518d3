package occi

import "context"

// TargetType says what a path names on an OCCI server.
type TargetType int

// The kinds of path.
const (
	TargetNone            TargetType = iota // nothing: NotFound
	TargetQueryInterface                    // "/-/" or its .well-known mirror
	TargetKindCollection                    // a Kind's location
	TargetMixinCollection                   // a Mixin's location
	TargetEntity                            // one entity
	TargetUnbound                           // any other path ending in "/": the union of what is below it
)

// Target is what Resolve found at a path. Category is set for kind and
// mixin collections; Path is the normalised path (a collection named without
// its trailing slash is returned with it).
type Target struct {
	Type     TargetType
	Category CategoryID
	Path     string
}

// ListQuery selects entities of a collection. Collection is a kind or mixin
// location or an unbound path ending in "/". Categories, if any, keep only
// members of every listed kind or mixin; Attributes keep only entities whose
// attributes (core attributes by their occi.core.* names) equal the given
// values. Page counts from 1; Number is the page size, 0 for the server
// default, and a Number above the server maximum is a TooLarge error.
type ListQuery struct {
	Collection string
	Categories []CategoryID
	Attributes Attributes
	Page       int
	Number     int
}

// Service is the OCCI service as clients see it: every operation of the
// HTTP protocol, with locations given as paths. The engine implements it
// over a store and a backend; occihttp.Client implements it over HTTP, so
// one conformance suite runs against both. The caller's identity travels in
// ctx (see WithIdentity). Every error carries a Code (see ErrorCode).
type Service interface {
	// Resolve reports what path names. Unknown paths are a NotFound error.
	Resolve(ctx context.Context, path string) (Target, error)

	// Discover returns every kind, mixin and action visible to the caller;
	// with a non-empty filter, only the listed categories and the actions
	// of the listed kinds and mixins.
	Discover(ctx context.Context, filter []CategoryID) (*Discovery, error)
	// DefineMixin creates a user-defined mixin (a tag) owned by the caller.
	DefineMixin(ctx context.Context, m *Mixin) (*Mixin, error)
	// DeleteMixin deletes a user-defined mixin and dissociates it from every
	// entity; deleting a provider mixin is PermissionDenied.
	DeleteMixin(ctx context.Context, id CategoryID) error

	// Create creates e, and its inline links, in the kind collection at
	// collection and returns it as stored.
	Create(ctx context.Context, collection string, e *Entity) (*Entity, error)
	// Put creates e at location, or replaces the entity there in full
	// (links are left intact); created reports which.
	Put(ctx context.Context, location string, e *Entity) (out *Entity, created bool, err error)
	// Get returns the entity at location, with its links and the actions
	// applicable now.
	Get(ctx context.Context, location string) (*Entity, error)
	// Update merges patch (attributes, mixins, title, summary, links) into
	// the entity at location.
	Update(ctx context.Context, location string, patch *Entity) (*Entity, error)
	// Delete deletes the entity at location; deleting a resource deletes
	// its links.
	Delete(ctx context.Context, location string) error

	// List returns one page of a collection, ordered by location.
	List(ctx context.Context, q ListQuery) ([]*Entity, error)
	// DeleteAll deletes every entity of a kind collection, or dissociates
	// every member of a mixin collection.
	DeleteAll(ctx context.Context, collection string) error
	// Associate adds the entities at locations to the mixin collection and
	// returns its new membership.
	Associate(ctx context.Context, collection string, locations []string) ([]*Entity, error)
	// ReplaceMembers makes locations the whole membership of the mixin
	// collection and returns it.
	ReplaceMembers(ctx context.Context, collection string, locations []string) ([]*Entity, error)
	// Dissociate removes the entities at locations (all members if none are
	// given) from the mixin collection; the entities themselves remain.
	Dissociate(ctx context.Context, collection string, locations []string) error

	// Invoke runs an action on the entity at location.
	Invoke(ctx context.Context, location string, inv *ActionInvocation) (*ActionResult, error)
	// InvokeAll runs an action on every member of a collection; every
	// member must have the action's kind or mixin.
	InvokeAll(ctx context.Context, collection string, inv *ActionInvocation) ([]*Entity, error)
}

// Identity is the authenticated caller.
type Identity struct {
	User   string
	Groups []string
}

// Anonymous is the identity used when no authenticator is configured.
var Anonymous = Identity{User: "anonymous"}

type identityKey struct{}

// WithIdentity returns a context that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity in ctx, or Anonymous if there is none.
func IdentityFrom(ctx context.Context) Identity {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id
	}
	return Anonymous
}

type revisionKey struct{}

// WithExpectedRevision returns a context that asks the next write to the
// entity (update, put, delete, action) to apply only if its stored Revision
// is rev, or for rev 0 only if it exists at all; otherwise the operation
// fails with PreconditionFailed (a PUT then creates nothing). HTTP sets it
// from If-Match ("*" is rev 0).
func WithExpectedRevision(ctx context.Context, rev int64) context.Context {
	return context.WithValue(ctx, revisionKey{}, rev)
}

// ExpectedRevision returns the revision set by WithExpectedRevision and
// whether one was set.
func ExpectedRevision(ctx context.Context) (int64, bool) {
	rev, ok := ctx.Value(revisionKey{}).(int64)
	return rev, ok
}

type mustNotExistKey struct{}

// WithMustNotExist returns a context that asks the next Put to create only:
// when an entity (the caller's or anyone's) already exists at the location,
// Put fails with PreconditionFailed and changes nothing. HTTP sets it from
// "If-None-Match: *".
func WithMustNotExist(ctx context.Context) context.Context {
	return context.WithValue(ctx, mustNotExistKey{}, true)
}

// MustNotExist reports whether WithMustNotExist was applied to ctx.
func MustNotExist(ctx context.Context) bool {
	v, _ := ctx.Value(mustNotExistKey{}).(bool)
	return v
}

// BatchService is implemented by services that apply a request naming
// several things all at once: every item is validated before anything
// changes, and the change is one atomic store write, so a failure leaves
// nothing done. Protocol front ends use it when the service offers it and
// fall back to the one-item methods of Service otherwise.
type BatchService interface {
	// CreateAll creates es (each with its inline links) in the kind
	// collection at collection and returns them as stored, in order. More
	// entities than the service accepts in one request is TooLarge; an
	// error names the failing entity ("entity 3 of 5: ...").
	CreateAll(ctx context.Context, collection string, es []*Entity) ([]*Entity, error)
	// DefineMixins defines every mixin of ms, or none.
	DefineMixins(ctx context.Context, ms []*Mixin) ([]*Mixin, error)
	// DeleteMixins deletes every mixin of ids, or none.
	DeleteMixins(ctx context.Context, ids []CategoryID) error
}

package engine

import (
	"context"
	"sync"

	"github.com/occid/occi"
)

// A request scope carries what one protocol request has already read, so
// that the operation it leads to does not read it again: occihttp resolves
// the path of every request (Resolve reads the entity to tell an entity
// from nothing) and then, for GET, asks for the entity (Get would read it
// again). The scope hands the entity Resolve read to the Get that follows,
// once; every other operation reads afresh, under the entity's lock where
// it writes.

type scopeKey struct{}

// scope is the state of one request.
type scope struct {
	mu       sync.Mutex
	resolved *occi.Entity   // the visible stored entity Resolve read, until taken
	links    []*occi.Entity // its links, when they were read with it
	linked   bool           // whether links holds them
}

// WithRequestScope returns a context for the calls that serve one GET or
// HEAD request (occihttp detects this method and calls it once per such
// request): an entity that Resolve reads (with its links, when the store
// implements LinkedStore) is then reused by the Get that follows instead of
// being read from the store a second time. The answer is the same; what
// is reused is at most as old as the request.
func (e *Engine) WithRequestScope(ctx context.Context) context.Context {
	return context.WithValue(ctx, scopeKey{}, &scope{})
}

// scoped reports whether ctx carries a request scope.
func scoped(ctx context.Context) bool {
	_, ok := ctx.Value(scopeKey{}).(*scope)
	return ok
}

// remember records ent, just read for the caller by Resolve, and its
// links if linked.
func remember(ctx context.Context, ent *occi.Entity, links []*occi.Entity, linked bool) {
	if sc, ok := ctx.Value(scopeKey{}).(*scope); ok {
		sc.mu.Lock()
		sc.resolved, sc.links, sc.linked = ent, links, linked
		sc.mu.Unlock()
	}
}

// recall returns, once, the entity Resolve read at location in this
// request, if any, with its links if they were read with it (linked).
func recall(ctx context.Context, location string) (ent *occi.Entity, links []*occi.Entity, linked bool) {
	sc, ok := ctx.Value(scopeKey{}).(*scope)
	if !ok {
		return nil, nil, false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ent, links, linked = sc.resolved, sc.links, sc.linked
	sc.resolved, sc.links, sc.linked = nil, nil, false
	if ent == nil || ent.Location != location {
		return nil, nil, false
	}
	return ent, links, linked
}

// LinkedStore is an optional interface of a store.Store: GetLinked returns
// what Get(ctx, location) returns and, read at the same time, the entities
// whose Source is location (of any owner), ordered by location. The engine
// uses it to read an entity and its links at once when a request will
// render them.
type LinkedStore interface {
	GetLinked(ctx context.Context, location string) (*occi.Entity, []*occi.Entity, error)
}

// resolveEntity is getVisible for Resolve: in a request scope it reads the
// entity (with its links, if the store can) and remembers it for Get.
func (e *Engine) resolveEntity(ctx context.Context, location string) error {
	if !scoped(ctx) {
		_, err := e.getVisible(ctx, location)
		return err
	}
	ls, ok := e.store.(LinkedStore)
	if !ok {
		ent, err := e.getVisible(ctx, location)
		if err == nil {
			remember(ctx, ent, nil, false)
		}
		return err
	}
	ent, links, err := ls.GetLinked(ctx, location)
	if err == nil && ent.Owner != user(ctx) {
		err = occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	if err != nil {
		if occi.ErrorCode(err) == occi.NotFound {
			return occi.Errorf(occi.NotFound, "no entity at %s", location)
		}
		return err
	}
	remember(ctx, ent, links, true)
	return nil
}

package engine

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// collection resolves a collection path; entities and the query interface
// are not collections.
func (e *Engine) collection(ctx context.Context, path string) (occi.Target, error) {
	t, err := e.Resolve(ctx, path)
	if err != nil {
		return t, err
	}
	switch t.Type {
	case occi.TargetKindCollection, occi.TargetMixinCollection, occi.TargetUnbound:
		return t, nil
	}
	return t, occi.Errorf(occi.InvalidArgument, "%s is not a collection", path)
}

// dependents returns mixin and every visible mixin that depends on it.
func (e *Engine) dependents(ctx context.Context, mixin occi.CategoryID) []occi.CategoryID {
	out := []occi.CategoryID{mixin}
	for _, m := range e.model.Mixins() {
		if m.ID != mixin && visible(ctx, m) && e.model.DependsOn(m.ID, mixin) {
			out = append(out, m.ID)
		}
	}
	return out
}

// queries returns the store queries whose union is the collection t.
func (e *Engine) queries(ctx context.Context, t occi.Target) []store.Query {
	u := user(ctx)
	switch t.Type {
	case occi.TargetKindCollection:
		return []store.Query{{Kinds: e.model.SubKinds(t.Category), Owner: u}}
	case occi.TargetMixinCollection:
		var qs []store.Query
		for _, m := range e.dependents(ctx, t.Category) {
			qs = append(qs, store.Query{Mixin: m, Owner: u})
		}
		return qs
	default:
		qs := []store.Query{{Prefix: t.Path, Owner: u}}
		for _, m := range e.model.Mixins() {
			if visible(ctx, m) && m.Location != "" && strings.HasPrefix(m.Location, t.Path) {
				qs = append(qs, store.Query{Mixin: m.ID, Owner: u})
			}
		}
		return qs
	}
}

// members returns every member of the collection t, ordered by location.
func (e *Engine) members(ctx context.Context, t occi.Target) ([]*occi.Entity, error) {
	seen := map[string]bool{}
	var out []*occi.Entity
	for _, q := range e.queries(ctx, t) {
		es, err := e.store.List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, x := range es {
			if !seen[x.Location] {
				seen[x.Location] = true
				out = append(out, x)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out, nil
}

// hasCategory reports whether ent is of kind id (or a sub-kind) or carries
// mixin id (directly or through depends).
func (e *Engine) hasCategory(ent *occi.Entity, id occi.CategoryID) bool {
	if e.model.IsA(ent.Kind, id) {
		return true
	}
	closure, err := e.model.MixinClosure(ent.Mixins)
	return err == nil && slices.Contains(closure, id)
}

func coreValue(ent *occi.Entity, name string) (any, bool) {
	switch name {
	case occi.AttrID:
		return ent.ID, true
	case occi.AttrTitle:
		return ent.Title, true
	case occi.AttrSummary:
		return ent.Summary, true
	case occi.AttrSource:
		return ent.Source, true
	case occi.AttrTarget:
		return ent.Target, true
	case occi.AttrTargetKind:
		return ent.TargetKind.String(), true
	case occi.AttrSourceKind:
		return ent.SourceKind.String(), true
	}
	v, ok := ent.Attributes[name]
	return v, ok
}

// attributeDefined reports whether some kind or mixin of the model
// defines the attribute name (the core attributes included).
func (e *Engine) attributeDefined(name string) bool {
	for _, k := range e.model.Kinds() {
		for _, a := range k.Attributes {
			if a.Name == name {
				return true
			}
		}
	}
	for _, m := range e.model.Mixins() {
		for _, a := range m.Attributes {
			if a.Name == name {
				return true
			}
		}
	}
	return false
}

func (e *Engine) matches(ent *occi.Entity, q occi.ListQuery) bool {
	for _, c := range q.Categories {
		if !e.hasCategory(ent, c) {
			return false
		}
	}
	for k, want := range q.Attributes {
		got, ok := coreValue(ent, k)
		if k == occi.AttrID {
			if s, isStr := want.(string); isStr && idSegment(s) == idSegment(ent.ID) {
				continue
			}
		}
		if !ok || !sameValue(got, want) {
			return false
		}
	}
	return true
}

// storeQuery expresses collection t narrowed by cats as one store query
// when it can (simple); none reports that nothing can match.
func (e *Engine) storeQuery(ctx context.Context, t occi.Target, cats []occi.CategoryID) (q store.Query, simple, none bool) {
	qs := e.queries(ctx, t)
	if len(qs) != 1 {
		return store.Query{}, false, false
	}
	q = qs[0]
	for _, c := range cats {
		if _, isKind := e.model.Kind(c); isKind {
			sub := e.model.SubKinds(c)
			if len(q.Kinds) > 0 {
				sub = slices.DeleteFunc(sub, func(k occi.CategoryID) bool { return !slices.Contains(q.Kinds, k) })
			}
			if len(sub) == 0 {
				return q, false, true
			}
			q.Kinds = sub
			continue
		}
		if deps := e.dependents(ctx, c); len(deps) != 1 || (!q.Mixin.IsZero() && q.Mixin != c) {
			return q, false, false
		}
		q.Mixin = c
	}
	return q, true, false
}

// List returns one page of a collection, ordered by location. An empty
// page is an empty slice.
func (e *Engine) List(ctx context.Context, q occi.ListQuery) ([]*occi.Entity, error) {
	page, sq, err := e.page(ctx, q)
	if err != nil {
		return nil, err
	}
	if page == nil && sq != nil {
		if page, err = e.store.List(ctx, *sq); err != nil {
			return nil, err
		}
	}
	out := make([]*occi.Entity, 0, len(page))
	if ss, ok := e.store.(SourcedStore); ok && len(page) > 1 {
		// The links of the whole page in one read, not one per member.
		var sources []string
		for _, x := range page {
			if !e.model.IsLink(x.Kind) {
				sources = append(sources, x.Location)
			}
		}
		links, err := ss.ListSourced(ctx, sources)
		if err != nil {
			return nil, err
		}
		bySource := map[string][]*occi.Entity{}
		for _, l := range links {
			bySource[l.Source] = append(bySource[l.Source], l)
		}
		for _, x := range page {
			out = append(out, e.presentWith(ctx, x, bySource[x.Location]))
		}
		return out, nil
	}
	for _, x := range page {
		p, err := e.present(ctx, x)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SourcedStore is an optional interface of a store.Store: ListSourced
// returns the entities whose Source is one of sources (of any owner),
// ordered by location. The engine uses it to read the links of a page of
// resources at once.
type SourcedStore interface {
	ListSourced(ctx context.Context, sources []string) ([]*occi.Entity, error)
}

// LocationStore is an optional interface of a store.Store: ListLocations
// returns the locations of the entities List(ctx, q) would return, in the
// same order, without reading the entities whole. The engine uses it to
// list collections whose rendering holds only locations.
type LocationStore interface {
	ListLocations(ctx context.Context, q store.Query) ([]string, error)
}

// ListLocations returns the locations of the entities List(ctx, q) returns,
// in the same order and with the same errors, without reading the entities
// whole where the store allows it (see LocationStore): renderings of
// collections that hold only locations (text/plain, text/uri-list) need no
// more, and a large collection then costs a fraction of the memory and time.
func (e *Engine) ListLocations(ctx context.Context, q occi.ListQuery) ([]string, error) {
	page, sq, err := e.page(ctx, q)
	if err != nil {
		return nil, err
	}
	if page == nil && sq != nil {
		if ls, ok := e.store.(LocationStore); ok {
			return ls.ListLocations(ctx, *sq)
		}
		if page, err = e.store.List(ctx, *sq); err != nil {
			return nil, err
		}
	}
	out := make([]string, len(page))
	for i, x := range page {
		out[i] = x.Location
	}
	return out, nil
}

// page resolves and checks q and selects its page: either the stored
// entities of the page (not yet presented), or, when one store query
// selects exactly the page, that query (and a nil page) for the caller to
// run. An empty page is an empty, non-nil slice.
func (e *Engine) page(ctx context.Context, q occi.ListQuery) ([]*occi.Entity, *store.Query, error) {
	t, err := e.collection(ctx, q.Collection)
	if err != nil {
		return nil, nil, err
	}
	number := q.Number
	switch {
	case number < 0:
		return nil, nil, occi.Errorf(occi.InvalidArgument, "page size %d is negative", number)
	case number == 0:
		number = e.defPage
	case number > e.maxPage:
		return nil, nil, occi.Errorf(occi.TooLarge, "page size %d is larger than the maximum, %d", number, e.maxPage)
	}
	page := q.Page
	switch {
	case page < 0:
		return nil, nil, occi.Errorf(occi.InvalidArgument, "page %d is negative; pages count from 1", page)
	case page == 0:
		page = 1
	}
	for _, c := range q.Categories {
		if _, ok := e.model.Kind(c); ok {
			continue
		}
		if _, err := e.visibleMixin(ctx, c); err != nil {
			return nil, nil, err
		}
	}
	for name := range q.Attributes {
		if !e.attributeDefined(name) {
			return nil, nil, occi.Errorf(occi.InvalidArgument, "no kind or mixin defines the attribute %q, so the filter on it would match nothing; filter on an attribute the query interface lists", name)
		}
	}
	offset := (page - 1) * number
	if offset/number != page-1 {
		return []*occi.Entity{}, nil, nil
	}
	sq, simple, none := e.storeQuery(ctx, t, q.Categories)
	switch {
	case none:
		return []*occi.Entity{}, nil, nil
	case simple && len(q.Attributes) == 0:
		sq.Offset, sq.Limit = offset, number
		return nil, &sq, nil
	}
	all, err := e.members(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	sel := []*occi.Entity{}
	for _, x := range all {
		if e.matches(x, q) {
			sel = append(sel, x)
		}
	}
	if offset >= len(sel) {
		return []*occi.Entity{}, nil, nil
	}
	sel = sel[offset:]
	if len(sel) > number {
		sel = sel[:number]
	}
	return sel, nil, nil
}

// DeleteAll deletes every entity of the caller in a kind collection, or
// dissociates every member of a mixin collection.
func (e *Engine) DeleteAll(ctx context.Context, collection string) error {
	t, err := e.collection(ctx, collection)
	if err != nil {
		return err
	}
	switch t.Type {
	case occi.TargetMixinCollection:
		return e.Dissociate(ctx, t.Path, nil)
	case occi.TargetUnbound:
		return occi.Errorf(occi.MethodNotAllowed, "%s is not a kind or mixin collection; DELETE is not defined there", collection)
	}
	all, err := e.members(ctx, t)
	if err != nil {
		return err
	}
	// Nothing is deleted while a member is linked to from a resource
	// outside the collection.
	deleting := make(map[string]bool, len(all))
	for _, x := range all {
		deleting[x.Location] = true
	}
	for _, x := range all {
		if e.model.IsLink(x.Kind) {
			continue
		}
		in, err := e.incomingLinks(ctx, x)
		if err != nil {
			return err
		}
		in = slices.DeleteFunc(in, func(l *occi.Entity) bool { return deleting[l.Source] })
		if len(in) > 0 {
			return refuseIncoming(x, in)
		}
	}
	// Resources first: deleting one deletes its links too.
	sort.SliceStable(all, func(i, j int) bool { return !e.model.IsLink(all[i].Kind) && e.model.IsLink(all[j].Kind) })
	for _, x := range all {
		unlock, err := e.lock(ctx, x.Location)
		if err != nil {
			return err
		}
		cur, err := e.getVisible(ctx, x.Location)
		if err == nil {
			err = e.deleteLocked(ctx, cur, deleting)
		} else if occi.ErrorCode(err) == occi.NotFound {
			err = nil
		}
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) mixinCollection(ctx context.Context, collection string) (occi.Target, error) {
	t, err := e.Resolve(ctx, collection)
	if err != nil {
		return t, err
	}
	if t.Type != occi.TargetMixinCollection {
		return t, occi.Errorf(occi.MethodNotAllowed, "%s is not a mixin collection; only mixin collections have a membership to change", collection)
	}
	return t, nil
}

// Associate adds the entities at locations to the mixin collection and
// returns its whole membership.
func (e *Engine) Associate(ctx context.Context, collection string, locations []string) ([]*occi.Entity, error) {
	t, err := e.mixinCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	if err := e.changeMembers(ctx, t, locations, nil); err != nil {
		return nil, err
	}
	return e.allMembers(ctx, t)
}

// ReplaceMembers makes locations the whole membership of the mixin
// collection and returns it.
func (e *Engine) ReplaceMembers(ctx context.Context, collection string, locations []string) ([]*occi.Entity, error) {
	t, err := e.mixinCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	cur, err := e.store.List(ctx, store.Query{Mixin: t.Category, Owner: user(ctx)})
	if err != nil {
		return nil, err
	}
	var remove []string
	for _, x := range cur {
		if !slices.Contains(locations, x.Location) {
			remove = append(remove, x.Location)
		}
	}
	if err := e.refuseIndirect(ctx, t, func(loc string) bool { return !slices.Contains(locations, loc) }); err != nil {
		return nil, err
	}
	if err := e.changeMembers(ctx, t, locations, remove); err != nil {
		return nil, err
	}
	return e.allMembers(ctx, t)
}

// refuseIndirect fails with FailedPrecondition, naming the mixin to
// dissociate instead, when an entity that leave reports true for is a
// member of the mixin collection t only through another mixin (one that
// depends on t's, such as an OS template in /os_tpl/): a change of t's
// direct membership cannot take it out of t's collection.
func (e *Engine) refuseIndirect(ctx context.Context, t occi.Target, leave func(loc string) bool) error {
	dependents := slices.ContainsFunc(e.model.Mixins(), func(m *occi.Mixin) bool {
		return m.ID != t.Category && e.model.DependsOn(m.ID, t.Category)
	})
	if !dependents {
		return nil // every member is a direct one
	}
	all, err := e.members(ctx, t)
	if err != nil {
		return err
	}
	for _, x := range all {
		if !leave(x.Location) || x.HasMixin(t.Category) {
			continue
		}
		for _, m := range x.Mixins {
			if e.model.DependsOn(m, t.Category) {
				where := m.String()
				if mx, ok := e.model.Mixin(m); ok && mx.Location != "" {
					where = mx.Location
				}
				return occi.Errorf(occi.FailedPrecondition, "%s is in %s through its mixin %s: dissociate it there", x.Location, t.Path, where)
			}
		}
	}
	return nil
}

// Dissociate removes the entities at locations (every direct member if
// none are given) from the mixin collection.
func (e *Engine) Dissociate(ctx context.Context, collection string, locations []string) error {
	t, err := e.mixinCollection(ctx, collection)
	if err != nil {
		return err
	}
	all := len(locations) == 0
	if err := e.refuseIndirect(ctx, t, func(loc string) bool { return all || slices.Contains(locations, loc) }); err != nil {
		return err
	}
	if all {
		cur, err := e.store.List(ctx, store.Query{Mixin: t.Category, Owner: user(ctx)})
		if err != nil {
			return err
		}
		for _, x := range cur {
			locations = append(locations, x.Location)
		}
		if len(locations) == 0 {
			return nil
		}
	}
	return e.changeMembers(ctx, t, nil, locations)
}

func (e *Engine) allMembers(ctx context.Context, t occi.Target) ([]*occi.Entity, error) {
	all, err := e.members(ctx, t)
	if err != nil {
		return nil, err
	}
	out := make([]*occi.Entity, 0, len(all))
	for _, x := range all {
		p, err := e.present(ctx, x)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// changeMembers associates the mixin with add and dissociates it from
// remove, validating every entity first and writing all changes at once.
func (e *Engine) changeMembers(ctx context.Context, t occi.Target, add, remove []string) error {
	for _, l := range append(append([]string(nil), add...), remove...) {
		if _, err := e.getVisible(ctx, l); err != nil {
			return err
		}
	}
	unlock, err := e.lockAll(ctx, append(append([]string(nil), add...), remove...))
	if err != nil {
		return err
	}
	defer unlock()
	type change struct{ old, next *occi.Entity }
	var changes []change
	done := map[string]bool{}
	for _, l := range add {
		if done[l] {
			continue
		}
		done[l] = true
		old, err := e.getVisible(ctx, l)
		if err != nil {
			return err
		}
		if e.hasCategory(old, t.Category) {
			continue // a member already, directly or through another mixin
		}
		next, _, _, err := e.plan(ctx, old, &occi.Entity{Mixins: []occi.CategoryID{t.Category}}, modeMerge)
		if err != nil {
			return fmt.Errorf("%s: %w", l, err)
		}
		changes = append(changes, change{old, next})
	}
	for _, l := range remove {
		if done[l] {
			continue
		}
		done[l] = true
		old, err := e.getVisible(ctx, l)
		if err != nil {
			return err
		}
		if !old.HasMixin(t.Category) {
			if len(add) == 0 {
				return occi.Errorf(occi.NotFound, "%s is not a member of %s", l, t.Path)
			}
			continue
		}
		next, err := e.planRemove(old, t.Category)
		if err != nil {
			return err
		}
		changes = append(changes, change{old, next})
	}
	var muts []store.Mutation
	var realized []change
	// undo takes back the driver changes made so far: the request is all
	// or nothing.
	undo := func() {
		for i := len(realized) - 1; i >= 0; i-- {
			c := realized[i]
			if !e.driven(c.old.Kind) || (reflect.DeepEqual(c.old.Attributes, c.next.Attributes) && slices.Equal(c.old.Mixins, c.next.Mixins)) {
				continue
			}
			if _, err := e.drv.Update(context.WithoutCancel(ctx), c.next.Clone(), c.old.Clone()); err != nil {
				e.log.Warn("engine: undoing a membership change failed", "location", c.old.Location, "err", err)
			}
		}
	}
	for _, c := range changes {
		if err := e.realize(ctx, c.old, c.next); err != nil {
			undo()
			return fmt.Errorf("%s: %w", c.old.Location, err)
		}
		realized = append(realized, c)
		muts = append(muts, store.Mutation{Put: c.next, Expect: c.old.Revision})
	}
	if len(muts) == 0 {
		return nil
	}
	if err := e.store.Write(ctx, muts...); err != nil {
		undo()
		if occi.ErrorCode(err) == occi.Conflict {
			return occi.Wrap(err, occi.Conflict, "a member of "+t.Path+" was changed concurrently; retry")
		}
		return err
	}
	return nil
}

// planRemove returns old without mixin, dropping the attributes only that
// mixin defined.
func (e *Engine) planRemove(old *occi.Entity, mixin occi.CategoryID) (*occi.Entity, error) {
	if mixin == infra.UserData {
		return nil, occi.Errorf(occi.PermissionDenied, "mixin %s cannot be removed from %s: user data is supplied once, at creation", mixin, old.Location)
	}
	if base, ok := e.templateBase(mixin); ok && base == infra.OSTemplate && !e.caps.ReplaceOSTemplate {
		return nil, occi.Errorf(occi.Unimplemented, "this backend cannot re-image a compute: the OS template %s cannot be removed from %s", mixin, old.Location)
	}
	return e.dropMixin(old, mixin)
}

// dropMixin returns old without mixin, dropping the attributes only that
// mixin defined. The mixin must still be in the model.
func (e *Engine) dropMixin(old *occi.Entity, mixin occi.CategoryID) (*occi.Entity, error) {
	next := old.Clone()
	next.Mixins = slices.DeleteFunc(next.Mixins, func(m occi.CategoryID) bool { return m == mixin })
	defs, err := e.model.Attributes(next.Kind, next.Mixins)
	if err != nil {
		return nil, err
	}
	for k := range next.Attributes {
		if _, ok := defs[k]; !ok {
			if oldDefs, _ := e.model.Attributes(old.Kind, old.Mixins); oldDefs != nil {
				if _, was := oldDefs[k]; was {
					delete(next.Attributes, k)
				}
			}
		}
	}
	return next, nil
}

package engine

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// Query interface paths.
const (
	QueryInterface          = "/-/"
	WellKnownQueryInterface = "/.well-known/org/ogf/occi/-/"
)

// visible reports whether the caller may see mixin m.
func visible(ctx context.Context, m *occi.Mixin) bool {
	return m.Owner == "" || m.Owner == user(ctx)
}

// Resolve reports what path names: the query interface, a kind or mixin
// collection (with or without its trailing slash), an entity, or an unbound
// collection (a path ending in "/" below which there are collections).
func (e *Engine) Resolve(ctx context.Context, path string) (occi.Target, error) {
	notFound := occi.Errorf(occi.NotFound, "nothing at %s", path)
	if !strings.HasPrefix(path, "/") || strings.ContainsFunc(path, unicode.IsControl) {
		return occi.Target{}, notFound
	}
	switch path {
	case QueryInterface, strings.TrimSuffix(QueryInterface, "/"):
		return occi.Target{Type: occi.TargetQueryInterface, Path: QueryInterface}, nil
	case WellKnownQueryInterface, strings.TrimSuffix(WellKnownQueryInterface, "/"):
		return occi.Target{Type: occi.TargetQueryInterface, Path: WellKnownQueryInterface}, nil
	}
	e.syncStoredMixinsFor(ctx, path)
	if id, class, ok := e.model.ByLocation(path); ok {
		norm := path
		if !strings.HasSuffix(norm, "/") {
			norm += "/"
		}
		if class == occi.ClassKind {
			return occi.Target{Type: occi.TargetKindCollection, Category: id, Path: norm}, nil
		}
		if m, ok := e.model.Mixin(id); ok && visible(ctx, m) {
			return occi.Target{Type: occi.TargetMixinCollection, Category: id, Path: norm}, nil
		}
	}
	if !strings.HasSuffix(path, "/") {
		if _, err := e.getVisible(ctx, path); err == nil {
			return occi.Target{Type: occi.TargetEntity, Path: path}, nil
		} else if occi.ErrorCode(err) != occi.NotFound {
			return occi.Target{}, err
		}
		return occi.Target{}, notFound
	}
	for _, loc := range e.visibleLocations(ctx) {
		if strings.HasPrefix(loc, path) {
			return occi.Target{Type: occi.TargetUnbound, Path: path}, nil
		}
	}
	return occi.Target{}, notFound
}

// visibleLocations returns the kind and mixin locations the caller sees.
func (e *Engine) visibleLocations(ctx context.Context) []string {
	var out []string
	for _, k := range e.model.Kinds() {
		if k.Location != "" {
			out = append(out, k.Location)
		}
	}
	for _, m := range e.model.Mixins() {
		if m.Location != "" && visible(ctx, m) {
			out = append(out, m.Location)
		}
	}
	slices.Sort(out)
	return out
}

// Discover returns the kinds, mixins and actions the caller can use; with
// a filter, the listed categories plus the actions of listed kinds and
// mixins.
func (e *Engine) Discover(ctx context.Context, filter []occi.CategoryID) (*occi.Discovery, error) {
	e.syncStoredMixinsQuietly(ctx)
	if err := e.syncTemplatesCached(ctx); err != nil {
		e.log.Warn("engine: discovery without fresh templates", "err", err)
	}
	d := &occi.Discovery{}
	if len(filter) == 0 {
		for _, k := range e.model.Kinds() {
			d.Kinds = append(d.Kinds, occi.CloneKind(k))
		}
		for _, m := range e.model.Mixins() {
			if visible(ctx, m) {
				d.Mixins = append(d.Mixins, occi.CloneMixin(m))
			}
		}
		for _, a := range e.model.Actions() {
			d.Actions = append(d.Actions, occi.CloneAction(a))
		}
		return d, nil
	}
	seenA := map[occi.CategoryID]bool{}
	addAction := func(id occi.CategoryID) {
		if a, ok := e.model.Action(id); ok && !seenA[id] {
			seenA[id] = true
			d.Actions = append(d.Actions, occi.CloneAction(a))
		}
	}
	seen := map[occi.CategoryID]bool{}
	for _, id := range filter {
		if seen[id] {
			continue
		}
		seen[id] = true
		if k, ok := e.model.Kind(id); ok {
			d.Kinds = append(d.Kinds, occi.CloneKind(k))
			for _, a := range k.Actions {
				addAction(a)
			}
			continue
		}
		if m, ok := e.model.Mixin(id); ok && visible(ctx, m) {
			d.Mixins = append(d.Mixins, occi.CloneMixin(m))
			for _, a := range m.Actions {
				addAction(a)
			}
			continue
		}
		if _, ok := e.model.Action(id); ok {
			addAction(id)
			continue
		}
		return nil, occi.Errorf(occi.NotFound, "category %s does not exist", id)
	}
	return d, nil
}

// UserScheme returns the scheme of the tags of user u.
func (e *Engine) UserScheme(u string) string {
	return e.scheme + "users/" + url.PathEscape(u) + "/tags#"
}

// userTagPrefix returns the location under which user u's tags live.
func userTagPrefix(u string) string {
	return "/users/" + url.PathEscape(u) + "/tags/"
}

// DefineMixin creates a tag owned by the caller. Scheme and location may
// be left empty to be assigned; if given they must be the caller's tag
// scheme and a location under /users/<user>/tags/.
func (e *Engine) DefineMixin(ctx context.Context, in *occi.Mixin) (*occi.Mixin, error) {
	if in == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "no mixin given")
	}
	u := user(ctx)
	if u == "" {
		return nil, occi.Errorf(occi.PermissionDenied, "user mixins need an authenticated user")
	}
	m := occi.CloneMixin(in)
	if len(m.Attributes) > 0 || len(m.Actions) > 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin %s must be a tag: attributes and actions are not supported", m.ID)
	}
	if !occi.ValidTerm(m.ID.Term) {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin term %q is not a valid term (letters, digits, then also '-', '_' and '.')", m.ID.Term)
	}
	scheme := e.UserScheme(u)
	if m.ID.Scheme == "" {
		m.ID.Scheme = scheme
	} else if m.ID.Scheme != scheme {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin scheme must be %s (your tag scheme), got %s", scheme, m.ID.Scheme)
	}
	prefix := userTagPrefix(u)
	if m.Location == "" {
		m.Location = prefix + m.ID.Term + "/"
	}
	if err := checkTagLocation(m.Location, prefix); err != nil {
		return nil, err
	}
	for _, a := range m.Applies {
		if _, ok := e.model.Kind(a); !ok {
			return nil, occi.Errorf(occi.NotFound, "user mixin %s applies to %s, which is not a kind here", m.ID, a)
		}
	}
	for _, dep := range m.Depends {
		dm, err := e.visibleMixin(ctx, dep)
		if err != nil {
			return nil, err
		}
		if dm.Owner != u {
			return nil, occi.Errorf(occi.InvalidArgument, "user mixin %s may depend only on your own tags, not on %s", m.ID, dep)
		}
	}
	m.Owner = u
	if err := e.syncStoredMixins(ctx); err != nil {
		return nil, err
	}
	if other, _, ok := e.model.ByLocation(m.Location); ok {
		return nil, occi.Errorf(occi.AlreadyExists, "location %s is already the collection of %s", m.Location, other)
	}
	if _, ok := e.model.Mixin(m.ID); ok {
		return nil, occi.Errorf(occi.AlreadyExists, "mixin %s already exists", m.ID)
	}
	if _, err := e.store.Get(ctx, strings.TrimSuffix(m.Location, "/")); err == nil {
		return nil, occi.Errorf(occi.AlreadyExists, "location %s is already used by an entity", m.Location)
	}
	err := e.changeStoredMixins(func() error {
		if err := e.store.Write(ctx, store.Mutation{PutMixin: m, Expect: store.MustNotExist}); err != nil {
			if occi.ErrorCode(err) == occi.AlreadyExists {
				return occi.Errorf(occi.AlreadyExists, "mixin %s already exists", m.ID)
			}
			return err
		}
		if err := e.model.AddMixin(m); err != nil {
			_ = e.store.Write(context.WithoutCancel(ctx), store.Mutation{DeleteMixin: m.ID, Expect: store.AnyRevision})
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return occi.CloneMixin(m), nil
}

func checkTagLocation(loc, prefix string) error {
	switch {
	case !strings.HasPrefix(loc, prefix) || len(loc) <= len(prefix):
		return occi.Errorf(occi.InvalidArgument, "user mixin location %s must be below %s", loc, prefix)
	case !strings.HasSuffix(loc, "/"):
		return occi.Errorf(occi.InvalidArgument, "user mixin location %s must end with '/'", loc)
	case strings.Contains(loc, "//"), strings.Contains(loc, "/../"), strings.Contains(loc, "/./"), strings.Contains(loc, ".."):
		return occi.Errorf(occi.InvalidArgument, "user mixin location %s must not contain '//', '.' or '..' segments", loc)
	case strings.ContainsAny(loc, "?#\\") || strings.ContainsFunc(loc, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return occi.Errorf(occi.InvalidArgument, "user mixin location %s must not contain '?', '#', '\\', spaces or control characters", loc)
	}
	for _, seg := range strings.Split(strings.Trim(loc[len(prefix):], "/"), "/") {
		if err := validSegment(seg); err != nil {
			return occi.Errorf(occi.InvalidArgument, "user mixin location %s has an invalid segment %q", loc, seg)
		}
	}
	return nil
}

// DeleteMixin deletes a mixin of the caller, dissociating it from every
// entity in the same atomic store write: a user tag, or a saved OS template,
// whose image the driver deletes first (backend.TemplateDeleter). A saved
// template still saving is FailedPrecondition; a backend that cannot delete
// images makes it PermissionDenied. Provider mixins and kinds are
// PermissionDenied; another user's mixins are NotFound.
func (e *Engine) DeleteMixin(ctx context.Context, id occi.CategoryID) error {
	if err := e.syncStoredMixins(ctx); err != nil {
		return err
	}
	m, ok := e.model.Mixin(id)
	if !ok || !visible(ctx, m) {
		if _, isKind := e.model.Kind(id); isKind {
			return occi.Errorf(occi.PermissionDenied, "%s is a kind of this provider and cannot be deleted", id)
		}
		return occi.Errorf(occi.NotFound, "mixin %s does not exist", id)
	}
	if m.Owner == "" {
		return occi.Errorf(occi.PermissionDenied, "mixin %s is defined by the provider and cannot be deleted", id)
	}
	// A user tag another of the user's tags depends on cannot go first.
	for _, other := range e.model.Mixins() {
		if other.ID != id && slices.Contains(other.Depends, id) {
			return occi.Errorf(occi.FailedPrecondition, "mixin %s is a dependency of %s; delete that one first", id, other.ID)
		}
	}
	if base, isTpl := e.templateBase(id); isTpl {
		if base != infra.OSTemplate {
			return occi.Errorf(occi.PermissionDenied, "mixin %s is a resource template of the provider and cannot be deleted", id)
		}
		if err := e.deleteTemplateImage(ctx, m); err != nil {
			return err
		}
	}
	return e.changeStoredMixins(func() error {
		for attempt := 0; ; attempt++ {
			members, err := e.store.List(ctx, store.Query{Mixin: id})
			if err != nil {
				return err
			}
			muts := []store.Mutation{{DeleteMixin: id, Expect: store.AnyRevision}}
			for _, ent := range members {
				next, err := e.dropMixin(ent, id)
				if err != nil {
					return err
				}
				muts = append(muts, store.Mutation{Put: next, Expect: ent.Revision})
			}
			err = e.store.Write(ctx, muts...)
			if err == nil {
				break
			}
			if occi.ErrorCode(err) == occi.NotFound && len(members) == 0 {
				break // another process deleted it meanwhile
			}
			if occi.ErrorCode(err) != occi.Conflict || attempt >= 4 {
				return err
			}
		}
		e.model.RemoveMixin(id)
		e.tplMu.Lock()
		delete(e.templates, id)
		e.tplMu.Unlock()
		return nil
	})
}

// deleteTemplateImage deletes the image behind the saved OS template m,
// refusing while it is still saving. An image the driver no longer has is
// already deleted.
func (e *Engine) deleteTemplateImage(ctx context.Context, m *occi.Mixin) error {
	if err := e.syncTemplates(ctx); err != nil {
		return err
	}
	e.tplMu.Lock()
	t, listed := e.templates[m.ID]
	e.tplMu.Unlock()
	if listed && t.State == backend.TemplateSaving {
		return occi.Errorf(occi.FailedPrecondition, "OS template %s is still being saved (%d%% copied) and cannot be deleted yet; delete it once its %s is %q or %q", m.ID, t.Progress, AttrTemplateState, backend.TemplateReady, backend.TemplateError)
	}
	td, ok := e.drv.(backend.TemplateDeleter)
	if !ok {
		return occi.Errorf(occi.PermissionDenied, "OS template %s cannot be deleted: this backend cannot delete images", m.ID)
	}
	name := m.ID.Term
	if listed {
		name = t.Name
	}
	if err := td.DeleteTemplate(ctx, name); err != nil && e.drv.ErrorCode(err) != occi.NotFound {
		return e.driverErr(err, "deleting the image of OS template "+m.ID.String())
	}
	return nil
}

package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
	notFound := func() error { return occi.Errorf(occi.NotFound, "nothing at %s", path) }
	if !strings.HasPrefix(path, "/") || strings.ContainsFunc(path, unicode.IsControl) {
		return occi.Target{}, notFound()
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
		if err := e.resolveEntity(ctx, path); err == nil {
			return occi.Target{Type: occi.TargetEntity, Path: path}, nil
		} else if occi.ErrorCode(err) != occi.NotFound {
			return occi.Target{}, err
		}
		return occi.Target{}, notFound()
	}
	for _, loc := range e.visibleLocations(ctx) {
		if strings.HasPrefix(loc, path) {
			return occi.Target{Type: occi.TargetUnbound, Path: path}, nil
		}
	}
	return occi.Target{}, notFound()
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

// DiscoveryVersion returns a version of what Discover(ctx, nil) returns
// for the caller: it changes whenever the model's categories change (user
// tags, templates, mixins another process stored), and it names the
// caller, since mixins owned by a user are visible to that user only.
// occihttp caches its renderings of the query interface by it. Like
// Discover, it first brings the stored mixins and stale templates in.
func (e *Engine) DiscoveryVersion(ctx context.Context) (string, error) {
	e.syncStoredMixinsQuietly(ctx)
	if err := e.syncTemplatesCached(ctx); err != nil {
		e.log.Warn("engine: discovery without fresh templates", "err", err)
	}
	gen := e.model.Generation()
	p := e.discoPrefix.Load()
	if p == nil || p.gen != gen {
		p = &genPrefix{gen, strconv.FormatUint(gen, 10) + "/"}
		e.discoPrefix.Store(p)
	}
	return p.text + user(ctx), nil
}

// genPrefix is a model generation and its decimal form followed by "/".
type genPrefix struct {
	gen  uint64
	text string
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
	return e.scheme + "users/" + occi.UserSegment(u) + "/tags#"
}

// userTagPrefix returns the location under which user u's tags live.
func userTagPrefix(u string) string {
	return "/users/" + occi.UserSegment(u) + "/tags/"
}

// DefineMixin creates a tag owned by the caller. Scheme and location may
// be left empty to be assigned; if given they must be the caller's tag
// scheme and a location under /users/<user>/tags/.
func (e *Engine) DefineMixin(ctx context.Context, in *occi.Mixin) (*occi.Mixin, error) {
	out, err := e.DefineMixins(ctx, []*occi.Mixin{in})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// DefineMixins defines every tag of ms (as DefineMixin) or none: all are
// checked first, then stored in one atomic write. A tag may depend on a
// tag defined before it in ms.
func (e *Engine) DefineMixins(ctx context.Context, ms []*occi.Mixin) ([]*occi.Mixin, error) {
	if len(ms) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "no mixin given")
	}
	if len(ms) > e.maxBatch {
		return nil, occi.Errorf(occi.TooLarge, "%d mixins in one request; the limit is %d", len(ms), e.maxBatch)
	}
	u := user(ctx)
	if u == "" {
		return nil, occi.Errorf(occi.PermissionDenied, "user mixins need an authenticated user")
	}
	if err := e.syncStoredMixins(ctx); err != nil {
		return nil, err
	}
	batch := make([]*occi.Mixin, 0, len(ms))
	for i, in := range ms {
		m, err := e.prepareMixin(ctx, in, u, batch)
		if err != nil {
			return nil, mixinBatchError(err, i, len(ms))
		}
		batch = append(batch, m)
	}
	err := e.changeStoredMixins(func() error {
		muts := make([]store.Mutation, len(batch))
		for i, m := range batch {
			muts[i] = store.Mutation{PutMixin: m, Expect: store.MustNotExist}
		}
		if err := e.store.Write(ctx, muts...); err != nil {
			if occi.ErrorCode(err) == occi.AlreadyExists {
				return occi.Errorf(occi.AlreadyExists, "one of the mixins %s already exists", joinMixinIDs(batch))
			}
			return err
		}
		for i, m := range batch {
			if err := e.model.AddMixin(m); err != nil {
				for j := i - 1; j >= 0; j-- {
					e.model.RemoveMixin(batch[j].ID)
				}
				undo := make([]store.Mutation, len(batch))
				for j, b := range batch {
					undo[j] = store.Mutation{DeleteMixin: b.ID, Expect: store.AnyRevision}
				}
				if uerr := e.store.Write(context.WithoutCancel(ctx), undo...); uerr != nil {
					e.log.Warn("engine: undoing a failed mixin definition", "err", uerr)
				}
				return mixinBatchError(err, i, len(batch))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*occi.Mixin, len(batch))
	for i, m := range batch {
		out[i] = occi.CloneMixin(m)
	}
	return out, nil
}

func mixinBatchError(err error, i, n int) error {
	if n <= 1 {
		return err
	}
	return occi.Wrap(err, occi.ErrorCode(err), fmt.Sprintf("mixin %d of %d: %s", i+1, n, occi.ErrorMessage(err)))
}

func joinMixinIDs(ms []*occi.Mixin) string {
	ids := make([]occi.CategoryID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return joinIDs(ids)
}

// prepareMixin checks a tag definition of user u against the model and
// the tags defined before it in the same request (batch).
func (e *Engine) prepareMixin(ctx context.Context, in *occi.Mixin, u string, batch []*occi.Mixin) (*occi.Mixin, error) {
	if in == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "no mixin given")
	}
	m := occi.CloneMixin(in)
	if len(m.Attributes) > 0 || len(m.Actions) > 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin %s must be a tag: attributes and actions are not supported", m.ID)
	}
	if len(m.ID.Term) > MaxTerm {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin term is %d bytes long; the limit is %d", len(m.ID.Term), MaxTerm)
	}
	if err := checkText("the title of mixin "+m.ID.Term, m.Title); err != nil {
		return nil, err
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
	if len(m.Applies) > MaxMixins || len(m.Depends) > MaxMixins {
		return nil, occi.Errorf(occi.InvalidArgument, "user mixin %s names more than %d kinds or mixins", m.ID, MaxMixins)
	}
	for _, a := range m.Applies {
		if _, ok := e.model.Kind(a); !ok {
			return nil, occi.Errorf(occi.NotFound, "user mixin %s applies to %s, which is not a kind here", m.ID, a)
		}
	}
	for _, dep := range m.Depends {
		if slices.ContainsFunc(batch, func(b *occi.Mixin) bool { return b.ID == dep }) {
			continue
		}
		dm, err := e.visibleMixin(ctx, dep)
		if err != nil {
			return nil, err
		}
		if dm.Owner != u {
			return nil, occi.Errorf(occi.InvalidArgument, "user mixin %s may depend only on your own tags, not on %s", m.ID, dep)
		}
	}
	m.Owner = u
	for _, b := range batch {
		if b.ID == m.ID {
			return nil, occi.Errorf(occi.AlreadyExists, "mixin %s is defined twice in the request", m.ID)
		}
		if b.Location == m.Location {
			return nil, occi.Errorf(occi.AlreadyExists, "location %s is given to two mixins in the request", m.Location)
		}
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
	return m, nil
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
	if len(loc) > MaxMixinLocation {
		return occi.Errorf(occi.InvalidArgument, "user mixin location is %d bytes long; the limit is %d", len(loc), MaxMixinLocation)
	}
	for i := len(prefix); i < len(loc); i++ {
		if c := loc[i]; c != '/' && !termByte(c) {
			return occi.Errorf(occi.InvalidArgument, "user mixin location %s contains %q: below %s only letters, digits, '-', '_', '.' and '/' are allowed (no %%-escapes)", loc, rune(c), prefix)
		}
	}
	return nil
}

// termByte reports whether c may appear in a term (GFD.221 3.4.1: letters,
// digits, '-', '_' and '.').
func termByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// DeleteMixin deletes a mixin of the caller, dissociating it from every
// entity in the same atomic store write: a user tag, or a saved OS template,
// whose image the driver deletes first (backend.TemplateDeleter). A saved
// template still saving is FailedPrecondition; a backend that cannot delete
// images makes it PermissionDenied. Provider mixins and kinds are
// PermissionDenied; another user's mixins are NotFound.
func (e *Engine) DeleteMixin(ctx context.Context, id occi.CategoryID) error {
	return e.DeleteMixins(ctx, []occi.CategoryID{id})
}

// DeleteMixins deletes every mixin of ids (as DeleteMixin) or none: all
// are checked first, then the saved templates' images are deleted, then the
// mixins and their associations go in one atomic store write.
func (e *Engine) DeleteMixins(ctx context.Context, ids []occi.CategoryID) error {
	if len(ids) == 0 {
		return occi.Errorf(occi.InvalidArgument, "no mixin given")
	}
	if len(ids) > e.maxBatch {
		return occi.Errorf(occi.TooLarge, "%d mixins in one request; the limit is %d", len(ids), e.maxBatch)
	}
	if err := e.syncStoredMixins(ctx); err != nil {
		return err
	}
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b occi.CategoryID) int { return strings.Compare(a.String(), b.String()) })
	ids = slices.Compact(ids)
	var images []*occi.Mixin
	for _, id := range ids {
		m, err := e.deletableMixin(ctx, id, ids)
		if err != nil {
			return err
		}
		if _, isTpl := e.templateBase(id); isTpl {
			if err := e.checkTemplateDeletable(ctx, m); err != nil {
				return err
			}
			images = append(images, m)
		}
	}
	for _, m := range images {
		if err := e.deleteTemplateImage(ctx, m); err != nil {
			return err
		}
	}
	return e.changeStoredMixins(func() error {
		for attempt := 0; ; attempt++ {
			muts := make([]store.Mutation, 0, len(ids))
			changed := map[string]*occi.Entity{}
			var order []string
			for _, id := range ids {
				muts = append(muts, store.Mutation{DeleteMixin: id, Expect: store.AnyRevision})
				members, err := e.store.List(ctx, store.Query{Mixin: id})
				if err != nil {
					return err
				}
				for _, ent := range members {
					cur := changed[ent.Location]
					if cur == nil {
						cur = ent
						order = append(order, ent.Location)
					}
					next, err := e.dropMixin(cur, id)
					if err != nil {
						return err
					}
					next.Revision = ent.Revision
					changed[ent.Location] = next
				}
			}
			for _, loc := range order {
				next := changed[loc]
				muts = append(muts, store.Mutation{Put: next, Expect: next.Revision})
			}
			err := e.store.Write(ctx, muts...)
			if err == nil {
				break
			}
			if occi.ErrorCode(err) == occi.NotFound && len(order) == 0 {
				break // another process deleted them meanwhile
			}
			if occi.ErrorCode(err) != occi.Conflict || attempt >= 4 {
				return err
			}
		}
		for _, id := range ids {
			e.model.RemoveMixin(id)
		}
		e.tplMu.Lock()
		for _, id := range ids {
			delete(e.templates, id)
		}
		e.tplMu.Unlock()
		return nil
	})
}

// deletableMixin checks that the caller may delete the mixin id together
// with the mixins of all.
func (e *Engine) deletableMixin(ctx context.Context, id occi.CategoryID, all []occi.CategoryID) (*occi.Mixin, error) {
	m, ok := e.model.Mixin(id)
	if !ok || !visible(ctx, m) {
		if _, isKind := e.model.Kind(id); isKind {
			return nil, occi.Errorf(occi.PermissionDenied, "%s is a kind of this provider and cannot be deleted", id)
		}
		return nil, occi.Errorf(occi.NotFound, "mixin %s does not exist", id)
	}
	if m.Owner == "" {
		return nil, occi.Errorf(occi.PermissionDenied, "mixin %s is defined by the provider and cannot be deleted", id)
	}
	// A user tag another of the user's tags depends on cannot go first.
	for _, other := range e.model.Mixins() {
		if other.ID != id && slices.Contains(other.Depends, id) && !slices.Contains(all, other.ID) {
			return nil, occi.Errorf(occi.FailedPrecondition, "mixin %s is a dependency of %s; delete that one first", id, other.ID)
		}
	}
	if base, isTpl := e.templateBase(id); isTpl && base != infra.OSTemplate {
		return nil, occi.Errorf(occi.PermissionDenied, "mixin %s is a resource template of the provider and cannot be deleted", id)
	}
	return m, nil
}

// checkTemplateDeletable checks, before anything is deleted, that the
// image of the saved OS template m can be deleted now.
func (e *Engine) checkTemplateDeletable(ctx context.Context, m *occi.Mixin) error {
	if err := e.syncTemplates(ctx); err != nil {
		return err
	}
	e.tplMu.Lock()
	t, listed := e.templates[m.ID]
	if e.pendingSaves[m.ID] {
		listed, t.State, t.Progress = true, backend.TemplateSaving, 0
	}
	e.tplMu.Unlock()
	if listed && t.State == backend.TemplateSaving {
		return occi.Errorf(occi.FailedPrecondition, "OS template %s is still being saved (%d%% copied) and cannot be deleted yet; delete it once its %s is %q or %q", m.ID, t.Progress, AttrTemplateState, backend.TemplateReady, backend.TemplateError)
	}
	if _, ok := e.drv.(backend.TemplateDeleter); !ok {
		return occi.Errorf(occi.PermissionDenied, "OS template %s cannot be deleted: this backend cannot delete images", m.ID)
	}
	return nil
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
	if e.pendingSaves[m.ID] {
		listed, t.State, t.Progress = true, backend.TemplateSaving, 0
	}
	e.tplMu.Unlock()
	if listed && t.State == backend.TemplateSaving {
		return occi.Errorf(occi.FailedPrecondition, "OS template %s is still being saved (%d%% copied) and cannot be deleted yet; delete it once its %s is %q or %q", m.ID, t.Progress, AttrTemplateState, backend.TemplateReady, backend.TemplateError)
	}
	td, ok := e.drv.(backend.TemplateDeleter)
	if !ok {
		return occi.Errorf(occi.PermissionDenied, "OS template %s cannot be deleted: this backend cannot delete images", m.ID)
	}
	name := e.driverName(m)
	if listed {
		name = t.Name
	}
	if err := td.DeleteTemplate(ctx, name); err != nil && e.drv.ErrorCode(err) != occi.NotFound {
		return e.driverErr(err, "deleting the image of OS template "+m.ID.String())
	}
	return nil
}

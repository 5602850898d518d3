package engine

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

const urnUUID = "urn:uuid:"

// idSegment turns a client-given id into the path segment it names: the
// UUID of "urn:uuid:<uuid>", any other id as it is (so "urn:uuid:abc"
// names the segment "urn:uuid:abc", not "abc").
func idSegment(id string) string {
	if len(id) > len(urnUUID) && strings.EqualFold(id[:len(urnUUID)], urnUUID) {
		if u := id[len(urnUUID):]; len(u) == 36 && uuid.Validate(u) == nil {
			return u
		}
	}
	return id
}

// renderID is the occi.core.id of an entity whose location ends in seg:
// "urn:uuid:<uuid>" for a UUID, the segment itself otherwise.
func renderID(seg string) string {
	if u, err := uuid.Parse(seg); err == nil && len(seg) == 36 {
		return urnUUID + u.String()
	}
	return seg
}

// validSegment checks a client-chosen id: a non-empty URI path segment of
// unreserved characters, sub-delims other than ',', ':' and '@', neither
// "." nor "..". A '%' is refused, since an id is its location's last
// segment as it is and a request path is matched after it is unescaped
// (an id "%61" would name the location of the id "a"); so is a ',', which
// a list of locations in a text rendering separates them by.
func validSegment(seg string) error {
	if seg == "" {
		return occi.Errorf(occi.InvalidArgument, "the entity id is empty")
	}
	if seg == "." || seg == ".." {
		return occi.Errorf(occi.InvalidArgument, "the entity id %q is not allowed", seg)
	}
	if len(seg) > 200 {
		return occi.Errorf(occi.InvalidArgument, "the entity id is longer than 200 characters")
	}
	for i, r := range seg {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r < utf8.RuneSelf && strings.IndexByte("-._~!$&'()*+;=:@", byte(r)) >= 0:
		default:
			if _, size := utf8.DecodeRuneInString(seg[i:]); r == utf8.RuneError && size == 1 {
				return occi.Errorf(occi.InvalidArgument, "the entity id %q is not valid UTF-8 at byte %d", seg, i)
			}
			return occi.Errorf(occi.InvalidArgument, "the entity id %q contains %q at byte %d: an id may hold letters, digits and -._~!$&'()*+;=:@ only", seg, r, i)
		}
	}
	return nil
}

// getVisible returns the stored entity at location if the caller owns it;
// anything else is NotFound.
func (e *Engine) getVisible(ctx context.Context, location string) (*occi.Entity, error) {
	ent, err := e.store.Get(ctx, location)
	if err != nil {
		if occi.ErrorCode(err) == occi.NotFound {
			return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
		}
		return nil, err
	}
	if ent.Owner != user(ctx) {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	e.knowsMixins(ctx, ent)
	return ent, nil
}

// lostRace turns the store's Conflict on writing read (another process or
// request changed it after it was read) into the caller's error: with an
// expected revision (If-Match) the precondition no longer holds, so
// PreconditionFailed; without, Conflict. Either way nothing was written.
func lostRace(ctx context.Context, err error, read *occi.Entity) error {
	if rev, ok := occi.ExpectedRevision(ctx); ok && rev != 0 {
		return occi.Wrap(err, occi.PreconditionFailed, fmt.Sprintf("%s was changed concurrently and is no longer at revision %d: read it again", read.Location, rev))
	}
	return occi.Wrap(err, occi.Conflict, read.Location+" was changed concurrently; read it again and retry")
}

func checkRevision(ctx context.Context, ent *occi.Entity) error {
	if rev, ok := occi.ExpectedRevision(ctx); ok && rev != 0 && ent.Revision != rev {
		return occi.Errorf(occi.PreconditionFailed, "%s is at revision %d, not %d: read it again", ent.Location, ent.Revision, rev)
	}
	return nil
}

// visibleMixin returns the mixin id if the caller may use it.
func (e *Engine) visibleMixin(ctx context.Context, id occi.CategoryID) (*occi.Mixin, error) {
	m, ok := e.model.Mixin(id)
	if !ok || m.Owner != "" {
		// Another process may have defined or deleted it.
		if err := e.syncStoredMixins(ctx); err != nil {
			return nil, err
		}
		m, ok = e.model.Mixin(id)
	}
	if !ok && e.isTemplateScheme(id.Scheme) {
		if err := e.syncTemplates(ctx); err == nil {
			m, ok = e.model.Mixin(id)
		}
	}
	if !ok || (m.Owner != "" && m.Owner != user(ctx)) {
		if _, isKind := e.model.Kind(id); isKind {
			return nil, occi.Errorf(occi.InvalidArgument, "%s is a kind, not a mixin", id)
		}
		return nil, occi.Errorf(occi.NotFound, "mixin %s does not exist", id)
	}
	return m, nil
}

// templateOf returns the entity's direct template mixin with base.
func (e *Engine) templateOf(mixins []occi.CategoryID, base occi.CategoryID) occi.CategoryID {
	for _, m := range mixins {
		if b, ok := e.templateBase(m); ok && b == base {
			return m
		}
	}
	return occi.CategoryID{}
}

// mixinSet validates add and returns current plus add. With replace, an
// added os or resource template replaces the current one of the same base;
// without, two templates of one base are an InvalidArgument error.
func (e *Engine) mixinSet(ctx context.Context, kind occi.CategoryID, current, add []occi.CategoryID, replace bool) ([]occi.CategoryID, error) {
	out := append([]occi.CategoryID(nil), current...)
	added := map[occi.CategoryID]occi.CategoryID{} // base -> template added now
	for _, id := range add {
		if id.IsZero() {
			continue
		}
		if _, err := e.visibleMixin(ctx, id); err != nil {
			return nil, err
		}
		if !e.model.Applies(id, kind) {
			m, _ := e.model.Mixin(id)
			var names []string
			for _, a := range m.Applies {
				names = append(names, a.String())
			}
			return nil, occi.Errorf(occi.InvalidArgument, "mixin %s cannot be associated with a %s: it applies to %s", id, kind, strings.Join(names, ", "))
		}
		if id == infra.OSTemplate || id == infra.ResourceTemplate {
			return nil, occi.Errorf(occi.InvalidArgument, "%s is the base of the %s templates, not one of them; give one of those the query interface lists as depending on it", id, id.Term)
		}
		// Two templates of one base in one request are refused whatever
		// their order, one of them already there or not.
		base, isTemplate := e.templateBase(id)
		if isTemplate {
			if prev, dup := added[base]; dup && prev != id {
				return nil, occi.Errorf(occi.InvalidArgument, "mixins %s and %s are both %s templates; give at most one", prev, id, base.Term)
			}
			added[base] = id
		}
		if slices.Contains(out, id) {
			continue
		}
		if isTemplate {
			if old := e.templateOf(out, base); !old.IsZero() {
				if !replace {
					return nil, occi.Errorf(occi.InvalidArgument, "mixins %s and %s are both %s templates; give at most one", old, id, base.Term)
				}
				out = slices.DeleteFunc(out, func(m occi.CategoryID) bool { return m == old })
			}
		}
		out = append(out, id)
	}
	return out, nil
}

type attrMode int

const (
	modeCreate attrMode = iota
	modeReplace
	modeMerge
)

// resolveAttributes computes an entity's attributes from its kind and
// mixins, the old entity (nil when creating), the client's values and the
// mixins added by this request.
func (e *Engine) resolveAttributes(kind occi.CategoryID, mixins []occi.CategoryID, old *occi.Entity, in occi.Attributes, mode attrMode, added []occi.CategoryID) (occi.Attributes, error) {
	defs, err := e.model.Attributes(kind, mixins)
	if err != nil {
		return nil, err
	}
	attrs := occi.Attributes{}
	sm, hasSM := infra.MachineFor(kind)
	fillDefaults := func(only map[string]bool) {
		for name, d := range defs {
			if d.Default == nil || !d.Mutable || isTemplateAttr(name) || strings.HasPrefix(name, "occi.core.") {
				continue
			}
			if only != nil && !only[name] {
				continue
			}
			if _, set := attrs[name]; !set {
				attrs[name] = occi.Attributes{"v": d.Default}.Clone()["v"]
			}
		}
	}
	switch mode {
	case modeCreate:
		fillDefaults(nil)
		if hasSM {
			attrs[sm.Attr] = sm.Initial
		}
	case modeReplace:
		// Keep what the server owns: attributes defined as immutable, the
		// user data, and values the backend reported that no category
		// defines. Attributes of mixins no longer present go.
		oldDefs, _ := e.model.Attributes(old.Kind, old.Mixins)
		for k, v := range old.Attributes {
			d, ok := defs[k]
			_, wasDefined := oldDefs[k]
			if (ok && (!d.Mutable || k == infra.AttrUserData)) || (!ok && !wasDefined) {
				attrs[k] = v
			}
		}
		fillDefaults(nil)
	case modeMerge:
		attrs = old.Attributes.Clone()
		if attrs == nil {
			attrs = occi.Attributes{}
		}
		closure, _ := e.model.MixinClosure(added)
		addedDefs, _ := e.mixinDefs(closure)
		fillDefaults(addedDefs)
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var unknown, immutable []string
	var firstErr error
	for _, k := range keys {
		v := in[k]
		if strings.HasPrefix(k, "occi.core.") {
			continue
		}
		d, ok := defs[k]
		if !ok {
			if old != nil && v != nil && sameValue(old.Attributes[k], v) {
				continue // a value the backend reported, sent back unchanged
			}
			unknown = append(unknown, k)
			continue
		}
		cur, has := attrs[k]
		if !d.Mutable || isTemplateAttr(k) {
			if v == nil && !has {
				continue
			}
			if has && v != nil && sameValue(cur, v) {
				continue
			}
			immutable = append(immutable, k)
			continue
		}
		if k == infra.AttrUserData && mode != modeCreate {
			if has && v != nil && sameValue(cur, v) {
				continue
			}
			return nil, occi.Errorf(occi.PermissionDenied, "attribute %s is supplied once, when the compute is created, and cannot be changed", k)
		}
		if v == nil {
			delete(attrs, k)
			continue
		}
		cv, err := coerce(d, v, "attribute")
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		attrs[k] = cv
	}
	if len(unknown) > 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "unknown attribute(s) %s for a %s with mixins [%s]", strings.Join(unknown, ", "), kind, joinIDs(mixins))
	}
	if len(immutable) > 0 {
		return nil, occi.Errorf(occi.PermissionDenied, "attribute(s) %s are managed by the server and cannot be set or changed", strings.Join(immutable, ", "))
	}
	if firstErr != nil {
		return nil, firstErr
	}
	// A resource template added now overrides the size attributes (GFD.224 5.8).
	for _, m := range added {
		if b, ok := e.templateBase(m); ok && b == infra.ResourceTemplate {
			mx, _ := e.model.Mixin(m)
			for _, d := range mx.Attributes {
				if d.Default != nil && !isTemplateAttr(d.Name) {
					attrs[d.Name] = d.Default
				}
			}
		}
	}
	var missing []string
	for name, d := range defs {
		if d.Required && !strings.HasPrefix(name, "occi.core.") {
			if _, ok := attrs[name]; !ok {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, occi.Errorf(occi.InvalidArgument, "missing required attribute(s) %s for a %s with mixins [%s]", strings.Join(missing, ", "), kind, joinIDs(mixins))
	}
	return attrs, nil
}

// mixinDefs returns the names of the attributes the mixins define.
func (e *Engine) mixinDefs(mixins []occi.CategoryID) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range mixins {
		m, ok := e.model.Mixin(id)
		if !ok {
			continue
		}
		for _, d := range m.Attributes {
			out[d.Name] = true
		}
	}
	return out, nil
}

func joinIDs(ids []occi.CategoryID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}

// moveCoreAttributes takes occi.core.* values a rendering left in
// Attributes into the entity's fields (the fields win).
func moveCoreAttributes(in *occi.Entity) error {
	for k, v := range in.Attributes {
		if !strings.HasPrefix(k, "occi.core.") {
			continue
		}
		s, ok := v.(string)
		if !ok && v != nil {
			return occi.Errorf(occi.InvalidArgument, "attribute %s must be a string, got %s", k, describe(v))
		}
		switch k {
		case occi.AttrID:
			if in.ID == "" {
				in.ID = s
			}
		case occi.AttrTitle:
			if in.Title == "" {
				in.Title = s
			}
		case occi.AttrSummary:
			if in.Summary == "" {
				in.Summary = s
			}
		case occi.AttrSource:
			if in.Source == "" {
				in.Source = s
			}
		case occi.AttrTarget:
			if in.Target == "" {
				in.Target = s
			}
		case occi.AttrTargetKind:
			if in.TargetKind.IsZero() && s != "" {
				id, err := occi.ParseCategoryID(s)
				if err != nil {
					return err
				}
				in.TargetKind = id
			}
		case occi.AttrSourceKind:
		default:
			return occi.Errorf(occi.InvalidArgument, "unknown attribute %s", k)
		}
	}
	return nil
}

// kindCollection returns the kind whose collection is at collection.
func (e *Engine) kindCollection(ctx context.Context, collection string) (*occi.Kind, error) {
	t, err := e.Resolve(ctx, collection)
	if err != nil {
		return nil, err
	}
	if t.Type != occi.TargetKindCollection {
		return nil, occi.Errorf(occi.MethodNotAllowed, "%s is not a kind collection; entities are created in a kind's collection such as /compute/", collection)
	}
	k, _ := e.model.Kind(t.Category)
	return k, nil
}

func (e *Engine) newSegment(in *occi.Entity) (string, error) {
	if in.ID != "" {
		seg := idSegment(in.ID)
		if err := validSegment(seg); err != nil {
			return "", err
		}
		return seg, nil
	}
	return uuid.NewString(), nil
}

// Create creates in, and its inline links, in the kind collection at
// collection. The kind of in must be that collection's kind.
func (e *Engine) Create(ctx context.Context, collection string, in *occi.Entity) (*occi.Entity, error) {
	if in == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "no entity given")
	}
	k, err := e.kindCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	in = in.Clone()
	if err := e.checkCreateInput(k, in); err != nil {
		return nil, err
	}
	fresh := in.ID == ""
	seg, err := e.newSegment(in)
	if err != nil {
		return nil, err
	}
	loc := k.Location + seg
	unlock, err := e.lock(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.create(ctx, loc, seg, in, fresh)
}

// knownKind checks a kind a request names (the zero id passes). An
// unknown category named in a request is NotFound wherever it appears
// (kinds, mixins, actions; docs/model.md "Errors").
func (e *Engine) knownKind(id occi.CategoryID) error {
	if id.IsZero() {
		return nil
	}
	if _, ok := e.model.Kind(id); ok {
		return nil
	}
	if _, isMixin := e.model.Mixin(id); isMixin {
		return occi.Errorf(occi.InvalidArgument, "%s is a mixin, not a kind", id)
	}
	return occi.Errorf(occi.NotFound, "kind %s does not exist", id)
}

// checkCreateInput moves the core attributes of in (a clone) into its
// fields and checks its kind against the collection of k.
func (e *Engine) checkCreateInput(k *occi.Kind, in *occi.Entity) error {
	if err := moveCoreAttributes(in); err != nil {
		return err
	}
	if in.Kind.IsZero() {
		return occi.Errorf(occi.InvalidArgument, "the entity names no kind; give exactly one kind, here %s", k.ID)
	}
	if err := e.knownKind(in.Kind); err != nil {
		return err
	}
	if in.Kind != k.ID {
		return occi.Errorf(occi.InvalidArgument, "kind %s cannot be created in %s, the collection of %s", in.Kind, k.Location, k.ID)
	}
	return nil
}

// creatable checks that entities of kind can be created here.
func (e *Engine) creatable(kind occi.CategoryID) error {
	if kind == occi.ResourceKind || kind == occi.LinkKind || e.driven(kind) {
		return nil
	}
	if _, ok := e.model.Kind(kind); !ok {
		return occi.Errorf(occi.NotFound, "kind %s does not exist", kind)
	}
	return occi.Errorf(occi.InvalidArgument, "entities of kind %s cannot be created", kind)
}

// createPlan is a validated creation: the entity, its inline links and
// what the driver needs to make them.
type createPlan struct {
	ent, src, tgt *occi.Entity
	links         []*occi.Entity
	targets       []*occi.Entity
}

func (e *Engine) create(ctx context.Context, loc, seg string, in *occi.Entity, fresh bool) (*occi.Entity, error) {
	// Held until the entity is stored: links created at once from one
	// source are checked (checkNewLinks) one after the other, and none is
	// made from or to a resource being deleted. A Source or Target that
	// names no resource fails in prepareCreate.
	unlock, err := e.lockLinksOfAll(ctx, e.linkEnds(in))
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := e.prepareCreate(ctx, loc, seg, in, fresh)
	if err != nil {
		return nil, err
	}
	if err := e.commitCreates(ctx, []*createPlan{p}); err != nil {
		return nil, err
	}
	return e.presentCreated(ctx, p), nil
}

// linkEnds returns the resources whose set of links creating in changes:
// a link's source and target, or the targets of a resource's inline links
// (the new resource itself is not known to anyone yet). Empty ends are
// left out.
func (e *Engine) linkEnds(in *occi.Entity) []string {
	var ends []string
	if e.model.IsLink(in.Kind) {
		ends = append(ends, in.Source, in.Target)
	} else {
		for _, l := range in.Links {
			if l != nil {
				ends = append(ends, l.Target)
			}
		}
	}
	return slices.DeleteFunc(ends, func(k string) bool { return k == "" })
}

// presentCreated is present for an entity just created as p planned,
// without reading its links back: they are the links created with it,
// since nothing else can have a location that was free as its source.
func (e *Engine) presentCreated(ctx context.Context, p *createPlan) *occi.Entity {
	links := slices.Clone(p.links)
	slices.SortFunc(links, func(a, b *occi.Entity) int { return strings.Compare(a.Location, b.Location) })
	return e.presentWith(ctx, p.ent, links)
}

// prepareCreate validates the creation of in at loc without changing
// anything. fresh says that the engine made loc up (a new UUID), so that
// nothing can be there: the store is not asked (the write that creates
// still refuses an existing record).
func (e *Engine) prepareCreate(ctx context.Context, loc, seg string, in *occi.Entity, fresh bool) (*createPlan, error) {
	if err := e.creatable(in.Kind); err != nil {
		return nil, err
	}
	if fresh {
		// Nothing to check.
	} else if old, err := e.store.Get(ctx, loc); err == nil {
		if old.Owner != user(ctx) {
			return nil, occi.Errorf(occi.NotFound, "%s cannot be created: the id is not available", loc)
		}
		return nil, occi.Errorf(occi.AlreadyExists, "an entity already exists at %s", loc)
	} else if occi.ErrorCode(err) != occi.NotFound {
		return nil, err
	}
	var ent *occi.Entity
	var links []*occi.Entity
	var targets []*occi.Entity
	var src, tgt *occi.Entity
	var err error
	if e.model.IsLink(in.Kind) {
		ent, src, tgt, err = e.prepareLink(ctx, in, loc, seg, nil)
		if err != nil {
			return nil, err
		}
		if err := e.checkNewLinks(ctx, src, []*occi.Entity{ent}, ""); err != nil {
			return nil, err
		}
	} else {
		ent, err = e.prepareResource(ctx, in, loc, seg)
		if err != nil {
			return nil, err
		}
		for i, l := range in.Links {
			if l == nil {
				continue
			}
			l = l.Clone()
			if err := moveCoreAttributes(l); err != nil {
				return nil, fmt.Errorf("inline link %d: %w", i+1, err)
			}
			lk, err := e.inferLinkKind(ctx, l)
			if err != nil {
				return nil, err
			}
			l.Kind = lk.ID
			if err := e.creatable(lk.ID); err != nil {
				return nil, err
			}
			lseg, err := e.newSegment(l)
			if err != nil {
				return nil, err
			}
			if err := e.linkLocationFree(ctx, lk.Location+lseg); err != nil {
				return nil, err
			}
			link, _, t, err := e.prepareLink(ctx, l, lk.Location+lseg, lseg, ent)
			if err != nil {
				return nil, err
			}
			if slices.ContainsFunc(links, func(x *occi.Entity) bool { return x.Location == link.Location }) {
				return nil, occi.Errorf(occi.AlreadyExists, "two inline links have the location %s", link.Location)
			}
			links = append(links, link)
			targets = append(targets, t)
		}
	}
	if !e.model.IsLink(ent.Kind) {
		if err := e.checkNewLinks(ctx, ent, links, ""); err != nil {
			return nil, err
		}
	}
	if os := e.templateOf(ent.Mixins, infra.OSTemplate); !os.IsZero() {
		if err := e.checkTemplateReady(ctx, os); err != nil {
			return nil, err
		}
	}
	return &createPlan{ent: ent, src: src, tgt: tgt, links: links, targets: targets}, nil
}

// commitCreates makes the planned entities real and stores them, crash
// safely: first a pending record for every entity the driver makes real
// (see pending.go), then the driver's creations, then one atomic write of
// the entities that also removes the pending records. A failure undoes
// what the driver made; a crash leaves pending records that the next
// engine start settles. When every entity written has a pending record,
// the last write is deferred (store.WithDeferredSync): the pending
// records are durable, so should a power loss undo that write, the next
// start adopts the entities from them, and a create costs one flush to
// disk rather than two.
func (e *Engine) commitCreates(ctx context.Context, plans []*createPlan) error {
	var driven []*occi.Entity
	for _, p := range plans {
		if e.driven(p.ent.Kind) {
			driven = append(driven, p.ent)
		}
		for _, l := range p.links {
			if e.driven(l.Kind) {
				driven = append(driven, l)
			}
		}
	}
	finish, finished, abandon, err := e.beginCreate(ctx, driven)
	if err != nil {
		return err
	}
	var made []*occi.Entity
	cleanup := func() {
		for i := len(made) - 1; i >= 0; i-- {
			if err := e.drv.Delete(context.WithoutCancel(ctx), made[i]); err != nil {
				e.log.Warn("engine: cleanup after failed create", "location", made[i].Location, "err", err)
			}
		}
		abandon()
	}
	for _, p := range plans {
		ent := p.ent
		if e.driven(ent.Kind) {
			req := backend.CreateRequest{Entity: ent.Clone(), Source: p.src, Target: p.tgt,
				OSTemplate:       e.templateNameOf(ent.Mixins, infra.OSTemplate),
				ResourceTemplate: e.templateNameOf(ent.Mixins, infra.ResourceTemplate)}
			obs, err := e.drv.Create(ctx, req)
			if err != nil {
				cleanup()
				return e.driverErr(err, "creating "+ent.Location)
			}
			e.applyObservation(ent, obs)
			made = append(made, ent)
		}
		for i, l := range p.links {
			if !e.driven(l.Kind) {
				continue
			}
			obs, err := e.drv.Create(ctx, backend.CreateRequest{Entity: l.Clone(), Source: ent.Clone(), Target: p.targets[i]})
			if err != nil {
				cleanup()
				return e.driverErr(err, "creating the inline link "+l.Location)
			}
			e.applyObservation(l, obs)
			made = append(made, l)
		}
	}
	var muts []store.Mutation
	for _, p := range plans {
		muts = append(muts, store.Mutation{Put: p.ent, Expect: store.MustNotExist})
		for _, l := range p.links {
			muts = append(muts, store.Mutation{Put: l, Expect: store.MustNotExist})
		}
	}
	muts = append(muts, finish...)
	wctx := ctx
	if len(driven) > 0 && len(driven) == len(muts)-len(finish) {
		// Every entity written has a durable pending record from which
		// the engine adopts it (at the next start, or in its periodic
		// settling) should a power loss or a database crash undo this
		// write, so it need not wait for its own fsync: one flush per
		// create, not two.
		wctx = store.WithDeferredSync(ctx)
	}
	if err := e.store.Write(wctx, muts...); err != nil {
		cleanup()
		if occi.ErrorCode(err) == occi.AlreadyExists {
			if len(plans) == 1 {
				return occi.Errorf(occi.AlreadyExists, "an entity already exists at %s or at one of its inline links' locations", plans[0].ent.Location)
			}
			return occi.Errorf(occi.AlreadyExists, "an entity already exists at one of the locations of the request")
		}
		return err
	}
	finished()
	for _, p := range plans {
		e.markObserved(p.ent.Location)
		for _, l := range p.links {
			e.markObserved(l.Location)
		}
	}
	return nil
}

func (e *Engine) templateNameOf(mixins []occi.CategoryID, base occi.CategoryID) string {
	t := e.templateOf(mixins, base)
	if t.IsZero() {
		return ""
	}
	return e.templateName(t)
}

func (e *Engine) prepareResource(ctx context.Context, in *occi.Entity, loc, seg string) (*occi.Entity, error) {
	if in.Source != "" || in.Target != "" {
		return nil, occi.Errorf(occi.InvalidArgument, "a %s is a resource: occi.core.source and occi.core.target are for links", in.Kind)
	}
	if err := checkEntitySize(in); err != nil {
		return nil, err
	}
	if len(in.Links) > MaxLinks {
		return nil, occi.Errorf(occi.InvalidArgument, "%d inline links given; a resource may have at most %d links", len(in.Links), MaxLinks)
	}
	mixins, err := e.mixinSet(ctx, in.Kind, nil, in.Mixins, false)
	if err != nil {
		return nil, err
	}
	attrs, err := e.resolveAttributes(in.Kind, mixins, nil, in.Attributes, modeCreate, mixins)
	if err != nil {
		return nil, err
	}
	return &occi.Entity{
		ID: renderID(seg), Location: loc, Kind: in.Kind, Mixins: mixins,
		Title: in.Title, Summary: in.Summary, Attributes: attrs, Owner: user(ctx),
	}, nil
}

// localTarget returns the entity a link target names on this server, nil
// for a URI elsewhere, or an error.
func (e *Engine) localTarget(ctx context.Context, target string) (*occi.Entity, error) {
	if target == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "a link needs occi.core.target")
	}
	if strings.HasPrefix(target, "/") {
		t, err := e.getVisible(ctx, target)
		if err != nil {
			return nil, occi.Errorf(occi.NotFound, "link target %s does not exist", target)
		}
		return t, nil
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || strings.ContainsFunc(target, unicode.IsSpace) {
		return nil, occi.Errorf(occi.InvalidArgument, "link target %q is neither a path on this server nor an absolute URI", target)
	}
	return nil, nil
}

// inferLinkKind returns the kind of an inline link: its own, or from its
// target (networkinterface to a network, storagelink to a storage,
// core#link otherwise).
func (e *Engine) inferLinkKind(ctx context.Context, l *occi.Entity) (*occi.Kind, error) {
	id := l.Kind
	if id.IsZero() {
		id = occi.LinkKind
		if t, err := e.localTarget(ctx, l.Target); err == nil && t != nil {
			switch t.Kind {
			case infra.Network:
				id = infra.NetworkInterface
			case infra.Storage:
				id = infra.StorageLink
			}
		}
	}
	k, ok := e.model.Kind(id)
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "kind %s does not exist", id)
	}
	if !e.model.IsLink(id) {
		return nil, occi.Errorf(occi.InvalidArgument, "inline link has kind %s, which is not a link kind", id)
	}
	return k, nil
}

// prepareLink validates a link. parent is the resource an inline link
// belongs to (nil for a link created on its own).
func (e *Engine) prepareLink(ctx context.Context, in *occi.Entity, loc, seg string, parent *occi.Entity) (ent, src, tgt *occi.Entity, err error) {
	if len(in.Links) > 0 {
		return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "a link cannot own links")
	}
	if in.Summary != "" {
		return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "occi.core.summary is an attribute of resources, not of links")
	}
	if err := checkEntitySize(in); err != nil {
		return nil, nil, nil, err
	}
	if parent != nil {
		if in.Source != "" && in.Source != parent.Location && in.Source != parent.ID {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "inline link source %s is not the resource being created (%s); omit it", in.Source, parent.Location)
		}
		src = parent
	} else {
		if in.Source == "" {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "a link needs occi.core.source, the location of a resource on this server")
		}
		if !strings.HasPrefix(in.Source, "/") {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "link source %q must be a resource on this server", in.Source)
		}
		src, err = e.getVisible(ctx, in.Source)
		if err != nil {
			return nil, nil, nil, occi.Errorf(occi.NotFound, "link source %s does not exist", in.Source)
		}
		if e.model.IsLink(src.Kind) {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "link source %s is a link; the source must be a resource", in.Source)
		}
	}
	tgt, err = e.localTarget(ctx, in.Target)
	if err != nil {
		return nil, nil, nil, err
	}
	switch in.Kind {
	case infra.NetworkInterface, infra.StorageLink:
		want := infra.Network
		if in.Kind == infra.StorageLink {
			want = infra.Storage
		}
		if src.Kind != infra.Compute {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "the source of a %s must be a compute, %s is a %s", in.Kind.Term, src.Location, src.Kind)
		}
		if tgt != nil && tgt.Kind != want {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "the target of a %s must be a %s, %s is a %s", in.Kind.Term, want.Term, tgt.Location, tgt.Kind)
		}
	}
	targetKind := in.TargetKind
	if tgt != nil {
		if !targetKind.IsZero() && targetKind != tgt.Kind {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "occi.core.target.kind %s does not match the target %s, a %s", targetKind, tgt.Location, tgt.Kind)
		}
		targetKind = tgt.Kind
	}
	mixins, err := e.mixinSet(ctx, in.Kind, nil, in.Mixins, false)
	if err != nil {
		return nil, nil, nil, err
	}
	attrs, err := e.resolveAttributes(in.Kind, mixins, nil, in.Attributes, modeCreate, mixins)
	if err != nil {
		return nil, nil, nil, err
	}
	target := in.Target
	if tgt != nil {
		target = tgt.Location
	}
	ent = &occi.Entity{
		ID: renderID(seg), Location: loc, Kind: in.Kind, Mixins: mixins, Title: in.Title,
		Attributes: attrs, Source: src.Location, SourceKind: src.Kind, Target: target, TargetKind: targetKind,
		Owner: user(ctx),
	}
	return ent, src, tgt, nil
}

// present returns ent as a client sees it: with its outgoing links and the
// actions applicable now.
func (e *Engine) present(ctx context.Context, ent *occi.Entity) (*occi.Entity, error) {
	e.knowsMixins(ctx, ent)
	out := ent.Clone()
	out.Links = nil
	out.Actions = e.actionsNow(out)
	if !e.model.IsLink(out.Kind) {
		links, err := e.store.List(ctx, store.Query{Source: out.Location, Owner: out.Owner})
		if err != nil {
			return nil, err
		}
		out.Links = make([]*occi.Entity, 0, len(links))
		for _, l := range links {
			l.Actions = e.actionsNow(l)
			out.Links = append(out.Links, l)
		}
	}
	return out, nil
}

// presentWith is present with the links already read: every stored entity
// whose source is ent, of any owner, ordered by location (see LinkedStore).
func (e *Engine) presentWith(ctx context.Context, ent *occi.Entity, links []*occi.Entity) *occi.Entity {
	e.knowsMixins(ctx, ent)
	out := ent.Clone()
	out.Links = nil
	out.Actions = e.actionsNow(out)
	if !e.model.IsLink(out.Kind) {
		out.Links = make([]*occi.Entity, 0, len(links))
		for _, l := range links {
			if l.Owner != out.Owner {
				continue
			}
			l.Actions = e.actionsNow(l)
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// actionsNow lists the actions the entity can take in its current state.
func (e *Engine) actionsNow(ent *occi.Entity) []occi.CategoryID {
	acts, err := e.model.EntityActions(ent.Kind, ent.Mixins)
	if err != nil {
		return nil
	}
	sm, ok := infra.MachineFor(ent.Kind)
	if !ok {
		return acts
	}
	state, _ := ent.Attributes[sm.Attr].(string)
	out := []occi.CategoryID{}
	for _, a := range acts {
		if _, has := sm.Transition(a); has && !sm.Allowed(a, state) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Get returns the entity at location with its links and current actions,
// re-observing it first if its last observation is stale.
func (e *Engine) Get(ctx context.Context, location string) (*occi.Entity, error) {
	ent, links, linked := recall(ctx, location)
	if ent == nil || ent.Owner != user(ctx) {
		var err error
		if ent, err = e.getVisible(ctx, location); err != nil {
			return nil, err
		}
		linked = false
	}
	ent = e.refresh(ctx, ent)
	if linked {
		return e.presentWith(ctx, ent, links), nil
	}
	return e.present(ctx, ent)
}

// splitEntityLocation returns the kind whose collection holds location and
// the id segment.
func (e *Engine) splitEntityLocation(ctx context.Context, location string) (*occi.Kind, string, error) {
	i := strings.LastIndexByte(location, '/')
	if !strings.HasPrefix(location, "/") || i < 0 || i == len(location)-1 {
		if t, err := e.Resolve(ctx, location); err == nil && t.Type != occi.TargetEntity {
			return nil, "", occi.Errorf(occi.MethodNotAllowed, "%s is a collection; PUT creates or replaces one entity, at <kind location><id>", location)
		}
		return nil, "", occi.Errorf(occi.InvalidArgument, "%s is not an entity location; entities live at <kind location><id>, e.g. /compute/my-vm", location)
	}
	dir, seg := location[:i+1], location[i+1:]
	id, class, ok := e.model.ByLocation(dir)
	if !ok || class != occi.ClassKind {
		return nil, "", occi.Errorf(occi.InvalidArgument, "%s is not in a kind collection; entities live at <kind location><id>, e.g. /compute/my-vm", location)
	}
	if err := validSegment(seg); err != nil {
		return nil, "", err
	}
	k, _ := e.model.Kind(id)
	return k, seg, nil
}

// linkDiffers names what the link l, as a request repeats it, gives
// otherwise than the stored link o: its kind, ends, id, title or a mutable
// attribute; "" when nothing. What l leaves out, and what only the server
// changes (states, immutable attributes), do not count.
func (e *Engine) linkDiffers(l, o *occi.Entity) string {
	ll := l.Clone()
	if err := moveCoreAttributes(ll); err != nil {
		return "occi.core attribute"
	}
	switch {
	case !ll.Kind.IsZero() && ll.Kind != o.Kind:
		return "kind"
	case ll.Source != "" && ll.Source != o.Source:
		return "source"
	case ll.Target != "" && ll.Target != o.Target:
		return "target"
	case ll.ID != "" && idSegment(ll.ID) != idSegment(o.ID):
		return "occi.core.id"
	case ll.Title != "" && ll.Title != o.Title:
		return "title"
	}
	defs, err := e.model.Attributes(o.Kind, o.Mixins)
	if err != nil {
		return ""
	}
	for k, v := range ll.Attributes {
		if d, ok := defs[k]; ok && d.Mutable && !sameValue(v, o.Attributes[k]) {
			return k
		}
	}
	return ""
}

// linkLocation is where the link l a request names is: its location, or
// else (JSON names none) its kind's location and its id; "" when neither
// tells.
func (e *Engine) linkLocation(l *occi.Entity) string {
	if l.Location != "" {
		return l.Location
	}
	id := l.ID
	if id == "" {
		id, _ = l.Attributes[occi.AttrID].(string)
	}
	k, ok := e.model.Kind(l.Kind)
	if id == "" || !ok || k.Location == "" {
		return ""
	}
	return k.Location + idSegment(id)
}

// Put creates in at location, or replaces the entity there in full. A
// replacement leaves the entity's links intact and may carry none but
// those, as they are (see linkDiffers); anything else is InvalidArgument; a creation honours inline links. With
// occi.WithMustNotExist in ctx an existing entity is PreconditionFailed.
func (e *Engine) Put(ctx context.Context, location string, in *occi.Entity) (*occi.Entity, bool, error) {
	if in == nil {
		return nil, false, occi.Errorf(occi.InvalidArgument, "no entity given")
	}
	k, seg, err := e.splitEntityLocation(ctx, location)
	if err != nil {
		return nil, false, err
	}
	in = in.Clone()
	if err := moveCoreAttributes(in); err != nil {
		return nil, false, err
	}
	if in.ID != "" && idSegment(in.ID) != seg {
		return nil, false, occi.Errorf(occi.InvalidArgument, "occi.core.id %s does not match the location %s", in.ID, location)
	}
	if err := e.knownKind(in.Kind); err != nil {
		return nil, false, err
	}
	if !in.Kind.IsZero() && in.Kind != k.ID {
		return nil, false, occi.Errorf(occi.InvalidArgument, "kind %s does not belong at %s, in the collection of %s", in.Kind, location, k.ID)
	}
	unlock, err := e.lock(ctx, location)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	old, err := e.store.Get(ctx, location)
	switch {
	case occi.ErrorCode(err) == occi.NotFound:
		if _, ok := occi.ExpectedRevision(ctx); ok {
			return nil, false, occi.Errorf(occi.PreconditionFailed, "no entity at %s to match the expected revision", location)
		}
		if in.Kind.IsZero() {
			return nil, false, occi.Errorf(occi.InvalidArgument, "the entity names no kind; give exactly one kind, here %s", k.ID)
		}
		out, err := e.create(ctx, location, seg, in, false)
		if occi.MustNotExist(ctx) && occi.ErrorCode(err) == occi.AlreadyExists {
			return nil, false, occi.Wrap(err, occi.PreconditionFailed, occi.ErrorMessage(err)+", and the request asked to create only")
		}
		return out, err == nil, err
	case err != nil:
		return nil, false, err
	case old.Owner != user(ctx):
		return nil, false, occi.Errorf(occi.NotFound, "%s cannot be created: the id is not available", location)
	case occi.MustNotExist(ctx):
		return nil, false, occi.Errorf(occi.PreconditionFailed, "an entity already exists at %s and the request asked to create only", location)
	}
	if err := checkRevision(ctx, old); err != nil {
		return nil, false, err
	}
	if len(in.Links) > 0 {
		// A client that sends back what it read (GET, edit, PUT) repeats
		// the entity's own links: those are left intact as they are.
		// Any other link is refused.
		own, err := e.store.List(ctx, store.Query{Source: old.Location, Owner: old.Owner})
		if err != nil {
			return nil, false, err
		}
		for _, l := range in.Links {
			i := -1
			if l != nil {
				loc := e.linkLocation(l)
				i = slices.IndexFunc(own, func(o *occi.Entity) bool { return o.Location == loc })
			}
			if i < 0 {
				return nil, false, occi.Errorf(occi.InvalidArgument, "a full replace (PUT) of %s cannot carry links other than the ones it has (which are left intact); create links through their kind's collection or a partial update (POST)", location)
			}
			if what := e.linkDiffers(l, own[i]); what != "" {
				return nil, false, occi.Errorf(occi.InvalidArgument, "a full replace (PUT) of %s repeats its link %s with another %s; a PUT leaves links as they are: change a link with a request to the link itself", location, own[i].Location, what)
			}
		}
		in = in.Clone()
		in.Links = nil
	}
	out, err := e.change(ctx, old, in, modeReplace)
	return out, false, err
}

// Update merges patch into the entity at location.
func (e *Engine) Update(ctx context.Context, location string, patch *occi.Entity) (*occi.Entity, error) {
	if patch == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "no entity given")
	}
	patch = patch.Clone()
	if err := moveCoreAttributes(patch); err != nil {
		return nil, err
	}
	if _, err := e.getVisible(ctx, location); err != nil {
		return nil, err
	}
	unlock, err := e.lock(ctx, location)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := e.getVisible(ctx, location)
	if err != nil {
		return nil, err
	}
	if err := checkRevision(ctx, old); err != nil {
		return nil, err
	}
	return e.change(ctx, old, patch, modeMerge)
}

// plan computes the new version of old after in (a patch or a full
// replacement), and the new inline links of a patch.
func (e *Engine) plan(ctx context.Context, old, in *occi.Entity, mode attrMode) (*occi.Entity, []*occi.Entity, []*occi.Entity, error) {
	if err := e.knownKind(in.Kind); err != nil {
		return nil, nil, nil, err
	}
	if !in.Kind.IsZero() && in.Kind != old.Kind {
		return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "the kind of %s is %s and cannot change", old.Location, old.Kind)
	}
	if in.ID != "" && idSegment(in.ID) != idSegment(old.ID) {
		return nil, nil, nil, occi.Errorf(occi.PermissionDenied, "occi.core.id of %s is %s and cannot change", old.Location, old.ID)
	}
	isLink := e.model.IsLink(old.Kind)
	if isLink {
		if in.Source != "" && in.Source != old.Source {
			return nil, nil, nil, occi.Errorf(occi.PermissionDenied, "occi.core.source of %s cannot change (it is %s); create a new link", old.Location, old.Source)
		}
		if in.Target != "" && in.Target != old.Target {
			return nil, nil, nil, occi.Errorf(occi.PermissionDenied, "occi.core.target of %s cannot change (it is %s); create a new link", old.Location, old.Target)
		}
		if !in.TargetKind.IsZero() && in.TargetKind != old.TargetKind {
			return nil, nil, nil, occi.Errorf(occi.PermissionDenied, "occi.core.target.kind of %s cannot change", old.Location)
		}
		if in.Summary != "" {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "occi.core.summary is an attribute of resources, not of links")
		}
		if len(in.Links) > 0 && mode == modeMerge {
			return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "a link cannot own links")
		}
	} else if in.Source != "" || in.Target != "" {
		return nil, nil, nil, occi.Errorf(occi.InvalidArgument, "%s is a resource: occi.core.source and occi.core.target are for links", old.Location)
	}
	var mixins []occi.CategoryID
	var err error
	if mode == modeMerge {
		mixins, err = e.mixinSet(ctx, old.Kind, old.Mixins, in.Mixins, true)
	} else {
		mixins, err = e.mixinSet(ctx, old.Kind, nil, in.Mixins, false)
		if err == nil && old.HasMixin(infra.UserData) && !slices.Contains(mixins, infra.UserData) {
			mixins = append(mixins, infra.UserData) // user data stays for life
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var added []occi.CategoryID
	for _, m := range mixins {
		if !old.HasMixin(m) {
			added = append(added, m)
		}
	}
	if slices.Contains(added, infra.UserData) {
		return nil, nil, nil, occi.Errorf(occi.PermissionDenied, "mixin %s can only be given when the compute is created", infra.UserData)
	}
	if oldOS, newOS := e.templateOf(old.Mixins, infra.OSTemplate), e.templateOf(mixins, infra.OSTemplate); oldOS != newOS {
		if !e.caps.ReplaceOSTemplate {
			return nil, nil, nil, occi.Errorf(occi.Unimplemented, "this backend cannot re-image a compute: the OS template of %s (%s) cannot be replaced or removed", old.Location, oldOS)
		}
		if !newOS.IsZero() {
			if err := e.checkTemplateReady(ctx, newOS); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	attrs, err := e.resolveAttributes(old.Kind, mixins, old, in.Attributes, mode, added)
	if err != nil {
		return nil, nil, nil, err
	}
	next := old.Clone()
	next.Mixins = mixins
	next.Attributes = attrs
	if mode == modeReplace {
		next.Title = in.Title
		if !isLink {
			next.Summary = in.Summary
		}
	} else {
		if in.Title != "" {
			next.Title = in.Title
		}
		if in.Summary != "" {
			next.Summary = in.Summary
		}
	}
	if err := checkEntitySize(next); err != nil {
		return nil, nil, nil, err
	}
	var links, targets []*occi.Entity
	if mode == modeMerge && !isLink {
		for i, l := range in.Links {
			if l == nil {
				continue
			}
			l = l.Clone()
			if err := moveCoreAttributes(l); err != nil {
				return nil, nil, nil, fmt.Errorf("inline link %d: %w", i+1, err)
			}
			lk, err := e.inferLinkKind(ctx, l)
			if err != nil {
				return nil, nil, nil, err
			}
			l.Kind = lk.ID
			if err := e.creatable(lk.ID); err != nil {
				return nil, nil, nil, err
			}
			lseg, err := e.newSegment(l)
			if err != nil {
				return nil, nil, nil, err
			}
			if err := e.linkLocationFree(ctx, lk.Location+lseg); err != nil {
				return nil, nil, nil, err
			}
			link, _, t, err := e.prepareLink(ctx, l, lk.Location+lseg, lseg, old)
			if err != nil {
				return nil, nil, nil, err
			}
			links = append(links, link)
			targets = append(targets, t)
		}
		if err := e.checkNewLinks(ctx, next, links, ""); err != nil {
			return nil, nil, nil, err
		}
	}
	if isLink && next.Kind == infra.StorageLink && !sameValue(old.Attributes[infra.AttrSLDeviceID], next.Attributes[infra.AttrSLDeviceID]) {
		if src, err := e.store.Get(ctx, next.Source); err == nil {
			if err := e.checkNewLinks(ctx, src, []*occi.Entity{next}, next.Location); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return next, links, targets, nil
}

// linkLocationFree checks that a new inline link may take loc: an entity
// of the caller's there is AlreadyExists, one of another owner's is
// NotFound, as for any location the caller cannot see.
func (e *Engine) linkLocationFree(ctx context.Context, loc string) error {
	old, err := e.store.Get(ctx, loc)
	switch {
	case err == nil && old.Owner != user(ctx):
		return occi.Errorf(occi.NotFound, "%s cannot be created: the id is not available", loc)
	case err == nil:
		return occi.Errorf(occi.AlreadyExists, "an entity already exists at %s", loc)
	case occi.ErrorCode(err) != occi.NotFound:
		return err
	}
	return nil
}

// change applies in to old (already locked and revision-checked).
func (e *Engine) change(ctx context.Context, old, in *occi.Entity, mode attrMode) (*occi.Entity, error) {
	// The links of the resource (or around the link) may change: checked
	// and stored one change after the other (checkNewLinks).
	var ends []string
	if !e.model.IsLink(old.Kind) {
		ends = e.linkEnds(&occi.Entity{Kind: old.Kind, Links: in.Links})
	}
	unlock, err := e.lockLinksAround(ctx, old, ends...)
	if err != nil {
		return nil, err
	}
	defer unlock()
	next, links, targets, err := e.plan(ctx, old, in, mode)
	if err != nil {
		return nil, err
	}
	if err := e.realize(ctx, old, next); err != nil {
		return nil, err
	}
	muts := []store.Mutation{{Put: next, Expect: old.Revision}}
	var driven []*occi.Entity
	for _, l := range links {
		if _, err := e.store.Get(ctx, l.Location); err == nil {
			return nil, occi.Errorf(occi.AlreadyExists, "an entity already exists at %s", l.Location)
		}
		if e.driven(l.Kind) {
			driven = append(driven, l)
		}
	}
	finish, finished, abandon, err := e.beginCreate(ctx, driven)
	if err != nil {
		return nil, err
	}
	var made []*occi.Entity
	for i, l := range links {
		if e.driven(l.Kind) {
			obs, err := e.drv.Create(ctx, backend.CreateRequest{Entity: l.Clone(), Source: next.Clone(), Target: targets[i]})
			if err != nil {
				e.undoLinks(ctx, made)
				abandon()
				return nil, e.driverErr(err, "creating the link "+l.Location)
			}
			e.applyObservation(l, obs)
			made = append(made, l)
		}
		muts = append(muts, store.Mutation{Put: l, Expect: store.MustNotExist})
	}
	muts = append(muts, finish...)
	// Not deferred (store.WithDeferredSync): the update of the entity
	// itself has no pending record to be recovered from.
	if err := e.store.Write(ctx, muts...); err != nil {
		e.undoLinks(ctx, made)
		abandon()
		if occi.ErrorCode(err) == occi.Conflict {
			return nil, lostRace(ctx, err, old)
		}
		return nil, err
	}
	finished()
	for _, l := range links {
		e.markObserved(l.Location)
	}
	return e.present(ctx, next)
}

func (e *Engine) undoLinks(ctx context.Context, made []*occi.Entity) {
	for _, l := range made {
		if err := e.drv.Delete(context.WithoutCancel(ctx), l); err != nil {
			e.log.Warn("engine: cleanup of a link failed", "location", l.Location, "err", err)
		}
	}
}

// realize asks the driver to apply old -> next when something it cares
// about changed, and records the observation in next.
func (e *Engine) realize(ctx context.Context, old, next *occi.Entity) error {
	if !e.driven(old.Kind) {
		return nil
	}
	if reflect.DeepEqual(old.Attributes, next.Attributes) && slices.Equal(old.Mixins, next.Mixins) {
		return nil
	}
	obs, err := e.drv.Update(ctx, old.Clone(), next.Clone())
	if err != nil {
		return e.driverErr(err, "updating "+old.Location)
	}
	e.applyObservation(next, obs)
	e.markObserved(next.Location)
	return nil
}

// Delete deletes the entity at location; for a resource, also the links
// it owns (its outgoing links). A resource other resources link to is
// FailedPrecondition naming those links: they must be deleted first.
func (e *Engine) Delete(ctx context.Context, location string) error {
	if _, err := e.getVisible(ctx, location); err != nil {
		return err
	}
	unlock, err := e.lock(ctx, location)
	if err != nil {
		return err
	}
	defer unlock()
	ent, err := e.getVisible(ctx, location)
	if err != nil {
		return err
	}
	if err := checkRevision(ctx, ent); err != nil {
		return err
	}
	return e.deleteLocked(ctx, ent, nil)
}

// incomingLinks returns the links of ent's owner that target ent from
// another resource.
func (e *Engine) incomingLinks(ctx context.Context, ent *occi.Entity) ([]*occi.Entity, error) {
	in, err := e.store.List(ctx, store.Query{Kinds: e.model.SubKinds(occi.LinkKind), Owner: ent.Owner})
	if err != nil {
		return nil, err
	}
	var out []*occi.Entity
	for _, l := range in {
		if l.Target == ent.Location && l.Source != ent.Location {
			out = append(out, l)
		}
	}
	return out, nil
}

// refuseIncoming is the FailedPrecondition for deleting a resource that
// other resources still link to.
func refuseIncoming(ent *occi.Entity, links []*occi.Entity) error {
	locs := make([]string, len(links))
	for i, l := range links {
		locs[i] = l.Location + " (from " + l.Source + ")"
	}
	return occi.Errorf(occi.FailedPrecondition, "%s is still linked to by %s; delete those links first", ent.Location, strings.Join(locs, ", "))
}

// deleteLocked deletes ent with its own (outgoing) links; the caller holds
// ent's entity lock, and deleteLocked takes its links locks
// (lockLinksAround) before it lists them. Links to ent from other
// resources make it FailedPrecondition, unless their sources are in
// alsoDeleted (a collection delete taking them too): those links go with
// ent.
func (e *Engine) deleteLocked(ctx context.Context, ent *occi.Entity, alsoDeleted map[string]bool) error {
	unlockLinks, err := e.lockLinksAround(ctx, ent)
	if err != nil {
		return err
	}
	defer unlockLinks()
	var links []*occi.Entity
	if !e.model.IsLink(ent.Kind) {
		out, err := e.store.List(ctx, store.Query{Source: ent.Location})
		if err != nil {
			return err
		}
		links = out
		in, err := e.incomingLinks(ctx, ent)
		if err != nil {
			return err
		}
		var blocking []*occi.Entity
		for _, l := range in {
			if alsoDeleted[l.Source] {
				links = append(links, l)
			} else {
				blocking = append(blocking, l)
			}
		}
		if len(blocking) > 0 {
			return refuseIncoming(ent, blocking)
		}
	}
	for _, l := range links {
		if e.driven(l.Kind) {
			if err := e.drv.Delete(ctx, l); err != nil {
				return e.driverErr(err, "deleting the link "+l.Location)
			}
		}
	}
	if e.driven(ent.Kind) {
		if err := e.drv.Delete(ctx, ent); err != nil {
			return e.driverErr(err, "deleting "+ent.Location)
		}
	}
	// Under the entity lock only an observation (a new state) can have
	// written the entity since it was read: a delete the client did not
	// make conditional (If-Match) goes ahead over it instead of failing
	// with Conflict.
	expect := store.AnyRevision
	if rev, ok := occi.ExpectedRevision(ctx); ok && rev != 0 {
		expect = ent.Revision
	}
	muts := []store.Mutation{{Delete: ent.Location, Expect: expect}}
	for _, l := range links {
		muts = append(muts, store.Mutation{Delete: l.Location, Expect: store.AnyRevision})
	}
	if err := e.store.Write(ctx, muts...); err != nil {
		if occi.ErrorCode(err) == occi.Conflict {
			return lostRace(ctx, err, ent)
		}
		return err
	}
	e.forgetObserved(ent.Location)
	for _, l := range links {
		e.forgetObserved(l.Location)
	}
	return nil
}

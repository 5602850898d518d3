package occi

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Model is the registry of the categories a server offers: kinds, mixins
// and actions, by type identifier and by location. It resolves what an
// entity has through its kind, the kind's parents, its mixins and their
// transitive depends. A Model is safe for concurrent use. The categories it
// returns are shared: callers must not modify them (use Clone* helpers).
type Model struct {
	mu         sync.RWMutex
	kinds      map[CategoryID]*Kind
	mixins     map[CategoryID]*Mixin
	actions    map[CategoryID]*Action
	locations  map[string]CategoryID // kind and mixin locations
	actionOwns map[CategoryID]CategoryID
	gen        atomic.Uint64 // counts changes, see Generation
}

// Generation returns a number that changes whenever a kind, mixin or
// action is added, replaced or removed: two calls that return the same
// number saw the same categories. A cache of anything computed from the
// model (such as a rendering of the query interface) is valid as long as
// the generation it was computed at is current; read the generation before
// computing.
func (m *Model) Generation() uint64 { return m.gen.Load() }

// Core kind definitions, with their own attributes.
func coreKinds() []*Kind {
	return []*Kind{
		{
			ID: EntityKind, Title: "Entity",
			Attributes: []AttributeDef{
				{Name: AttrID, Type: TypeURI, Description: "Unique identifier of the entity, assigned by the server"},
				{Name: AttrTitle, Type: TypeString, Mutable: true, Description: "Display name of the entity"},
			},
		},
		{
			ID: ResourceKind, Title: "Resource", Parent: EntityKind, Location: "/resource/",
			Attributes: []AttributeDef{
				{Name: AttrSummary, Type: TypeString, Mutable: true, Description: "Summary of the resource"},
			},
		},
		{
			ID: LinkKind, Title: "Link", Parent: EntityKind, Location: "/link/",
			Attributes: []AttributeDef{
				{Name: AttrSource, Type: TypeURI, Mutable: true, Required: true, Description: "Location of the source resource"},
				{Name: AttrTarget, Type: TypeURI, Mutable: true, Required: true, Description: "URI of the target"},
				{Name: AttrTargetKind, Type: TypeURI, Mutable: true, Description: "Kind of the target"},
			},
		},
	}
}

// NewModel returns a registry that holds the three Core kinds: core#entity
// (never bound to a location), core#resource at "/resource/" and core#link
// at "/link/".
func NewModel() *Model {
	m := &Model{
		kinds:      map[CategoryID]*Kind{},
		mixins:     map[CategoryID]*Mixin{},
		actions:    map[CategoryID]*Action{},
		locations:  map[string]CategoryID{},
		actionOwns: map[CategoryID]CategoryID{},
	}
	for _, k := range coreKinds() {
		if err := m.AddKind(k); err != nil {
			panic("occi: core kinds: " + err.Error())
		}
	}
	return m
}

func validLocation(loc string) bool {
	return strings.HasPrefix(loc, "/") && strings.HasSuffix(loc, "/") && len(loc) > 1 &&
		!strings.Contains(loc, "//") && !strings.Contains(loc, "/../") && !strings.Contains(loc, "/./") &&
		!strings.ContainsAny(loc, "?#")
}

func (m *Model) checkNewLocked(id CategoryID, loc string) error {
	if id.Scheme == "" || !ValidTerm(id.Term) {
		return Errorf(InvalidArgument, "category %q needs a scheme and a valid term", id.String())
	}
	if _, ok := m.kinds[id]; ok {
		return Errorf(AlreadyExists, "category %s already exists", id)
	}
	if _, ok := m.mixins[id]; ok {
		return Errorf(AlreadyExists, "category %s already exists", id)
	}
	if _, ok := m.actions[id]; ok {
		return Errorf(AlreadyExists, "category %s already exists", id)
	}
	if loc != "" {
		if !validLocation(loc) {
			return Errorf(InvalidArgument, "location %q of %s must be a path that starts and ends with '/'", loc, id)
		}
		if other, ok := m.locations[loc]; ok {
			return Errorf(AlreadyExists, "location %s is already used by %s", loc, other)
		}
	}
	return nil
}

// AddKind registers k. Its parent, if set, must be registered already; its
// actions are registered separately with AddAction. It returns
// AlreadyExists if the identifier or the location is taken.
func (m *Model) AddKind(k *Kind) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNewLocked(k.ID, k.Location); err != nil {
		return err
	}
	if !k.Parent.IsZero() {
		if _, ok := m.kinds[k.Parent]; !ok {
			return Errorf(InvalidArgument, "parent %s of kind %s is not registered", k.Parent, k.ID)
		}
	} else if k.ID != EntityKind {
		return Errorf(InvalidArgument, "kind %s needs a parent (core#resource or core#link)", k.ID)
	}
	k = CloneKind(k)
	m.gen.Add(1)
	m.kinds[k.ID] = k
	if k.Location != "" {
		m.locations[k.Location] = k.ID
	}
	for _, a := range k.Actions {
		m.actionOwns[a] = k.ID
	}
	return nil
}

// AddMixin registers x. Its depends and applies must be registered. It
// returns AlreadyExists if the identifier or the location is taken.
func (m *Model) AddMixin(x *Mixin) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addMixinLocked(x)
}

// addMixinLocked is AddMixin; m.mu is held.
func (m *Model) addMixinLocked(x *Mixin) error {
	if err := m.checkNewLocked(x.ID, x.Location); err != nil {
		return err
	}
	for _, d := range x.Depends {
		if _, ok := m.mixins[d]; !ok {
			return Errorf(InvalidArgument, "mixin %s depends on %s, which is not registered", x.ID, d)
		}
	}
	for _, a := range x.Applies {
		if _, ok := m.kinds[a]; !ok {
			return Errorf(InvalidArgument, "mixin %s applies to %s, which is not a registered kind", x.ID, a)
		}
	}
	x = CloneMixin(x)
	m.gen.Add(1)
	m.mixins[x.ID] = x
	if x.Location != "" {
		m.locations[x.Location] = x.ID
	}
	for _, a := range x.Actions {
		m.actionOwns[a] = x.ID
	}
	return nil
}

// ReplaceMixin registers x, replacing a mixin with the same identifier if
// there is one (templates change their state and defaults over time). The
// replacement is atomic: a concurrent reader sees the old mixin or the new
// one, never neither; if x cannot be registered, the old one stays.
func (m *Model) ReplaceMixin(x *Mixin) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.mixins[x.ID]
	if ok {
		m.gen.Add(1)
		delete(m.mixins, x.ID)
		if old.Location != "" {
			delete(m.locations, old.Location)
		}
	}
	err := m.addMixinLocked(x)
	if err != nil && ok {
		m.gen.Add(1)
		m.mixins[old.ID] = old
		if old.Location != "" {
			m.locations[old.Location] = old.ID
		}
	}
	return err
}

// RemoveMixin unregisters the mixin id; it reports whether it was there.
func (m *Model) RemoveMixin(id CategoryID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.mixins[id]
	if !ok {
		return false
	}
	m.gen.Add(1)
	delete(m.mixins, id)
	if x.Location != "" && m.locations[x.Location] == id {
		delete(m.locations, x.Location)
	}
	return true
}

// AddAction registers a. The kind or mixin that lists a in its Actions is
// the one it is bound to.
func (m *Model) AddAction(a *Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNewLocked(a.ID, ""); err != nil {
		return err
	}
	m.gen.Add(1)
	m.actions[a.ID] = CloneAction(a)
	return nil
}

// Kind returns the kind id.
func (m *Model) Kind(id CategoryID) (*Kind, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.kinds[id]
	return k, ok
}

// Mixin returns the mixin id.
func (m *Model) Mixin(id CategoryID) (*Mixin, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	x, ok := m.mixins[id]
	return x, ok
}

// Action returns the action id.
func (m *Model) Action(id CategoryID) (*Action, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.actions[id]
	return a, ok
}

// ActionOwner returns the kind or mixin that the action id is bound to.
func (m *Model) ActionOwner(id CategoryID) (CategoryID, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.actionOwns[id]
	return o, ok
}

// Kinds returns every kind, ordered by type identifier.
func (m *Model) Kinds() []*Kind {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Kind, 0, len(m.kinds))
	for _, k := range m.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

// Mixins returns every mixin, ordered by type identifier.
func (m *Model) Mixins() []*Mixin {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Mixin, 0, len(m.mixins))
	for _, x := range m.mixins {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

// Actions returns every action, ordered by type identifier.
func (m *Model) Actions() []*Action {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Action, 0, len(m.actions))
	for _, a := range m.actions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

// ByLocation returns the kind or mixin whose collection is at loc, with or
// without its trailing slash, and its class.
func (m *Model) ByLocation(loc string) (CategoryID, Class, bool) {
	if !strings.HasSuffix(loc, "/") {
		loc += "/"
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.locations[loc]
	if !ok {
		return CategoryID{}, "", false
	}
	if _, isKind := m.kinds[id]; isKind {
		return id, ClassKind, true
	}
	return id, ClassMixin, true
}

// Locations returns every kind and mixin location, sorted.
func (m *Model) Locations() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.locations))
	for l := range m.locations {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Parents returns the kind id followed by its parent chain up to
// core#entity. It is nil for an unknown kind.
func (m *Model) Parents(id CategoryID) []CategoryID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.parentsLocked(id)
}

func (m *Model) parentsLocked(id CategoryID) []CategoryID {
	var out []CategoryID
	for !id.IsZero() && len(out) < 64 {
		k, ok := m.kinds[id]
		if !ok {
			break
		}
		out = append(out, id)
		id = k.Parent
	}
	return out
}

// IsA reports whether kind is ancestor or one of its descendants.
func (m *Model) IsA(kind, ancestor CategoryID) bool {
	for _, p := range m.Parents(kind) {
		if p == ancestor {
			return true
		}
	}
	return false
}

// IsLink reports whether kind is core#link or one of its sub-kinds.
func (m *Model) IsLink(kind CategoryID) bool { return m.IsA(kind, LinkKind) }

// SubKinds returns kind and every registered kind below it.
func (m *Model) SubKinds(kind CategoryID) []CategoryID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []CategoryID
	for id := range m.kinds {
		for _, p := range m.parentsLocked(id) {
			if p == kind {
				out = append(out, id)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i], out[j]) })
	return out
}

// MixinClosure returns the mixins ids followed transitively through their
// depends, each once, in order of discovery. It returns a NotFound error
// naming the first unknown mixin.
func (m *Model) MixinClosure(ids []CategoryID) ([]CategoryID, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closureLocked(ids)
}

func (m *Model) closureLocked(ids []CategoryID) ([]CategoryID, error) {
	seen := map[CategoryID]bool{}
	var out []CategoryID
	queue := append([]CategoryID(nil), ids...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		x, ok := m.mixins[id]
		if !ok {
			return nil, Errorf(NotFound, "mixin %s does not exist", id)
		}
		seen[id] = true
		out = append(out, id)
		queue = append(queue, x.Depends...)
	}
	return out, nil
}

// DependsOn reports whether mixin is base or depends on it, transitively.
func (m *Model) DependsOn(mixin, base CategoryID) bool {
	c, err := m.MixinClosure([]CategoryID{mixin})
	if err != nil {
		return false
	}
	for _, id := range c {
		if id == base {
			return true
		}
	}
	return false
}

// Applies reports whether the mixin may be associated with an entity of
// kind: its applies list is empty, or names kind or one of kind's parents.
func (m *Model) Applies(mixin, kind CategoryID) bool {
	x, ok := m.Mixin(mixin)
	if !ok {
		return false
	}
	if len(x.Applies) == 0 {
		return true
	}
	for _, p := range m.Parents(kind) {
		for _, a := range x.Applies {
			if a == p {
				return true
			}
		}
	}
	return false
}

// Attributes returns the attribute definitions of an entity of kind with
// mixins: those of the kind and its parents, then those of the mixins and
// their transitive depends; a later definition of a name (a mixin's)
// overrides an earlier one (the kind's), which is how template defaults
// take effect. The map is the caller's.
func (m *Model) Attributes(kind CategoryID, mixins []CategoryID) (map[string]AttributeDef, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	chain := m.parentsLocked(kind)
	if len(chain) == 0 {
		return nil, Errorf(NotFound, "kind %s does not exist", kind)
	}
	out := map[string]AttributeDef{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, d := range m.kinds[chain[i]].Attributes {
			out[d.Name] = d
		}
	}
	closure, err := m.closureLocked(mixins)
	if err != nil {
		return nil, err
	}
	// Depends first, so that a dependent mixin overrides its base.
	for i := len(closure) - 1; i >= 0; i-- {
		for _, d := range m.mixins[closure[i]].Attributes {
			out[d.Name] = d
		}
	}
	return out, nil
}

// EntityActions returns the actions defined for an entity of kind with
// mixins, through the kind's parents and the mixins' depends, ordered by
// type identifier.
func (m *Model) EntityActions(kind CategoryID, mixins []CategoryID) ([]CategoryID, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	chain := m.parentsLocked(kind)
	if len(chain) == 0 {
		return nil, Errorf(NotFound, "kind %s does not exist", kind)
	}
	closure, err := m.closureLocked(mixins)
	if err != nil {
		return nil, err
	}
	seen := map[CategoryID]bool{}
	var out []CategoryID
	add := func(ids []CategoryID) {
		for _, a := range ids {
			if _, ok := m.actions[a]; ok && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	for _, k := range chain {
		add(m.kinds[k].Actions)
	}
	for _, x := range closure {
		add(m.mixins[x].Actions)
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i], out[j]) })
	return out, nil
}

// CloneKind returns a deep copy of k.
func CloneKind(k *Kind) *Kind {
	if k == nil {
		return nil
	}
	c := *k
	c.Attributes = cloneDefs(k.Attributes)
	c.Actions = append([]CategoryID(nil), k.Actions...)
	return &c
}

// CloneMixin returns a deep copy of x.
func CloneMixin(x *Mixin) *Mixin {
	if x == nil {
		return nil
	}
	c := *x
	c.Depends = append([]CategoryID(nil), x.Depends...)
	c.Applies = append([]CategoryID(nil), x.Applies...)
	c.Attributes = cloneDefs(x.Attributes)
	c.Actions = append([]CategoryID(nil), x.Actions...)
	return &c
}

// CloneAction returns a deep copy of a.
func CloneAction(a *Action) *Action {
	if a == nil {
		return nil
	}
	c := *a
	c.Attributes = cloneDefs(a.Attributes)
	return &c
}

func cloneDefs(ds []AttributeDef) []AttributeDef {
	if ds == nil {
		return nil
	}
	out := make([]AttributeDef, len(ds))
	for i, d := range ds {
		d.Enum = append([]string(nil), d.Enum...)
		d.Default = cloneValue(d.Default)
		out[i] = d
	}
	return out
}

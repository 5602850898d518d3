package occi

// Attributes maps attribute names to values. Values are kept in a canonical
// Go form so that every rendering decodes to equal values: string, int64,
// float64, bool, []any and map[string]any (whose elements are again canonical).
// The occi.core.* attributes are not kept here but in Entity's fields.
type Attributes map[string]any

// Clone returns a deep copy of a.
func (a Attributes) Clone() Attributes {
	if a == nil {
		return nil
	}
	c := make(Attributes, len(a))
	for k, v := range a {
		c[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneValue(e)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = cloneValue(e)
		}
		return c
	default:
		return v
	}
}

// Entity is an OCCI Resource or Link. One type serves both: a link has a
// Source (and a Target); a resource may own Links. Location is the path of
// the entity on this server (for example "/compute/1f0e"), never an absolute
// URL: renderings make it absolute on output and relative on input.
type Entity struct {
	ID       string // occi.core.id
	Location string // path of the entity, e.g. "/compute/6a1f…"
	Kind     CategoryID
	Mixins   []CategoryID
	Title    string // occi.core.title
	Summary  string // occi.core.summary (resources only)

	// Attributes holds every attribute except the occi.core.* ones.
	Attributes Attributes

	// Links are the resource's outgoing links, rendered inline. On input
	// they are the inline links to create with the resource.
	Links []*Entity

	// Actions lists the actions applicable now; computed by the server and
	// ignored on input.
	Actions []CategoryID

	// Link fields. Source is the path of the source resource, Target the
	// target: a path on this server or any absolute URI.
	Source     string
	SourceKind CategoryID
	Target     string
	TargetKind CategoryID

	// Owner is the user or group that owns the entity; set by the server.
	Owner string
	// Revision increases with every stored change; 0 for an entity not
	// yet stored. HTTP renders it as the ETag.
	Revision int64
	// BackendRef is the backend's identifier of the object behind the
	// entity (a domain UUID, a Nova server id). Stored, never rendered.
	BackendRef string
}

// IsLink reports whether e has link fields set (a source or a target).
func (e *Entity) IsLink() bool { return e.Source != "" || e.Target != "" }

// HasMixin reports whether e carries the mixin id directly.
func (e *Entity) HasMixin(id CategoryID) bool {
	for _, m := range e.Mixins {
		if m == id {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of e.
func (e *Entity) Clone() *Entity {
	if e == nil {
		return nil
	}
	c := *e
	c.Mixins = append([]CategoryID(nil), e.Mixins...)
	c.Actions = append([]CategoryID(nil), e.Actions...)
	c.Attributes = e.Attributes.Clone()
	if e.Links != nil {
		c.Links = make([]*Entity, len(e.Links))
		for i, l := range e.Links {
			c.Links[i] = l.Clone()
		}
	}
	return &c
}

// ActionInvocation is the body of POST ?action=: the action and its
// parameters.
type ActionInvocation struct {
	Action     CategoryID
	Attributes Attributes
}

// ActionResult is what an action returns: the entity's new state, or for
// compute save the new OS template mixin.
type ActionResult struct {
	Entity *Entity
	Mixin  *Mixin
}

package occitext

import (
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// coreString stores a core attribute that must be a string.
func coreString(where, name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalid(where, "attribute %s must be a quoted string", name)
	}
	return s, nil
}

// seenAttrs remembers where each attribute of one rendering (an entity, an
// inline link, an action invocation, a filter) was given, so that a name
// given twice is refused instead of the last value silently winning.
type seenAttrs map[string]string

// add records name given at where, or fails if it was given before.
func (s seenAttrs) add(where, name string) error {
	if first, dup := s[name]; dup {
		if first == where {
			return invalid(where, "attribute %s is given twice", quoteTrunc(name))
		}
		return invalid(where, "attribute %s is given twice (first at %s)", quoteTrunc(name), first)
	}
	s[name] = where
	return nil
}

// setAttr puts a decoded attribute into e: occi.core.* into the entity's
// fields, everything else into Attributes.
func setAttr(e *occi.Entity, base, where, name string, v any) error {
	switch name {
	case occi.AttrID, occi.AttrTitle, occi.AttrSummary, occi.AttrSource, occi.AttrTarget,
		occi.AttrSourceKind, occi.AttrTargetKind:
		s, err := coreString(where, name, v)
		if err != nil {
			return err
		}
		switch name {
		case occi.AttrID:
			e.ID = s
		case occi.AttrTitle:
			e.Title = s
		case occi.AttrSummary:
			e.Summary = s
		case occi.AttrSource:
			e.Source = render.TargetPath(base, s)
		case occi.AttrTarget:
			e.Target = render.TargetPath(base, s)
		case occi.AttrSourceKind, occi.AttrTargetKind:
			id, err := render.ParseCategoryID(strings.TrimSpace(s))
			if err != nil {
				return invalid(where, "%s: %s", name, occi.ErrorMessage(err))
			}
			if name == occi.AttrSourceKind {
				e.SourceKind = id
			} else {
				e.TargetKind = id
			}
		}
		return nil
	}
	if e.Attributes == nil {
		e.Attributes = make(occi.Attributes)
	}
	e.Attributes[name] = v
	return nil
}

// inlineLink turns a parsed Link value into a link entity. Its Source stays
// empty unless the line names one: the engine fills in the enclosing
// resource.
func inlineLink(base, where string, l *link) (*occi.Entity, error) {
	e := &occi.Entity{Target: render.TargetPath(base, l.target)}
	if len(l.rel) > 0 {
		e.TargetKind = l.rel[0]
	}
	if l.self != "" {
		p, err := render.OwnPath(base, l.self, where+" self")
		if err != nil {
			return nil, err
		}
		e.Location = p
	}
	if len(l.cats) > 0 {
		e.Kind = l.cats[0]
		e.Mixins = l.cats[1:]
		if len(e.Mixins) == 0 {
			e.Mixins = nil
		}
	}
	seen := seenAttrs{}
	for _, p := range l.attrs {
		v, err := parseValue(where, p.name, p.raw)
		if err != nil {
			return nil, err
		}
		name := render.CanonicalAttribute(p.name)
		if err := seen.add(where, name); err != nil {
			return nil, err
		}
		if err := setAttr(e, base, where, name, v); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (c *Codec) decodeEntity(r *render.Reader, items []item) (*occi.Entity, error) {
	e := &occi.Entity{}
	kindWhere := ""
	found := false
	seen := seenAttrs{}
	for _, it := range items {
		found = found || it.k != kLocation
		switch it.k {
		case kCategory:
			cat, err := parseCategory(it.where, it.value)
			if err != nil {
				return nil, err
			}
			switch occi.Class(cat.class) {
			case occi.ClassKind:
				if !e.Kind.IsZero() && e.Kind != cat.id {
					return nil, invalid(it.where, "a second kind %s (already %s at %s)", quoteTrunc(cat.id.String()), e.Kind, kindWhere)
				}
				e.Kind, kindWhere = cat.id, it.where
			case occi.ClassMixin:
				e.Mixins = append(e.Mixins, cat.id)
			case occi.ClassAction:
				return nil, invalid(it.where, "an action category %s is not part of an entity rendering", quoteTrunc(cat.id.String()))
			default:
				return nil, invalid(it.where, "category %s has no class", quoteTrunc(cat.id.String()))
			}
		case kLink:
			l, err := parseLink(it.where, it.value)
			if err != nil {
				return nil, err
			}
			if l.action {
				e.Actions = append(e.Actions, l.rel[0])
				continue
			}
			le, err := inlineLink(r.Base, it.where, l)
			if err != nil {
				return nil, err
			}
			e.Links = append(e.Links, le)
		case kAttribute:
			name, v, err := parseAttribute(it.where, it.value)
			if err != nil {
				return nil, err
			}
			if err := seen.add(it.where, name); err != nil {
				return nil, err
			}
			if err := setAttr(e, r.Base, it.where, name, v); err != nil {
				return nil, err
			}
		case kLocation:
			// A location list is not part of an entity rendering;
			// tolerated and ignored.
		}
	}
	if !found || isZero(e) {
		return nil, empty("entity rendering")
	}
	return e, nil
}

func empty(what string) error {
	return occi.Errorf(occi.InvalidArgument, "no %s in the request (empty body and no OCCI headers)", what)
}

// DecodeEntity reads one resource (Category, Link and X-OCCI-Attribute
// elements) or link (occi.core.source/target attributes). occi.core.*
// attributes go to the entity's fields, legacy names are mapped to 1.2,
// Link elements with ?action= become Actions and the others inline links
// (their self, if any, the link's Location).
func (c *Codec) DecodeEntity(r *render.Reader) (*occi.Entity, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, empty("entity rendering")
	}
	return c.decodeEntity(r, items)
}

// DecodeEntities reads a collection (X-OCCI-Location elements, giving
// entities with only Location set) or, without locations, one entity. An
// empty request is an empty collection.
func (c *Codec) DecodeEntities(r *render.Reader) ([]*occi.Entity, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	locs, err := locations(r.Base, items)
	if err != nil {
		return nil, err
	}
	if len(locs) > 0 || len(items) == 0 {
		es := make([]*occi.Entity, len(locs))
		for i, l := range locs {
			es[i] = &occi.Entity{Location: l}
		}
		return es, nil
	}
	e, err := c.decodeEntity(r, items)
	if err != nil {
		return nil, err
	}
	return []*occi.Entity{e}, nil
}

func locations(base string, items []item) ([]string, error) {
	var locs []string
	for _, it := range items {
		if it.k != kLocation {
			continue
		}
		p, err := render.OwnPath(base, it.value, it.where)
		if err != nil {
			return nil, err
		}
		if p == "" {
			continue
		}
		locs = append(locs, p)
	}
	return locs, nil
}

// DecodeLocations reads X-OCCI-Location elements (or bare URI lines) as
// paths; a URL on another server is an InvalidArgument error naming the
// line or header.
func (c *Codec) DecodeLocations(r *render.Reader) ([]string, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.k != kLocation {
			return nil, invalid(it.where, "expected only X-OCCI-Location elements in a location list, got %s", quoteTrunc(it.value))
		}
	}
	return locations(r.Base, items)
}

// DecodeAction reads an action invocation: one Category of class action
// (class may be omitted) and X-OCCI-Attribute parameters.
func (c *Codec) DecodeAction(r *render.Reader) (*occi.ActionInvocation, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	inv := &occi.ActionInvocation{}
	found := false
	seen := seenAttrs{}
	for _, it := range items {
		switch it.k {
		case kCategory:
			cat, err := parseCategory(it.where, it.value)
			if err != nil {
				return nil, err
			}
			if cat.class != "" && cat.class != string(occi.ClassAction) {
				return nil, invalid(it.where, "expected an action category, got class %q", cat.class)
			}
			if found {
				return nil, invalid(it.where, "a second action category %s", quoteTrunc(cat.id.String()))
			}
			inv.Action, found = cat.id, true
		case kAttribute:
			name, v, err := parseAttribute(it.where, it.value)
			if err != nil {
				return nil, err
			}
			if err := seen.add(it.where, name); err != nil {
				return nil, err
			}
			if inv.Attributes == nil {
				inv.Attributes = make(occi.Attributes)
			}
			inv.Attributes[name] = v
		default:
			return nil, invalid(it.where, "unexpected element %s in an action invocation", quoteTrunc(it.value))
		}
	}
	if !found {
		if len(items) > 0 {
			return nil, occi.Errorf(occi.InvalidArgument,
				"the action invocation has no Category naming the action (class \"action\"); it has only %d other element(s)", len(items))
		}
		return nil, empty("action Category")
	}
	return inv, nil
}

func mixinOf(base, where string, cat *category) (*occi.Mixin, error) {
	m := &occi.Mixin{
		ID:         render.CanonicalCategory(cat.id),
		Title:      cat.title,
		Depends:    cat.rel,
		Attributes: cat.attrs,
		Actions:    cat.actions,
	}
	if cat.location != "" {
		p, err := render.OwnPath(base, cat.location, where+" location")
		if err != nil {
			return nil, err
		}
		m.Location = p
	}
	return m, nil
}

// DecodeMixins reads mixin definitions: Category elements of class mixin
// (class may be omitted), with title, rel (depends), location, attributes
// and actions.
func (c *Codec) DecodeMixins(r *render.Reader) ([]*occi.Mixin, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	var ms []*occi.Mixin
	for _, it := range items {
		if it.k != kCategory {
			return nil, invalid(it.where, "expected only Category elements in a mixin definition, got %s", quoteTrunc(it.value))
		}
		cat, err := parseCategory(it.where, it.value)
		if err != nil {
			return nil, err
		}
		if cat.class != "" && cat.class != string(occi.ClassMixin) {
			return nil, invalid(it.where, "expected a mixin category, got class %q", cat.class)
		}
		m, err := mixinOf(r.Base, it.where, cat)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, empty("mixin Category")
	}
	return ms, nil
}

// DecodeDiscovery reads a category collection. Text carries only each
// attribute's name and its immutable and required flags, a mixin's first
// depends, and no applies.
func (c *Codec) DecodeDiscovery(r *render.Reader) (*occi.Discovery, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, err
	}
	d := &occi.Discovery{}
	for _, it := range items {
		if it.k != kCategory {
			return nil, invalid(it.where, "expected only Category elements in a category collection, got %s", quoteTrunc(it.value))
		}
		cat, err := parseCategory(it.where, it.value)
		if err != nil {
			return nil, err
		}
		switch occi.Class(cat.class) {
		case occi.ClassKind:
			k := &occi.Kind{ID: cat.id, Title: cat.title, Attributes: cat.attrs, Actions: cat.actions}
			if len(cat.rel) > 0 {
				k.Parent = cat.rel[0]
			}
			if cat.location != "" {
				if k.Location, err = render.OwnPath(r.Base, cat.location, it.where+" location"); err != nil {
					return nil, err
				}
			}
			d.Kinds = append(d.Kinds, k)
		case occi.ClassMixin:
			m, err := mixinOf(r.Base, it.where, cat)
			if err != nil {
				return nil, err
			}
			d.Mixins = append(d.Mixins, m)
		case occi.ClassAction:
			d.Actions = append(d.Actions, &occi.Action{ID: cat.id, Title: cat.title, Attributes: cat.attrs})
		default:
			return nil, invalid(it.where, "category %s has no class", quoteTrunc(cat.id.String()))
		}
	}
	return d, nil
}

// DecodeFilter reads a filter: the categories of Category elements and the
// values of X-OCCI-Attribute elements (core attributes under their
// occi.core.* names).
func (c *Codec) DecodeFilter(r *render.Reader) ([]occi.CategoryID, occi.Attributes, error) {
	items, err := c.readItems(r)
	if err != nil {
		return nil, nil, err
	}
	var cats []occi.CategoryID
	var attrs occi.Attributes
	seen := seenAttrs{}
	for _, it := range items {
		switch it.k {
		case kCategory:
			cat, err := parseCategory(it.where, it.value)
			if err != nil {
				return nil, nil, err
			}
			cats = append(cats, render.CanonicalCategory(cat.id))
		case kAttribute:
			name, v, err := parseAttribute(it.where, it.value)
			if err != nil {
				return nil, nil, err
			}
			if err := seen.add(it.where, name); err != nil {
				return nil, nil, err
			}
			if attrs == nil {
				attrs = make(occi.Attributes)
			}
			attrs[name] = v
		}
	}
	return cats, attrs, nil
}

// DecodeError reads "<Code>: <message>" from an X-OCCI-Error header or the
// body's first line.
func (c *Codec) DecodeError(r *render.Reader) (occi.Code, string, error) {
	line := ""
	for name, vs := range r.Header {
		if strings.EqualFold(name, HeaderError) && len(vs) > 0 {
			line = vs[0]
		}
	}
	if line == "" {
		line = strings.TrimSpace(string(r.Body))
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
	}
	name, msg, ok := strings.Cut(line, ":")
	if ok {
		if code := render.CodeByName(strings.TrimSpace(name)); code != occi.Internal || strings.TrimSpace(name) == "Internal" {
			return code, strings.TrimSpace(msg), nil
		}
	}
	return occi.Internal, line, nil
}

// isZero reports whether e carries nothing a text rendering would show
// (e.g. only occi.core.id="").
func isZero(e *occi.Entity) bool {
	return e.Kind.IsZero() && len(e.Mixins) == 0 && len(e.Attributes) == 0 && len(e.Links) == 0 &&
		len(e.Actions) == 0 && e.ID == "" && e.Title == "" && e.Summary == "" && e.Source == "" &&
		e.Target == "" && e.SourceKind.IsZero() && e.TargetKind.IsZero()
}

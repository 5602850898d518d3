package occijson

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

var coreAttrs = [...]string{occi.AttrID, occi.AttrTitle, occi.AttrSummary, occi.AttrSource,
	occi.AttrSourceKind, occi.AttrTarget, occi.AttrTargetKind}

// kindedURI reads a link end: {"location": …, "kind": …} or a plain
// location string.
func kindedURI(base string, o *object, where, k string) (string, occi.CategoryID, bool, error) {
	v, ok := o.get(k)
	if !ok || v == nil {
		return "", occi.CategoryID{}, false, nil
	}
	w := join(where, k)
	switch x := v.(type) {
	case string:
		return render.TargetPath(base, x), occi.CategoryID{}, true, nil
	case *object:
		loc, _, err := str(x, w, "location")
		if err != nil {
			return "", occi.CategoryID{}, false, err
		}
		if loc == "" {
			// Tolerate "id" or "href" for the location.
			if loc, _, err = str(x, w, "id"); err != nil {
				return "", occi.CategoryID{}, false, err
			}
		}
		kind, err := optID(x, w, "kind")
		if err != nil {
			return "", occi.CategoryID{}, false, err
		}
		if loc == "" {
			// A kind without a location names nothing.
			return "", occi.CategoryID{}, false, nil
		}
		return render.TargetPath(base, loc), kind, true, nil
	}
	return "", occi.CategoryID{}, false, wrongType(w, "an object {\"location\",\"kind\"} or a string", v)
}

// entity reads a resource or link object. Top-level id, title, summary,
// source and target win over occi.core.* copies inside "attributes".
func entity(base string, o *object, where string) (*occi.Entity, error) {
	e := &occi.Entity{}
	var err error
	if e.Kind, err = optID(o, where, "kind"); err != nil {
		return nil, err
	}
	if e.Mixins, err = ids(o, where, "mixins"); err != nil {
		return nil, err
	}
	if e.Attributes, err = attributes(o, where); err != nil {
		return nil, err
	}
	// Core attributes given inside "attributes".
	for _, name := range coreAttrs {
		v, ok := e.Attributes[name]
		if !ok {
			continue
		}
		delete(e.Attributes, name)
		if v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return nil, invalid(join(join(where, "attributes"), name), "want a string, got %T", v)
		}
		w := join(join(where, "attributes"), name)
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
		case occi.AttrSourceKind:
			if e.SourceKind, err = catID(w, s); err != nil {
				return nil, err
			}
		case occi.AttrTargetKind:
			if e.TargetKind, err = catID(w, s); err != nil {
				return nil, err
			}
		}
	}
	if len(e.Attributes) == 0 {
		e.Attributes = nil
	}
	if e.Actions, err = ids(o, where, "actions"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		k   string
		dst *string
	}{{"id", &e.ID}, {"title", &e.Title}, {"summary", &e.Summary}} {
		s, ok, err := str(o, where, f.k)
		if err != nil {
			return nil, err
		}
		if ok {
			*f.dst = s
		}
	}
	// A non-standard "location" member (MartServer) gives the location.
	if loc, ok, err := str(o, where, "location"); err != nil {
		return nil, err
	} else if ok && loc != "" {
		if e.Location, err = ownPath(base, loc, join(where, "location")); err != nil {
			return nil, err
		}
	}
	if loc, kind, ok, err := kindedURI(base, o, where, "source"); err != nil {
		return nil, err
	} else if ok {
		e.Source = loc
		if !kind.IsZero() {
			e.SourceKind = kind
		}
	}
	if loc, kind, ok, err := kindedURI(base, o, where, "target"); err != nil {
		return nil, err
	} else if ok {
		e.Target = loc
		if !kind.IsZero() {
			e.TargetKind = kind
		}
	}
	if v, ok := o.get("links"); ok && v != nil {
		w := join(where, "links")
		a, isArr := v.([]any)
		if !isArr {
			return nil, wrongType(w, "an array of link objects", v)
		}
		for i, lv := range a {
			lo, isObj := lv.(*object)
			if !isObj {
				return nil, wrongType(index(w, i), "a link object", lv)
			}
			l, err := entity(base, lo, index(w, i))
			if err != nil {
				return nil, err
			}
			e.Links = append(e.Links, l)
		}
	}
	return e, nil
}

// isCollection reports whether o is a {"resources":…}/{"links":…}
// collection rather than an entity. Where one entity is expected
// (single), only "resources" makes a collection: {"links":[…]} is then a
// partial update that adds links.
func isCollection(o *object, single bool) bool {
	if _, ok := o.get("kind"); ok {
		return false
	}
	if _, ok := o.get("id"); ok {
		return false
	}
	_, r := o.get("resources")
	_, l := o.get("links")
	return r || (l && !single)
}

func collection(base string, o *object, where string) ([]*occi.Entity, error) {
	var out []*occi.Entity
	for _, k := range []string{"resources", "links"} {
		v, ok := o.get(k)
		if !ok || v == nil {
			continue
		}
		w := join(where, k)
		a, isArr := v.([]any)
		if !isArr {
			return nil, wrongType(w, "an array of entity objects", v)
		}
		if len(out)+len(a) > render.MaxItems {
			return nil, invalid(w, "more than %d entities; split the request", render.MaxItems)
		}
		for i, ev := range a {
			eo, isObj := ev.(*object)
			if !isObj {
				return nil, wrongType(index(w, i), "an entity object", ev)
			}
			e, err := entity(base, eo, index(w, i))
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	if out == nil {
		out = []*occi.Entity{}
	}
	return out, nil
}

// DecodeEntity reads one resource or link object. A collection holding
// exactly one entity is accepted too (MartServer wraps single entities).
// Inline links without "source" keep Source empty for the engine to fill.
func (Codec) DecodeEntity(r *render.Reader) (*occi.Entity, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType("", "an entity object", v)
	}
	if isCollection(o, true) {
		es, err := collection(r.Base, o, "")
		if err != nil {
			return nil, err
		}
		if len(es) != 1 {
			return nil, invalid("", "want one entity, got a collection of %d", len(es))
		}
		return es[0], nil
	}
	return entity(r.Base, o, "")
}

// DecodeEntities reads {"resources":[…],"links":[…]}, a bare array of
// entity objects, or one entity object.
func (Codec) DecodeEntities(r *render.Reader) ([]*occi.Entity, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case *object:
		if isCollection(x, false) {
			return collection(r.Base, x, "")
		}
		e, err := entity(r.Base, x, "")
		if err != nil {
			return nil, err
		}
		return []*occi.Entity{e}, nil
	case []any:
		out := make([]*occi.Entity, 0, len(x))
		for i, ev := range x {
			eo, isObj := ev.(*object)
			if !isObj {
				return nil, wrongType(index("", i), "an entity object", ev)
			}
			e, err := entity(r.Base, eo, index("", i))
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	return nil, wrongType("", "an entity collection", v)
}

// itemLocation reads the location of one element of a location list: a
// string, or an object with "location" (or "id" when that is a URL or a
// path).
func itemLocation(base string, v any, where string) (string, error) {
	switch x := v.(type) {
	case string:
		return ownPath(base, x, where)
	case *object:
		if loc, ok, err := str(x, where, "location"); err != nil {
			return "", err
		} else if ok && loc != "" {
			return ownPath(base, loc, join(where, "location"))
		}
		id, ok, err := str(x, where, "id")
		if err != nil {
			return "", err
		}
		if ok && (strings.HasPrefix(id, "/") || strings.Contains(id, "://")) {
			return ownPath(base, id, join(where, "id"))
		}
		if ok {
			return "", invalid(where, "id %q is not a location; give \"location\" with the entity's URL", render.Truncate(id, 100))
		}
		return "", invalid(where, "no \"location\" member")
	}
	return "", wrongType(where, "a location string or an object with \"location\"", v)
}

// DecodeLocations reads a location list: a bare array of URL strings (as
// rOCCI sends), or a {"resources":[…]}/{"links":[…]} collection whose
// items carry "location" (or a URL "id"). Locations become paths; URLs of
// other servers are an InvalidArgument error.
func (Codec) DecodeLocations(r *render.Reader) ([]string, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(a []any, where string) error {
		if len(out)+len(a) > render.MaxItems {
			return invalid(where, "more than %d locations; split the request", render.MaxItems)
		}
		for i, e := range a {
			p, err := itemLocation(r.Base, e, index(where, i))
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	}
	switch x := v.(type) {
	case []any:
		err = add(x, "")
	case *object:
		found := false
		for _, k := range []string{"resources", "links", "locations"} {
			if lv, ok := x.get(k); ok && lv != nil {
				a, isArr := lv.([]any)
				if !isArr {
					return nil, wrongType(k, "an array", lv)
				}
				found = true
				if err = add(a, k); err != nil {
					return nil, err
				}
			}
		}
		if !found {
			return nil, invalid("", "want an array of locations or {\"resources\":[…]}")
		}
	default:
		return nil, wrongType("", "an array of locations", v)
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// DecodeAction reads {"action": id, "attributes": {…}}.
func (Codec) DecodeAction(r *render.Reader) (*occi.ActionInvocation, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType("", "an action invocation object", v)
	}
	s, ok, err := str(o, "", "action")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("", "missing member \"action\"")
	}
	inv := &occi.ActionInvocation{}
	if inv.Action, err = catID("action", s); err != nil {
		return nil, err
	}
	if inv.Attributes, err = attributes(o, ""); err != nil {
		return nil, err
	}
	return inv, nil
}

var formatTypes = map[string]occi.AttrType{
	"uri": occi.TypeURI, "uri-reference": occi.TypeURI, "ip": occi.TypeIP, "ipv4": occi.TypeIP, "ipv6": occi.TypeIP,
	"cidr": occi.TypeCIDR, "date-time": occi.TypeDatetime,
}

// attrDefs reads {"name": {mutable, required, type, default, description,
// pattern}} in document order. pattern may be a JSON-Schema object or (as
// rOCCI sends) a regular-expression string.
func attrDefs(o *object, where string) ([]occi.AttributeDef, error) {
	v, ok := o.get("attributes")
	if !ok || v == nil {
		return nil, nil
	}
	w := join(where, "attributes")
	ao, isObj := v.(*object)
	if !isObj {
		return nil, wrongType(w, "an object of attribute descriptions", v)
	}
	var defs []occi.AttributeDef
	for _, name := range ao.keys {
		dw := join(w, name)
		do, isObj := ao.vals[name].(*object)
		if !isObj {
			return nil, wrongType(dw, "an attribute description object", ao.vals[name])
		}
		d := occi.AttributeDef{Name: render.CanonicalAttribute(name)}
		for _, f := range []struct {
			k   string
			dst *bool
		}{{"mutable", &d.Mutable}, {"required", &d.Required}} {
			if bv, ok := do.get(f.k); ok && bv != nil {
				b, isBool := bv.(bool)
				if !isBool {
					return nil, wrongType(join(dw, f.k), "a boolean", bv)
				}
				*f.dst = b
			}
		}
		typ, _, err := str(do, dw, "type")
		if err != nil {
			return nil, err
		}
		if d.Description, _, err = str(do, dw, "description"); err != nil {
			return nil, err
		}
		if dv, ok := do.get("default"); ok && dv != nil {
			if d.Default, err = canonical(join(dw, "default"), dv); err != nil {
				return nil, err
			}
		}
		var pType, format string
		switch pv := do.vals["pattern"].(type) {
		case nil:
		case string:
			d.Pattern = rubyRegexp(pv)
		case *object:
			if pType, _, err = str(pv, join(dw, "pattern"), "type"); err != nil {
				return nil, err
			}
			if format, _, err = str(pv, join(dw, "pattern"), "format"); err != nil {
				return nil, err
			}
			re, _, err := str(pv, join(dw, "pattern"), "pattern")
			if err != nil {
				return nil, err
			}
			d.Pattern = unanchor(re)
			if ev, ok := pv.get("enum"); ok && ev != nil {
				ea, isArr := ev.([]any)
				if !isArr {
					return nil, wrongType(join(dw, "pattern.enum"), "an array", ev)
				}
				for i, x := range ea {
					s, isStr := x.(string)
					if !isStr {
						return nil, wrongType(index(join(dw, "pattern.enum"), i), "a string", x)
					}
					d.Enum = append(d.Enum, s)
				}
			}
		default:
			return nil, wrongType(join(dw, "pattern"), "a JSON-Schema object or a regular expression string", pv)
		}
		switch strings.ToLower(typ) {
		case "number":
			d.Type = occi.TypeFloat
			if pType == "integer" {
				d.Type = occi.TypeInteger
			}
		case "integer":
			d.Type = occi.TypeInteger
		case "float":
			d.Type = occi.TypeFloat
		case "boolean", "bool":
			d.Type = occi.TypeBool
		case "array", "list":
			d.Type = occi.TypeList
		case "object", "hash":
			d.Type = occi.TypeHash
		case "enum":
			d.Type = occi.TypeEnum
		case "uri":
			d.Type = occi.TypeURI
		case "ip":
			d.Type = occi.TypeIP
		case "cidr":
			d.Type = occi.TypeCIDR
		case "datetime":
			d.Type = occi.TypeDatetime
		default:
			d.Type = occi.TypeString
			if t, ok := formatTypes[format]; ok {
				d.Type = t
			}
			if d.Enum != nil {
				d.Type = occi.TypeEnum
			}
		}
		if d.Type != occi.TypeEnum {
			d.Enum = nil
		} else if len(d.Enum) == 0 {
			// An enum without values cannot be told from a string.
			d.Type, d.Enum = occi.TypeString, nil
		}
		if len(defs) >= render.MaxItems {
			return nil, invalid(w, "more than %d attributes", render.MaxItems)
		}
		defs = append(defs, d)
	}
	return defs, nil
}

// unanchor undoes the ^(?:…)$ wrapping EncodeDiscovery adds.
func unanchor(re string) string {
	if strings.HasPrefix(re, "^(?:") && strings.HasSuffix(re, ")$") {
		return re[4 : len(re)-2]
	}
	return re
}

// rubyRegexp strips Ruby's (?-mix:…) wrapper, which RE2 cannot read.
func rubyRegexp(re string) string {
	if strings.HasPrefix(re, "(?-mix:") && strings.HasSuffix(re, ")") {
		return re[7 : len(re)-1]
	}
	return re
}

func categoryHead(o *object, where string) (occi.CategoryID, string, error) {
	term, _, err := str(o, where, "term")
	if err != nil {
		return occi.CategoryID{}, "", err
	}
	scheme, _, err := str(o, where, "scheme")
	if err != nil {
		return occi.CategoryID{}, "", err
	}
	if term == "" || scheme == "" {
		return occi.CategoryID{}, "", invalid(where, "a category needs \"term\" and \"scheme\"")
	}
	if !occi.ValidTerm(term) {
		return occi.CategoryID{}, "", invalid(join(where, "term"), "invalid term %q", render.Truncate(term, 100))
	}
	if !render.ValidScheme(scheme) {
		return occi.CategoryID{}, "", invalid(join(where, "scheme"), "%q is not a URI", render.Truncate(scheme, 100))
	}
	title, _, err := str(o, where, "title")
	return occi.CategoryID{Scheme: scheme, Term: term}, title, err
}

func location(base string, o *object, where string) (string, error) {
	loc, ok, err := str(o, where, "location")
	if err != nil || !ok || loc == "" {
		return "", err
	}
	return ownPath(base, loc, join(where, "location"))
}

func mixin(base string, v any, where string) (*occi.Mixin, error) {
	if s, ok := v.(string); ok {
		// rOCCI's category identifiers: {"mixins":["scheme#term"]}.
		id, err := catID(where, s)
		if err != nil {
			return nil, err
		}
		return &occi.Mixin{ID: id}, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType(where, "a mixin object", v)
	}
	id, title, err := categoryHead(o, where)
	if err != nil {
		return nil, err
	}
	m := &occi.Mixin{ID: render.CanonicalCategory(id), Title: title}
	if m.Depends, err = ids(o, where, "depends"); err != nil {
		return nil, err
	}
	if m.Applies, err = ids(o, where, "applies"); err != nil {
		return nil, err
	}
	if m.Location, err = location(base, o, where); err != nil {
		return nil, err
	}
	if m.Attributes, err = attrDefs(o, where); err != nil {
		return nil, err
	}
	if m.Actions, err = ids(o, where, "actions"); err != nil {
		return nil, err
	}
	return m, nil
}

func kind(base string, v any, where string) (*occi.Kind, error) {
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType(where, "a kind object", v)
	}
	id, title, err := categoryHead(o, where)
	if err != nil {
		return nil, err
	}
	k := &occi.Kind{ID: id, Title: title}
	if k.Parent, err = optID(o, where, "parent"); err != nil {
		return nil, err
	}
	if k.Location, err = location(base, o, where); err != nil {
		return nil, err
	}
	if k.Attributes, err = attrDefs(o, where); err != nil {
		return nil, err
	}
	if k.Actions, err = ids(o, where, "actions"); err != nil {
		return nil, err
	}
	return k, nil
}

func action(v any, where string) (*occi.Action, error) {
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType(where, "an action object", v)
	}
	id, title, err := categoryHead(o, where)
	if err != nil {
		return nil, err
	}
	a := &occi.Action{ID: id, Title: title}
	if a.Attributes, err = attrDefs(o, where); err != nil {
		return nil, err
	}
	return a, nil
}

func array(o *object, k string) ([]any, error) {
	v, ok := o.get(k)
	if !ok || v == nil {
		return nil, nil
	}
	a, isArr := v.([]any)
	if !isArr {
		return nil, wrongType(k, "an array", v)
	}
	return a, nil
}

// DecodeMixins reads one mixin object, {"mixins":[…]} (objects, or
// rOCCI's type-identifier strings, which give mixins with only an ID), or a
// bare array of either.
func (Codec) DecodeMixins(r *render.Reader) ([]*occi.Mixin, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	var items []any
	where := ""
	switch x := v.(type) {
	case *object:
		if _, ok := x.get("term"); ok {
			m, err := mixin(r.Base, x, "")
			if err != nil {
				return nil, err
			}
			return []*occi.Mixin{m}, nil
		}
		if items, err = array(x, "mixins"); err != nil {
			return nil, err
		}
		where = "mixins"
	case []any:
		items = x
	default:
		return nil, wrongType("", "a mixin object or {\"mixins\":[…]}", v)
	}
	if len(items) == 0 {
		return nil, invalid("", "no mixin definition")
	}
	out := make([]*occi.Mixin, 0, len(items))
	for i, it := range items {
		m, err := mixin(r.Base, it, index(where, i))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DecodeDiscovery reads {"kinds":[…],"mixins":[…],"actions":[…]}.
func (Codec) DecodeDiscovery(r *render.Reader) (*occi.Discovery, error) {
	v, err := parse(r.Body)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*object)
	if !ok {
		return nil, wrongType("", "a category collection object", v)
	}
	d := &occi.Discovery{}
	ks, err := array(o, "kinds")
	if err != nil {
		return nil, err
	}
	for i, kv := range ks {
		k, err := kind(r.Base, kv, index("kinds", i))
		if err != nil {
			return nil, err
		}
		d.Kinds = append(d.Kinds, k)
	}
	ms, err := array(o, "mixins")
	if err != nil {
		return nil, err
	}
	for i, mv := range ms {
		m, err := mixin(r.Base, mv, index("mixins", i))
		if err != nil {
			return nil, err
		}
		d.Mixins = append(d.Mixins, m)
	}
	as, err := array(o, "actions")
	if err != nil {
		return nil, err
	}
	for i, av := range as {
		a, err := action(av, index("actions", i))
		if err != nil {
			return nil, err
		}
		d.Actions = append(d.Actions, a)
	}
	return d, nil
}

// DecodeFilter returns no filter: GFD.223 restricts filtering to
// header-transportable renderings.
func (Codec) DecodeFilter(*render.Reader) ([]occi.CategoryID, occi.Attributes, error) {
	return nil, nil, nil
}

// DecodeError reads {"code": name or HTTP status, "message": …}, or rOCCI's
// {"status": …, "error": …}. Any other body gives Internal and the body
// as message.
func (Codec) DecodeError(r *render.Reader) (occi.Code, string, error) {
	v, err := parse(r.Body)
	o, ok := v.(*object)
	if err != nil || !ok {
		return occi.Internal, strings.TrimSpace(string(r.Body)), nil
	}
	code := occi.Internal
	for _, k := range []string{"code", "status"} {
		switch c := o.vals[k].(type) {
		case string:
			code = render.CodeByName(c)
		case json.Number:
			code = render.CodeByName(string(c))
		}
	}
	msg := ""
	for _, k := range []string{"message", "error"} {
		if s, ok := o.vals[k].(string); ok && msg == "" {
			msg = s
		}
	}
	return code, msg, nil
}

// ownPath is render.OwnPath with "JSON body" in the error's place.
func ownPath(base, loc, where string) (string, error) {
	w := "JSON body"
	if where != "" {
		w += ", " + where
	}
	return render.OwnPath(base, loc, w)
}

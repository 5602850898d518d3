package occiclient

import (
	"context"
	"slices"
	"strings"

	"github.com/occid/occi"
)

// Well-known Infrastructure identifiers the helpers use.
var (
	OSTemplate       = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "os_tpl"}
	ResourceTemplate = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "resource_tpl"}
	SaveAction       = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute/action#", Term: "save"}
)

// Category is one kind, mixin or action of a discovery, whichever it is.
type Category struct {
	Class  occi.Class
	Kind   *occi.Kind
	Mixin  *occi.Mixin
	Action *occi.Action
}

// ID returns the category's type identifier.
func (c Category) ID() occi.CategoryID {
	switch {
	case c.Kind != nil:
		return c.Kind.ID
	case c.Mixin != nil:
		return c.Mixin.ID
	case c.Action != nil:
		return c.Action.ID
	}
	return occi.CategoryID{}
}

// Location returns the collection path of a kind or mixin ("" for actions).
func (c Category) Location() string {
	switch {
	case c.Kind != nil:
		return c.Kind.Location
	case c.Mixin != nil:
		return c.Mixin.Location
	}
	return ""
}

// Find returns the categories of d named by name, a full type identifier
// ("http://schemas.ogf.org/occi/infrastructure#compute") or a term
// ("compute"), of the given classes (all classes if none are given).
func Find(d *occi.Discovery, name string, classes ...occi.Class) []Category {
	match := func(id occi.CategoryID) bool {
		if strings.Contains(name, "#") {
			return id.String() == name
		}
		return id.Term == name
	}
	want := func(c occi.Class) bool { return len(classes) == 0 || slices.Contains(classes, c) }
	var out []Category
	if want(occi.ClassKind) {
		for _, k := range d.Kinds {
			if match(k.ID) {
				out = append(out, Category{Class: occi.ClassKind, Kind: k})
			}
		}
	}
	if want(occi.ClassMixin) {
		for _, m := range d.Mixins {
			if match(m.ID) {
				out = append(out, Category{Class: occi.ClassMixin, Mixin: m})
			}
		}
	}
	if want(occi.ClassAction) {
		for _, a := range d.Actions {
			if match(a.ID) {
				out = append(out, Category{Class: occi.ClassAction, Action: a})
			}
		}
	}
	return out
}

// one returns the single category found, a NotFound error if there is
// none and an InvalidArgument error listing the candidates if the term is
// ambiguous.
func one(found []Category, name, what string) (Category, error) {
	switch len(found) {
	case 0:
		return Category{}, errorf(occi.NotFound, "the server has no %s %q", what, name)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.ID().String()
	}
	return Category{}, errorf(occi.InvalidArgument, "%s %q is ambiguous: it may be %s; give the full type identifier", what, name, strings.Join(ids, " or "))
}

// Category returns the category named by name (a type identifier or a
// term) among the kinds, mixins and actions the server shows the caller,
// restricted to the given classes if any are given.
func (c *Client) Category(ctx context.Context, name string, classes ...occi.Class) (Category, error) {
	if name == "" {
		return Category{}, errorf(occi.InvalidArgument, "no category given")
	}
	d, err := c.discovery(ctx, c.Client)
	if err != nil {
		return Category{}, err
	}
	what := "kind, mixin or action"
	if len(classes) > 0 {
		parts := make([]string, len(classes))
		for i, cl := range classes {
			parts[i] = string(cl)
		}
		what = strings.Join(parts, " or ")
	}
	return one(Find(d, name, classes...), name, what)
}

// Kind returns the kind named by name, a type identifier or a term such as
// "compute".
func (c *Client) Kind(ctx context.Context, name string) (*occi.Kind, error) {
	cat, err := c.Category(ctx, name, occi.ClassKind)
	if err != nil {
		return nil, err
	}
	return cat.Kind, nil
}

// Mixin returns the mixin named by name, a type identifier or a term such
// as "ssh_key" or "ubuntu-24.04".
func (c *Client) Mixin(ctx context.Context, name string) (*occi.Mixin, error) {
	cat, err := c.Category(ctx, name, occi.ClassMixin)
	if err != nil {
		return nil, err
	}
	return cat.Mixin, nil
}

// Template returns the template mixin named by name (a type identifier or
// a term) among the mixins that depend on parent: OSTemplate or
// ResourceTemplate.
func (c *Client) Template(ctx context.Context, name string, parent occi.CategoryID) (*occi.Mixin, error) {
	d, err := c.discovery(ctx, c.Client)
	if err != nil {
		return nil, err
	}
	var found []Category
	for _, f := range Find(d, name, occi.ClassMixin) {
		if slices.Contains(f.Mixin.Depends, parent) {
			found = append(found, f)
		}
	}
	cat, err := one(found, name, parent.Term)
	if err != nil {
		return nil, err
	}
	return cat.Mixin, nil
}

// Collection returns the path of a collection named by name: a path or an
// absolute URL on the server is taken as it is; anything else is a kind or
// mixin (type identifier or term) whose location is returned.
func (c *Client) Collection(ctx context.Context, name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://") {
		return c.Path(name)
	}
	cat, err := c.Category(ctx, name, occi.ClassKind, occi.ClassMixin)
	if err != nil {
		return "", err
	}
	if cat.Location() == "" {
		return "", errorf(occi.InvalidArgument, "%s has no collection", cat.ID())
	}
	return cat.Location(), nil
}

// TagScheme returns the scheme of the caller's own mixins (tags) on an
// occid server: the scheme of a tag the caller already has, or else
// <provider>users/<user>/tags#, where <provider> is the scheme of the
// provider's OS templates without "os_tpl#" and user is the given user
// name as occi.UserSegment writes it (occid's convention). It returns a NotFound error when neither is
// known.
func (c *Client) TagScheme(ctx context.Context, user string) (string, error) {
	d, err := c.discovery(ctx, c.Client)
	if err != nil {
		return "", err
	}
	for _, m := range d.Mixins {
		if strings.Contains(m.ID.Scheme, "/users/") && strings.HasSuffix(m.ID.Scheme, "/tags#") {
			return m.ID.Scheme, nil
		}
	}
	if user == "" {
		return "", errorf(occi.NotFound, "cannot tell your tag scheme: give it with the scheme")
	}
	for _, m := range d.Mixins {
		if slices.Contains(m.Depends, OSTemplate) && strings.HasSuffix(m.ID.Scheme, "/os_tpl#") && !strings.Contains(m.ID.Scheme, "/users/") {
			return strings.TrimSuffix(m.ID.Scheme, "os_tpl#") + "users/" + occi.UserSegment(user) + "/tags#", nil
		}
	}
	return "", errorf(occi.NotFound, "cannot tell your tag scheme: the server offers no OS template to derive it from")
}

// AttributeDefs returns every attribute definition the discovery d holds,
// of kinds, mixins and action parameters, by name.
func AttributeDefs(d *occi.Discovery) map[string]occi.AttributeDef {
	defs := map[string]occi.AttributeDef{}
	for _, k := range d.Kinds {
		for _, a := range k.Attributes {
			defs[a.Name] = a
		}
	}
	for _, m := range d.Mixins {
		for _, a := range m.Attributes {
			if _, ok := defs[a.Name]; !ok {
				defs[a.Name] = a
			}
		}
	}
	return defs
}

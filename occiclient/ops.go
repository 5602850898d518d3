package occiclient

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/occid/occi"
)

// Describe returns the entity at loc (a path or an absolute URL), with its
// links and the actions applicable now.
func (c *Client) Describe(ctx context.Context, loc string) (*occi.Entity, error) {
	p, err := c.Path(loc)
	if err != nil {
		return nil, err
	}
	return c.Get(ctx, p)
}

// Remove deletes the entity at loc (a path or an absolute URL); deleting a
// resource deletes its links.
func (c *Client) Remove(ctx context.Context, loc string) error {
	p, err := c.Path(loc)
	if err != nil {
		return err
	}
	return c.Delete(ctx, p)
}

// CreateEntity creates e in the collection of its kind (learnt from discovery) and
// returns it as the server stored it. Source and Target of a link, and the
// targets of inline links, may be absolute URLs on the server; they are
// sent as paths.
func (c *Client) CreateEntity(ctx context.Context, e *occi.Entity) (*occi.Entity, error) {
	if e == nil || e.Kind.IsZero() {
		return nil, errorf(occi.InvalidArgument, "an entity to create needs a kind")
	}
	k, err := c.Kind(ctx, e.Kind.String())
	if err != nil {
		return nil, err
	}
	if k.Location == "" {
		return nil, errorf(occi.InvalidArgument, "kind %s has no collection to create entities in", k.ID)
	}
	e = e.Clone()
	if err := c.localize(e); err != nil {
		return nil, err
	}
	return c.Create(ctx, k.Location, e)
}

// localize turns absolute URLs on this server in link ends into paths.
func (c *Client) localize(e *occi.Entity) error {
	conv := func(s *string) error {
		if *s == "" || strings.HasPrefix(*s, "/") || !strings.HasPrefix(*s, c.endpoint) {
			return nil
		}
		p, err := c.Path(*s)
		if err == nil {
			*s = p
		}
		return err
	}
	if err := conv(&e.Source); err != nil {
		return err
	}
	if err := conv(&e.Target); err != nil {
		return err
	}
	for _, l := range e.Links {
		if err := c.localize(l); err != nil {
			return err
		}
	}
	return nil
}

// Modify merges patch (attributes, mixins, title, summary) into the entity
// at loc and returns the entity as stored.
func (c *Client) Modify(ctx context.Context, loc string, patch *occi.Entity) (*occi.Entity, error) {
	p, err := c.Path(loc)
	if err != nil {
		return nil, err
	}
	return c.Update(ctx, p, patch)
}

// Link creates a link of kind (a type identifier or a term such as
// "networkinterface" or "storagelink") from the resource at source to
// target, with the given mixins and attributes. Source and target may be
// paths or absolute URLs; a target off this server is sent as it is.
func (c *Client) Link(ctx context.Context, kind, source, target string, mixins []occi.CategoryID, attrs occi.Attributes) (*occi.Entity, error) {
	k, err := c.Kind(ctx, kind)
	if err != nil {
		return nil, err
	}
	src, err := c.Path(source)
	if err != nil {
		return nil, err
	}
	tgt := target
	if p, err := c.Path(target); err == nil {
		tgt = p
	}
	if k.Location == "" {
		return nil, errorf(occi.InvalidArgument, "kind %s has no collection to create links in", k.ID)
	}
	return c.Create(ctx, k.Location, &occi.Entity{Kind: k.ID, Mixins: mixins, Source: src, Target: tgt, Attributes: attrs})
}

// Unlink deletes the link at loc. It refuses, with an InvalidArgument
// error, to delete an entity that is not a link.
func (c *Client) Unlink(ctx context.Context, loc string) error {
	e, err := c.Describe(ctx, loc)
	if err != nil {
		return err
	}
	if !e.IsLink() {
		return errorf(occi.InvalidArgument, "%s is a %s, not a link; use delete to delete a resource", loc, e.Kind.Term)
	}
	return c.Delete(ctx, e.Location)
}

// Action returns the action named by name (a type identifier or a term
// such as "start") that the kind or mixins of the entity at loc define,
// whether or not it is applicable now.
func (c *Client) Action(ctx context.Context, loc, name string) (occi.CategoryID, error) {
	if strings.Contains(name, "#") {
		return occi.ParseCategoryID(name)
	}
	e, err := c.Describe(ctx, loc)
	if err != nil {
		return occi.CategoryID{}, err
	}
	d, err := c.discovery(ctx, c.Client)
	if err != nil {
		return occi.CategoryID{}, err
	}
	var defined []occi.CategoryID
	for _, k := range d.Kinds {
		if k.ID == e.Kind {
			defined = append(defined, k.Actions...)
		}
	}
	for _, m := range d.Mixins {
		if slices.Contains(e.Mixins, m.ID) {
			defined = append(defined, m.Actions...)
		}
	}
	defined = append(defined, e.Actions...)
	var found []occi.CategoryID
	for _, a := range defined {
		if a.Term == name && !slices.Contains(found, a) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return occi.CategoryID{}, errorf(occi.NotFound, "a %s has no action %q", e.Kind.Term, name)
	case 1:
		return found[0], nil
	}
	return occi.CategoryID{}, errorf(occi.InvalidArgument, "action %q is ambiguous for %s: give the full type identifier", name, loc)
}

// Act invokes the action named by name (a type identifier or a term) on
// the entity at loc with params, such as {"method": "graceful"}.
func (c *Client) Act(ctx context.Context, loc, name string, params occi.Attributes) (*occi.ActionResult, error) {
	id, err := c.Action(ctx, loc, name)
	if err != nil {
		return nil, err
	}
	p, err := c.Path(loc)
	if err != nil {
		return nil, err
	}
	return c.Invoke(ctx, p, &occi.ActionInvocation{Action: id, Attributes: params})
}

// Save invokes compute's save action on the compute at loc: method is
// "hot" (the compute keeps running) or "deferred" (the copy happens while
// the compute is stopped), name the new template's title (the server makes
// one up if it is empty). It returns the new OS template mixin, which may
// still be saving: see WaitTemplate.
func (c *Client) Save(ctx context.Context, loc, name, method string) (*occi.Mixin, error) {
	params := occi.Attributes{}
	if name != "" {
		params["name"] = name
	}
	if method != "" {
		params["method"] = method
	}
	p, err := c.Path(loc)
	if err != nil {
		return nil, err
	}
	res, err := c.Invoke(ctx, p, &occi.ActionInvocation{Action: SaveAction, Attributes: params})
	c.Forget()
	if err != nil {
		return nil, err
	}
	if res.Mixin == nil {
		return nil, errorf(occi.Internal, "the server answered save on %s without the new template", loc)
	}
	return res.Mixin, nil
}

// TemplateStatus is the readiness of a saved OS template as discovery shows
// it, from its attributes named *.template.state, *.template.progress and
// *.template.message (occid's occid.template.*).
type TemplateStatus struct {
	// Known is false when the server shows no state for the template;
	// such a template is usable as soon as it is in discovery.
	Known bool
	// State is "saving", "ready" or "error" (occid's states).
	State string
	// Progress is the percentage of the copy done, -1 if not shown.
	Progress int64
	// Message explains the progress or the failure, if the server says.
	Message string
}

// Ready reports whether computes can be created from the template.
func (s TemplateStatus) Ready() bool { return !s.Known || s.State == "ready" }

// Failed reports whether the template failed to save.
func (s TemplateStatus) Failed() bool { return s.Known && s.State == "error" }

func templateStatus(m *occi.Mixin) TemplateStatus {
	st := TemplateStatus{Progress: -1}
	for _, a := range m.Attributes {
		switch {
		case strings.HasSuffix(a.Name, ".template.state"):
			if s, ok := a.Default.(string); ok {
				st.Known, st.State = true, s
			}
		case strings.HasSuffix(a.Name, ".template.progress"):
			switch v := a.Default.(type) {
			case int64:
				st.Progress = v
			case float64:
				st.Progress = int64(v)
			}
		case strings.HasSuffix(a.Name, ".template.message"):
			st.Message, _ = a.Default.(string)
		}
	}
	return st
}

// TemplateStatus returns the template mixin id as discovery shows it and
// its readiness. The text renderings do not carry attribute defaults,
// where the state is, so the state is read from the server's JSON
// rendering when the client speaks text; a server without one shows no
// state (Known false).
func (c *Client) TemplateStatus(ctx context.Context, id occi.CategoryID) (*occi.Mixin, TemplateStatus, error) {
	d, err := c.json.Discover(ctx, []occi.CategoryID{id})
	if err != nil && c.json != c.Client && FromServer(err) && occi.ErrorCode(err) == occi.InvalidArgument {
		d, err = c.Discover(ctx, []occi.CategoryID{id})
	}
	if err != nil {
		return nil, TemplateStatus{}, err
	}
	for _, m := range d.Mixins {
		if m.ID == id {
			return m, templateStatus(m), nil
		}
	}
	return nil, TemplateStatus{}, errorf(occi.NotFound, "template %s is not in discovery", id)
}

// WaitTemplate polls discovery every interval (1s if 0) until the template
// id is ready, and calls progress, if not nil, with every status it sees.
// It returns the template's mixin once ready, a FailedPrecondition error
// with the server's message if the save failed, or the context's error
// (as Unavailable) when ctx ends first.
func (c *Client) WaitTemplate(ctx context.Context, id occi.CategoryID, interval time.Duration, progress func(TemplateStatus)) (*occi.Mixin, error) {
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		m, st, err := c.TemplateStatus(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, occi.Wrap(ctx.Err(), occi.Unavailable, "gave up waiting for template "+id.String())
			}
			return nil, err
		}
		if progress != nil {
			progress(st)
		}
		switch {
		case st.Failed():
			msg := st.Message
			if msg == "" {
				msg = "no reason given"
			}
			return m, errorf(occi.FailedPrecondition, "saving template %s failed: %s", id, msg)
		case st.Ready():
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, occi.Wrap(ctx.Err(), occi.Unavailable, "gave up waiting for template "+id.String()+" (still "+st.State+")")
		case <-tick.C:
		}
	}
}

// AddMixin associates the entities at locs (paths or absolute URLs) with
// the mixin named by mixin (a type identifier or a term) and returns the
// mixin's new membership.
func (c *Client) AddMixin(ctx context.Context, mixin string, locs ...string) ([]*occi.Entity, error) {
	m, ps, err := c.mixinAndPaths(ctx, mixin, locs)
	if err != nil {
		return nil, err
	}
	return c.Associate(ctx, m.Location, ps)
}

// RemoveMixin dissociates the entities at locs from the mixin named by
// mixin; the entities remain.
func (c *Client) RemoveMixin(ctx context.Context, mixin string, locs ...string) error {
	m, ps, err := c.mixinAndPaths(ctx, mixin, locs)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return errorf(occi.InvalidArgument, "name the entities to remove from %s", m.ID)
	}
	return c.Dissociate(ctx, m.Location, ps)
}

func (c *Client) mixinAndPaths(ctx context.Context, mixin string, locs []string) (*occi.Mixin, []string, error) {
	m, err := c.Mixin(ctx, mixin)
	if err != nil {
		return nil, nil, err
	}
	if m.Location == "" {
		return nil, nil, errorf(occi.InvalidArgument, "mixin %s has no collection", m.ID)
	}
	ps := make([]string, 0, len(locs))
	for _, l := range locs {
		p, err := c.Path(l)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, p)
	}
	return m, ps, nil
}

// DefineTag defines a user mixin (a tag) with the given term and title in
// the caller's tag scheme (see TagScheme; user names the caller for
// servers where that cannot be learnt otherwise). A non-empty scheme is
// used instead.
func (c *Client) DefineTag(ctx context.Context, term, title, scheme, user string) (*occi.Mixin, error) {
	if !occi.ValidTerm(term) {
		return nil, errorf(occi.InvalidArgument, "%q is not a valid term (a letter or digit, then letters, digits, '-', '_' or '.')", term)
	}
	if scheme == "" {
		s, err := c.TagScheme(ctx, user)
		if err != nil {
			return nil, err
		}
		scheme = s
	}
	defer c.Forget()
	return c.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Scheme: scheme, Term: term}, Title: title})
}

// DeleteTag deletes the user mixin named by name (a type identifier or a
// term) and dissociates it from every entity.
func (c *Client) DeleteTag(ctx context.Context, name string) error {
	id := occi.CategoryID{}
	if strings.Contains(name, "#") {
		var err error
		if id, err = occi.ParseCategoryID(name); err != nil {
			return err
		}
	} else {
		m, err := c.Mixin(ctx, name)
		if err != nil {
			return err
		}
		id = m.ID
	}
	defer c.Forget()
	return c.DeleteMixin(ctx, id)
}

package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/infra"
)

var bobCtx = occi.WithIdentity(context.Background(), occi.Identity{User: "bob"})

// discovered returns the mixin id in the caller's discovery, or nil.
func discovered(t *testing.T, e *engine.Engine, ctx context.Context, id occi.CategoryID) *occi.Mixin {
	t.Helper()
	d, err := e.Discover(ctx, nil)
	mustOK(t, err)
	for _, m := range d.Mixins {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// providerOSTemplate returns an OS template the provider offers.
func providerOSTemplate(t *testing.T, e *engine.Engine) occi.CategoryID {
	t.Helper()
	d, err := e.Discover(ctx, nil)
	mustOK(t, err)
	for _, m := range d.Mixins {
		if m.Owner == "" && m.ID.Scheme == engine.DefaultProviderScheme+"os_tpl#" {
			return m.ID
		}
	}
	t.Fatalf("the sim offers no provider OS template")
	return occi.CategoryID{}
}

// saveTemplate saves the active compute at loc as name and waits until the
// template is ready.
func saveTemplate(t *testing.T, f *fixture, loc, name string) *occi.Mixin {
	t.Helper()
	res, err := f.eng.Invoke(ctx, loc, &occi.ActionInvocation{Action: infra.ActionSave, Attributes: occi.Attributes{"method": "hot", "name": name}})
	mustOK(t, err)
	if res.Mixin == nil {
		t.Fatalf("save of %s returned no mixin", loc)
	}
	return res.Mixin
}

func templateStateOf(t *testing.T, e *engine.Engine, id occi.CategoryID) string {
	t.Helper()
	m := discovered(t, e, ctx, id)
	if m == nil {
		return ""
	}
	for _, a := range m.Attributes {
		if a.Name == engine.AttrTemplateState {
			s, _ := a.Default.(string)
			return s
		}
	}
	return ""
}

func simHasTemplate(t *testing.T, d *simbackend.Driver, name string) bool {
	t.Helper()
	left, err := d.Leftovers(context.Background())
	mustOK(t, err)
	return slices.Contains(left, "template:"+name)
}

func TestDeleteSavedTemplate(t *testing.T) {
	f := newFixture(t, 200*time.Millisecond, nil, engine.Config{ObserveInterval: -1})
	src := f.compute(t)
	f.start(t, src.Location)
	m := saveTemplate(t, f, src.Location, "to delete")

	t.Run("refused while saving", func(t *testing.T) {
		wantCode(t, f.eng.DeleteMixin(ctx, m.ID), occi.FailedPrecondition, m.ID.String(), "still being saved")
		if discovered(t, f.eng, ctx, m.ID) == nil {
			t.Errorf("a refused deletion removed %s from discovery", m.ID)
		}
		if !simHasTemplate(t, f.sim, m.ID.Term) {
			t.Errorf("a refused deletion removed the image %s", m.ID.Term)
		}
	})
	eventually(t, "the template to be ready", func() bool { return templateStateOf(t, f.eng, m.ID) == backend.TemplateReady })
	made, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
	mustOK(t, err)
	f.start(t, made.Location)

	t.Run("another user's", func(t *testing.T) {
		wantCode(t, f.eng.DeleteMixin(bobCtx, m.ID), occi.NotFound)
		if !simHasTemplate(t, f.sim, m.ID.Term) {
			t.Errorf("bob's attempt removed alice's image %s", m.ID.Term)
		}
	})
	t.Run("provider template", func(t *testing.T) {
		p := providerOSTemplate(t, f.eng)
		wantCode(t, f.eng.DeleteMixin(ctx, p), occi.PermissionDenied, p.String())
		if discovered(t, f.eng, ctx, p) == nil {
			t.Errorf("the provider template %s is gone after a refused deletion", p)
		}
	})
	t.Run("own saved template", func(t *testing.T) {
		mustOK(t, f.eng.DeleteMixin(ctx, m.ID))
		if discovered(t, f.eng, ctx, m.ID) != nil {
			t.Errorf("%s is still in discovery after its deletion", m.ID)
		}
		_, err := f.eng.Resolve(ctx, m.Location)
		wantCode(t, err, occi.NotFound)
		if simHasTemplate(t, f.sim, m.ID.Term) {
			t.Errorf("the backend still holds the image %s", m.ID.Term)
		}
		tpls, err := f.sim.Templates(ctx)
		mustOK(t, err)
		for _, tp := range tpls {
			if tp.Name == m.ID.Term {
				t.Errorf("the backend still offers the template %s", tp.Name)
			}
		}
		g, err := f.eng.Get(ctx, made.Location)
		mustOK(t, err)
		if g.HasMixin(m.ID) {
			t.Errorf("%s still carries the deleted template: %v", made.Location, g.Mixins)
		}
		if got := stateOf(g); got != infra.StateActive {
			t.Errorf("%s created from the deleted template: state %q, want active (it keeps running)", made.Location, got)
		}
		_, err = f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
		wantCode(t, err, occi.NotFound, m.ID.String())
		wantCode(t, f.eng.DeleteMixin(ctx, m.ID), occi.NotFound)
	})
	t.Run("image already gone in the backend", func(t *testing.T) {
		lost := saveTemplate(t, f, src.Location, "lost")
		eventually(t, "the template to be ready", func() bool { return templateStateOf(t, f.eng, lost.ID) == backend.TemplateReady })
		mustOK(t, f.sim.DeleteTemplate(ctx, lost.ID.Term))
		mustOK(t, f.eng.DeleteMixin(ctx, lost.ID))
		if discovered(t, f.eng, ctx, lost.ID) != nil {
			t.Errorf("%s is still in discovery after its deletion", lost.ID)
		}
	})
}

// noDeleter is a driver that cannot delete images.
type noDeleter struct{ backend.Driver }

func TestDeleteSavedTemplateWithoutBackendSupport(t *testing.T) {
	f := newFixture(t, 0, func(d *simbackend.Driver) backend.Driver { return noDeleter{d} }, engine.Config{})
	c := f.compute(t)
	f.start(t, c.Location)
	m := saveTemplate(t, f, c.Location, "kept")
	wantCode(t, f.eng.DeleteMixin(ctx, m.ID), occi.PermissionDenied, m.ID.String(), "cannot delete images")
	if discovered(t, f.eng, ctx, m.ID) == nil {
		t.Errorf("%s left discovery although its deletion was refused", m.ID)
	}
	if !simHasTemplate(t, f.sim, m.ID.Term) {
		t.Errorf("the image %s is gone although its deletion was refused", m.ID.Term)
	}
}

// TestStoredMixinsSharedBetweenEngines runs two engines on one store, as two
// occid processes on one database: a tag one defines, associates or deletes
// is seen by the next request through the other.
func TestStoredMixinsSharedBetweenEngines(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: -1})
	other, err := engine.New(engine.Config{Store: f.store, Driver: f.sim, ObserveInterval: -1})
	mustOK(t, err)
	t.Cleanup(func() { other.Close() })
	a, b := f.eng, other

	c := f.compute(t)
	tag, err := a.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "shared"}})
	mustOK(t, err)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"defined through a, discovered through b", func(t *testing.T) {
			if discovered(t, b, ctx, tag.ID) == nil {
				t.Errorf("%s is not in b's discovery", tag.ID)
			}
			if discovered(t, b, bobCtx, tag.ID) != nil {
				t.Errorf("alice's %s is in bob's discovery through b", tag.ID)
			}
			got, err := b.Resolve(ctx, tag.Location)
			mustOK(t, err)
			if got.Type != occi.TargetMixinCollection || got.Category != tag.ID {
				t.Errorf("Resolve(%s) through b: got %+v, want the collection of %s", tag.Location, got, tag.ID)
			}
		}},
		{"associated through b", func(t *testing.T) {
			members, err := b.Associate(ctx, tag.Location, []string{c.Location})
			mustOK(t, err)
			if len(members) != 1 || members[0].Location != c.Location {
				t.Errorf("members through b: got %v, want %s", members, c.Location)
			}
			g, err := a.Get(ctx, c.Location)
			mustOK(t, err)
			if !g.HasMixin(tag.ID) {
				t.Errorf("%s through a: mixins %v, want %s", c.Location, g.Mixins, tag.ID)
			}
		}},
		{"tagged entity updated through b", func(t *testing.T) {
			_, err := b.Update(ctx, c.Location, &occi.Entity{Title: "renamed through b"})
			mustOK(t, err)
			g, err := a.Get(ctx, c.Location)
			mustOK(t, err)
			if g.Title != "renamed through b" || !g.HasMixin(tag.ID) {
				t.Errorf("through a: title %q mixins %v, want the new title and %s", g.Title, g.Mixins, tag.ID)
			}
			if !slices.Contains(g.Actions, infra.ActionStart) {
				t.Errorf("actions of the tagged %s through a: %v, want start among them", c.Location, g.Actions)
			}
		}},
		{"deleted through a, gone through b", func(t *testing.T) {
			mustOK(t, a.DeleteMixin(ctx, tag.ID))
			if discovered(t, b, ctx, tag.ID) != nil {
				t.Errorf("%s is still in b's discovery", tag.ID)
			}
			_, err := b.Resolve(ctx, tag.Location)
			wantCode(t, err, occi.NotFound)
			_, err = b.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{tag.ID}})
			wantCode(t, err, occi.NotFound, tag.ID.String())
			g, err := b.Get(ctx, c.Location)
			mustOK(t, err)
			if g.HasMixin(tag.ID) {
				t.Errorf("%s through b still carries the deleted %s", c.Location, tag.ID)
			}
		}},
		{"defined again through b", func(t *testing.T) {
			again, err := b.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "shared"}})
			mustOK(t, err)
			_, err = a.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "shared"}})
			wantCode(t, err, occi.AlreadyExists)
			mustOK(t, a.DeleteMixin(ctx, again.ID))
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

// failingDeleter is the sim whose DeleteTemplate fails with err.
type failingDeleter struct {
	backend.Driver
	err error
}

func (d failingDeleter) DeleteTemplate(ctx context.Context, name string) error { return d.err }

func TestDeleteSavedTemplateDriverFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code occi.Code
	}{
		{"unavailable", simbackend.ErrClosed, occi.Unavailable},
		{"refused", occi.Errorf(occi.FailedPrecondition, "disks still depend on the image"), occi.FailedPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0, func(d *simbackend.Driver) backend.Driver { return failingDeleter{d, tc.err} }, engine.Config{})
			c := f.compute(t)
			f.start(t, c.Location)
			m := saveTemplate(t, f, c.Location, "stays")
			made, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
			mustOK(t, err)
			wantCode(t, f.eng.DeleteMixin(ctx, m.ID), tc.code)
			if discovered(t, f.eng, ctx, m.ID) == nil {
				t.Errorf("%s left discovery although the driver failed to delete it", m.ID)
			}
			g, err := f.eng.Get(ctx, made.Location)
			mustOK(t, err)
			if !g.HasMixin(m.ID) {
				t.Errorf("%s lost %s although its deletion failed: %v", made.Location, m.ID, g.Mixins)
			}
		})
	}
}

// ownerless is a driver that does not know who saved a template, as a
// driver keeping owners in a local file looks from another occid process.
type ownerless struct{ backend.Driver }

func (d ownerless) Templates(ctx context.Context) ([]backend.Template, error) {
	tpls, err := d.Driver.Templates(ctx)
	for i := range tpls {
		tpls[i].Owner, tpls[i].Source = "", ""
	}
	return tpls, err
}

func TestSavedTemplateOwnerFromStore(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	other, err := engine.New(engine.Config{Store: f.store, Driver: ownerless{f.sim}})
	mustOK(t, err)
	t.Cleanup(func() { other.Close() })
	c := f.compute(t)
	f.start(t, c.Location)
	m := saveTemplate(t, f, c.Location, "alices image")
	// Bob uses a provider template through the other engine, which reads
	// the driver's templates, alice's new one among them.
	p := providerOSTemplate(t, f.eng)
	_, err = other.Create(bobCtx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{p}})
	mustOK(t, err)
	if discovered(t, other, bobCtx, m.ID) != nil {
		t.Errorf("alice's saved template %s is in bob's discovery", m.ID)
	}
	_, err = other.Create(bobCtx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
	wantCode(t, err, occi.NotFound)
	if got := discovered(t, other, ctx, m.ID); got == nil || got.Owner != "alice" {
		t.Errorf("alice's saved template through the other engine: got %+v, want it owned by alice", got)
	}
}

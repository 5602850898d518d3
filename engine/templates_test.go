package engine_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
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

// image returns the driver's name of the saved template m.
func image(m *occi.Mixin) string { return engine.SavedTemplateName(m.Owner, m.ID.Term) }

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
		if !simHasTemplate(t, f.sim, image(m)) {
			t.Errorf("a refused deletion removed the image %s", image(m))
		}
	})
	eventually(t, "the template to be ready", func() bool { return templateStateOf(t, f.eng, m.ID) == backend.TemplateReady })
	made, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
	mustOK(t, err)
	f.start(t, made.Location)

	t.Run("another user's", func(t *testing.T) {
		wantCode(t, f.eng.DeleteMixin(bobCtx, m.ID), occi.NotFound)
		if !simHasTemplate(t, f.sim, image(m)) {
			t.Errorf("bob's attempt removed alice's image %s", image(m))
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
		if simHasTemplate(t, f.sim, image(m)) {
			t.Errorf("the backend still holds the image %s", image(m))
		}
		tpls, err := f.sim.Templates(ctx)
		mustOK(t, err)
		for _, tp := range tpls {
			if tp.Name == image(m) {
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
		mustOK(t, f.sim.DeleteTemplate(ctx, image(lost)))
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
	if !simHasTemplate(t, f.sim, image(m)) {
		t.Errorf("the image %s is gone although its deletion was refused", image(m))
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
		{"redefined through a, the new definition through b", func(t *testing.T) {
			first, err := a.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "shared"}, Title: "first"})
			mustOK(t, err)
			if d := discovered(t, b, ctx, first.ID); d == nil || d.Title != "first" {
				t.Fatalf("b's discovery of %s: got %+v, want the title first", first.ID, d)
			}
			// Deleted and defined again between two requests through b.
			mustOK(t, a.DeleteMixin(ctx, first.ID))
			newLoc := strings.TrimSuffix(first.Location, "shared/") + "crimson/"
			second, err := a.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "shared"}, Title: "second", Location: newLoc})
			mustOK(t, err)
			if second.Location != newLoc {
				t.Fatalf("location of the redefined tag: got %s, want %s", second.Location, newLoc)
			}
			if d := discovered(t, b, ctx, second.ID); d == nil || d.Title != "second" || d.Location != newLoc {
				t.Errorf("b's discovery of the redefined %s: got %+v, want title second at %s", second.ID, d, newLoc)
			}
			got, err := b.Resolve(ctx, newLoc)
			mustOK(t, err)
			if got.Type != occi.TargetMixinCollection || got.Category != second.ID {
				t.Errorf("Resolve(%s) through b: got %+v, want the collection of %s", newLoc, got, second.ID)
			}
			_, err = b.Resolve(ctx, first.Location)
			wantCode(t, err, occi.NotFound)
			// The model now matches the store: asking again changes nothing.
			for _, e := range []*engine.Engine{a, b} {
				v1, err := e.DiscoveryVersion(ctx)
				mustOK(t, err)
				v2, err := e.DiscoveryVersion(ctx)
				mustOK(t, err)
				if v1 != v2 {
					t.Errorf("discovery version changed with nothing written: %s, then %s", v1, v2)
				}
			}
			mustOK(t, a.DeleteMixin(ctx, second.ID))
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

func (d ownerless) DeleteTemplate(ctx context.Context, name string) error {
	return d.Driver.(backend.TemplateDeleter).DeleteTemplate(ctx, name)
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

// saveAs saves the active compute at loc for the caller of c as name.
func saveAs(t *testing.T, e *engine.Engine, c context.Context, loc, name string) *occi.Mixin {
	t.Helper()
	res, err := e.Invoke(c, loc, &occi.ActionInvocation{Action: infra.ActionSave, Attributes: occi.Attributes{"method": "hot", "name": name}})
	mustOK(t, err)
	if res.Mixin == nil {
		t.Fatalf("save of %s returned no mixin", loc)
	}
	return res.Mixin
}

// TestSavedTemplatesPerUser checks that saved OS templates live in their
// owner's name space: two users saving under one name both get that name,
// neither can detect, use or delete the other's, and all of it survives a
// restart and holds through a second process on the same store.
func TestSavedTemplatesPerUser(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: -1})
	p := providerOSTemplate(t, f.eng)
	// Alice's compute boots twice and bob's once, so that the disks made
	// from their images tell the images apart.
	ac := f.compute(t, p)
	f.start(t, ac.Location)
	_, err := f.eng.Invoke(ctx, ac.Location, &occi.ActionInvocation{Action: infra.ActionStop})
	mustOK(t, err)
	f.start(t, ac.Location)
	bc, err := f.eng.Create(bobCtx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{p}})
	mustOK(t, err)
	_, err = f.eng.Invoke(bobCtx, bc.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	mustOK(t, err)
	aBoots, _ := f.sim.Disk(ac.Location)
	bBoots, _ := f.sim.Disk(bc.Location)
	if aBoots == bBoots {
		t.Fatalf("alice's and bob's computes both booted %d times; the test needs them to differ", aBoots)
	}

	am := saveAs(t, f.eng, ctx, ac.Location, "golden")
	bm := saveAs(t, f.eng, bobCtx, bc.Location, "golden")
	for _, tc := range []struct {
		user string
		m    *occi.Mixin
	}{{"alice", am}, {"bob", bm}} {
		want := &occi.Mixin{ID: occi.CategoryID{Scheme: engine.DefaultProviderScheme + "users/" + tc.user + "/os_tpl#", Term: "golden"},
			Title: "golden", Depends: []occi.CategoryID{infra.OSTemplate}, Applies: []occi.CategoryID{infra.Compute},
			Location: "/users/" + tc.user + "/os_tpl/golden/", Owner: tc.user}
		got := occi.CloneMixin(tc.m)
		got.Attributes = nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s's template saved as golden (-want +got):\n%s", tc.user, diff)
		}
	}
	if image(am) == image(bm) {
		t.Fatalf("alice's and bob's templates have one image %s", image(am))
	}
	for _, m := range []*occi.Mixin{am, bm} {
		if !simHasTemplate(t, f.sim, image(m)) {
			t.Errorf("the backend has no image %s for %s", image(m), m.ID)
		}
		eventually(t, m.ID.String()+" to be ready", func() bool {
			c := ctx
			if m.Owner == "bob" {
				c = bobCtx
			}
			mm := discovered(t, f.eng, c, m.ID)
			return mm != nil && slices.ContainsFunc(mm.Attributes, func(a occi.AttributeDef) bool {
				return a.Name == engine.AttrTemplateState && a.Default == backend.TemplateReady
			})
		})
	}

	type user struct {
		name  string
		ctx   context.Context
		mine  *occi.Mixin
		other *occi.Mixin
		boots int
	}
	users := []user{{"alice", ctx, am, bm, aBoots}, {"bob", bobCtx, bm, am, bBoots}}
	// isolated checks what each user sees of both templates through e.
	isolated := func(t *testing.T, e *engine.Engine) {
		for _, u := range users {
			t.Run(u.name, func(t *testing.T) {
				if discovered(t, e, u.ctx, u.mine.ID) == nil {
					t.Errorf("%s is not in its owner's discovery", u.mine.ID)
				}
				if discovered(t, e, u.ctx, u.other.ID) != nil {
					t.Errorf("%s is in %s's discovery", u.other.ID, u.name)
				}
				_, err := e.Discover(u.ctx, []occi.CategoryID{u.other.ID})
				wantCode(t, err, occi.NotFound)
				got, err := e.Resolve(u.ctx, u.mine.Location)
				mustOK(t, err)
				if got.Type != occi.TargetMixinCollection || got.Category != u.mine.ID {
					t.Errorf("Resolve(%s): got %+v, want the collection of %s", u.mine.Location, got, u.mine.ID)
				}
				_, err = e.Resolve(u.ctx, u.other.Location)
				wantCode(t, err, occi.NotFound)
				made, err := e.Create(u.ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{u.mine.ID}})
				mustOK(t, err)
				if boots, _ := f.sim.Disk(made.Location); boots != u.boots {
					t.Errorf("a compute from %s has a disk booted %d times, want %d (the image of %s's compute)", u.mine.ID, boots, u.boots, u.name)
				}
				members, err := e.List(u.ctx, occi.ListQuery{Collection: "/os_tpl/"})
				mustOK(t, err)
				if !slices.ContainsFunc(members, func(x *occi.Entity) bool { return x.Location == made.Location }) {
					t.Errorf("the os_tpl collection lacks %s, made from %s", made.Location, u.mine.ID)
				}
				_, err = e.Create(u.ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{u.other.ID}})
				wantCode(t, err, occi.NotFound, u.other.ID.String())
				wantCode(t, e.DeleteMixin(u.ctx, u.other.ID), occi.NotFound)
			})
		}
	}
	t.Run("isolated", func(t *testing.T) { isolated(t, f.eng) })

	// A second process on the same store whose driver does not know who
	// saved what finds both templates under their owners' ids.
	replica, err := engine.New(engine.Config{Store: f.store, Driver: ownerless{f.sim}, ObserveInterval: -1})
	mustOK(t, err)
	t.Cleanup(func() { replica.Close() })
	t.Run("isolated through a replica with an ownerless driver", func(t *testing.T) { isolated(t, replica) })

	// A restart: a new engine on the same store and backend.
	f.eng.Close()
	restarted, err := engine.New(engine.Config{Store: f.store, Driver: f.sim, ObserveInterval: -1})
	mustOK(t, err)
	t.Cleanup(func() { restarted.Close() })
	t.Run("isolated after a restart", func(t *testing.T) { isolated(t, restarted) })

	t.Run("own names only make a term unique", func(t *testing.T) {
		again := saveAs(t, restarted, ctx, ac.Location, "golden")
		if again.ID.Term != "golden-2" {
			t.Errorf("alice's second save as golden: got term %q, want golden-2", again.ID.Term)
		}
		carol := occi.WithIdentity(context.Background(), occi.Identity{User: "carol"})
		cc, err := restarted.Create(carol, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{p}})
		mustOK(t, err)
		_, err = restarted.Invoke(carol, cc.Location, &occi.ActionInvocation{Action: infra.ActionStart})
		mustOK(t, err)
		if cm := saveAs(t, restarted, carol, cc.Location, "golden"); cm.ID.Term != "golden" {
			t.Errorf("carol's first save as golden: got term %q, want golden", cm.ID.Term)
		}
	})
	t.Run("independent deletion", func(t *testing.T) {
		eventually(t, "alice's template to be deletable", func() bool { return restarted.DeleteMixin(ctx, am.ID) == nil })
		if simHasTemplate(t, f.sim, image(am)) {
			t.Errorf("the backend still holds alice's image %s", image(am))
		}
		if !simHasTemplate(t, f.sim, image(bm)) {
			t.Errorf("deleting alice's template removed bob's image %s", image(bm))
		}
		for _, e := range []*engine.Engine{restarted, replica} {
			if discovered(t, e, ctx, am.ID) != nil {
				t.Errorf("alice's deleted %s is still in her discovery", am.ID)
			}
			if discovered(t, e, bobCtx, bm.ID) == nil {
				t.Errorf("bob's %s left his discovery when alice deleted hers", bm.ID)
			}
			_, err := e.Create(bobCtx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{bm.ID}})
			mustOK(t, err)
		}
		mustOK(t, replica.DeleteMixin(bobCtx, bm.ID))
		if simHasTemplate(t, f.sim, image(bm)) {
			t.Errorf("the backend still holds bob's image %s", image(bm))
		}
		if discovered(t, restarted, bobCtx, bm.ID) != nil {
			t.Errorf("bob's deleted %s is still in his discovery through the other process", bm.ID)
		}
	})
}

// TestSavedTemplateOfUnusualUser checks that a user name that is not a
// path segment is escaped in the saved template's scheme and location, as
// in the user's tags.
func TestSavedTemplateOfUnusualUser(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	odd := occi.WithIdentity(context.Background(), occi.Identity{User: "dave/ops x"})
	c, err := f.eng.Create(odd, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{providerOSTemplate(t, f.eng)}})
	mustOK(t, err)
	_, err = f.eng.Invoke(odd, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	mustOK(t, err)
	m := saveAs(t, f.eng, odd, c.Location, "golden")
	tag, err := f.eng.DefineMixin(odd, &occi.Mixin{ID: occi.CategoryID{Term: "t"}})
	mustOK(t, err)
	if want := strings.Replace(tag.ID.Scheme, "/tags#", "/os_tpl#", 1); m.ID.Scheme != want {
		t.Errorf("scheme: got %s, want %s (as the user's tag scheme %s)", m.ID.Scheme, want, tag.ID.Scheme)
	}
	if want := strings.Replace(tag.Location, "/tags/t/", "/os_tpl/golden/", 1); m.Location != want {
		t.Errorf("location: got %s, want %s (as the user's tag location %s)", m.Location, want, tag.Location)
	}
	got, err := f.eng.Resolve(odd, m.Location)
	mustOK(t, err)
	if got.Category != m.ID {
		t.Errorf("Resolve(%s): got %+v, want the collection of %s", m.Location, got, m.ID)
	}
	eventually(t, "a compute from the template", func() bool {
		_, err := f.eng.Create(odd, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
		return err == nil
	})
}

// TestSavedTemplateFromEarlierVersion checks that a template saved by an
// earlier version (in the provider's os_tpl scheme, the term being the
// driver's name) keeps its id and stays its owner's only.
func TestSavedTemplateFromEarlierVersion(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	c := f.compute(t, providerOSTemplate(t, f.eng))
	f.start(t, c.Location)
	g, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	_, err = f.sim.Save(ctx, backend.SaveRequest{Entity: g, Method: "hot", Name: "oldgolden", Title: "old golden"}, func(backend.Observation) {})
	mustOK(t, err)
	old := &occi.Mixin{ID: occi.CategoryID{Scheme: engine.DefaultProviderScheme + "os_tpl#", Term: "oldgolden"}, Title: "old golden",
		Depends: []occi.CategoryID{infra.OSTemplate}, Applies: []occi.CategoryID{infra.Compute}, Location: "/os_tpl/oldgolden/", Owner: "alice"}
	mustOK(t, f.store.Write(ctx, store.Mutation{PutMixin: old, Expect: store.AnyRevision}))
	f.eng.Close()
	e, err := engine.New(engine.Config{Store: f.store, Driver: ownerless{f.sim}})
	mustOK(t, err)
	t.Cleanup(func() { e.Close() })

	got := discovered(t, e, ctx, old.ID)
	if got == nil || got.Owner != "alice" || got.Location != old.Location {
		t.Fatalf("alice's template of an earlier version: got %+v, want %s owned by alice at %s", got, old.ID, old.Location)
	}
	if discovered(t, e, bobCtx, old.ID) != nil {
		t.Errorf("alice's template of an earlier version is in bob's discovery")
	}
	_, err = e.Create(bobCtx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{old.ID}})
	wantCode(t, err, occi.NotFound)
	_, err = e.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{old.ID}})
	mustOK(t, err)
	mustOK(t, e.DeleteMixin(ctx, old.ID))
	if simHasTemplate(t, f.sim, "oldgolden") {
		t.Errorf("the backend still holds the image oldgolden after its template was deleted")
	}
}

// pausedSave is the sim whose Save, once the image exists, waits for
// release before it returns, as a driver that reports a save in progress.
type pausedSave struct {
	backend.Driver
	saved, release chan struct{}
}

func (d pausedSave) Save(ctx context.Context, req backend.SaveRequest, progress backend.ProgressFunc) (backend.Template, error) {
	t, err := d.Driver.Save(ctx, req, progress)
	d.saved <- struct{}{}
	<-d.release
	return t, err
}

// TestSavedTemplateRecordedBeforeTheDriverMakesIt checks that a template
// being saved is never seen without its owner: through a second process
// whose driver does not know owners, bob sees nothing of alice's template
// while the driver is still making it, and a failed save leaves nothing.
func TestSavedTemplateRecordedBeforeTheDriverMakesIt(t *testing.T) {
	saved, release := make(chan struct{}), make(chan struct{})
	f := newFixture(t, 0, func(d *simbackend.Driver) backend.Driver { return pausedSave{d, saved, release} }, engine.Config{})
	unpause := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unpause) // before the fixture's, should the test stop early
	c := f.compute(t, providerOSTemplate(t, f.eng))
	f.start(t, c.Location)

	done := make(chan *occi.Mixin, 1)
	go func() {
		res, err := f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionSave, Attributes: occi.Attributes{"method": "hot", "name": "golden"}})
		if err != nil || res.Mixin == nil {
			t.Errorf("save: got %v, want the new template", err)
			done <- nil
			return
		}
		done <- res.Mixin
	}()
	<-saved
	// The other process reads the driver's templates while the save runs.
	replica, err := engine.New(engine.Config{Store: f.store, Driver: ownerless{f.sim}})
	mustOK(t, err)
	t.Cleanup(func() { replica.Close() })
	id := occi.CategoryID{Scheme: engine.DefaultProviderScheme + "users/alice/os_tpl#", Term: "golden"}
	d, err := replica.Discover(bobCtx, nil)
	mustOK(t, err)
	for _, m := range d.Mixins {
		if strings.Contains(m.ID.Term, "golden") {
			t.Errorf("while alice's save runs, bob's discovery holds %s", m.ID)
		}
	}
	if m := discovered(t, replica, ctx, id); m == nil || m.Owner != "alice" {
		t.Errorf("while the save runs, alice's discovery through the other process: got %+v, want %s", m, id)
	}
	_, err = f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{id}})
	wantCode(t, err, occi.FailedPrecondition, "still being saved")
	wantCode(t, f.eng.DeleteMixin(ctx, id), occi.FailedPrecondition, "still being saved")
	unpause()
	if m := <-done; m != nil && m.ID != id {
		t.Errorf("saved template: got %s, want %s", m.ID, id)
	}

	t.Run("failed save", func(t *testing.T) {
		f := newFixture(t, 0, nil, engine.Config{})
		c := f.compute(t, providerOSTemplate(t, f.eng))
		f.start(t, c.Location)
		f.sim.FailNext("save", occi.Errorf(occi.Unavailable, "image store down"))
		_, err := f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionSave, Attributes: occi.Attributes{"method": "hot", "name": "golden"}})
		wantCode(t, err, occi.Unavailable)
		if discovered(t, f.eng, ctx, id) != nil {
			t.Errorf("%s is in discovery after its save failed", id)
		}
		if m := saveAs(t, f.eng, ctx, c.Location, "golden"); m.ID != id {
			t.Errorf("save after a failed one: got %s, want %s", m.ID, id)
		}
	})
}

// TestIndirectMembersAreNotSilentlyKept checks that a change of a mixin
// collection's direct membership that would leave in it an entity that is
// a member only through another mixin (a compute in /os_tpl/ through its OS
// template) is refused, naming the collection to change instead, rather
// than answered as done while nothing changed.
func TestIndirectMembersAreNotSilentlyKept(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: -1})
	tpl := providerOSTemplate(t, f.eng)
	c := f.compute(t, tpl)
	m, ok := f.eng.Model().Mixin(tpl)
	if !ok {
		t.Fatalf("%s is not in the model", tpl)
	}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"dissociate every member", func() error { return f.eng.Dissociate(ctx, "/os_tpl/", nil) }},
		{"dissociate the compute", func() error { return f.eng.Dissociate(ctx, "/os_tpl/", []string{c.Location}) }},
		{"replace the members by none", func() error { _, err := f.eng.ReplaceMembers(ctx, "/os_tpl/", nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.run(), occi.FailedPrecondition, c.Location, m.Location)
			got, err := f.eng.Get(ctx, c.Location)
			mustOK(t, err)
			if !got.HasMixin(tpl) {
				t.Errorf("%s lost %s", c.Location, tpl)
			}
		})
	}
	// Keeping the indirect member, or associating it, is fine and changes
	// nothing: it is a member already.
	before, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	members, err := f.eng.ReplaceMembers(ctx, "/os_tpl/", []string{c.Location})
	mustOK(t, err)
	if len(members) != 1 || members[0].Location != c.Location {
		t.Errorf("members of /os_tpl/ after a replace that keeps them: %v", members)
	}
	_, err = f.eng.Associate(ctx, "/os_tpl/", []string{c.Location})
	mustOK(t, err)
	after, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if after.Revision != before.Revision || !slices.Equal(after.Mixins, before.Mixins) {
		t.Errorf("keeping an indirect member changed it: revision %d -> %d, mixins %v -> %v", before.Revision, after.Revision, before.Mixins, after.Mixins)
	}
}

// TestSaveByOddUserNames: a user whose name is not a plain path segment
// ("..", one with '/', '%' or '#') saves a template like anyone: the
// template gets a scheme and location of that user's own, is in the
// user's discovery, and a new compute is made from it.
func TestSaveByOddUserNames(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: -1})
	p := providerOSTemplate(t, f.eng)
	for _, name := range []string{"..", "a/b", "a%2Fb", "alice#x"} {
		uc := occi.WithIdentity(context.Background(), occi.Identity{User: name})
		c, err := f.eng.Create(uc, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{p}})
		mustOK(t, err)
		_, err = f.eng.Invoke(uc, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
		mustOK(t, err)
		m := saveAs(t, f.eng, uc, c.Location, "img")
		if !strings.HasPrefix(m.Location, "/users/~") || !strings.HasPrefix(m.ID.Scheme, engine.DefaultProviderScheme+"users/~") {
			t.Errorf("user %q: saved template %s at %s, want both under users/~<hex>", name, m.ID, m.Location)
		}
		if discovered(t, f.eng, uc, m.ID) == nil {
			t.Errorf("user %q: the saved template %s is not in the user's discovery", name, m.ID)
		}
		if discovered(t, f.eng, ctx, m.ID) != nil {
			t.Errorf("user %q: the saved template %s is in alice's discovery", name, m.ID)
		}
	}
}

// TestTwoTemplatesRefusedInAnyOrder: a partial update that names two OS
// templates is refused whichever comes first and whether one of them is
// the compute's already; the bare base os_tpl is no template to give.
func TestTwoTemplatesRefusedInAnyOrder(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: -1})
	p := providerOSTemplate(t, f.eng)
	c := f.compute(t, p)
	active := f.compute(t)
	f.start(t, active.Location)
	other := saveAs(t, f.eng, ctx, active.Location, "other")
	for _, order := range [][]occi.CategoryID{{other.ID, p}, {p, other.ID}} {
		_, err := f.eng.Update(ctx, c.Location, &occi.Entity{Mixins: order})
		wantCode(t, err, occi.InvalidArgument, "both os_tpl templates")
	}
	got, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if !slices.Contains(got.Mixins, p) || slices.Contains(got.Mixins, other.ID) {
		t.Errorf("after two refused updates the compute's mixins are %v, want %s kept", got.Mixins, p)
	}
	_, err = f.eng.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{infra.OSTemplate}})
	wantCode(t, err, occi.InvalidArgument, "base")
	// A compute with a template is a member of /os_tpl/ already; one
	// without cannot become one by the base alone.
	_, err = f.eng.Associate(ctx, "/os_tpl/", []string{c.Location})
	mustOK(t, err)
	_, err = f.eng.Associate(ctx, "/os_tpl/", []string{active.Location})
	wantCode(t, err, occi.InvalidArgument, "base")
	_, err = f.eng.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{other.ID}})
	mustOK(t, err)
}

package occitest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

func testUserMixins(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	def := h.tag(t, svc, "alice", "web")
	def.Title = "web servers"
	tag := must(svc.DefineMixin(ctx, def))(t)
	scheme := tag.ID.Scheme
	mk := func(term string) occi.CategoryID { return occi.CategoryID{Scheme: scheme, Term: term} }

	run(t, "assigned location", func(t T) {
		if tag.ID != def.ID || tag.Title != "web servers" {
			t.Errorf("tag: got %s titled %q, want %s titled %q", tag.ID, tag.Title, def.ID, "web servers")
		}
		if !strings.HasPrefix(tag.Location, h.tagPrefix("alice")) || !strings.HasSuffix(tag.Location, "/") {
			t.Errorf("location: got %q, want a per-user collection path", tag.Location)
		}
		got := must(svc.Resolve(ctx, tag.Location))(t)
		if got.Type != occi.TargetMixinCollection || got.Category != tag.ID {
			t.Errorf("Resolve(%s): got %+v, want the mixin collection of %s", tag.Location, got, tag.ID)
		}
	})
	run(t, "discovery", func(t T) {
		if findMixin(must(svc.Discover(ctx, nil))(t), tag.ID) == nil {
			t.Errorf("alice's tag is not in her discovery")
		}
		if findMixin(must(svc.Discover(bob(), nil))(t), tag.ID) != nil {
			t.Errorf("alice's tag is in bob's discovery")
		}
	})
	run(t, "explicit scheme and location", func(t T) {
		m := must(svc.DefineMixin(ctx, &occi.Mixin{ID: mk("db"), Location: strings.TrimSuffix(tag.Location, "web/") + "databases/"}))(t)
		if !strings.HasSuffix(m.Location, "/databases/") {
			t.Errorf("location: got %q, want the one given", m.Location)
		}
	})
	run(t, "depends on a tag", func(t T) {
		sub := must(svc.DefineMixin(ctx, &occi.Mixin{ID: mk("frontweb"), Depends: []occi.CategoryID{tag.ID}}))(t)
		c := mkCompute(t, svc, ctx, sub.ID)
		got := must(svc.List(ctx, occi.ListQuery{Collection: tag.Location}))(t)
		if !slices.Contains(locations(got), c.Location) {
			t.Errorf("collection of %s: got %v, want %s, which carries %s that depends on it", tag.ID, locations(got), c.Location, sub.ID)
		}
	})
	prefix := strings.TrimSuffix(tag.Location, "web/")
	for _, tc := range []struct {
		name string
		m    *occi.Mixin
		code occi.Code
	}{
		{"attributes", &occi.Mixin{ID: mk("a1"), Attributes: []occi.AttributeDef{{Name: "com.example.x"}}}, occi.InvalidArgument},
		{"actions", &occi.Mixin{ID: mk("a2"), Actions: []occi.CategoryID{aStart}}, occi.InvalidArgument},
		{"bad term", &occi.Mixin{ID: mk("-x")}, occi.InvalidArgument},
		{"foreign scheme", &occi.Mixin{ID: occi.CategoryID{Scheme: "http://example.com/mine#", Term: "mine"}}, occi.InvalidArgument},
		{"other scheme", &occi.Mixin{ID: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "mine"}}, occi.InvalidArgument},
		{"bob's scheme", &occi.Mixin{ID: occi.CategoryID{Scheme: h.tag(t, svc, "bob", "mine").ID.Scheme, Term: "mine"}}, occi.InvalidArgument},
		{"kind location", &occi.Mixin{ID: mk("a3"), Location: "/compute/"}, occi.InvalidArgument},
		{"dot dot", &occi.Mixin{ID: mk("a4"), Location: prefix + "../../compute/"}, occi.InvalidArgument},
		{"double slash", &occi.Mixin{ID: mk("a5"), Location: prefix + "a//b/"}, occi.InvalidArgument},
		{"query", &occi.Mixin{ID: mk("a6"), Location: prefix + "a?b/"}, occi.InvalidArgument},
		{"no trailing slash", &occi.Mixin{ID: mk("a7"), Location: prefix + "a7"}, occi.InvalidArgument},
		{"same id", &occi.Mixin{ID: mk("web"), Location: prefix + "web2/"}, occi.AlreadyExists},
		{"same location", &occi.Mixin{ID: mk("web3"), Location: tag.Location}, occi.AlreadyExists},
		{"unknown dependency", &occi.Mixin{ID: mk("a8"), Depends: []occi.CategoryID{{Scheme: "http://example.com/#", Term: "x"}}}, occi.NotFound},
	} {
		run(t, tc.name, func(t T) {
			_, err := svc.DefineMixin(ctx, tc.m)
			wantCode(t, err, tc.code)
		})
	}
	run(t, "same term for another user", func(t T) {
		m := must(svc.DefineMixin(bob(), h.tag(t, svc, "bob", "web")))(t)
		if m.ID == tag.ID || m.Location == tag.Location {
			t.Errorf("bob's tag %s at %s collides with alice's", m.ID, m.Location)
		}
	})
	run(t, "delete", func(t T) {
		m := must(svc.DefineMixin(ctx, &occi.Mixin{ID: mk("temp")}))(t)
		c := mkCompute(t, svc, ctx, m.ID)
		n := mkNetwork(t, svc, ctx)
		must(svc.Associate(ctx, m.Location, []string{n.Location}))(t)
		wantCode(t, svc.DeleteMixin(bob(), m.ID), occi.NotFound)
		ok(t, svc.DeleteMixin(ctx, m.ID))
		for _, loc := range []string{c.Location, n.Location} {
			if g := must(svc.Get(ctx, loc))(t); g.HasMixin(m.ID) {
				t.Errorf("%s still carries the deleted mixin %s", loc, m.ID)
			}
		}
		_, err := svc.Resolve(ctx, m.Location)
		wantCode(t, err, occi.NotFound)
		wantCode(t, svc.DeleteMixin(ctx, m.ID), occi.NotFound)
		if findMixin(must(svc.Discover(ctx, nil))(t), m.ID) != nil {
			t.Errorf("a deleted mixin is still in discovery")
		}
	})
	run(t, "delete provider mixin", func(t T) {
		wantCode(t, svc.DeleteMixin(ctx, mSSHKey), occi.PermissionDenied, mSSHKey.String())
		os, _ := h.templates(t, svc, ctx)
		wantCode(t, svc.DeleteMixin(ctx, os[0].ID), occi.PermissionDenied)
		wantCode(t, svc.DeleteMixin(ctx, occi.CategoryID{Scheme: "http://example.com/#", Term: "none"}), occi.NotFound)
	})
}

func testMixinCollections(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	tag := must(svc.DefineMixin(ctx, h.tag(t, svc, "alice", "group")))(t)
	c1, c2, c3 := mkCompute(t, svc, ctx), mkCompute(t, svc, ctx), mkCompute(t, svc, ctx)
	n := mkNetwork(t, svc, ctx)

	got := must(svc.Associate(ctx, tag.Location, []string{c1.Location, n.Location}))(t)
	if diff := cmp.Diff(sorted(c1.Location, n.Location), locations(got)); diff != "" {
		t.Errorf("after associate (-want +got):\n%s", diff)
	}
	if g := must(svc.Get(ctx, c1.Location))(t); !g.HasMixin(tag.ID) {
		t.Errorf("%s does not carry %s after associate", c1.Location, tag.ID)
	}
	got = must(svc.Associate(ctx, tag.Location, []string{c1.Location, c2.Location}))(t)
	if diff := cmp.Diff(sorted(c1.Location, c2.Location, n.Location), locations(got)); diff != "" {
		t.Errorf("after a second associate (-want +got):\n%s", diff)
	}
	got = must(svc.ReplaceMembers(ctx, tag.Location, []string{c3.Location, n.Location}))(t)
	if diff := cmp.Diff(sorted(c3.Location, n.Location), locations(got)); diff != "" {
		t.Errorf("after replace (-want +got):\n%s", diff)
	}
	if g := must(svc.Get(ctx, c1.Location))(t); g.HasMixin(tag.ID) {
		t.Errorf("%s still carries %s after being replaced out", c1.Location, tag.ID)
	}
	ok(t, svc.Dissociate(ctx, tag.Location, []string{n.Location}))
	got = must(svc.List(ctx, occi.ListQuery{Collection: tag.Location}))(t)
	if diff := cmp.Diff([]string{c3.Location}, locations(got)); diff != "" {
		t.Errorf("after dissociate (-want +got):\n%s", diff)
	}
	must(svc.Get(ctx, n.Location))(t) // still exists
	ok(t, svc.Dissociate(ctx, tag.Location, nil))
	got = must(svc.List(ctx, occi.ListQuery{Collection: tag.Location}))(t)
	if got == nil || len(got) != 0 {
		t.Errorf("after dissociating all: got %v, want an empty, non-nil list", got)
	}
	must(svc.Get(ctx, c3.Location))(t)

	run(t, "delete all on mixin collection dissociates", func(t T) {
		must(svc.Associate(ctx, tag.Location, []string{c1.Location}))(t)
		ok(t, svc.DeleteAll(ctx, tag.Location))
		if g := must(svc.Get(ctx, c1.Location))(t); g.HasMixin(tag.ID) {
			t.Errorf("%s still carries %s", c1.Location, tag.ID)
		}
	})
	run(t, "provider mixin", func(t T) {
		_, err := svc.Associate(ctx, "/ssh_key/", []string{c1.Location})
		wantCode(t, err, occi.InvalidArgument, "occi.credentials.ssh.publickey")
		_, err = svc.Associate(ctx, "/ipnetwork/", []string{c1.Location})
		wantCode(t, err, occi.InvalidArgument, mIPNetwork.String())
	})
	run(t, "resource template through its collection", func(t T) {
		_, res := h.templates(t, svc, ctx)
		got := must(svc.Associate(ctx, res[0].Location, []string{c2.Location}))(t)
		if !slices.Contains(locations(got), c2.Location) {
			t.Errorf("membership of %s: got %v, want %s", res[0].Location, locations(got), c2.Location)
		}
		must(svc.Associate(ctx, res[1].Location, []string{c2.Location}))(t)
		g := must(svc.Get(ctx, c2.Location))(t)
		if g.HasMixin(res[0].ID) || !g.HasMixin(res[1].ID) {
			t.Errorf("mixins: got %v, want %s to replace %s", g.Mixins, res[1].ID, res[0].ID)
		}
	})
	for _, tc := range []struct {
		name string
		f    func() error
		code occi.Code
	}{
		{"associate to a kind collection", func() error { _, err := svc.Associate(ctx, "/compute/", []string{c1.Location}); return err }, occi.MethodNotAllowed},
		{"associate to nowhere", func() error { _, err := svc.Associate(ctx, "/nothing/", []string{c1.Location}); return err }, occi.NotFound},
		{"associate a missing entity", func() error { _, err := svc.Associate(ctx, tag.Location, []string{"/compute/none"}); return err }, occi.NotFound},
		{"associate another tenant's entity", func() error {
			o := mkCompute(t, svc, bob())
			_, err := svc.Associate(ctx, tag.Location, []string{o.Location})
			return err
		}, occi.NotFound},
		{"replace on a kind collection", func() error { _, err := svc.ReplaceMembers(ctx, "/network/", nil); return err }, occi.MethodNotAllowed},
		{"dissociate a non-member", func() error { return svc.Dissociate(ctx, tag.Location, []string{c2.Location}) }, occi.NotFound},
		{"bob uses alice's tag", func() error { _, err := svc.Associate(bob(), tag.Location, nil); return err }, occi.NotFound},
	} {
		run(t, tc.name, func(t T) {
			if tc.code == occi.MethodNotAllowed {
				// Over HTTP, POST to a kind collection is a create.
				wantCodeIn(t, tc.f(), occi.MethodNotAllowed, occi.InvalidArgument)
				return
			}
			wantCode(t, tc.f(), tc.code)
		})
	}
}

func testActions(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	c := mkCompute(t, svc, ctx)

	steps := []struct {
		action occi.CategoryID
		params occi.Attributes
		state  string
		can    []occi.CategoryID
		cannot []occi.CategoryID
	}{
		{aStart, nil, "active", []occi.CategoryID{aStop, aRestart, aSuspend, aSave}, []occi.CategoryID{aStart}},
		{aSuspend, occi.Attributes{"method": "suspend"}, "suspended", []occi.CategoryID{aStart}, []occi.CategoryID{aSuspend, aSave, aRestart}},
		{aStart, nil, "active", nil, nil},
		{aRestart, occi.Attributes{"method": "warm"}, "active", nil, nil},
		{aRestart, nil, "active", nil, nil},
		{aStop, nil, "inactive", []occi.CategoryID{aStart}, []occi.CategoryID{aStop, aSave}},
		{aStart, nil, "active", nil, nil},
		{aStop, occi.Attributes{"method": "poweroff"}, "inactive", nil, nil},
	}
	for i, s := range steps {
		res := invoke(t, svc, ctx, c.Location, s.action, s.params)
		if res.Entity == nil {
			t.Fatalf("step %d (%s): no entity in the result", i, s.action.Term)
		}
		if got := state(res.Entity); got != s.state {
			t.Errorf("step %d (%s): state %q, want %q", i, s.action.Term, got, s.state)
		}
		g := must(svc.Get(ctx, c.Location))(t)
		if got := state(g); got != s.state {
			t.Errorf("step %d (%s): Get shows state %q, want %q", i, s.action.Term, got, s.state)
		}
		for _, a := range s.can {
			if !hasAction(g, a) {
				t.Errorf("step %d (%s): %s is not offered in state %s (actions %v)", i, s.action.Term, a.Term, s.state, g.Actions)
			}
		}
		for _, a := range s.cannot {
			if hasAction(g, a) {
				t.Errorf("step %d (%s): %s is offered in state %s", i, s.action.Term, a.Term, s.state)
			}
		}
	}
	n := mkNetwork(t, svc, ctx)
	if got := state(invoke(t, svc, ctx, n.Location, aUp, nil).Entity); got != "active" {
		t.Errorf("network after up: %q, want active", got)
	}
	if got := state(invoke(t, svc, ctx, n.Location, aDown, nil).Entity); got != "inactive" {
		t.Errorf("network after down: %q, want inactive", got)
	}
	s := mkStorage(t, svc, ctx, 2)
	if got := state(invoke(t, svc, ctx, s.Location, aOnline, nil).Entity); got != "online" {
		t.Errorf("storage after online: %q, want online", got)
	}
	if got := state(invoke(t, svc, ctx, s.Location, aOffline, nil).Entity); got != "offline" {
		t.Errorf("storage after offline: %q, want offline", got)
	}
	for _, tc := range []struct {
		name     string
		loc      string
		inv      *occi.ActionInvocation
		code     occi.Code
		mentions []string
	}{
		{"wrong state", c.Location, &occi.ActionInvocation{Action: aStop}, occi.FailedPrecondition, []string{"inactive"}},
		{"suspend when inactive", c.Location, &occi.ActionInvocation{Action: aSuspend}, occi.FailedPrecondition, []string{"inactive"}},
		{"storage already offline", s.Location, &occi.ActionInvocation{Action: aOffline}, occi.FailedPrecondition, []string{"offline"}},
		{"unknown method", c.Location, &occi.ActionInvocation{Action: aStart, Attributes: occi.Attributes{"method": "now"}}, occi.InvalidArgument, []string{"method"}},
		{"bad stop method", c.Location, &occi.ActionInvocation{Action: aStop, Attributes: occi.Attributes{"method": "yank"}}, occi.InvalidArgument, []string{"method"}},
		{"unknown parameter", c.Location, &occi.ActionInvocation{Action: aStart, Attributes: occi.Attributes{"force": true}}, occi.InvalidArgument, []string{"force"}},
		{"action of another kind", c.Location, &occi.ActionInvocation{Action: aUp}, occi.InvalidArgument, []string{aUp.String()}},
		{"unknown action", c.Location, &occi.ActionInvocation{Action: occi.CategoryID{Scheme: computeAction, Term: "explode"}}, occi.NotFound, []string{"explode"}},
		{"no action", c.Location, &occi.ActionInvocation{}, occi.InvalidArgument, nil},
		{"missing entity", "/compute/none", &occi.ActionInvocation{Action: aStart}, occi.NotFound, nil},
	} {
		run(t, tc.name, func(t T) {
			_, err := svc.Invoke(ctx, tc.loc, tc.inv)
			wantCode(t, err, tc.code, tc.mentions...)
		})
	}
	run(t, "stop method invalid in active state", func(t T) {
		invoke(t, svc, ctx, c.Location, aStart, nil)
		_, err := svc.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: aStop, Attributes: occi.Attributes{"method": "yank"}})
		wantCode(t, err, occi.InvalidArgument, "method")
		if g := must(svc.Get(ctx, c.Location))(t); state(g) != "active" {
			t.Errorf("a refused stop changed the state to %q", state(g))
		}
	})
}

// templateState returns the readiness attribute of a saved template in
// discovery and whether the rendering carries it.
func templateState(d *occi.Discovery, id occi.CategoryID) (string, bool) {
	m := findMixin(d, id)
	if m == nil {
		return "", false
	}
	for _, a := range m.Attributes {
		if strings.HasSuffix(a.Name, ".template.state") && a.Default != nil {
			s, _ := a.Default.(string)
			return s, true
		}
	}
	return "", false
}

func testSave(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	os, _ := h.templates(t, svc, ctx)
	c := mkCompute(t, svc, ctx, os[0].ID)
	_, err := svc.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: aSave})
	wantCode(t, err, occi.FailedPrecondition, "inactive")
	invoke(t, svc, ctx, c.Location, aStart, nil)

	var saved *occi.Mixin
	var fromSaved *occi.Entity // a compute created from saved
	run(t, "hot", func(t T) {
		res := invoke(t, svc, ctx, c.Location, aSave, occi.Attributes{"method": "hot", "name": "My Web Server"})
		m := res.Mixin
		if m == nil {
			t.Fatalf("save returned no mixin")
		}
		saved = m
		if !slices.Contains(m.Depends, mOSTpl) {
			t.Errorf("depends: got %v, want %s", m.Depends, mOSTpl)
		}
		if !appliesTo(m, kCompute) {
			t.Errorf("applies: got %v, want %s", m.Applies, kCompute)
		}
		if m.Title != "My Web Server" {
			t.Errorf("title: got %q, want the name given", m.Title)
		}
		if !occi.ValidTerm(m.ID.Term) || m.Location == "" {
			t.Errorf("term %q / location %q: want a valid term and a location", m.ID.Term, m.Location)
		}
		src, rendered := false, false
		for _, a := range m.Attributes {
			if strings.HasSuffix(a.Name, ".template.source") {
				rendered = a.Default != nil
				src = a.Default == c.Location
			}
		}
		if rendered && !src {
			t.Errorf("the saved template has no attribute referencing its source %s: %+v", c.Location, m.Attributes)
		}
		g := must(svc.Get(ctx, c.Location))(t)
		if state(g) != "active" {
			t.Errorf("compute after a hot save: %q, want active", state(g))
		}
		d := must(svc.Discover(ctx, nil))(t)
		if findMixin(d, m.ID) == nil {
			t.Fatalf("the saved template is not in discovery")
		}
		if findMixin(must(svc.Discover(bob(), nil))(t), m.ID) != nil {
			t.Errorf("alice's saved template is in bob's discovery")
		}
		if _, err := svc.Resolve(ctx, m.Location); err != nil {
			t.Errorf("Resolve(%s): %v", m.Location, err)
		}
		// Create from it: refused clearly while saving, fine once ready.
		var made *occi.Entity
		eventually(t, "a compute created from the saved template", func() bool {
			e, err := svc.Create(ctx, "/compute/", compute(m.ID))
			if err == nil {
				made = e
				return true
			}
			wantCode(t, err, occi.FailedPrecondition, m.ID.String())
			return false
		})
		fromSaved = made
		if made.HasMixin(os[0].ID) {
			t.Errorf("the new compute carries the source's template too: %v", made.Mixins)
		}
		for k := range made.Attributes {
			if strings.Contains(k, ".template.") {
				t.Errorf("template bookkeeping attribute %s was copied onto %s", k, made.Location)
			}
		}
		if st, has := templateState(must(svc.Discover(ctx, nil))(t), m.ID); has && st != "ready" {
			t.Errorf("template state after a successful create: %q, want ready", st)
		}
		_, err := svc.Create(bob(), "/compute/", compute(m.ID))
		wantCode(t, err, occi.NotFound)
	})
	run(t, "deferred", func(t T) {
		// Watch the compute while the save runs: whatever state message is
		// seen must tell the save chain, and the state must never be error.
		var mu sync.Mutex
		var seen []string
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if g, err := svc.Get(ctx, c.Location); err == nil {
					mu.Lock()
					if m, _ := g.Attributes["occi.compute.state.message"].(string); m != "" {
						seen = append(seen, m)
					}
					if state(g) == "error" {
						seen = append(seen, "ERROR STATE")
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		res := invoke(t, svc, ctx, c.Location, aSave, occi.Attributes{"method": "deferred"})
		close(stop)
		<-watched
		mu.Lock()
		t.Logf("%d state messages seen during the deferred save", len(seen))
		for _, m := range seen {
			if !strings.Contains(strings.ToLower(m), "save") {
				t.Errorf("state message during a deferred save: %q, want it to tell the save chain", m)
				break
			}
		}
		mu.Unlock()
		if res.Mixin == nil || res.Mixin.Title == "" {
			t.Fatalf("save returned %+v, want a mixin with a generated title", res.Mixin)
		}
		if saved != nil && res.Mixin.ID == saved.ID {
			t.Errorf("two saves made the same template %s", saved.ID)
		}
		eventually(t, "the compute to be active again after a deferred save", func() bool {
			return state(must(svc.Get(ctx, c.Location))(t)) == "active"
		})
	})
	run(t, "misspelt deferred", func(t T) {
		res := invoke(t, svc, ctx, c.Location, aSave, occi.Attributes{"method": "deffered", "name": "My Web Server"})
		if saved != nil && res.Mixin.ID == saved.ID {
			t.Errorf("a second save with the same name reused the term %s", saved.ID.Term)
		}
		eventually(t, "the compute to be active again", func() bool {
			return state(must(svc.Get(ctx, c.Location))(t)) == "active"
		})
	})
	run(t, "bad method", func(t T) {
		_, err := svc.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: aSave, Attributes: occi.Attributes{"method": "cold"}})
		wantCode(t, err, occi.InvalidArgument, "method")
	})
	run(t, "delete", func(t T) {
		if saved == nil || fromSaved == nil {
			t.Skip("the hot save failed")
		}
		before := must(svc.Get(ctx, fromSaved.Location))(t)
		wantCode(t, svc.DeleteMixin(bob(), saved.ID), occi.NotFound)
		wantCode(t, svc.DeleteMixin(ctx, os[0].ID), occi.PermissionDenied, os[0].ID.String())
		ok(t, svc.DeleteMixin(ctx, saved.ID))
		if findMixin(must(svc.Discover(ctx, nil))(t), saved.ID) != nil {
			t.Errorf("the deleted saved template %s is still in discovery", saved.ID)
		}
		_, err := svc.Resolve(ctx, saved.Location)
		wantCode(t, err, occi.NotFound)
		_, err = svc.Create(ctx, "/compute/", compute(saved.ID))
		wantCode(t, err, occi.NotFound, saved.ID.String())
		wantCode(t, svc.DeleteMixin(ctx, saved.ID), occi.NotFound)
		// The compute created from it stays as it was, without the template.
		g := must(svc.Get(ctx, fromSaved.Location))(t)
		if g.HasMixin(saved.ID) {
			t.Errorf("%s still carries the deleted template %s", g.Location, saved.ID)
		}
		if state(g) != state(before) {
			t.Errorf("%s after its template was deleted: state %q, want %q as before", g.Location, state(g), state(before))
		}
		if findMixin(must(svc.Discover(ctx, nil))(t), os[0].ID) == nil {
			t.Errorf("the provider template %s left discovery", os[0].ID)
		}
	})
	run(t, "delete while saving", func(t T) {
		// Refused clearly while the copy runs (a backend may finish at
		// once), then deleted once the template is ready. A deferred save
		// before may still be restarting the compute.
		eventually(t, "the compute active again after the deferred saves", func() bool {
			return state(must(svc.Get(ctx, c.Location))(t)) == "active"
		})
		m := invoke(t, svc, ctx, c.Location, aSave, occi.Attributes{"method": "hot", "name": "short lived"}).Mixin
		if m == nil {
			t.Fatalf("save returned no mixin")
		}
		eventually(t, "the deletion of a saved template once it is ready", func() bool {
			err := svc.DeleteMixin(ctx, m.ID)
			if err == nil {
				return true
			}
			wantCode(t, err, occi.FailedPrecondition, m.ID.String())
			return false
		})
		if findMixin(must(svc.Discover(ctx, nil))(t), m.ID) != nil {
			t.Errorf("the deleted saved template %s is still in discovery", m.ID)
		}
	})
}

func testCollections(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	empty := must(svc.List(ctx, occi.ListQuery{Collection: "/network/"}))(t)
	if empty == nil || len(empty) != 0 {
		t.Errorf("empty collection: got %v, want an empty, non-nil list", empty)
	}
	var nets []string
	for i := 0; i < 5; i++ {
		nets = append(nets, mkNetwork(t, svc, ctx).Location)
	}
	slices.Sort(nets)
	c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.cores": int64(3)}}))(t)
	mkCompute(t, svc, ctx)
	mkNetwork(t, svc, bob())

	for _, tc := range []struct {
		page, number int
		want         []string
	}{
		{1, 2, nets[0:2]}, {2, 2, nets[2:4]}, {3, 2, nets[4:5]}, {4, 2, []string{}}, {0, 0, nets}, {1, 5, nets},
	} {
		got := must(svc.List(ctx, occi.ListQuery{Collection: "/network/", Page: tc.page, Number: tc.number}))(t)
		if diff := cmp.Diff(tc.want, locations(got)); diff != "" {
			t.Errorf("page %d of %d (-want +got):\n%s", tc.page, tc.number, diff)
		}
	}
	_, err := svc.List(ctx, occi.ListQuery{Collection: "/network/", Number: 1 << 30})
	wantCode(t, err, occi.TooLarge)
	_, err = svc.List(ctx, occi.ListQuery{Collection: "/nothing/"})
	wantCode(t, err, occi.NotFound)

	res := must(svc.List(ctx, occi.ListQuery{Collection: "/resource/"}))(t)
	if len(res) != 7 {
		t.Errorf("core#resource collection: got %d entities, want 7 (every resource of alice)", len(res))
	}
	all := must(svc.List(ctx, occi.ListQuery{Collection: "/"}))(t)
	if len(all) != 7 {
		t.Errorf("unbound collection /: got %d entities, want 7", len(all))
	}
	got := must(svc.List(ctx, occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.cores": int64(3)}}))(t)
	if diff := cmp.Diff([]string{c.Location}, locations(got)); diff != "" {
		t.Errorf("filter by cores (-want +got):\n%s", diff)
	}
	got = must(svc.List(ctx, occi.ListQuery{Collection: "/resource/", Categories: []occi.CategoryID{kCompute}}))(t)
	if len(got) != 2 {
		t.Errorf("resources filtered by compute: got %d, want 2", len(got))
	}
	got = must(svc.List(ctx, occi.ListQuery{Collection: "/network/", Attributes: occi.Attributes{"occi.network.state": "inactive"}, Number: 2, Page: 3}))(t)
	if diff := cmp.Diff(nets[4:5], locations(got)); diff != "" {
		t.Errorf("filtered page 3 (-want +got):\n%s", diff)
	}

	run(t, "delete all", func(t T) {
		ok(t, svc.DeleteAll(ctx, "/network/"))
		got := must(svc.List(ctx, occi.ListQuery{Collection: "/network/"}))(t)
		if len(got) != 0 {
			t.Errorf("networks after delete all: %v", locations(got))
		}
		if len(must(svc.List(bob(), occi.ListQuery{Collection: "/network/"}))(t)) != 1 {
			t.Errorf("alice's delete-all touched bob's networks")
		}
		if len(must(svc.List(ctx, occi.ListQuery{Collection: "/compute/"}))(t)) != 2 {
			t.Errorf("deleting all networks touched computes")
		}
	})
}

func testInvokeAll(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	n1, n2 := mkNetwork(t, svc, ctx), mkNetwork(t, svc, ctx)
	got := must(svc.InvokeAll(ctx, "/network/", &occi.ActionInvocation{Action: aUp}))(t)
	if len(got) != 2 {
		t.Fatalf("results: got %d, want 2", len(got))
	}
	for _, loc := range []string{n1.Location, n2.Location} {
		if s := state(must(svc.Get(ctx, loc))(t)); s != "active" {
			t.Errorf("%s after up on the collection: %q, want active", loc, s)
		}
	}
	tag := must(svc.DefineMixin(ctx, h.tag(t, svc, "alice", "mixed")))(t)
	c := mkCompute(t, svc, ctx)
	must(svc.Associate(ctx, tag.Location, []string{c.Location, n1.Location}))(t)
	_, err := svc.InvokeAll(ctx, tag.Location, &occi.ActionInvocation{Action: aDown})
	wantCode(t, err, occi.InvalidArgument, c.Location)
	if s := state(must(svc.Get(ctx, n1.Location))(t)); s != "active" {
		t.Errorf("a refused collection action changed %s to %q", n1.Location, s)
	}
	_, err = svc.InvokeAll(ctx, "/network/", &occi.ActionInvocation{Action: aUp})
	wantCode(t, err, occi.FailedPrecondition, "active")
}

func testRevisions(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	c := mkCompute(t, svc, ctx)
	if c.Revision <= 0 {
		t.Fatalf("revision of a new entity: got %d, want > 0", c.Revision)
	}
	stale := occi.WithExpectedRevision(ctx, c.Revision+100)
	_, err := svc.Update(stale, c.Location, &occi.Entity{Title: "x"})
	wantCode(t, err, occi.PreconditionFailed)
	_, _, err = svc.Put(stale, c.Location, &occi.Entity{Kind: kCompute})
	wantCode(t, err, occi.PreconditionFailed)
	_, err = svc.Invoke(stale, c.Location, &occi.ActionInvocation{Action: aStart})
	wantCode(t, err, occi.PreconditionFailed)
	wantCode(t, svc.Delete(stale, c.Location), occi.PreconditionFailed)
	_, _, err = svc.Put(occi.WithExpectedRevision(ctx, 1), "/compute/not-there", &occi.Entity{Kind: kCompute})
	wantCode(t, err, occi.PreconditionFailed)
	// Revision 0 ("If-Match: *") asks only that the entity exist: a PUT
	// then replaces and never creates.
	_, _, err = svc.Put(occi.WithExpectedRevision(ctx, 0), "/compute/not-there", &occi.Entity{Kind: kCompute})
	wantCode(t, err, occi.PreconditionFailed)
	_, err = svc.Get(ctx, "/compute/not-there")
	wantCode(t, err, occi.NotFound)
	anyRev := must(svc.Update(occi.WithExpectedRevision(ctx, 0), c.Location, &occi.Entity{Title: "any"}))(t)
	if anyRev.Title != "any" {
		t.Errorf("update with any revision expected: title %q, want any", anyRev.Title)
	}

	cur := must(svc.Get(ctx, c.Location))(t)
	u := must(svc.Update(occi.WithExpectedRevision(ctx, cur.Revision), c.Location, &occi.Entity{Title: "y"}))(t)
	if u.Revision <= cur.Revision {
		t.Errorf("revision after update: got %d, want more than %d", u.Revision, cur.Revision)
	}
	ok(t, svc.Delete(occi.WithExpectedRevision(ctx, u.Revision), c.Location))
}

func testConcurrency(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	for round := 0; round < 5; round++ {
		c := mkCompute(t, svc, ctx)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: aStart})
			}()
		}
		wg.Wait()
		succeeded := 0
		for _, err := range errs {
			switch occi.ErrorCode(err) {
			case occi.OK:
				succeeded++
			case occi.FailedPrecondition, occi.Conflict:
			default:
				t.Errorf("concurrent start: %v", err)
			}
		}
		if succeeded != 1 {
			t.Errorf("round %d: %d of 4 concurrent starts succeeded, want exactly 1", round, succeeded)
		}
	}
	run(t, "concurrent updates are not lost", func(t T) {
		c := mkCompute(t, svc, ctx)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.Update(ctx, c.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.cores": int64(i + 1)}})
			}()
		}
		wg.Wait()
		g := must(svc.Get(ctx, c.Location))(t)
		v, _ := num(g.Attributes["occi.compute.cores"])
		winner := int(v) - 1
		if winner < 0 || winner >= len(errs) || errs[winner] != nil {
			t.Errorf("final cores %v does not come from a successful update (errors %v)", g.Attributes["occi.compute.cores"], errors.Join(errs...))
		}
	})
}

func testTenancy(t T, h *harness) {
	svc := h.svc(t)
	c := mkCompute(t, svc, alice())
	n := mkNetwork(t, svc, alice())
	b := bob()
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"get", func() error { _, err := svc.Get(b, c.Location); return err }},
		{"update", func() error { _, err := svc.Update(b, c.Location, &occi.Entity{Title: "mine"}); return err }},
		{"put", func() error { _, _, err := svc.Put(b, c.Location, &occi.Entity{Kind: kCompute}); return err }},
		{"delete", func() error { return svc.Delete(b, c.Location) }},
		{"invoke", func() error { _, err := svc.Invoke(b, c.Location, &occi.ActionInvocation{Action: aStart}); return err }},
		{"link from", func() error {
			_, err := svc.Create(b, "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location})
			return err
		}},
		{"inline link to", func() error {
			_, err := svc.Create(b, "/compute/", &occi.Entity{Kind: kCompute, Links: []*occi.Entity{{Kind: kNetIface, Target: n.Location}}})
			return err
		}},
	} {
		run(t, tc.name, func(t T) { wantCode(t, tc.f(), occi.NotFound) })
	}
	tag := must(svc.DefineMixin(alice(), h.tag(t, svc, "alice", "private")))(t)
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"create with the tag", func() error { _, err := svc.Create(b, "/compute/", compute(tag.ID)); return err }},
		{"list the tag", func() error { _, err := svc.List(b, occi.ListQuery{Collection: tag.Location}); return err }},
		{"delete the tag", func() error { return svc.DeleteMixin(b, tag.ID) }},
		{"filter by the tag", func() error {
			_, err := svc.List(b, occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{tag.ID}})
			return err
		}},
	} {
		run(t, tc.name, func(t T) { wantCode(t, tc.f(), occi.NotFound) })
	}
	if got := must(svc.List(b, occi.ListQuery{Collection: "/compute/"}))(t); len(got) != 0 {
		t.Errorf("bob lists alice's computes: %v", locations(got))
	}
	if g := must(svc.Get(alice(), c.Location))(t); g.Title != "" || state(g) != "inactive" {
		t.Errorf("bob's refused calls changed alice's compute: title %q state %q", g.Title, state(g))
	}
}

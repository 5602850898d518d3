package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/memstore"
)

// limited hides a driver's Watch and overrides its capabilities.
type limited struct {
	backend.Driver
	caps backend.Capabilities
}

func (d limited) Capabilities() backend.Capabilities { return d.caps }

// spyStore records List queries and can fail the next entity write with
// Conflict, as a store does when another process won a race.
type spyStore struct {
	store.Store
	mu           sync.Mutex
	queries      []store.Query
	conflictNext bool
}

func (s *spyStore) List(ctx context.Context, q store.Query) ([]*occi.Entity, error) {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
	return s.Store.List(ctx, q)
}

func (s *spyStore) Write(ctx context.Context, muts ...store.Mutation) error {
	s.mu.Lock()
	fail := s.conflictNext && len(muts) > 0 && muts[0].Put != nil && muts[0].Expect > 0
	if fail {
		s.conflictNext = false
	}
	s.mu.Unlock()
	if fail {
		return occi.Errorf(occi.Conflict, "revision moved on")
	}
	return s.Store.Write(ctx, muts...)
}

type fixture struct {
	eng   *engine.Engine
	sim   *simbackend.Driver
	store *spyStore
}

var ctx = occi.WithIdentity(context.Background(), occi.Identity{User: "alice"})

func newFixture(t *testing.T, delay time.Duration, wrap func(*simbackend.Driver) backend.Driver, cfg engine.Config) *fixture {
	t.Helper()
	sim, err := simbackend.Open(simbackend.Options{Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	st := &spyStore{Store: memstore.New()}
	var drv backend.Driver = sim
	if wrap != nil {
		drv = wrap(sim)
	}
	cfg.Store, cfg.Driver = st, drv
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Close()
		sim.Close()
	})
	return &fixture{eng: eng, sim: sim, store: st}
}

func wantCode(t *testing.T, err error, code occi.Code, mentions ...string) {
	t.Helper()
	if got := occi.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %v), want code %v", err, got, code)
	}
	for _, m := range mentions {
		if !strings.Contains(occi.ErrorMessage(err), m) {
			t.Errorf("message %q does not mention %q", occi.ErrorMessage(err), m)
		}
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func (f *fixture) compute(t *testing.T, mixins ...occi.CategoryID) *occi.Entity {
	t.Helper()
	c, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: mixins})
	mustOK(t, err)
	return c
}

func (f *fixture) start(t *testing.T, loc string) {
	t.Helper()
	_, err := f.eng.Invoke(ctx, loc, &occi.ActionInvocation{Action: infra.ActionStart})
	mustOK(t, err)
}

func stateOf(e *occi.Entity) string {
	s, _ := e.Attributes[infra.AttrComputeState].(string)
	return s
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewNeedsStoreAndDriver(t *testing.T) {
	if _, err := engine.New(engine.Config{}); err == nil {
		t.Errorf("New without store and driver: got nil error")
	}
	sim, _ := simbackend.Open(simbackend.Options{})
	defer sim.Close()
	if _, err := engine.New(engine.Config{Store: memstore.New(), Driver: sim, ProviderScheme: "http://x.example/occi"}); err == nil {
		t.Errorf("New with a scheme not ending in '/': got nil error")
	}
}

func TestDriverFailureSetsErrorState(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	c := f.compute(t)
	f.sim.FailNext("start", errors.New("hypervisor on fire"))
	_, err := f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	wantCode(t, err, occi.Internal, "start")
	g, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if stateOf(g) != infra.StateError {
		t.Errorf("state after a failed start: got %q, want error", stateOf(g))
	}
	if msg, _ := g.Attributes[infra.AttrComputeMessage].(string); !strings.Contains(msg, "start failed") {
		t.Errorf("state message: got %q, want it to say the start failed", msg)
	}
	if !slices.Contains(g.Actions, infra.ActionStart) || slices.Contains(g.Actions, infra.ActionSave) {
		t.Errorf("actions in error: got %v, want start (recovery) and not save", g.Actions)
	}
	// The driver's own classification is kept.
	f.sim.FailNext("start", occi.Errorf(occi.Unavailable, "maintenance window"))
	_, err = f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	wantCode(t, err, occi.Unavailable, "maintenance window")
	// Recovery from error.
	f.start(t, c.Location)
	g, _ = f.eng.Get(ctx, c.Location)
	if stateOf(g) != infra.StateActive {
		t.Errorf("state after recovery: got %q, want active", stateOf(g))
	}
	if _, has := g.Attributes[infra.AttrComputeMessage]; has {
		t.Errorf("a stale error message survived recovery: %v", g.Attributes[infra.AttrComputeMessage])
	}
}

func TestDriverCreateFailureStoresNothing(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	f.sim.FailNext("create", occi.Errorf(occi.Unavailable, "no capacity"))
	_, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute})
	wantCode(t, err, occi.Unavailable, "no capacity")
	n, err := f.store.Count(ctx, store.Query{})
	mustOK(t, err)
	if n != 0 {
		t.Errorf("entities stored after a failed create: got %d, want 0", n)
	}
}

func TestWatcherEventsAreApplied(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{ObserveInterval: time.Hour})
	c := f.compute(t)
	f.start(t, c.Location)
	// The engine's Watch call registers in the background, so an early
	// event may be missed; power the VM on again behind the engine's back
	// and retry until one arrives.
	reached := func() bool {
		e, err := f.store.Get(ctx, c.Location)
		return err == nil && stateOf(e) == infra.StateInactive
	}
	for attempt := 0; attempt < 20 && !reached(); attempt++ {
		if attempt > 0 {
			stored, err := f.store.Get(ctx, c.Location)
			mustOK(t, err)
			if _, err := f.sim.Act(ctx, stored, &occi.ActionInvocation{Action: infra.ActionStart}, nil); err != nil {
				t.Fatal(err)
			}
		}
		mustOK(t, f.sim.PowerOff(c.Location))
		deadline := time.Now().Add(500 * time.Millisecond)
		for !reached() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !reached() {
		t.Fatalf("no power-off event reached the store")
	}
	e, _ := f.store.Get(ctx, c.Location)
	if msg, _ := e.Attributes[infra.AttrComputeMessage].(string); msg == "" {
		t.Errorf("the event's message was not stored")
	}
}

func TestGetReobservesWithoutWatcher(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     string
	}{
		{"always", -1, infra.StateInactive},
		{"stale allowed", time.Hour, infra.StateActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver {
				return limited{Driver: s, caps: s.Capabilities()}
			}, engine.Config{ObserveInterval: tc.interval})
			c := f.compute(t)
			f.start(t, c.Location)
			mustOK(t, f.sim.PowerOff(c.Location))
			g, err := f.eng.Get(ctx, c.Location)
			mustOK(t, err)
			if stateOf(g) != tc.want {
				t.Errorf("state: got %q, want %q", stateOf(g), tc.want)
			}
		})
	}
}

func TestVanishedObjectIsError(t *testing.T) {
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver {
		return limited{Driver: s, caps: s.Capabilities()}
	}, engine.Config{ObserveInterval: -1})
	c := f.compute(t)
	mustOK(t, f.sim.Vanish(c.Location))
	g, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if stateOf(g) != infra.StateError {
		t.Errorf("state of a vanished compute: got %q, want error", stateOf(g))
	}
	mustOK(t, f.eng.Delete(ctx, c.Location))
}

func TestCapabilitiesLimitDiscovery(t *testing.T) {
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver {
		return limited{Driver: s, caps: backend.Capabilities{
			Kinds:   []occi.CategoryID{infra.Compute, infra.Network, infra.NetworkInterface},
			Actions: []occi.CategoryID{infra.ActionStart, infra.ActionStop},
			Mixins:  []occi.CategoryID{infra.SSHKey},
		}}
	}, engine.Config{})
	d, err := f.eng.Discover(ctx, nil)
	mustOK(t, err)
	var kinds, mixins, actions []string
	for _, k := range d.Kinds {
		kinds = append(kinds, k.ID.Term)
		if k.ID == infra.Compute && !slices.Equal(k.Actions, []occi.CategoryID{infra.ActionStart, infra.ActionStop}) {
			t.Errorf("compute actions: got %v, want start and stop only", k.Actions)
		}
	}
	for _, m := range d.Mixins {
		mixins = append(mixins, m.ID.Term)
	}
	for _, a := range d.Actions {
		actions = append(actions, a.ID.Term)
	}
	for _, absent := range []string{"storage", "storagelink"} {
		if slices.Contains(kinds, absent) {
			t.Errorf("kind %s is advertised but not supported", absent)
		}
	}
	for _, absent := range []string{"user_data", "ipnetwork", "ipnetworkinterface"} {
		if slices.Contains(mixins, absent) {
			t.Errorf("mixin %s is advertised but not supported", absent)
		}
	}
	if !slices.Contains(mixins, "ssh_key") || !slices.Contains(mixins, "os_tpl") {
		t.Errorf("mixins: got %v, want ssh_key and os_tpl", mixins)
	}
	if slices.Contains(actions, "save") || slices.Contains(actions, "up") {
		t.Errorf("actions: got %v, want no save or up", actions)
	}
	_, err = f.eng.Resolve(ctx, "/storage/")
	wantCode(t, err, occi.NotFound)
	c := f.compute(t)
	f.start(t, c.Location)
	g, _ := f.eng.Get(ctx, c.Location)
	if !slices.Equal(g.Actions, []occi.CategoryID{infra.ActionStop}) {
		t.Errorf("actions of an active compute: got %v, want stop only", g.Actions)
	}
	_, err = f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionSave})
	wantCode(t, err, occi.NotFound)
}

func TestOSTemplateReplacementNeedsCapability(t *testing.T) {
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver {
		caps := s.Capabilities()
		caps.ReplaceOSTemplate = false
		return limited{Driver: s, caps: caps}
	}, engine.Config{})
	deb := occi.CategoryID{Scheme: engine.DefaultProviderScheme + "os_tpl#", Term: "debian-12"}
	ubu := occi.CategoryID{Scheme: engine.DefaultProviderScheme + "os_tpl#", Term: "ubuntu-24.04"}
	c := f.compute(t, deb)
	_, err := f.eng.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{ubu}})
	wantCode(t, err, occi.Unimplemented, "re-image")
	_, err = f.eng.Associate(ctx, "/os_tpl/ubuntu-24.04/", []string{c.Location})
	wantCode(t, err, occi.Unimplemented)
	err = f.eng.Dissociate(ctx, "/os_tpl/debian-12/", []string{c.Location})
	wantCode(t, err, occi.Unimplemented)
	_, _, err = f.eng.Put(ctx, c.Location, &occi.Entity{Kind: infra.Compute})
	wantCode(t, err, occi.Unimplemented)
	// Keeping the same template is fine.
	_, _, err = f.eng.Put(ctx, c.Location, &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{deb}, Title: "same"})
	mustOK(t, err)
}

func TestStoreConflictIsReported(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	c := f.compute(t)
	f.store.mu.Lock()
	f.store.conflictNext = true
	f.store.mu.Unlock()
	_, err := f.eng.Update(ctx, c.Location, &occi.Entity{Title: "lost?"})
	wantCode(t, err, occi.Conflict, c.Location)
	g, _ := f.eng.Get(ctx, c.Location)
	if g.Title == "lost?" {
		t.Errorf("an update that reported Conflict was stored")
	}
	// With If-Match, losing the race means the precondition failed.
	f.store.mu.Lock()
	f.store.conflictNext = true
	f.store.mu.Unlock()
	_, err = f.eng.Update(occi.WithExpectedRevision(ctx, g.Revision), c.Location, &occi.Entity{Title: "lost too?"})
	wantCode(t, err, occi.PreconditionFailed, c.Location)
	if g, _ := f.eng.Get(ctx, c.Location); g.Title == "lost too?" {
		t.Errorf("an update that reported PreconditionFailed was stored")
	}
}

func TestPaginationInStore(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{DefaultPage: 2, MaxPage: 3})
	for i := 0; i < 5; i++ {
		f.compute(t)
	}
	f.store.mu.Lock()
	f.store.queries = nil
	f.store.mu.Unlock()
	got, err := f.eng.List(ctx, occi.ListQuery{Collection: "/compute/", Page: 2})
	mustOK(t, err)
	if len(got) != 2 {
		t.Errorf("page 2 with the default size 2: got %d entities", len(got))
	}
	f.store.mu.Lock()
	q := f.store.queries[0]
	f.store.mu.Unlock()
	if q.Offset != 2 || q.Limit != 2 || q.Owner != "alice" {
		t.Errorf("store query: got offset %d limit %d owner %q, want 2, 2, alice", q.Offset, q.Limit, q.Owner)
	}
	_, err = f.eng.List(ctx, occi.ListQuery{Collection: "/compute/", Number: 4})
	wantCode(t, err, occi.TooLarge, "3")

	f.store.mu.Lock()
	f.store.queries = nil
	f.store.mu.Unlock()
	got, err = f.eng.List(ctx, occi.ListQuery{Collection: "/resource/", Categories: []occi.CategoryID{infra.Compute}, Number: 3})
	mustOK(t, err)
	f.store.mu.Lock()
	q = f.store.queries[0]
	f.store.mu.Unlock()
	if len(got) != 3 || q.Limit != 3 || len(q.Kinds) != 1 || q.Kinds[0] != infra.Compute {
		t.Errorf("resources filtered by compute: got %d entities with store query %+v, want 3 from a query for computes limited to 3", len(got), q)
	}
	got, err = f.eng.List(ctx, occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{infra.Network}})
	mustOK(t, err)
	if got == nil || len(got) != 0 {
		t.Errorf("computes filtered by network: got %v, want an empty list", got)
	}
}

func TestSaveWithDelay(t *testing.T) {
	f := newFixture(t, 150*time.Millisecond, nil, engine.Config{ObserveInterval: time.Hour})
	c := f.compute(t)
	f.start(t, c.Location)

	// A deferred save reports its chain in the state message while it runs.
	var mu sync.Mutex
	var messages []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			e, err := f.store.Get(ctx, c.Location)
			if err != nil {
				continue
			}
			if m, _ := e.Attributes[infra.AttrComputeMessage].(string); m != "" {
				mu.Lock()
				if len(messages) == 0 || messages[len(messages)-1] != m {
					messages = append(messages, m)
				}
				mu.Unlock()
			}
		}
	}()
	res, err := f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionSave, Attributes: occi.Attributes{"method": "deferred", "name": "golden image"}})
	close(stop)
	<-done
	mustOK(t, err)
	if stateOf(res.Entity) != infra.StateActive {
		t.Errorf("compute after a deferred save: %q, want active", stateOf(res.Entity))
	}
	mu.Lock()
	if len(messages) == 0 || !strings.Contains(strings.Join(messages, "|"), "save") {
		t.Errorf("state messages seen during the deferred save: %q, want the stop/copy/start chain", messages)
	}
	mu.Unlock()
	m := res.Mixin
	if m.ID.Term != "golden-image" || m.Title != "golden image" || m.Location != "/users/alice/os_tpl/golden-image/" {
		t.Errorf("saved template: got %s titled %q at %s, want golden-image titled %q at /users/alice/os_tpl/golden-image/", m.ID, m.Title, m.Location, "golden image")
	}
	if m.ID.Scheme != engine.DefaultProviderScheme+"users/alice/os_tpl#" || !slices.Contains(m.Depends, infra.OSTemplate) {
		t.Errorf("saved template %s depends %v: want alice's os_tpl scheme and os_tpl", m.ID, m.Depends)
	}
	stateDefault := func() string {
		d, err := f.eng.Discover(ctx, []occi.CategoryID{m.ID})
		mustOK(t, err)
		for _, a := range d.Mixins[0].Attributes {
			if a.Name == engine.AttrTemplateState {
				s, _ := a.Default.(string)
				return s
			}
		}
		return ""
	}
	if s := stateDefault(); s != "saving" {
		t.Errorf("template state right after save: got %q, want saving", s)
	}
	_, err = f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
	wantCode(t, err, occi.FailedPrecondition, "still being saved")
	eventually(t, "the template to be ready", func() bool { return stateDefault() == "ready" })
	n, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Mixins: []occi.CategoryID{m.ID}})
	mustOK(t, err)
	if boots, _ := f.sim.Disk(n.Location); boots == 0 {
		t.Errorf("a compute made from the saved template has a fresh disk (boots %d)", boots)
	}
	// Persisted: a new engine over the same store and driver knows it.
	e2, err := engine.New(engine.Config{Store: f.store, Driver: f.sim})
	mustOK(t, err)
	defer e2.Close()
	if _, err := e2.Resolve(ctx, m.Location); err != nil {
		t.Errorf("a second engine does not know the saved template: %v", err)
	}
	// Deleted through the second engine: the first one no longer has it.
	mustOK(t, e2.DeleteMixin(ctx, m.ID))
	d, err := f.eng.Discover(ctx, nil)
	mustOK(t, err)
	for _, x := range d.Mixins {
		if x.ID == m.ID {
			t.Errorf("the first engine still offers %s after the second deleted it", m.ID)
		}
	}
	_, err = f.eng.Resolve(ctx, m.Location)
	wantCode(t, err, occi.NotFound)
}

func TestUserMixinsSurviveRestart(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	m, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "prod"}})
	mustOK(t, err)
	if want := engine.DefaultProviderScheme + "users/alice/tags#"; m.ID.Scheme != want || m.Location != "/users/alice/tags/prod/" || m.Owner != "alice" {
		t.Errorf("tag: got %s at %s owned by %q, want scheme %s at /users/alice/tags/prod/ owned by alice", m.ID, m.Location, m.Owner, want)
	}
	e2, err := engine.New(engine.Config{Store: f.store, Driver: f.sim})
	mustOK(t, err)
	defer e2.Close()
	tgt, err := e2.Resolve(ctx, m.Location)
	mustOK(t, err)
	if tgt.Category != m.ID {
		t.Errorf("Resolve on a new engine: got %v, want %s", tgt.Category, m.ID)
	}
}

func TestActionsAreSerialised(t *testing.T) {
	f := newFixture(t, 40*time.Millisecond, nil, engine.Config{})
	c := f.compute(t)
	f.start(t, c.Location)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionRestart})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("restart %d: %v (actions on one entity must wait for each other, not collide in the driver)", i, err)
		}
	}
}

func TestCancelledWaitIsUnavailable(t *testing.T) {
	f := newFixture(t, 300*time.Millisecond, nil, engine.Config{})
	c := f.compute(t)
	go f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	time.Sleep(30 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := f.eng.Update(short, c.Location, &occi.Entity{Title: "x"})
	wantCode(t, err, occi.Unavailable)
}

func TestResolveOddPaths(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	for _, p := range []string{"", "compute/", "/compute/\x00", "//", "/-/x", "/compute/a/b"} {
		_, err := f.eng.Resolve(ctx, p)
		wantCode(t, err, occi.NotFound)
	}
}

func TestRoundTripOfObservedValues(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	c := f.compute(t)
	g, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	// Everything the server shows can be sent back unchanged.
	out, _, err := f.eng.Put(ctx, c.Location, &occi.Entity{Kind: g.Kind, ID: g.ID, Mixins: g.Mixins, Title: "again", Attributes: g.Attributes})
	mustOK(t, err)
	if out.Title != "again" {
		t.Errorf("title: got %q, want again", out.Title)
	}
	_, err = f.eng.Update(ctx, c.Location, &occi.Entity{Attributes: g.Attributes})
	mustOK(t, err)
}

func BenchmarkCreateGet(b *testing.B) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	eng, err := engine.New(engine.Config{Store: memstore.New(), Driver: sim})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for b.Loop() {
		c, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Attributes: occi.Attributes{"occi.compute.cores": int64(2)}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Get(ctx, c.Location); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTagDependencies(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	base, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "base"}})
	mustOK(t, err)
	sub, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "sub"}, Depends: []occi.CategoryID{base.ID}})
	mustOK(t, err)
	wantCode(t, f.eng.DeleteMixin(ctx, base.ID), occi.FailedPrecondition, sub.ID.String())
	mustOK(t, f.eng.DeleteMixin(ctx, sub.ID))
	mustOK(t, f.eng.DeleteMixin(ctx, base.ID))

	bobCtx := occi.WithIdentity(context.Background(), occi.Identity{User: "bob"})
	other, err := f.eng.DefineMixin(bobCtx, &occi.Mixin{ID: occi.CategoryID{Term: "b"}})
	mustOK(t, err)
	_, err = f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "x"}, Depends: []occi.CategoryID{other.ID}})
	wantCode(t, err, occi.NotFound)
	_, err = f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "y"}, Depends: []occi.CategoryID{infra.SSHKey}})
	wantCode(t, err, occi.InvalidArgument, "your own tags")
	_, err = f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "z"}, Applies: []occi.CategoryID{{Scheme: "http://example.com/#", Term: "k"}}})
	wantCode(t, err, occi.NotFound)
	// A user name that is not a plain path segment names its tags by its
	// bytes in hex: the location reads the same escaped and unescaped, so
	// a request to it (whose path arrives unescaped) finds the tag.
	for _, u := range []struct{ name, seg string }{
		{"a/b c", "~612f622063"}, {"a%2Fb", "~6125324662"}, {"alice#x", "~616c6963652378"},
		{"..", "~2e2e"}, {"~x", "~7e78"}, {"alice@example.org", "alice@example.org"},
	} {
		weird := occi.WithIdentity(context.Background(), occi.Identity{User: u.name})
		m, err := f.eng.DefineMixin(weird, &occi.Mixin{ID: occi.CategoryID{Term: "t"}})
		if err != nil {
			t.Errorf("user %q: defining a tag: %v", u.name, err)
			continue
		}
		if want := "/users/" + u.seg + "/tags/t/"; m.Location != want {
			t.Errorf("user %q: tag location %q, want %q", u.name, m.Location, want)
		}
		tgt, err := f.eng.Resolve(weird, m.Location)
		if err != nil || tgt.Type != occi.TargetMixinCollection {
			t.Errorf("user %q: resolving the tag's own location %s: %+v, %v", u.name, m.Location, tgt, err)
		}
		if _, err := f.eng.Resolve(bobCtx, m.Location); err == nil {
			t.Errorf("user %q: bob resolves the tag location %s", u.name, m.Location)
		}
	}
}

func TestGetDuringAction(t *testing.T) {
	f := newFixture(t, 200*time.Millisecond, nil, engine.Config{})
	c := f.compute(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
		done <- err
	}()
	// While the start runs, Get answers with the stored state.
	time.Sleep(50 * time.Millisecond)
	g, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if stateOf(g) == infra.StateError {
		t.Errorf("state during start: %q", stateOf(g))
	}
	mustOK(t, <-done)
	g, _ = f.eng.Get(ctx, c.Location)
	if stateOf(g) != infra.StateActive {
		t.Errorf("state after start: got %q, want active", stateOf(g))
	}
}

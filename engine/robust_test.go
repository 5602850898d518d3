package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/memstore"
)

var errCrashed = errors.New("the process is dead")

// crash is a process death: once it happened, the store and the driver
// wrappers of the dead engine refuse everything, while what the real store
// and driver hold stays.
type crash struct{ dead atomic.Bool }

type crashStore struct {
	store.Store
	c *crash
}

func (s crashStore) Write(ctx context.Context, muts ...store.Mutation) error {
	if s.c.dead.Load() {
		return errCrashed
	}
	return s.Store.Write(ctx, muts...)
}

// crashDriver dies at a chosen step: before or after the driver's Create
// of the entity at location at, or after its Delete.
type crashDriver struct {
	backend.Driver
	c     *crash
	at    string
	point string // "before create", "after create", "after delete"
}

func (d crashDriver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if d.c.dead.Load() {
		return backend.Observation{}, errCrashed
	}
	if req.Entity.Location == d.at && d.point == "before create" {
		d.c.dead.Store(true)
		return backend.Observation{}, errCrashed
	}
	obs, err := d.Driver.Create(ctx, req)
	if req.Entity.Location == d.at && d.point == "after create" {
		d.c.dead.Store(true)
	}
	return obs, err
}

func (d crashDriver) Delete(ctx context.Context, e *occi.Entity) error {
	if d.c.dead.Load() {
		return errCrashed
	}
	err := d.Driver.Delete(ctx, e)
	if e.Location == d.at && d.point == "after delete" {
		d.c.dead.Store(true)
	}
	return err
}

func newEngine(t *testing.T, st store.Store, drv backend.Driver) *engine.Engine {
	t.Helper()
	eng, err := engine.New(engine.Config{Store: st, Driver: drv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func TestCrashDuringCreateIsRecovered(t *testing.T) {
	cases := []struct {
		name, point, at string
		in              *occi.Entity
		wantAdopted     bool
	}{
		{"before the driver creates", "before create", "/compute/vm1", &occi.Entity{Kind: infra.Compute, ID: "vm1"}, false},
		{"after the driver created", "after create", "/compute/vm1", &occi.Entity{Kind: infra.Compute, ID: "vm1"}, true},
		{"after the driver created an inline link", "after create", "/networkinterface/nic1", &occi.Entity{Kind: infra.Compute, ID: "vm1",
			Links: []*occi.Entity{{ID: "nic1", Kind: infra.NetworkInterface, Target: "/network/net1"}}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simbackend.Open(simbackend.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sim.Close() })
			st := memstore.New()
			setup := newEngine(t, st, sim)
			_, err = setup.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
			mustOK(t, err)
			c := &crash{}
			dying := newEngine(t, crashStore{st, c}, crashDriver{Driver: sim, c: c, at: tc.at, point: tc.point})
			if _, err := dying.Create(ctx, "/compute/", tc.in); err == nil {
				t.Fatal("the create succeeded although the process died")
			}
			if !c.dead.Load() {
				t.Fatal("the process never reached the crash point")
			}
			dying.Close()
			if keys := noteKeys(t, st); len(keys) == 0 {
				t.Fatal("the dead process left no pending note")
			}

			eng := newEngine(t, st, sim)
			if keys := noteKeys(t, st); len(keys) != 0 {
				t.Errorf("pending notes left after the start: %v", keys)
			}
			got, err := eng.Get(ctx, "/compute/vm1")
			if tc.wantAdopted {
				mustOK(t, err)
				if tc.at != "/compute/vm1" {
					// The compute was created, its link was being created:
					// both are adopted.
					if len(got.Links) != 1 || got.Links[0].Location != tc.at {
						t.Errorf("got links %v, want the adopted %s", got.Links, tc.at)
					}
				}
			} else {
				wantCode(t, err, occi.NotFound)
			}
			// Either way the location is usable again.
			out, created, err := eng.Put(ctx, "/compute/vm1", &occi.Entity{Kind: infra.Compute, Title: "again"})
			mustOK(t, err)
			if created == tc.wantAdopted {
				t.Errorf("got created %v, want %v", created, !tc.wantAdopted)
			}
			if out.Title != "again" {
				t.Errorf("got title %q, want %q", out.Title, "again")
			}
			mustOK(t, eng.Delete(ctx, "/compute/vm1"))
			_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
			mustOK(t, err)
		})
	}
}

func TestCrashDuringDeleteLeavesItDeletable(t *testing.T) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st := memstore.New()
	c := &crash{}
	dying := newEngine(t, crashStore{st, c}, crashDriver{Driver: sim, c: c, at: "/compute/vm1", point: "after delete"})
	_, err = dying.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
	if err := dying.Delete(ctx, "/compute/vm1"); err == nil {
		t.Fatal("the delete succeeded although the process died")
	}
	dying.Close()
	eng := newEngine(t, st, sim)
	mustOK(t, eng.Delete(ctx, "/compute/vm1"))
	_, err = eng.Get(ctx, "/compute/vm1")
	wantCode(t, err, occi.NotFound)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
}

// countingDriver counts the driver's creates and deletes.
type countingDriver struct {
	backend.Driver
	creates, deletes atomic.Int64
	failAt           atomic.Value // a location whose create fails
}

func (d *countingDriver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	d.creates.Add(1)
	if at, _ := d.failAt.Load().(string); at == req.Entity.Location {
		return backend.Observation{}, errors.New("boom")
	}
	return d.Driver.Create(ctx, req)
}

func (d *countingDriver) Delete(ctx context.Context, e *occi.Entity) error {
	d.deletes.Add(1)
	return d.Driver.Delete(ctx, e)
}

func TestCreateAll(t *testing.T) {
	var cd *countingDriver
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver {
		cd = &countingDriver{Driver: s}
		return cd
	}, engine.Config{MaxBatch: 10})
	many := func(n int) []*occi.Entity {
		es := make([]*occi.Entity, n)
		for i := range es {
			es[i] = &occi.Entity{Kind: infra.Compute}
		}
		return es
	}
	t.Run("over the limit is TooLarge", func(t *testing.T) {
		_, err := f.eng.CreateAll(ctx, "/compute/", many(11))
		wantCode(t, err, occi.TooLarge, "10")
		if n := cd.creates.Load(); n != 0 {
			t.Errorf("got %d driver creates, want 0", n)
		}
	})
	t.Run("an invalid entity creates nothing", func(t *testing.T) {
		es := many(5)
		es[3].Attributes = occi.Attributes{infra.AttrComputeCores: 0}
		_, err := f.eng.CreateAll(ctx, "/compute/", es)
		wantCode(t, err, occi.InvalidArgument, "entity 4 of 5", infra.AttrComputeCores)
		if n := cd.creates.Load(); n != 0 {
			t.Errorf("got %d driver creates, want 0", n)
		}
	})
	t.Run("duplicate ids create nothing", func(t *testing.T) {
		es := many(3)
		es[0].ID, es[2].ID = "same", "same"
		_, err := f.eng.CreateAll(ctx, "/compute/", es)
		wantCode(t, err, occi.AlreadyExists, "entity 3 of 3")
	})
	t.Run("a batch is created", func(t *testing.T) {
		out, err := f.eng.CreateAll(ctx, "/compute/", many(10))
		mustOK(t, err)
		if len(out) != 10 {
			t.Fatalf("got %d entities, want 10", len(out))
		}
		all, err := f.eng.List(ctx, occi.ListQuery{Collection: "/compute/"})
		mustOK(t, err)
		if len(all) != 10 {
			t.Errorf("got %d computes listed, want 10", len(all))
		}
	})
	t.Run("a driver failure undoes the batch", func(t *testing.T) {
		before, err := f.sim.Leftovers(ctx)
		mustOK(t, err)
		es := many(3)
		es[2].ID = "fails"
		cd.failAt.Store("/compute/fails")
		_, err = f.eng.CreateAll(ctx, "/compute/", es)
		wantCode(t, err, occi.Internal)
		all, err := f.eng.List(ctx, occi.ListQuery{Collection: "/compute/"})
		mustOK(t, err)
		if len(all) != 10 {
			t.Errorf("got %d computes listed, want the 10 from before", len(all))
		}
		after, err := f.sim.Leftovers(ctx)
		mustOK(t, err)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the backend kept objects of the failed batch (-before +after):\n%s", diff)
		}
	})
}

func TestDeleteMixinsIsAtomic(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	tag, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "keep"}})
	mustOK(t, err)
	c := f.compute(t, tag.ID)
	cases := []struct {
		name string
		ids  []occi.CategoryID
		code occi.Code
	}{
		{"with a provider mixin", []occi.CategoryID{tag.ID, infra.UserData}, occi.PermissionDenied},
		{"with an unknown mixin", []occi.CategoryID{tag.ID, {Scheme: "http://example.org/x#", Term: "nope"}}, occi.NotFound},
		{"with a kind", []occi.CategoryID{tag.ID, infra.Compute}, occi.PermissionDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, f.eng.DeleteMixins(ctx, tc.ids), tc.code)
			got, err := f.eng.Get(ctx, c.Location)
			mustOK(t, err)
			if !got.HasMixin(tag.ID) {
				t.Errorf("got mixins %v, want %s kept", got.Mixins, tag.ID)
			}
			if _, err := f.eng.Resolve(ctx, tag.Location); err != nil {
				t.Errorf("tag %s is gone: %v", tag.ID, err)
			}
		})
	}
	t.Run("define several, one bad", func(t *testing.T) {
		_, err := f.eng.DefineMixins(ctx, []*occi.Mixin{{ID: occi.CategoryID{Term: "fresh"}}, {ID: occi.CategoryID{Term: "bad term!"}}})
		wantCode(t, err, occi.InvalidArgument, "mixin 2 of 2")
		if _, err := f.eng.Resolve(ctx, f.eng.UserScheme("alice")); err == nil {
			t.Errorf("resolved a scheme as a path")
		}
		d, err := f.eng.Discover(ctx, nil)
		mustOK(t, err)
		for _, m := range d.Mixins {
			if m.ID.Term == "fresh" {
				t.Errorf("mixin %s was defined although the request failed", m.ID)
			}
		}
	})
	t.Run("delete several with a dependency between them", func(t *testing.T) {
		a, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "base"}})
		mustOK(t, err)
		b, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "derived"}, Depends: []occi.CategoryID{a.ID}})
		mustOK(t, err)
		wantCode(t, f.eng.DeleteMixins(ctx, []occi.CategoryID{a.ID}), occi.FailedPrecondition, b.ID.String())
		mustOK(t, f.eng.DeleteMixins(ctx, []occi.CategoryID{a.ID, b.ID, tag.ID}))
		got, err := f.eng.Get(ctx, c.Location)
		mustOK(t, err)
		if got.HasMixin(tag.ID) {
			t.Errorf("got mixins %v, want %s gone", got.Mixins, tag.ID)
		}
	})
}

var errDown = errors.New("libvirtd is not running")

// downDriver answers Unavailable to everything while down is set.
type downDriver struct {
	backend.Driver
	down *atomic.Bool
}

func (d downDriver) ErrorCode(err error) occi.Code {
	if errors.Is(err, errDown) {
		return occi.Unavailable
	}
	return d.Driver.ErrorCode(err)
}

func (d downDriver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if d.down.Load() {
		return backend.Observation{}, errDown
	}
	return d.Driver.Create(ctx, req)
}

func (d downDriver) Observe(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	if d.down.Load() {
		return backend.Observation{}, errDown
	}
	return d.Driver.Observe(ctx, e)
}

func (d downDriver) Delete(ctx context.Context, e *occi.Entity) error {
	if d.down.Load() {
		return errDown
	}
	return d.Driver.Delete(ctx, e)
}

func (d downDriver) Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, p backend.ProgressFunc) (backend.Observation, error) {
	if d.down.Load() {
		return backend.Observation{}, errDown
	}
	return d.Driver.Act(ctx, e, inv, p)
}

func TestUnavailableBackendLosesNothing(t *testing.T) {
	down := &atomic.Bool{}
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver { return downDriver{Driver: s, down: down} },
		engine.Config{ObserveInterval: -1})
	c := f.compute(t)
	down.Store(true)
	_, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "while-down"})
	wantCode(t, err, occi.Unavailable)
	_, err = f.eng.Invoke(ctx, c.Location, &occi.ActionInvocation{Action: infra.ActionStart})
	wantCode(t, err, occi.Unavailable)
	wantCode(t, f.eng.Delete(ctx, c.Location), occi.Unavailable)
	got, err := f.eng.Get(ctx, c.Location)
	mustOK(t, err)
	if s := stateOf(got); s != infra.StateInactive {
		t.Errorf("got state %q while the backend is down, want %q", s, infra.StateInactive)
	}
	down.Store(false)
	_, err = f.eng.Get(ctx, "/compute/while-down")
	wantCode(t, err, occi.NotFound)
	_, err = f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "while-down"})
	mustOK(t, err)
	f.start(t, c.Location)
	mustOK(t, f.eng.Delete(ctx, c.Location))
}

func TestConcurrentCreateAllAndCreate(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.eng.CreateAll(ctx, "/compute/", []*occi.Entity{{Kind: infra.Compute, ID: fmt.Sprint("c", i)}, {Kind: infra.Compute, ID: "shared"}})
		}()
	}
	wg.Wait()
	okCount := 0
	for _, err := range errs {
		if err == nil {
			okCount++
		}
	}
	if okCount != 1 {
		t.Errorf("got %d batches created with the shared id, want 1 (errors %v)", okCount, errs)
	}
}

// updateFailer fails the driver's Update of one location.
type updateFailer struct {
	backend.Driver
	at string
}

func (d updateFailer) Update(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	if updated.Location == d.at {
		return backend.Observation{}, errors.New("boom")
	}
	return d.Driver.Update(ctx, old, updated)
}

func TestAssociateIsAllOrNothing(t *testing.T) {
	f := newFixture(t, 0, func(s *simbackend.Driver) backend.Driver { return updateFailer{Driver: s, at: "/compute/b"} }, engine.Config{})
	tag, err := f.eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "group"}})
	mustOK(t, err)
	for _, id := range []string{"a", "b"} {
		_, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: id})
		mustOK(t, err)
	}
	cases := []struct {
		name string
		op   func() error
	}{
		{"associate", func() error {
			_, err := f.eng.Associate(ctx, tag.Location, []string{"/compute/a", "/compute/b"})
			return err
		}},
		{"associate with an unknown entity", func() error {
			_, err := f.eng.Associate(ctx, tag.Location, []string{"/compute/a", "/compute/none"})
			return err
		}},
		{"replace members", func() error {
			_, err := f.eng.ReplaceMembers(ctx, tag.Location, []string{"/compute/a", "/compute/b"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err == nil {
				t.Fatal("got no error, want the failure")
			}
			got, err := f.eng.Get(ctx, "/compute/a")
			mustOK(t, err)
			if got.HasMixin(tag.ID) {
				t.Errorf("got mixins %v on /compute/a after a failed request, want none", got.Mixins)
			}
		})
	}
}

func TestDeleteLinkedResources(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	setup := func(t *testing.T) (c, s, l *occi.Entity) {
		t.Helper()
		c = f.compute(t)
		s, err := f.eng.Create(ctx, "/storage/", &occi.Entity{Kind: infra.Storage, Attributes: occi.Attributes{infra.AttrStorageSize: 1.0}})
		mustOK(t, err)
		l, err = f.eng.Create(ctx, "/storagelink/", &occi.Entity{Kind: infra.StorageLink, Source: c.Location, Target: s.Location})
		mustOK(t, err)
		return c, s, l
	}
	exists := func(t *testing.T, locs ...string) {
		t.Helper()
		for _, loc := range locs {
			if _, err := f.eng.Get(ctx, loc); err != nil {
				t.Errorf("%s: got %v, want it kept", loc, err)
			}
		}
	}
	gone := func(t *testing.T, locs ...string) {
		t.Helper()
		for _, loc := range locs {
			_, err := f.eng.Get(ctx, loc)
			if occi.ErrorCode(err) != occi.NotFound {
				t.Errorf("%s: got %v, want NotFound", loc, err)
			}
		}
	}
	t.Run("a linked storage, alone or by collection, is refused", func(t *testing.T) {
		c, s, l := setup(t)
		f.start(t, c.Location)
		wantCode(t, f.eng.Delete(ctx, s.Location), occi.FailedPrecondition, l.Location, c.Location)
		wantCode(t, f.eng.DeleteAll(ctx, "/storage/"), occi.FailedPrecondition, l.Location)
		exists(t, c.Location, s.Location, l.Location)
		mustOK(t, f.eng.Delete(ctx, l.Location))
		mustOK(t, f.eng.Delete(ctx, s.Location))
		mustOK(t, f.eng.Delete(ctx, c.Location))
	})
	t.Run("the computes' collection takes their links", func(t *testing.T) {
		c, s, l := setup(t)
		mustOK(t, f.eng.DeleteAll(ctx, "/compute/"))
		gone(t, c.Location, l.Location)
		exists(t, s.Location)
		mustOK(t, f.eng.Delete(ctx, s.Location))
	})
	t.Run("the resource collection takes everything", func(t *testing.T) {
		c, s, l := setup(t)
		mustOK(t, f.eng.DeleteAll(ctx, "/resource/"))
		gone(t, c.Location, s.Location, l.Location)
	})
}

func TestUnsettledCreationIsConflict(t *testing.T) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st := memstore.New()
	c := &crash{}
	dying := newEngine(t, crashStore{st, c}, crashDriver{Driver: sim, c: c, at: "/compute/vm1", point: "after create"})
	if _, err := dying.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"}); err == nil {
		t.Fatal("the create succeeded although the process died")
	}
	dying.Close()
	// Another process starting now leaves young records alone.
	eng, err := engine.New(engine.Config{Store: st, Driver: sim, RecoverAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	wantCode(t, err, occi.Conflict, "/compute/vm1", "unfinished")
	list, err := eng.List(ctx, occi.ListQuery{Collection: "/"})
	mustOK(t, err)
	if len(list) != 0 {
		t.Errorf("got %d entities listed, want none (pending records are not visible)", len(list))
	}
}

func TestInlineStorageLinksWithOneDevice(t *testing.T) {
	f := newFixture(t, 0, nil, engine.Config{})
	var stores []string
	for range 2 {
		s, err := f.eng.Create(ctx, "/storage/", &occi.Entity{Kind: infra.Storage, Attributes: occi.Attributes{infra.AttrStorageSize: 1.0}})
		mustOK(t, err)
		stores = append(stores, s.Location)
	}
	link := func(target string) *occi.Entity {
		return &occi.Entity{Kind: infra.StorageLink, Target: target, Attributes: occi.Attributes{infra.AttrSLDeviceID: "/dev/vdb"}}
	}
	_, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "twice", Links: []*occi.Entity{link(stores[0]), link(stores[1])}})
	wantCode(t, err, occi.AlreadyExists, "/dev/vdb")
	_, err = f.eng.Get(ctx, "/compute/twice")
	wantCode(t, err, occi.NotFound)
	c, err := f.eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, Links: []*occi.Entity{link(stores[0])}})
	mustOK(t, err)
	_, err = f.eng.Update(ctx, c.Location, &occi.Entity{Links: []*occi.Entity{link(stores[1])}})
	wantCode(t, err, occi.AlreadyExists, "/dev/vdb")
}

// powerStore keeps two copies of the data: live, which every write
// reaches, and disk, which only writes without store.WithDeferredSync
// reach. A power loss is opening disk.
type powerStore struct {
	store.Store // live
	disk        store.Store
	mu          sync.Mutex
	deferred    []string // the locations written with a deferred sync
}

func (s *powerStore) Write(ctx context.Context, muts ...store.Mutation) error {
	if err := s.Store.Write(ctx, muts...); err != nil {
		return err
	}
	if store.DeferredSync(ctx) {
		s.mu.Lock()
		for _, m := range muts {
			if m.Put != nil {
				s.deferred = append(s.deferred, m.Put.Location)
			}
		}
		s.mu.Unlock()
		return nil
	}
	copies := make([]store.Mutation, len(muts))
	for i, m := range muts {
		copies[i] = m
		if m.Put != nil {
			copies[i].Put = m.Put.Clone()
		}
		if m.PutMixin != nil {
			copies[i].PutMixin = occi.CloneMixin(m.PutMixin)
		}
		if m.PutNote != nil {
			copies[i].PutNote = &store.Note{Key: m.PutNote.Key, Body: slices.Clone(m.PutNote.Body)}
		}
	}
	return s.disk.Write(ctx, copies...)
}

// TestPowerLossAfterCreate checks that a create, acknowledged after one
// flush only (the durable pending record; the write of the entity itself
// is deferred), survives losing that deferred write: the next start
// adopts the entity from its pending record, with what the client sent.
func TestPowerLossAfterCreate(t *testing.T) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ps := &powerStore{Store: memstore.New(), disk: memstore.New()}
	eng := newEngine(t, ps, sim)
	_, err = eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	made, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1", Title: "kept",
		Attributes: occi.Attributes{"occi.compute.cores": int64(3)},
		Links:      []*occi.Entity{{ID: "nic1", Kind: infra.NetworkInterface, Target: "/network/net1"}}})
	mustOK(t, err)
	ps.mu.Lock()
	deferred := fmt.Sprint(ps.deferred)
	ps.mu.Unlock()
	if want := "[/network/net1 /compute/vm1 /networkinterface/nic1]"; deferred != want {
		t.Fatalf("writes with a deferred sync: %s, want %s (the entities of the create, after their pending records)", deferred, want)
	}
	eng.Close()

	// The power fails: only what was flushed is there.
	after := newEngine(t, ps.disk, sim)
	got, err := after.Get(ctx, "/compute/vm1")
	mustOK(t, err)
	if got.Title != "kept" || got.Attributes["occi.compute.cores"] != int64(3) {
		t.Errorf("adopted compute: title %q cores %v, want %q and 3", got.Title, got.Attributes["occi.compute.cores"], "kept")
	}
	if len(got.Links) != 1 || got.Links[0].Location != "/networkinterface/nic1" {
		t.Errorf("adopted compute's links: %v, want /networkinterface/nic1", got.Links)
	}
	if got.ID != made.ID {
		t.Errorf("adopted id %q, want %q", got.ID, made.ID)
	}
	// So was the network, created the same way.
	_, err = after.Get(ctx, "/network/net1")
	mustOK(t, err)
	if keys := noteKeys(t, ps.disk); len(keys) != 0 {
		t.Errorf("pending notes left after the start: %v", keys)
	}
}

// noteKeys returns the keys of every note in st.
func noteKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	notes, err := st.ListNotes(context.Background(), "")
	mustOK(t, err)
	var keys []string
	for _, n := range notes {
		keys = append(keys, n.Key)
	}
	return keys
}

// toLegacyPending replaces the pending notes in st by pending records as
// an older occid stored them: entities at the same location, of the
// engine's internal kind, owned by no user, holding the entity and the
// time in attributes.
func toLegacyPending(t *testing.T, st store.Store) {
	t.Helper()
	notes, err := st.ListNotes(context.Background(), "/.pending/")
	mustOK(t, err)
	if len(notes) == 0 {
		t.Fatal("no pending note to turn into a legacy record")
	}
	for _, n := range notes {
		var body struct {
			Entity json.RawMessage `json:"entity"`
			Since  string          `json:"since"`
		}
		if err := json.Unmarshal(n.Body, &body); err != nil {
			t.Fatalf("pending note %s: %v", n.Key, err)
		}
		rec := &occi.Entity{ID: "pending", Location: n.Key, Kind: occi.CategoryID{Scheme: "http://occid.local/engine#", Term: "pending"},
			Owner: "\toccid-engine", Attributes: occi.Attributes{"occid.pending.entity": string(body.Entity), "occid.pending.since": body.Since}}
		mustOK(t, st.Write(context.Background(), store.Mutation{Put: rec, Expect: store.MustNotExist},
			store.Mutation{DeleteNote: n.Key, Expect: n.Revision}))
	}
}

// TestLegacyPendingRecordIsSettled checks that pending records an older
// occid stored as entities are settled at start like pending notes, and
// that one left in place (too young) still makes a create at its
// location Conflict, until it is gone.
func TestLegacyPendingRecordIsSettled(t *testing.T) {
	// crashed leaves the legacy records of the create of vm1 (with an
	// inline link) that a process died in at point of the entity at at.
	crashed := func(t *testing.T, point, at string) (store.Store, *simbackend.Driver) {
		sim, err := simbackend.Open(simbackend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		st := memstore.New()
		setup := newEngine(t, st, sim)
		_, err = setup.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
		mustOK(t, err)
		c := &crash{}
		dying := newEngine(t, crashStore{st, c}, crashDriver{Driver: sim, c: c, at: at, point: point})
		if _, err := dying.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1", Title: "kept",
			Attributes: occi.Attributes{"occi.compute.cores": int64(3)},
			Links:      []*occi.Entity{{ID: "nic1", Kind: infra.NetworkInterface, Target: "/network/net1"}}}); err == nil {
			t.Fatal("the create succeeded although the process died")
		}
		dying.Close()
		toLegacyPending(t, st)
		return st, sim
	}
	legacyLeft := func(t *testing.T, st store.Store) []string {
		t.Helper()
		recs, err := st.List(context.Background(), store.Query{Prefix: "/.pending/"})
		mustOK(t, err)
		var locs []string
		for _, r := range recs {
			locs = append(locs, r.Location)
		}
		return locs
	}

	t.Run("adopted", func(t *testing.T) {
		st, sim := crashed(t, "after create", "/networkinterface/nic1")
		if got := legacyLeft(t, st); len(got) != 2 {
			t.Fatalf("legacy records: %v, want the compute's and the link's", got)
		}
		eng := newEngine(t, st, sim)
		got, err := eng.Get(ctx, "/compute/vm1")
		mustOK(t, err)
		if got.Title != "kept" || got.Attributes["occi.compute.cores"] != int64(3) {
			t.Errorf("adopted compute: title %q cores %v, want %q and 3", got.Title, got.Attributes["occi.compute.cores"], "kept")
		}
		if len(got.Links) != 1 || got.Links[0].Location != "/networkinterface/nic1" {
			t.Errorf("adopted compute's links: %v, want /networkinterface/nic1", got.Links)
		}
		if left := legacyLeft(t, st); len(left) != 0 {
			t.Errorf("legacy records left after the start: %v", left)
		}
		if keys := noteKeys(t, st); len(keys) != 0 {
			t.Errorf("pending notes left after the start: %v", keys)
		}
	})

	t.Run("removed", func(t *testing.T) {
		st, sim := crashed(t, "before create", "/compute/vm1")
		eng := newEngine(t, st, sim)
		_, err := eng.Get(ctx, "/compute/vm1")
		wantCode(t, err, occi.NotFound)
		if left := legacyLeft(t, st); len(left) != 0 {
			t.Errorf("legacy records left after the start: %v", left)
		}
		_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
		mustOK(t, err)
	})

	t.Run("young", func(t *testing.T) {
		st, sim := crashed(t, "before create", "/compute/vm1")
		eng, err := engine.New(engine.Config{Store: st, Driver: sim, RecoverAfter: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		if left := legacyLeft(t, st); len(left) != 2 {
			t.Fatalf("legacy records after the start: %v, want both left", left)
		}
		_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
		wantCode(t, err, occi.Conflict, "/compute/vm1", "unfinished")
		list, err := eng.List(ctx, occi.ListQuery{Collection: "/"})
		mustOK(t, err)
		if len(list) != 1 || list[0].Location != "/network/net1" {
			t.Errorf("listed %d entities, want only /network/net1 (pending records are not visible)", len(list))
		}
		// Once the record is gone (settled by another process), the
		// location is free.
		mustOK(t, st.Write(ctx, store.Mutation{Delete: "/.pending/compute/vm1"}))
		_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
		mustOK(t, err)
	})
}

// TestPowerLossSettledWhileRunning checks that a create whose entity a lost
// deferred write undid is adopted by the running engine even when its start
// had to leave the pending record (younger than RecoverAfter, as with
// several processes on one store): the periodic settling takes it once it
// is old enough.
func TestPowerLossSettledWhileRunning(t *testing.T) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ps := &powerStore{Store: memstore.New(), disk: memstore.New()}
	eng := newEngine(t, ps, sim)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1", Title: "kept"})
	mustOK(t, err) // 201 to the client
	eng.Close()

	// The power fails, and the restart comes sooner than RecoverAfter.
	const recoverAfter = 300 * time.Millisecond
	after, err := engine.New(engine.Config{Store: ps.disk, Driver: sim, RecoverAfter: recoverAfter, RecoverEvery: 20 * time.Millisecond})
	mustOK(t, err)
	defer after.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := after.Get(ctx, "/compute/vm1")
		if err == nil {
			if got.Title != "kept" {
				t.Errorf("adopted compute: title %q, want kept", got.Title)
			}
			break
		}
		wantCode(t, err, occi.NotFound)
		if time.Now().After(deadline) {
			t.Fatalf("the acknowledged create is still missing 10s after the restart; notes left: %v", noteKeys(t, ps.disk))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if keys := noteKeys(t, ps.disk); len(keys) != 0 {
		t.Errorf("pending notes left after the settling: %v", keys)
	}
}

// gatedLinks holds every driver Create of a network interface until gate
// is closed, telling entered when one is waiting.
type gatedLinks struct {
	backend.Driver
	entered chan struct{}
	gate    chan struct{}
}

func (d *gatedLinks) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if req.Entity.Kind == infra.NetworkInterface {
		d.entered <- struct{}{}
		<-d.gate
	}
	return d.Driver.Create(ctx, req)
}

// TestSettlingLeavesCreatesInFlight checks that the periodic settling
// leaves alone the pending records of this engine's own creations in
// flight, here a link an update adds, whose location the update does not
// lock: settling its record while the driver is still making the link
// would drop the record under the update (or delete the link in the
// driver), and the update would fail.
func TestSettlingLeavesCreatesInFlight(t *testing.T) {
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	drv := &gatedLinks{Driver: sim, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	st := memstore.New()
	eng, err := engine.New(engine.Config{Store: st, Driver: drv, RecoverEvery: 5 * time.Millisecond})
	mustOK(t, err)
	defer eng.Close()
	_, err = eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := eng.Update(ctx, "/compute/vm1", &occi.Entity{
			Links: []*occi.Entity{{ID: "nic1", Kind: infra.NetworkInterface, Target: "/network/net1"}}})
		done <- err
	}()
	<-drv.entered
	time.Sleep(100 * time.Millisecond) // many settling rounds while the link is being made
	close(drv.gate)
	if err := <-done; err != nil {
		t.Fatalf("the update in flight while the engine settled: %v", err)
	}
	got, err := eng.Get(ctx, "/compute/vm1")
	mustOK(t, err)
	if len(got.Links) != 1 || got.Links[0].Location != "/networkinterface/nic1" {
		t.Fatalf("links of the compute: %v, want /networkinterface/nic1", got.Links)
	}
	if obs, err := sim.Observe(ctx, got.Links[0]); err != nil || obs.Gone {
		t.Errorf("the link in the driver: %+v, %v; want it there", obs, err)
	}
	if keys := noteKeys(t, st); len(keys) != 0 {
		t.Errorf("pending notes left: %v", keys)
	}
}

// nicOnUpNetwork returns a simEngine holding the network net1, up, and
// the compute vm1 (inactive) with the network interface nic1 on it.
func nicOnUpNetwork(t *testing.T) *engine.Engine {
	t.Helper()
	eng := simEngine(t)
	_, err := eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	_, err = eng.Invoke(ctx, "/network/net1", &occi.ActionInvocation{Action: infra.ActionUp})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1",
		Links: []*occi.Entity{{ID: "nic1", Kind: infra.NetworkInterface, Target: "/network/net1"}}})
	mustOK(t, err)
	return eng
}

// TestLinkStateFollowsActions checks that an action on a compute brings
// the state of its network interface along: active once the compute runs
// on an active network, inactive once it stops, both in the action's
// answer and in a later read of the link.
func TestLinkStateFollowsActions(t *testing.T) {
	eng := nicOnUpNetwork(t)
	for _, step := range []struct {
		action occi.CategoryID
		want   string
	}{{infra.ActionStart, "active"}, {infra.ActionStop, "inactive"}} {
		res, err := eng.Invoke(ctx, "/compute/vm1", &occi.ActionInvocation{Action: step.action})
		mustOK(t, err)
		if len(res.Entity.Links) != 1 || res.Entity.Links[0].Attributes["occi.networkinterface.state"] != step.want {
			t.Errorf("after %s, the link in the answer: %v, want state %s", step.action.Term, res.Entity.Links, step.want)
		}
		l, err := eng.Get(ctx, "/networkinterface/nic1")
		mustOK(t, err)
		if got := l.Attributes["occi.networkinterface.state"]; got != step.want {
			t.Errorf("after %s, GET of the link: state %v, want %s", step.action.Term, got, step.want)
		}
	}
}

// TestLinkStateFollowsTargetActions: a link's state follows its target's
// too. After the network a started compute's interface is on goes down,
// the interface is inactive in the answer to a read of it, and active
// again once the network is up.
func TestLinkStateFollowsTargetActions(t *testing.T) {
	eng := nicOnUpNetwork(t)
	_, err := eng.Invoke(ctx, "/compute/vm1", &occi.ActionInvocation{Action: infra.ActionStart})
	mustOK(t, err)
	for _, step := range []struct {
		action occi.CategoryID
		want   string
	}{{infra.ActionDown, "inactive"}, {infra.ActionUp, "active"}} {
		_, err := eng.Invoke(ctx, "/network/net1", &occi.ActionInvocation{Action: step.action})
		mustOK(t, err)
		l, err := eng.Get(ctx, "/networkinterface/nic1")
		mustOK(t, err)
		if got := l.Attributes["occi.networkinterface.state"]; got != step.want {
			t.Errorf("after network %s, GET of the link: state %v, want %s", step.action.Term, got, step.want)
		}
		c, err := eng.Get(ctx, "/compute/vm1")
		mustOK(t, err)
		if len(c.Links) != 1 || c.Links[0].Attributes["occi.networkinterface.state"] != step.want {
			t.Errorf("after network %s, the link in GET of the compute: %v, want state %s", step.action.Term, c.Links, step.want)
		}
	}
}

// TestLinkLimitHoldsUnderConcurrency: links created at once from one
// source are counted one after the other, so no more than MaxLinks are
// ever stored however many requests race (before, 200 parallel creates
// left a compute with 188 links).
func TestLinkLimitHoldsUnderConcurrency(t *testing.T) {
	eng := simEngine(t)
	_, err := eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
	const tries = engine.MaxLinks + 40
	var wg sync.WaitGroup
	var created atomic.Int32
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := eng.Create(ctx, "/networkinterface/", &occi.Entity{Kind: infra.NetworkInterface, Source: "/compute/vm1", Target: "/network/net1"})
			if err == nil {
				created.Add(1)
			} else if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Errorf("a refused link: %v, want InvalidArgument", err)
			}
		}()
	}
	wg.Wait()
	if n := created.Load(); n != engine.MaxLinks {
		t.Errorf("%d of %d parallel link creates succeeded, want exactly %d", n, tries, engine.MaxLinks)
	}
	c, err := eng.Get(ctx, "/compute/vm1")
	mustOK(t, err)
	if len(c.Links) != engine.MaxLinks {
		t.Errorf("the compute has %d links, want %d", len(c.Links), engine.MaxLinks)
	}
}

// TestLinkLimitCountsABatchTogether: the links of one batch from one
// source count together against MaxLinks: a batch that would take a
// resource over the limit creates none of its links.
func TestLinkLimitCountsABatchTogether(t *testing.T) {
	eng := simEngine(t)
	_, err := eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
	nic := func() *occi.Entity {
		return &occi.Entity{Kind: infra.NetworkInterface, Source: "/compute/vm1", Target: "/network/net1"}
	}
	for i := 0; i < engine.MaxLinks-10; i++ {
		_, err := eng.Create(ctx, "/networkinterface/", nic())
		mustOK(t, err)
	}
	batch := make([]*occi.Entity, 11)
	for i := range batch {
		batch[i] = nic()
	}
	_, err = eng.CreateAll(ctx, "/networkinterface/", batch)
	wantCode(t, err, occi.InvalidArgument)
	c, err := eng.Get(ctx, "/compute/vm1")
	mustOK(t, err)
	if len(c.Links) != engine.MaxLinks-10 {
		t.Errorf("after a refused batch the compute has %d links, want %d", len(c.Links), engine.MaxLinks-10)
	}
	_, err = eng.CreateAll(ctx, "/networkinterface/", batch[:10])
	mustOK(t, err)
}

// TestRestartLoadsDependentTags: tags stored in an order where one comes
// before the tag it depends on are all loaded at start, none skipped with
// a warning.
func TestRestartLoadsDependentTags(t *testing.T) {
	st := memstore.New()
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	eng, err := engine.New(engine.Config{Store: st, Driver: sim, ObserveInterval: time.Hour})
	mustOK(t, err)
	web, err := eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "web"}})
	mustOK(t, err)
	// "a…" sorts before "web": the store lists the dependent tag first.
	dep, err := eng.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Term: "a4"}, Depends: []occi.CategoryID{web.ID}})
	mustOK(t, err)
	eng.Close()
	var logs bytes.Buffer
	again, err := engine.New(engine.Config{Store: st, Driver: sim, ObserveInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	mustOK(t, err)
	defer again.Close()
	if strings.Contains(logs.String(), "skipping") {
		t.Errorf("the restart skipped a stored tag:\n%s", logs.String())
	}
	d, err := again.Discover(ctx, []occi.CategoryID{dep.ID})
	mustOK(t, err)
	if len(d.Mixins) != 1 || !slices.Equal(d.Mixins[0].Depends, []occi.CategoryID{web.ID}) {
		t.Errorf("after the restart %s is %+v, want it depending on %s", dep.ID, d.Mixins, web.ID)
	}
}

// TestFilterOnUnknownAttribute: a filter on an attribute no kind or mixin
// defines (a typo) is InvalidArgument naming it, not an empty answer; a
// filter on a defined attribute nothing matches is an empty answer.
func TestFilterOnUnknownAttribute(t *testing.T) {
	eng := simEngine(t)
	_, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute})
	mustOK(t, err)
	_, err = eng.List(ctx, occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.colour": "red"}})
	wantCode(t, err, occi.InvalidArgument, "occi.compute.colour")
	got, err := eng.List(ctx, occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.hostname": "nothing-has-this"}})
	mustOK(t, err)
	if len(got) != 0 {
		t.Errorf("a filter nothing matches gave %d entities, want none", len(got))
	}
	got, err = eng.List(ctx, occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.core.title": ""}})
	mustOK(t, err)
	if len(got) != 1 {
		t.Errorf("a filter on the empty title gave %d entities, want 1", len(got))
	}
}

// simEngine returns an engine over a fresh simulator and memory store,
// observing entities again only after an hour (so answers show what the
// engine stored), closed when t ends.
func simEngine(t *testing.T) *engine.Engine {
	t.Helper()
	sim, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	eng, err := engine.New(engine.Config{Store: memstore.New(), Driver: sim, ObserveInterval: time.Hour})
	mustOK(t, err)
	t.Cleanup(func() { eng.Close() })
	return eng
}

// linkRace sets up an engine with a network and a compute that has n
// network interfaces; it returns the engine and the links' locations.
func linkRace(t *testing.T, n int) (*engine.Engine, []string) {
	t.Helper()
	eng := simEngine(t)
	_, err := eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net1"})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm1"})
	mustOK(t, err)
	var locs []string
	for range n {
		l, err := eng.Create(ctx, "/networkinterface/", &occi.Entity{Kind: infra.NetworkInterface, Source: "/compute/vm1", Target: "/network/net1"})
		mustOK(t, err)
		locs = append(locs, l.Location)
	}
	return eng, locs
}

// orphans lists the network interfaces whose source or target is gone.
func orphans(t *testing.T, eng *engine.Engine) []string {
	t.Helper()
	links, err := eng.List(ctx, occi.ListQuery{Collection: "/networkinterface/", Number: 1000})
	mustOK(t, err)
	var out []string
	for _, l := range links {
		for _, end := range []string{l.Source, l.Target} {
			if _, err := eng.Get(ctx, end); occi.ErrorCode(err) == occi.NotFound {
				out = append(out, l.Location+" ("+end+" is gone)")
			}
		}
	}
	return out
}

// TestNoLinkOutlivesItsResource: links created from a compute while it is
// being deleted either go with it or are refused (NotFound); none is left
// behind pointing at a compute that no longer exists.
func TestNoLinkOutlivesItsResource(t *testing.T) {
	for round := range 10 {
		eng, _ := linkRace(t, 20)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					_, err := eng.Create(ctx, "/networkinterface/", &occi.Entity{Kind: infra.NetworkInterface, Source: "/compute/vm1", Target: "/network/net1"})
					if err != nil && occi.ErrorCode(err) != occi.NotFound {
						t.Errorf("a link create racing the delete of its source: %v, want success or NotFound", err)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
			mustOK(t, eng.Delete(ctx, "/compute/vm1"))
		}()
		wg.Wait()
		if o := orphans(t, eng); len(o) > 0 {
			t.Fatalf("round %d: %d links outlived their compute, first %s", round, len(o), o[0])
		}
	}
}

// TestResourceDeleteRacingLinkDeletes: deleting a compute while its links
// are deleted one by one succeeds, and leaves neither the compute nor a
// link behind (the delete had answered NotFound with the compute kept).
func TestResourceDeleteRacingLinkDeletes(t *testing.T) {
	for range 5 {
		eng, locs := linkRace(t, 60)
		var wg sync.WaitGroup
		for w := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(locs); i += 10 {
					if err := eng.Delete(ctx, locs[i]); err != nil && occi.ErrorCode(err) != occi.NotFound {
						t.Errorf("deleting link %s: %v, want success or NotFound", locs[i], err)
					}
				}
			}()
		}
		if err := eng.Delete(ctx, "/compute/vm1"); err != nil {
			t.Errorf("deleting the compute while its links are deleted: %v", err)
		}
		wg.Wait()
		if _, err := eng.Get(ctx, "/compute/vm1"); occi.ErrorCode(err) != occi.NotFound {
			t.Errorf("after its delete the compute reads: %v, want NotFound", err)
		}
		if o := orphans(t, eng); len(o) > 0 {
			t.Errorf("%d links outlived their compute, first %s", len(o), o[0])
		}
	}
}

// TestURNUUIDPrefixOnlyForUUIDs: "urn:uuid:" names a UUID's segment only
// when a UUID follows; "urn:uuid:abc" is an id of its own, kept whole, and
// does not collide with the id "abc".
func TestURNUUIDPrefixOnlyForUUIDs(t *testing.T) {
	eng, _ := linkRace(t, 0)
	_, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "abc"})
	mustOK(t, err)
	c, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "urn:uuid:abc"})
	mustOK(t, err)
	if c.Location != "/compute/urn:uuid:abc" || c.ID != "urn:uuid:abc" {
		t.Errorf("created %s with id %q, want /compute/urn:uuid:abc with the id as given", c.Location, c.ID)
	}
	u, err := eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "urn:uuid:6F1F0C3A-1B2C-4D5E-8F90-A1B2C3D4E5F6"})
	mustOK(t, err)
	if u.Location != "/compute/6f1f0c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6" && u.Location != "/compute/6F1F0C3A-1B2C-4D5E-8F90-A1B2C3D4E5F6" {
		t.Errorf("a urn:uuid id landed at %s, want the UUID as the segment", u.Location)
	}
}

// TestPutRepeatingOwnLinks: a full replace may repeat the entity's own
// links as they are, and they stay; repeating one with another target,
// source, id, title or mutable attribute is InvalidArgument naming it
// (it had answered 200 and changed nothing).
func TestPutRepeatingOwnLinks(t *testing.T) {
	eng, locs := linkRace(t, 1)
	_, err := eng.Create(ctx, "/network/", &occi.Entity{Kind: infra.Network, ID: "net2"})
	mustOK(t, err)
	_, err = eng.Create(ctx, "/compute/", &occi.Entity{Kind: infra.Compute, ID: "vm2"})
	mustOK(t, err)
	own, err := eng.Get(ctx, locs[0])
	mustOK(t, err)
	put := func(l *occi.Entity) error {
		_, _, err := eng.Put(ctx, "/compute/vm1", &occi.Entity{Kind: infra.Compute, Links: []*occi.Entity{l}})
		return err
	}
	mustOK(t, put(own.Clone()))
	for _, c := range []struct {
		what string
		l    *occi.Entity
	}{
		{"target", &occi.Entity{Location: own.Location, Target: "/network/net2"}},
		{"source", &occi.Entity{Location: own.Location, Source: "/compute/vm2"}},
		{"title", &occi.Entity{Location: own.Location, Title: "renamed"}},
		{"occi.core.id", &occi.Entity{Location: own.Location, Attributes: occi.Attributes{"occi.core.id": "other"}}},
	} {
		wantCode(t, put(c.l), occi.InvalidArgument, c.what)
	}
	got, err := eng.Get(ctx, locs[0])
	mustOK(t, err)
	if got.Target != "/network/net1" || got.Title != own.Title {
		t.Errorf("after the refused PUTs the link is %s titled %q, want it unchanged", got.Target, got.Title)
	}
}

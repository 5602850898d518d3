package simbackend_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
)

const infra = "http://schemas.ogf.org/occi/infrastructure#"

var (
	computeKind = occi.CategoryID{Scheme: infra, Term: "compute"}
	storageKind = occi.CategoryID{Scheme: infra, Term: "storage"}
	networkKind = occi.CategoryID{Scheme: infra, Term: "network"}
	niKind      = occi.CategoryID{Scheme: infra, Term: "networkinterface"}
	slKind      = occi.CategoryID{Scheme: infra, Term: "storagelink"}
	ipNetwork   = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
	ipIface     = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/networkinterface#", Term: "ipnetworkinterface"}
)

func action(kind, term string) *occi.ActionInvocation {
	return &occi.ActionInvocation{Action: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/" + kind + "/action#", Term: term}}
}

var ctx = context.Background()

// mk creates an entity of kind named id and returns it with its BackendRef.
func mk(t *testing.T, d *simbackend.Driver, kind occi.CategoryID, id string, attrs occi.Attributes, req backend.CreateRequest, mixins ...occi.CategoryID) *occi.Entity {
	t.Helper()
	if attrs == nil {
		attrs = occi.Attributes{}
	}
	e := &occi.Entity{ID: id, Location: "/" + kind.Term + "/" + id, Kind: kind, Attributes: attrs, Mixins: mixins, Owner: "alice"}
	if req.Source != nil {
		e.Source = req.Source.Location
	}
	if req.Target != nil {
		e.Target = req.Target.Location
	}
	req.Entity = e
	obs, err := d.Create(ctx, req)
	if err != nil {
		t.Fatalf("Create(%s): %v", e.Location, err)
	}
	e.BackendRef = obs.Ref
	return e
}

func state(t *testing.T, d *simbackend.Driver, e *occi.Entity) backend.Observation {
	t.Helper()
	obs, err := d.Observe(ctx, e)
	if err != nil {
		t.Fatalf("Observe(%s): %v", e.Location, err)
	}
	return obs
}

func doAct(t *testing.T, d *simbackend.Driver, e *occi.Entity, kind, term string) backend.Observation {
	t.Helper()
	obs, err := d.Act(ctx, e, action(kind, term), nil)
	if err != nil {
		t.Fatalf("Act(%s, %s): %v", e.Location, term, err)
	}
	return obs
}

func TestTransitions(t *testing.T) {
	// Each row starts from a fresh object brought to from by the setup
	// actions, then runs term.
	tests := []struct {
		kind  string
		setup []string
		term  string
		want  string // "" = refused
	}{
		{"compute", nil, "start", "active"},
		{"compute", nil, "stop", ""},
		{"compute", nil, "suspend", ""},
		{"compute", nil, "restart", ""},
		{"compute", []string{"start"}, "start", ""},
		{"compute", []string{"start"}, "stop", "inactive"},
		{"compute", []string{"start"}, "suspend", "suspended"},
		{"compute", []string{"start"}, "restart", "active"},
		{"compute", []string{"start", "suspend"}, "start", "active"},
		{"compute", []string{"start", "suspend"}, "stop", "inactive"},
		{"compute", []string{"start", "suspend"}, "suspend", ""},
		{"compute", []string{"start", "suspend"}, "restart", ""},
		{"storage", nil, "online", "online"},
		{"storage", nil, "offline", ""},
		{"storage", []string{"online"}, "offline", "offline"},
		{"storage", []string{"online"}, "online", ""},
		{"network", nil, "up", "active"},
		{"network", nil, "down", ""},
		{"network", []string{"up"}, "down", "inactive"},
		{"network", []string{"up"}, "up", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+strings.Join(tt.setup, ",")+"/"+tt.term, func(t *testing.T) {
			d := open(t, simbackend.Options{})
			defer d.Close()
			attrs := occi.Attributes{}
			if tt.kind == "storage" {
				attrs["occi.storage.size"] = 1.0
			}
			e := mk(t, d, occi.CategoryID{Scheme: infra, Term: tt.kind}, "x", attrs, backend.CreateRequest{})
			for _, s := range tt.setup {
				doAct(t, d, e, tt.kind, s)
			}
			before := state(t, d, e).State
			obs, err := d.Act(ctx, e, action(tt.kind, tt.term), nil)
			if tt.want == "" {
				if got := d.ErrorCode(err); got != occi.FailedPrecondition {
					t.Fatalf("Act(%s) from %s: got %v (code %v), want FailedPrecondition", tt.term, before, err, got)
				}
				if got := state(t, d, e).State; got != before {
					t.Errorf("refused %s moved the state from %s to %s", tt.term, before, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Act(%s) from %s: %v", tt.term, before, err)
			}
			if obs.State != tt.want {
				t.Errorf("Act(%s) from %s: got %s, want %s", tt.term, before, obs.State, tt.want)
			}
		})
	}
}

func TestActionOfOtherKind(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	for _, inv := range []*occi.ActionInvocation{action("network", "up"), action("compute", "save"), action("compute", "fly")} {
		_, err := d.Act(ctx, c, inv, nil)
		if got := d.ErrorCode(err); got != occi.InvalidArgument {
			t.Errorf("Act(compute, %s): got %v (code %v), want InvalidArgument", inv.Action, err, got)
		}
	}
}

func TestBootCounter(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{OSTemplate: "debian-12"})
	steps := []struct {
		term string
		want int
	}{
		{"start", 1}, {"suspend", 1}, {"start", 1}, {"restart", 2}, {"stop", 2}, {"start", 3},
	}
	for _, s := range steps {
		doAct(t, d, c, "compute", s.term)
		if got, _ := d.Disk(c.Location); got != s.want {
			t.Errorf("after %s: got boot counter %d, want %d", s.term, got, s.want)
		}
	}
	if _, ok := d.Disk("/compute/none"); ok {
		t.Errorf("Disk(/compute/none): got ok, want no disk")
	}
}

func TestFailNext(t *testing.T) {
	injected := errors.New("injected failure")
	t.Run("start", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
		d.FailNext("start", injected)
		if _, err := d.Act(ctx, c, action("compute", "start"), nil); !errors.Is(err, injected) {
			t.Fatalf("Act(start): got %v, want the injected error", err)
		}
		obs := state(t, d, c)
		if obs.State != "error" || !strings.Contains(obs.Message, "injected failure") {
			t.Errorf("after a failed start: got state %q message %q, want error with the failure", obs.State, obs.Message)
		}
		// error → start recovers.
		if got := doAct(t, d, c, "compute", "start").State; got != "active" {
			t.Errorf("start from error: got %s, want active", got)
		}
	})
	t.Run("queue", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		d.FailNext("observe", injected)
		d.FailNext("observe", injected)
		e := &occi.Entity{Location: "/compute/x"}
		for i := range 3 {
			_, err := d.Observe(ctx, e)
			if want := i < 2; (err != nil) != want {
				t.Errorf("Observe #%d: got error %v, want error %v", i+1, err, want)
			}
		}
	})
	t.Run("create", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		d.FailNext("create", occi.Errorf(occi.Unavailable, "quota exceeded"))
		_, err := d.Create(ctx, backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/c", Kind: computeKind}})
		if got := d.ErrorCode(err); got != occi.Unavailable {
			t.Fatalf("Create: got %v (code %v), want the injected Unavailable", err, got)
		}
		if left, _ := d.Leftovers(ctx); len(left) != 0 {
			t.Errorf("a failed create left %q behind", left)
		}
	})
	t.Run("save", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
		doAct(t, d, c, "compute", "start")
		d.FailNext("save", injected)
		if _, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "deferred", Name: "img"}, nil); !errors.Is(err, injected) {
			t.Fatalf("Save: got %v, want the injected error", err)
		}
		if got := state(t, d, c).State; got != "active" {
			t.Errorf("after a failed save: got %s, want active", got)
		}
		if left, _ := d.Leftovers(ctx); cmp.Diff([]string{"/compute/c"}, left) != "" {
			t.Errorf("after a failed save: got %q, want only the compute", left)
		}
	})
	t.Run("copy", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
		doAct(t, d, c, "compute", "start")
		d.FailNext("copy", injected)
		if _, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: "img"}, nil); err != nil {
			t.Fatalf("Save: %v", err)
		}
		tpl := waitTemplate(t, d, "img", backend.TemplateError)
		if !strings.Contains(tpl.Message, "injected failure") {
			t.Errorf("template message %q, want the copy failure", tpl.Message)
		}
		_, err := d.Create(ctx, backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/d", Kind: computeKind}, OSTemplate: "img"})
		if got := d.ErrorCode(err); got != occi.FailedPrecondition {
			t.Errorf("Create from a failed template: got %v (code %v), want FailedPrecondition", err, got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		d := open(t, simbackend.Options{})
		defer d.Close()
		c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
		d.FailNext("delete", injected)
		if err := d.Delete(ctx, c); !errors.Is(err, injected) {
			t.Fatalf("Delete: got %v, want the injected error", err)
		}
		if state(t, d, c).Gone {
			t.Errorf("a failed delete removed the compute")
		}
	})
}

func waitTemplate(t *testing.T, d *simbackend.Driver, name, want string) backend.Template {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tpls, err := d.Templates(ctx)
		if err != nil {
			t.Fatalf("Templates: %v", err)
		}
		for _, tp := range tpls {
			if tp.Name == name && tp.State == want {
				return tp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("template %s did not reach %s; templates: %+v", name, want, tpls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDelayAndProgress(t *testing.T) {
	const delay = 40 * time.Millisecond
	d := open(t, simbackend.Options{Delay: delay})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	var progress []backend.Observation
	var mu sync.Mutex
	during := make(chan backend.Observation, 1)
	startAt := time.Now()
	obs, err := d.Act(ctx, c, action("compute", "start"), func(o backend.Observation) {
		mu.Lock()
		progress = append(progress, o)
		mu.Unlock()
		go func() { o, _ := d.Observe(ctx, c); during <- o }()
	})
	if err != nil {
		t.Fatalf("Act(start): %v", err)
	}
	if el := time.Since(startAt); el < delay {
		t.Errorf("start took %v, want at least the delay %v", el, delay)
	}
	if obs.State != "active" || obs.Message != "" {
		t.Errorf("after start: got %q %q, want active with no message", obs.State, obs.Message)
	}
	want := []backend.Observation{{State: "inactive", Message: "starting"}}
	mu.Lock()
	got := progress
	mu.Unlock()
	opt := cmp.Transformer("stateOnly", func(o backend.Observation) [2]string { return [2]string{o.State, o.Message} })
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if o := <-during; o.State != "inactive" || o.Message != "starting" {
		t.Errorf("Observe during start: got %q %q, want inactive, starting", o.State, o.Message)
	}

	// Deferred save: stop, copy, start, with its progress.
	progress = nil
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "deferred", Name: "snap"}, func(o backend.Observation) {
		mu.Lock()
		progress = append(progress, o)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Save(deferred): %v", err)
	}
	if tpl.State != backend.TemplateSaving {
		t.Errorf("Save returned a template in %q, want saving", tpl.State)
	}
	want = []backend.Observation{
		{State: "active", Message: "stopping for save"},
		{State: "inactive", Message: "copying disk for save"},
		{State: "inactive", Message: "starting after save"},
	}
	if diff := cmp.Diff(want, progress, opt); diff != "" {
		t.Errorf("deferred save progress (-want +got):\n%s", diff)
	}
	if got := state(t, d, c); got.State != "active" || got.Message != "" {
		t.Errorf("after a deferred save: got %q %q, want active", got.State, got.Message)
	}
	if got, _ := d.Disk(c.Location); got != 2 {
		t.Errorf("after a deferred save: got boot counter %d, want 2 (it restarted)", got)
	}
	ready := waitTemplate(t, d, "snap", backend.TemplateReady)
	if ready.Progress != 100 || ready.Source != c.Location || ready.Owner != "alice" {
		t.Errorf("ready template: got progress %d source %q owner %q, want 100, %q, alice", ready.Progress, ready.Source, ready.Owner, c.Location)
	}
	b := mk(t, d, computeKind, "b", nil, backend.CreateRequest{OSTemplate: "snap"})
	if got, _ := d.Disk(b.Location); got != 1 {
		t.Errorf("compute from the deferred save: got boot counter %d, want 1 (copied while stopped)", got)
	}
}

func TestCancel(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		d := open(t, simbackend.Options{Delay: time.Hour})
		defer d.Close()
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(5*time.Millisecond, cancel)
		_, err := d.Create(cctx, backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/c", Kind: computeKind}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Create: got %v, want context.Canceled", err)
		}
		if left, _ := d.Leftovers(ctx); len(left) != 0 {
			t.Errorf("a cancelled Create left %q", left)
		}
	})
	d := open(t, simbackend.Options{Delay: 200 * time.Millisecond})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(5*time.Millisecond, cancel)
	if _, err := d.Act(cctx, c, action("compute", "start"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled start: got %v, want context.Canceled", err)
	}
	if got := state(t, d, c); got.State != "inactive" || got.Message != "" {
		t.Errorf("after a cancelled start: got %q %q, want inactive with no message", got.State, got.Message)
	}
	if got, _ := d.Disk(c.Location); got != 0 {
		t.Errorf("after a cancelled start: got boot counter %d, want 0", got)
	}
	doAct(t, d, c, "compute", "start")

	for _, after := range []time.Duration{5 * time.Millisecond, 300 * time.Millisecond} {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(after, cancel)
		_, err := d.Save(cctx, backend.SaveRequest{Entity: c, Method: "deferred", Name: "never"}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("deferred save cancelled after %v: got %v, want context.Canceled", after, err)
		}
		if got := state(t, d, c); got.State != "active" {
			t.Errorf("deferred save cancelled after %v: compute %q, want active", after, got.State)
		}
		tpls, _ := d.Templates(ctx)
		for _, tp := range tpls {
			if tp.Name == "never" {
				t.Errorf("deferred save cancelled after %v left template %+v", after, tp)
			}
		}
	}
}

func TestBusy(t *testing.T) {
	d := open(t, simbackend.Options{Delay: 300 * time.Millisecond})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := d.Act(ctx, c, action("compute", "start"), func(backend.Observation) { close(started) })
		done <- err
	}()
	<-started
	if _, err := d.Act(ctx, c, action("compute", "stop"), nil); d.ErrorCode(err) != occi.Conflict {
		t.Errorf("Act during another action: got %v (code %v), want Conflict", err, d.ErrorCode(err))
	}
	if _, err := d.Update(ctx, c, c); d.ErrorCode(err) != occi.Conflict {
		t.Errorf("Update during an action: got %v (code %v), want Conflict", err, d.ErrorCode(err))
	}
	if err := <-done; err != nil {
		t.Errorf("start: %v", err)
	}
}

func TestOutOfBand(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	events := make(chan backend.Event, 16)
	wctx, cancel := context.WithCancel(ctx)
	watchDone := make(chan error)
	go func() { watchDone <- d.Watch(wctx, func(ev backend.Event) { events <- ev }) }()
	time.Sleep(20 * time.Millisecond)

	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	n := mk(t, d, networkKind, "n", nil, backend.CreateRequest{})
	ni := mk(t, d, niKind, "ni", nil, backend.CreateRequest{Source: c, Target: n})
	doAct(t, d, n, "network", "up")

	if err := d.Kill(c.Location); d.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("Kill of an inactive compute: got %v, want FailedPrecondition", err)
	}
	doAct(t, d, c, "compute", "start")
	if got := state(t, d, ni).State; got != "active" {
		t.Errorf("link of an active compute and network: got %s, want active", got)
	}
	next := func() backend.Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return backend.Event{}
	}
	for _, tc := range []struct {
		name string
		f    func(string) error
		msg  string
	}{{"Kill", d.Kill, "killed out of band"}, {"PowerOff", d.PowerOff, "powered off by the guest"}} {
		if tc.name == "PowerOff" {
			doAct(t, d, c, "compute", "start")
		}
		if err := tc.f(c.Location); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := []backend.Event{next(), next()}
		want := []backend.Event{
			{Location: c.Location, Observation: backend.Observation{State: "inactive", Message: tc.msg}},
			{Location: ni.Location, Observation: backend.Observation{State: "inactive"}},
		}
		opt := cmp.Transformer("loc", func(e backend.Event) [3]string {
			return [3]string{e.Location, e.Observation.State, e.Observation.Message}
		})
		if diff := cmp.Diff(want, got, opt); diff != "" {
			t.Errorf("%s events (-want +got):\n%s", tc.name, diff)
		}
		if obs := state(t, d, c); obs.State != "inactive" || obs.Message != tc.msg {
			t.Errorf("after %s: got %q %q, want inactive, %q", tc.name, obs.State, obs.Message, tc.msg)
		}
	}

	if err := d.Vanish(c.Location); err != nil {
		t.Fatalf("Vanish: %v", err)
	}
	gone := map[string]bool{}
	for range 2 {
		ev := next()
		gone[ev.Location] = ev.Observation.Gone
	}
	if diff := cmp.Diff(map[string]bool{c.Location: true, ni.Location: true}, gone); diff != "" {
		t.Errorf("Vanish events (-want +got):\n%s", diff)
	}
	if !state(t, d, ni).Gone {
		t.Errorf("the link of a vanished compute is still there")
	}
	cancel()
	if err := <-watchDone; err != nil {
		t.Errorf("Watch returned %v after its context ended, want nil", err)
	}
}

func TestWatchEndsOnClose(t *testing.T) {
	d := open(t, simbackend.Options{})
	done := make(chan error)
	go func() { done <- d.Watch(ctx, func(backend.Event) {}) }()
	time.Sleep(10 * time.Millisecond)
	d.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after Close: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
	if _, err := d.Templates(ctx); d.ErrorCode(err) != occi.Unavailable {
		t.Errorf("Templates after Close: got %v, want Unavailable", err)
	}
}

func TestAssignedAttributes(t *testing.T) {
	d := open(t, simbackend.Options{Seed: 7})
	defer d.Close()
	c := mk(t, d, computeKind, "0123456789abcdef", nil, backend.CreateRequest{ResourceTemplate: "medium"})
	named := mk(t, d, computeKind, "named", occi.Attributes{"occi.compute.hostname": "db1.example.org", "occi.compute.cores": int64(3), "occi.compute.memory": int64(2)}, backend.CreateRequest{})
	n := mk(t, d, networkKind, "n", occi.Attributes{"occi.network.address": "192.168.7.0/24"}, backend.CreateRequest{}, ipNetwork)
	auto := mk(t, d, networkKind, "auto", nil, backend.CreateRequest{}, ipNetwork)
	s := mk(t, d, storageKind, "s", occi.Attributes{"occi.storage.size": int64(5)}, backend.CreateRequest{})
	ni0 := mk(t, d, niKind, "ni0", nil, backend.CreateRequest{Source: c, Target: n}, ipIface)
	ni1 := mk(t, d, niKind, "ni1", nil, backend.CreateRequest{Source: c, Target: n}, ipIface)
	static := mk(t, d, niKind, "st", occi.Attributes{"occi.networkinterface.address": "192.168.7.50", "occi.networkinterface.mac": "02:00:00:00:00:99"}, backend.CreateRequest{Source: named, Target: n}, ipIface)
	sl0 := mk(t, d, slKind, "sl0", nil, backend.CreateRequest{Source: c, Target: s})
	sl1 := mk(t, d, slKind, "sl1", nil, backend.CreateRequest{Source: c, Target: s})

	attrs := func(e *occi.Entity) occi.Attributes { return state(t, d, e).Attributes }
	tests := []struct {
		e    *occi.Entity
		want occi.Attributes
	}{
		{c, occi.Attributes{"occi.compute.hostname": "vm-01234567", "occi.compute.cores": int64(2), "occi.compute.memory": 4.0}},
		{named, occi.Attributes{"occi.compute.hostname": "db1.example.org", "occi.compute.cores": int64(3), "occi.compute.memory": 2.0}},
		{n, occi.Attributes{"occi.network.address": "192.168.7.0/24", "occi.network.gateway": "192.168.7.1", "occi.network.allocation": "dynamic"}},
		{auto, occi.Attributes{"occi.network.address": "10.100.1.0/24", "occi.network.gateway": "10.100.1.1", "occi.network.allocation": "dynamic"}},
		{s, occi.Attributes{"occi.storage.size": 5.0}},
		{static, occi.Attributes{"occi.networkinterface.mac": "02:00:00:00:00:99", "occi.networkinterface.interface": "eth0",
			"occi.networkinterface.address": "192.168.7.50", "occi.networkinterface.allocation": "static", "occi.networkinterface.gateway": "192.168.7.1"}},
		{sl0, occi.Attributes{"occi.storagelink.deviceid": "/dev/vdb"}},
		{sl1, occi.Attributes{"occi.storagelink.deviceid": "/dev/vdc"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, attrs(tt.e)); diff != "" {
			t.Errorf("attributes of %s (-want +got):\n%s", tt.e.Location, diff)
		}
	}
	a0, a1 := attrs(ni0), attrs(ni1)
	for i, tc := range []struct {
		a           occi.Attributes
		iface, addr string
	}{{a0, "eth0", "192.168.7.2"}, {a1, "eth1", "192.168.7.3"}} {
		mac, _ := tc.a["occi.networkinterface.mac"].(string)
		if !strings.HasPrefix(mac, "02:") || len(mac) != 17 {
			t.Errorf("interface %d: got MAC %q, want a locally administered 02:… address", i, mac)
		}
		if got := tc.a["occi.networkinterface.interface"]; got != tc.iface {
			t.Errorf("interface %d: got %v, want %s", i, got, tc.iface)
		}
		if got := tc.a["occi.networkinterface.address"]; got != tc.addr {
			t.Errorf("interface %d: got address %v, want %s", i, got, tc.addr)
		}
	}
	if a0["occi.networkinterface.mac"] == a1["occi.networkinterface.mac"] {
		t.Errorf("two interfaces got the same MAC %v", a0["occi.networkinterface.mac"])
	}
	// A freed name and address are reused.
	if err := d.Delete(ctx, ni0); err != nil {
		t.Fatal(err)
	}
	ni2 := mk(t, d, niKind, "ni2", nil, backend.CreateRequest{Source: c, Target: n}, ipIface)
	if a := attrs(ni2); a["occi.networkinterface.interface"] != "eth0" || a["occi.networkinterface.address"] != "192.168.7.2" {
		t.Errorf("new interface after deleting eth0: got %v %v, want eth0 192.168.7.2", a["occi.networkinterface.interface"], a["occi.networkinterface.address"])
	}
}

func TestCreateErrors(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	s := mk(t, d, storageKind, "s", occi.Attributes{"occi.storage.size": 1.0}, backend.CreateRequest{})
	tests := []struct {
		name string
		req  backend.CreateRequest
		want occi.Code
	}{
		{"taken location", backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/c", Kind: computeKind}}, occi.AlreadyExists},
		{"unknown kind", backend.CreateRequest{Entity: &occi.Entity{Location: "/x/1", Kind: occi.CategoryID{Scheme: "http://example.org/occi#", Term: "x"}}}, occi.InvalidArgument},
		{"no location", backend.CreateRequest{Entity: &occi.Entity{Kind: computeKind}}, occi.InvalidArgument},
		{"unknown os template", backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/2", Kind: computeKind}, OSTemplate: "plan9"}, occi.InvalidArgument},
		{"resource as os template", backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/2", Kind: computeKind}, OSTemplate: "small"}, occi.InvalidArgument},
		{"unknown resource template", backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/2", Kind: computeKind}, ResourceTemplate: "huge"}, occi.InvalidArgument},
		{"string cores", backend.CreateRequest{Entity: &occi.Entity{Location: "/compute/2", Kind: computeKind, Attributes: occi.Attributes{"occi.compute.cores": "two"}}}, occi.InvalidArgument},
		{"storage without size", backend.CreateRequest{Entity: &occi.Entity{Location: "/storage/2", Kind: storageKind}}, occi.InvalidArgument},
		{"storage of size 0", backend.CreateRequest{Entity: &occi.Entity{Location: "/storage/2", Kind: storageKind, Attributes: occi.Attributes{"occi.storage.size": 0.0}}}, occi.InvalidArgument},
		{"bad network range", backend.CreateRequest{Entity: &occi.Entity{Location: "/network/2", Kind: networkKind, Attributes: occi.Attributes{"occi.network.address": "10.0.0.300/24"}}}, occi.InvalidArgument},
		{"link from a storage", backend.CreateRequest{Entity: &occi.Entity{Location: "/storagelink/2", Kind: slKind, Source: s.Location, Target: s.Location}, Source: s, Target: s}, occi.InvalidArgument},
		{"storagelink to a compute", backend.CreateRequest{Entity: &occi.Entity{Location: "/storagelink/2", Kind: slKind, Source: c.Location, Target: c.Location}, Source: c, Target: c}, occi.InvalidArgument},
		{"storagelink to a remote target", backend.CreateRequest{Entity: &occi.Entity{Location: "/storagelink/2", Kind: slKind, Source: c.Location, Target: "http://elsewhere.example/storage/1"}, Source: c}, occi.InvalidArgument},
		{"static interface without address", backend.CreateRequest{Entity: &occi.Entity{Location: "/networkinterface/2", Kind: niKind, Mixins: []occi.CategoryID{ipIface}, Source: c.Location, Target: "http://elsewhere.example/network/1", Attributes: occi.Attributes{"occi.networkinterface.allocation": "static"}}, Source: c}, occi.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Create(ctx, tt.req)
			if got := d.ErrorCode(err); got != tt.want {
				t.Errorf("Create: got %v (code %v), want %v", err, got, tt.want)
			}
		})
	}
	// A network interface to a network on another server is fine.
	remote := &occi.Entity{Location: "/networkinterface/remote", Kind: niKind, Source: c.Location, Target: "http://elsewhere.example/network/1"}
	if _, err := d.Create(ctx, backend.CreateRequest{Entity: remote, Source: c}); err != nil {
		t.Errorf("Create of an interface to a remote network: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{OSTemplate: "debian-12", ResourceTemplate: "small"})
	doAct(t, d, c, "compute", "start")
	doAct(t, d, c, "compute", "restart")
	if _, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: "golden"}, nil); err != nil {
		t.Fatal(err)
	}
	o := mk(t, d, computeKind, "o", nil, backend.CreateRequest{OSTemplate: "ubuntu-24.04"})
	doAct(t, d, o, "compute", "start")

	upd := o.Clone()
	upd.Mixins = append(upd.Mixins, occi.CategoryID{Scheme: "http://occid.local/occi/os_tpl#", Term: "golden"}, occi.CategoryID{Scheme: "http://occid.local/occi/resource_tpl#", Term: "large"})
	upd.Attributes["occi.compute.hostname"] = "renamed"
	obs, err := d.Update(ctx, o, upd)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := occi.Attributes{"occi.compute.hostname": "renamed", "occi.compute.cores": int64(4), "occi.compute.memory": 8.0}
	if diff := cmp.Diff(want, obs.Attributes); diff != "" {
		t.Errorf("after re-image and resize (-want +got):\n%s", diff)
	}
	if got, _ := d.Disk(o.Location); got != 3 {
		t.Errorf("re-imaged active compute: got boot counter %d, want 3 (golden's 2, plus the reboot)", got)
	}

	s := mk(t, d, storageKind, "s", occi.Attributes{"occi.storage.size": 2.0}, backend.CreateRequest{})
	for _, tc := range []struct {
		size any
		want occi.Code
	}{{1.0, occi.InvalidArgument}, {int64(4), occi.OK}, {"big", occi.InvalidArgument}} {
		u := s.Clone()
		u.Attributes["occi.storage.size"] = tc.size
		_, err := d.Update(ctx, s, u)
		if got := d.ErrorCode(err); got != tc.want {
			t.Errorf("Update storage size to %v: got %v (code %v), want %v", tc.size, err, got, tc.want)
		}
	}
	if got := state(t, d, s).Attributes["occi.storage.size"]; got != 4.0 {
		t.Errorf("storage size: got %v, want 4", got)
	}
	if _, err := d.Update(ctx, &occi.Entity{Location: "/compute/none"}, &occi.Entity{Location: "/compute/none"}); d.ErrorCode(err) != occi.NotFound {
		t.Errorf("Update of nothing: got %v, want NotFound", err)
	}
}

func TestSaveRules(t *testing.T) {
	dd := open(t, simbackend.Options{Delay: 0})
	defer dd.Close()
	c := mk(t, dd, computeKind, "c", nil, backend.CreateRequest{})
	if _, err := dd.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: "a"}, nil); dd.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("Save of an inactive compute: got %v, want FailedPrecondition", err)
	}
	doAct(t, dd, c, "compute", "start")
	tests := []struct {
		name, method, tpl string
		want              occi.Code
	}{
		{"hot", "hot", "img", occi.OK},
		{"taken name", "hot", "img", occi.AlreadyExists},
		{"provider name", "hot", "debian-12", occi.AlreadyExists},
		{"resource name", "hot", "small", occi.AlreadyExists},
		{"invalid term", "hot", "-bad name", occi.InvalidArgument},
		{"unknown method", "cold", "img2", occi.InvalidArgument},
		{"rOCCI spelling", "deffered", "img3", occi.OK},
		{"generated name", "hot", "", occi.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := dd.Save(ctx, backend.SaveRequest{Entity: c, Method: tt.method, Name: tt.tpl}, nil)
			if got := dd.ErrorCode(err); got != tt.want {
				t.Fatalf("Save(%s, %q): got %v (code %v), want %v", tt.method, tt.tpl, err, got, tt.want)
			}
			if err == nil && (!occi.ValidTerm(tpl.Name) || tpl.State != backend.TemplateReady) {
				t.Errorf("Save: got template %q in %q, want a valid name, ready at once with no delay", tpl.Name, tpl.State)
			}
		})
	}
	// Deleting templates: saved yes, provider no, unknown NotFound.
	for _, tc := range []struct {
		name string
		want occi.Code
	}{{"img", occi.OK}, {"img", occi.NotFound}, {"tinyos", occi.PermissionDenied}} {
		if err := dd.DeleteTemplate(ctx, tc.name); dd.ErrorCode(err) != tc.want {
			t.Errorf("DeleteTemplate(%s): got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	d := open(t, simbackend.Options{Dir: dir})
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{OSTemplate: "tinyos"})
	doAct(t, d, c, "compute", "start")
	doAct(t, d, c, "compute", "restart")
	if _, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: "img"}, nil); err != nil {
		t.Fatal(err)
	}
	tplBefore, _ := d.Templates(ctx)
	obsBefore := state(t, d, c)
	d.Close()
	if _, err := d.Observe(ctx, c); d.ErrorCode(err) != occi.Unavailable {
		t.Errorf("Observe after Close: got %v, want Unavailable", err)
	}

	d = open(t, simbackend.Options{Dir: dir})
	defer d.Close()
	if diff := cmp.Diff(obsBefore, state(t, d, c)); diff != "" {
		t.Errorf("compute after reopening (-before +after):\n%s", diff)
	}
	tplAfter, _ := d.Templates(ctx)
	if diff := cmp.Diff(tplBefore, tplAfter); diff != "" {
		t.Errorf("templates after reopening (-before +after):\n%s", diff)
	}
	if got, _ := d.Disk(c.Location); got != 2 {
		t.Errorf("boot counter after reopening: got %d, want 2", got)
	}
	// Reopening by location finds the object even without its ref.
	if obs := state(t, d, &occi.Entity{Location: c.Location}); obs.Ref != c.BackendRef {
		t.Errorf("Observe by location: got ref %q, want %q", obs.Ref, c.BackendRef)
	}
}

func TestReopenInFlight(t *testing.T) {
	dir := t.TempDir()
	// Objects are made without delay, then a slow driver takes over.
	fast := open(t, simbackend.Options{Dir: dir})
	c := mk(t, fast, computeKind, "c", nil, backend.CreateRequest{})
	doAct(t, fast, c, "compute", "start")
	s := mk(t, fast, storageKind, "s", occi.Attributes{"occi.storage.size": 1.0}, backend.CreateRequest{})
	fast.Close()

	d := open(t, simbackend.Options{Dir: dir, Delay: time.Hour})
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: "img"}, nil)
	if err != nil || tpl.State != backend.TemplateSaving {
		t.Fatalf("hot save with a long delay: got %+v, %v; want a saving template", tpl, err)
	}
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := d.Act(ctx, s, action("storage", "online"), func(backend.Observation) { close(started) })
		done <- err
	}()
	<-started
	d.Close()
	if err := <-done; d.ErrorCode(err) != occi.Unavailable {
		t.Errorf("action interrupted by Close: got %v, want Unavailable", err)
	}

	d = open(t, simbackend.Options{Dir: dir})
	defer d.Close()
	ready := waitTemplate(t, d, "img", backend.TemplateReady)
	if ready.Progress != 100 {
		t.Errorf("resumed template: progress %d, want 100", ready.Progress)
	}
	if obs := state(t, d, s); obs.State != "offline" || obs.Message != "" {
		t.Errorf("storage whose online was interrupted: got %q %q, want offline with no message", obs.State, obs.Message)
	}
	b := mk(t, d, computeKind, "b", nil, backend.CreateRequest{OSTemplate: "img"})
	if got, _ := d.Disk(b.Location); got != 1 {
		t.Errorf("compute from the resumed template: got boot counter %d, want 1", got)
	}
}

func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := simbackend.Open(simbackend.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Open over a corrupt state: got %v, want an error saying it is corrupt", err)
	}
}

func TestSeedIsReproducible(t *testing.T) {
	refs := func() []string {
		d := open(t, simbackend.Options{Seed: 42})
		defer d.Close()
		c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
		n := mk(t, d, networkKind, "n", nil, backend.CreateRequest{})
		ni := mk(t, d, niKind, "ni", nil, backend.CreateRequest{Source: c, Target: n})
		return []string{c.BackendRef, ni.BackendRef, state(t, d, ni).Attributes["occi.networkinterface.mac"].(string)}
	}
	if diff := cmp.Diff(refs(), refs()); diff != "" {
		t.Errorf("two simulators with seed 42 differ (-first +second):\n%s", diff)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	d, err := simbackend.OpenURL("sim://?delay=1ms&seed=3", dir)
	if err != nil {
		t.Fatalf("OpenURL: %v", err)
	}
	mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	d.Close()
	if _, err := os.Stat(filepath.Join(dir, "sim", "state.json")); err != nil {
		t.Errorf("OpenURL with a data dir did not keep its state there: %v", err)
	}
	if _, err := simbackend.OpenURL("sim://?delay=soon", dir); err == nil {
		t.Errorf("OpenURL with a bad delay: no error")
	}
}

func TestLinkState(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	c := mk(t, d, computeKind, "c", nil, backend.CreateRequest{})
	s := mk(t, d, storageKind, "s", occi.Attributes{"occi.storage.size": 1.0}, backend.CreateRequest{})
	sl := mk(t, d, slKind, "sl", nil, backend.CreateRequest{Source: c, Target: s})
	steps := []struct {
		kind, term, want string
	}{
		{"", "", "inactive"},
		{"compute", "start", "inactive"}, // storage still offline
		{"storage", "online", "active"},
		{"compute", "suspend", "inactive"},
		{"compute", "start", "active"},
	}
	for _, st := range steps {
		switch st.kind {
		case "compute":
			doAct(t, d, c, "compute", st.term)
		case "storage":
			doAct(t, d, s, "storage", st.term)
		}
		if got := state(t, d, sl).State; got != st.want {
			t.Errorf("after %s %s: link state %s, want %s", st.kind, st.term, got, st.want)
		}
	}
	// Deleting the storage takes its links.
	if err := d.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !state(t, d, sl).Gone {
		t.Errorf("link to a deleted storage still exists")
	}
}

func TestConcurrentUse(t *testing.T) {
	d := open(t, simbackend.Options{Dir: t.TempDir(), Delay: time.Millisecond})
	defer d.Close()
	n := mk(t, d, networkKind, "n", nil, backend.CreateRequest{}, ipNetwork)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('a' + i))
			c := &occi.Entity{ID: id, Location: "/compute/" + id, Kind: computeKind}
			obs, err := d.Create(ctx, backend.CreateRequest{Entity: c})
			if err != nil {
				t.Errorf("Create: %v", err)
				return
			}
			c.BackendRef = obs.Ref
			ni := &occi.Entity{ID: "ni" + id, Location: "/networkinterface/" + id, Kind: niKind, Mixins: []occi.CategoryID{ipIface}, Source: c.Location, Target: n.Location}
			if _, err := d.Create(ctx, backend.CreateRequest{Entity: ni, Source: c, Target: n}); err != nil {
				t.Errorf("Create link: %v", err)
			}
			for _, term := range []string{"start", "suspend", "start", "restart", "stop"} {
				if _, err := d.Act(ctx, c, action("compute", term), nil); err != nil {
					t.Errorf("Act(%s, %s): %v", c.Location, term, err)
				}
			}
			if err := d.Delete(ctx, c); err != nil {
				t.Errorf("Delete: %v", err)
			}
		}()
	}
	wg.Wait()
	if left, _ := d.Leftovers(ctx); cmp.Diff([]string{"/network/n"}, left) != "" {
		t.Errorf("after concurrent use: got %q, want only the network", left)
	}
}

func TestErrorCode(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	wrapped := func(err error) error { return fmt.Errorf("while testing: %w", err) }
	tests := []struct {
		err  error
		want occi.Code
	}{
		{nil, occi.OK},
		{wrapped(simbackend.ErrNotFound), occi.NotFound},
		{wrapped(simbackend.ErrState), occi.FailedPrecondition},
		{wrapped(simbackend.ErrBusy), occi.Conflict},
		{wrapped(simbackend.ErrInvalid), occi.InvalidArgument},
		{wrapped(simbackend.ErrExists), occi.AlreadyExists},
		{wrapped(simbackend.ErrClosed), occi.Unavailable},
		{context.Canceled, occi.Unavailable},
		{wrapped(context.DeadlineExceeded), occi.Unavailable},
		{occi.Errorf(occi.PermissionDenied, "no"), occi.PermissionDenied},
		{errors.New("something else"), occi.Internal},
	}
	for _, tt := range tests {
		if got := d.ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestNilInput(t *testing.T) {
	d := open(t, simbackend.Options{})
	defer d.Close()
	calls := map[string]func() error{
		"Create":  func() error { _, err := d.Create(ctx, backend.CreateRequest{}); return err },
		"Observe": func() error { _, err := d.Observe(ctx, nil); return err },
		"Update":  func() error { _, err := d.Update(ctx, nil, nil); return err },
		"Delete":  func() error { return d.Delete(ctx, nil) },
		"Act":     func() error { _, err := d.Act(ctx, nil, nil, nil); return err },
		"Save":    func() error { _, err := d.Save(ctx, backend.SaveRequest{Method: "hot"}, nil); return err },
	}
	for name, call := range calls {
		if got := d.ErrorCode(call()); got != occi.InvalidArgument {
			t.Errorf("%s with nil input: got code %v, want InvalidArgument", name, got)
		}
	}
}

func TestDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	d := open(t, simbackend.Options{Dir: dir})
	_, err := simbackend.Open(simbackend.Options{Dir: dir})
	if got := d.ErrorCode(err); got != occi.Conflict {
		t.Errorf("second Open of one Dir: got %v (code %v), want Conflict", err, got)
	}
	d.Close()
	d2 := open(t, simbackend.Options{Dir: dir})
	d2.Close()
}

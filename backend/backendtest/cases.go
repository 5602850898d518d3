package backendtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// actionKind maps the action schemes of Infrastructure to their kinds.
var actionKind = map[string]occi.CategoryID{
	computeAction: kindCompute,
	networkAction: kindNetwork,
	storageAction: kindStorage,
}

func (s *suite) testCapabilities(t *testing.T, e *env) {
	c := e.caps
	if len(c.Kinds) == 0 {
		t.Fatal("Capabilities: no kinds")
	}
	if diff := cmp.Diff(c, e.driver().Capabilities()); diff != "" {
		t.Errorf("Capabilities changed between two calls (-first +second):\n%s", diff)
	}
	seen := map[occi.CategoryID]bool{}
	for _, k := range append(slices.Clone(c.Kinds), c.Actions...) {
		if seen[k] {
			t.Errorf("Capabilities lists %s twice", k)
		}
		seen[k] = true
	}
	for _, a := range c.Actions {
		k, ok := actionKind[a.Scheme]
		if !ok {
			t.Logf("Capabilities: action %s is not an Infrastructure action; the suite does not exercise it", a)
			continue
		}
		if !e.hasKind(k) {
			t.Errorf("Capabilities: action %s is advertised without its kind %s", a, k)
		}
	}
	for _, l := range []struct{ link, src, tgt occi.CategoryID }{
		{kindNetworkInterface, kindCompute, kindNetwork},
		{kindStorageLink, kindCompute, kindStorage},
	} {
		if e.hasKind(l.link) && !e.hasKind(l.src) {
			t.Errorf("Capabilities: link kind %s is advertised without its source kind %s", l.link, l.src)
		}
		if l.link == kindStorageLink && e.hasKind(l.link) && !e.hasKind(l.tgt) {
			t.Errorf("Capabilities: link kind %s is advertised without its target kind %s", l.link, l.tgt)
		}
	}
	for _, m := range c.SaveMethods {
		if m != "hot" && m != "deferred" {
			t.Errorf("Capabilities: save method %q, want hot or deferred", m)
		}
	}
	if got, want := len(c.SaveMethods) > 0, e.hasAction(actSave); got != want {
		t.Errorf("Capabilities: save methods %q with save action advertised %v; want methods exactly when save is advertised", c.SaveMethods, want)
	}
}

func (s *suite) testTemplates(t *testing.T, e *env) {
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	tpls, err := d.Templates(ctx)
	if err != nil {
		t.Fatalf("Templates: %v (code %v)", err, d.ErrorCode(err))
	}
	seen := map[string]bool{}
	var osReady []string
	var resources []string
	for _, tp := range tpls {
		key := fmt.Sprintf("%d:%s", tp.Type, tp.Name)
		if seen[key] {
			t.Errorf("Templates lists %q twice", tp.Name)
		}
		seen[key] = true
		if !occi.ValidTerm(tp.Name) {
			t.Errorf("Templates: name %q is not a valid OCCI term", tp.Name)
		}
		if tp.Type != backend.OSTemplate && tp.Type != backend.ResourceTemplate {
			t.Errorf("Templates: %s has type %d, want OSTemplate or ResourceTemplate", tp.Name, tp.Type)
		}
		if !slices.Contains([]string{backend.TemplateReady, backend.TemplateSaving, backend.TemplateError}, tp.State) {
			t.Errorf("Templates: %s has state %q, want ready, saving or error", tp.Name, tp.State)
		}
		if tp.Progress < 0 || tp.Progress > 100 {
			t.Errorf("Templates: %s has progress %d, want 0 to 100", tp.Name, tp.Progress)
		}
		if err := canonical(tp.Attributes); err != nil {
			t.Errorf("Templates: %s: attributes: %v", tp.Name, err)
		}
		if v, ok := tp.Attributes["occi.compute.cores"]; ok {
			if _, isInt := v.(int64); !isInt {
				t.Errorf("Templates: %s: occi.compute.cores is a %T, want int64", tp.Name, v)
			}
		}
		if v, ok := tp.Attributes["occi.compute.memory"]; ok {
			if _, isFloat := v.(float64); !isFloat {
				t.Errorf("Templates: %s: occi.compute.memory is a %T, want float64 (GiB)", tp.Name, v)
			}
		}
		if tp.Type == backend.OSTemplate && tp.State == backend.TemplateReady {
			osReady = append(osReady, tp.Name)
		}
		if tp.Type == backend.ResourceTemplate {
			resources = append(resources, tp.Name)
		}
	}
	if e.hasKind(kindCompute) && len(osReady) == 0 {
		t.Errorf("Templates: no ready OS template, yet the driver advertises compute")
	}
	if e.h.OSTemplate != "" && !slices.Contains(osReady, e.h.OSTemplate) {
		t.Errorf("Templates: Harness.OSTemplate %q is not a ready OS template; ready: %q", e.h.OSTemplate, osReady)
	}
	if e.h.ResourceTemplate != "" && !slices.Contains(resources, e.h.ResourceTemplate) {
		t.Errorf("Templates: Harness.ResourceTemplate %q is not listed; resource templates: %q", e.h.ResourceTemplate, resources)
	}
}

func (s *suite) testComputeLifecycle(t *testing.T, e *env) {
	e.need(t, kindCompute)
	var mixins []occi.CategoryID
	for _, m := range []occi.CategoryID{mixinSSHKey, mixinUserData} {
		if e.hasMixin(m) {
			mixins = append(mixins, m)
		}
	}
	c, created := e.newCompute(t, "", 0, mixins...)
	if created.Ref == "" {
		t.Errorf("Create(%s): empty Ref, want the backend's id", c.Location)
	}
	if got := e.observe(t, c); got.State != created.State {
		t.Errorf("Observe(%s) after Create: got state %q, want %q as Create said", c.Location, got.State, created.State)
	}
	if created.State == "inactive" && e.hasAction(actStart) {
		e.mustAct(t, c, actStart, "active")
	}
	if e.observe(t, c).State == "active" {
		if e.hasAction(actSuspend) {
			e.mustAct(t, c, actSuspend, "suspended")
			if e.hasAction(actStart) {
				e.mustAct(t, c, actStart, "active")
				e.checkDisk(t, c) // resuming is not a boot
			}
		}
		if e.hasAction(actRestart) && e.observe(t, c).State == "active" {
			e.mustAct(t, c, actRestart, "active")
		}
		if e.hasAction(actStop) {
			e.mustAct(t, c, actStop, "inactive")
		}
	}
	e.del(t, c)
}

func (s *suite) testComputeRefused(t *testing.T, e *env) {
	e.need(t, kindCompute)
	c, _ := e.newCompute(t, "", 0)
	e.stopCompute(t, c)
	if e.observe(t, c).State != "inactive" {
		t.Skip("the compute cannot be brought to inactive")
	}
	for _, a := range []occi.CategoryID{actStop, actSuspend, actRestart} {
		if e.hasAction(a) {
			t.Run("inactive/"+a.Term, func(t *testing.T) { e.refuse(t, c, a) })
		}
	}
	if e.hasAction(actStart) {
		e.startNoWait(t, c) // the guest need not finish booting: c is deleted running
		t.Run("active/start", func(t *testing.T) { e.refuse(t, c, actStart) })
	}
	e.del(t, c)
}

func (s *suite) testStorageLifecycle(t *testing.T, e *env) {
	e.need(t, kindStorage)
	st, created := e.newStorage(t)
	if got := e.observe(t, st); got.State != created.State {
		t.Errorf("Observe(%s) after Create: got state %q, want %q as Create said", st.Location, got.State, created.State)
	}
	if created.State == "offline" && e.hasAction(actOnline) {
		e.mustAct(t, st, actOnline, "online")
	}
	// Resize by updating occi.storage.size (GFD.224 removed the action).
	old := st.Clone()
	st.Attributes["occi.storage.size"] = 2 * e.h.StorageSize
	d := e.driver()
	ctx, cancel := e.ctx()
	obs, err := d.Update(ctx, old, st)
	cancel()
	if err != nil {
		t.Errorf("Update(%s) growing occi.storage.size to %v: %v (code %v)", st.Location, 2*e.h.StorageSize, err, d.ErrorCode(err))
	} else {
		e.absorb(t, st, obs, "Update")
		if v, ok := obs.Attributes["occi.storage.size"]; ok && v != 2*e.h.StorageSize {
			t.Errorf("Update(%s): got occi.storage.size %v, want %v", st.Location, v, 2*e.h.StorageSize)
		}
	}
	if e.observe(t, st).State == "online" && e.hasAction(actOffline) {
		e.mustAct(t, st, actOffline, "offline")
	}
	e.del(t, st)
}

func (s *suite) testStorageRefused(t *testing.T, e *env) {
	e.need(t, kindStorage)
	e.needAction(t, actOnline, actOffline)
	st, created := e.newStorage(t)
	if created.State == "online" {
		e.mustAct(t, st, actOffline, "offline")
	}
	t.Run("offline/offline", func(t *testing.T) { e.refuse(t, st, actOffline) })
	e.mustAct(t, st, actOnline, "online")
	t.Run("online/online", func(t *testing.T) { e.refuse(t, st, actOnline) })
	e.del(t, st)
}

func (s *suite) testNetworkLifecycle(t *testing.T, e *env) {
	e.need(t, kindNetwork)
	n, created := e.newNetwork(t)
	if got := e.observe(t, n); got.State != created.State {
		t.Errorf("Observe(%s) after Create: got state %q, want %q as Create said", n.Location, got.State, created.State)
	}
	if created.State == "inactive" && e.hasAction(actUp) {
		e.mustAct(t, n, actUp, "active")
	}
	if e.observe(t, n).State == "active" && e.hasAction(actDown) {
		e.mustAct(t, n, actDown, "inactive")
	}
	e.del(t, n)
}

func (s *suite) testNetworkRefused(t *testing.T, e *env) {
	e.need(t, kindNetwork)
	e.needAction(t, actUp, actDown)
	n, created := e.newNetwork(t)
	if created.State == "active" {
		e.mustAct(t, n, actDown, "inactive")
	}
	t.Run("inactive/down", func(t *testing.T) { e.refuse(t, n, actDown) })
	e.mustAct(t, n, actUp, "active")
	t.Run("active/up", func(t *testing.T) { e.refuse(t, n, actUp) })
	e.del(t, n)
}

func (s *suite) testLinks(t *testing.T, e *env) {
	e.need(t, kindCompute)
	if !e.hasKind(kindNetworkInterface) && !e.hasKind(kindStorageLink) {
		t.Skip("the driver advertises no link kind")
	}
	c, _ := e.newCompute(t, "", 0)
	var links, targets []*occi.Entity
	if e.hasKind(kindNetworkInterface) {
		n, _ := e.newNetwork(t)
		targets = append(targets, n)
		var mixins []occi.CategoryID
		if e.hasMixin(mixinIPNetworkInterface) {
			mixins = append(mixins, mixinIPNetworkInterface)
		}
		var macs []string
		for range 2 {
			ni, obs := e.newLink(t, kindNetworkInterface, c, n, mixins...)
			links = append(links, ni)
			mac, _ := obs.Attributes["occi.networkinterface.mac"].(string)
			if mac == "" {
				t.Errorf("Create(%s): observation has no occi.networkinterface.mac, want the MAC the backend chose", ni.Location)
			} else if slices.Contains(macs, mac) {
				t.Errorf("Create(%s): got MAC %s, already used by another interface of the same compute", ni.Location, mac)
			}
			macs = append(macs, mac)
		}
	}
	if e.hasKind(kindStorageLink) && e.hasKind(kindStorage) {
		st, _ := e.newStorage(t)
		targets = append(targets, st)
		sl, obs := e.newLink(t, kindStorageLink, c, st)
		links = append(links, sl)
		if dev, _ := obs.Attributes["occi.storagelink.deviceid"].(string); dev == "" {
			t.Errorf("Create(%s): observation has no occi.storagelink.deviceid, want the device the backend chose", sl.Location)
		}
	}
	if e.observe(t, c).State == "inactive" && e.hasAction(actStart) {
		e.mustAct(t, c, actStart, "active")
	}
	for _, l := range links {
		e.observe(t, l) // checks the state is a valid link state
	}
	e.stopCompute(t, c)
	for _, l := range links {
		e.del(t, l)
	}
	e.observe(t, c)
	for _, tg := range targets {
		e.observe(t, tg)
		e.del(t, tg)
	}
	e.del(t, c)
}

func (s *suite) testLinksDeletedWithCompute(t *testing.T, e *env) {
	e.need(t, kindCompute)
	var links, targets []*occi.Entity
	c, _ := e.newCompute(t, "", 0)
	if e.hasKind(kindNetworkInterface) {
		n, _ := e.newNetwork(t)
		ni, _ := e.newLink(t, kindNetworkInterface, c, n)
		links, targets = append(links, ni), append(targets, n)
	}
	if e.hasKind(kindStorageLink) && e.hasKind(kindStorage) {
		st, _ := e.newStorage(t)
		sl, _ := e.newLink(t, kindStorageLink, c, st)
		links, targets = append(links, sl), append(targets, st)
	}
	if len(links) == 0 {
		t.Skip("the driver advertises no link kind")
	}
	e.del(t, c)
	for _, l := range links {
		e.gone(t, l)
		e.del(t, l)
	}
	for _, tg := range targets {
		e.observe(t, tg)
		e.del(t, tg)
	}
}

func (s *suite) testSave(t *testing.T, e *env, method string) {
	e.need(t, kindCompute)
	e.needAction(t, actSave, actStart)
	if !slices.Contains(e.caps.SaveMethods, method) {
		t.Skipf("the driver does not advertise save method %s", method)
	}
	c, _ := e.newCompute(t, "", 0)
	if e.observe(t, c).State != "active" {
		e.mustAct(t, c, actStart, "active")
	}
	e.mu.Lock()
	counter := e.boots[c.Location]
	e.mu.Unlock()

	d := e.driver()
	name := "bt-" + method + "-" + randomHex(4)
	ctx, cancel := e.ctx()
	var mu sync.Mutex
	var progress []backend.Observation
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: method, Name: name, Title: "backendtest " + method + " save"}, func(o backend.Observation) {
		mu.Lock()
		progress = append(progress, o)
		mu.Unlock()
	})
	cancel()
	if err != nil {
		t.Fatalf("Save(%s, %s): %v (code %v)", c.Location, method, err, d.ErrorCode(err))
	}
	e.s.exercise(actSave)
	e.mu.Lock()
	e.saved = append(e.saved, tpl.Name)
	e.mu.Unlock()
	mu.Lock()
	for _, p := range progress {
		if !slices.Contains(validStates[kindCompute], p.State) {
			t.Errorf("Save(%s, %s): progress reported state %q", c.Location, method, p.State)
		}
	}
	mu.Unlock()
	if tpl.Type != backend.OSTemplate {
		t.Errorf("Save: got template type %d, want OSTemplate", tpl.Type)
	}
	if !occi.ValidTerm(tpl.Name) {
		t.Fatalf("Save: got template name %q, want a valid OCCI term", tpl.Name)
	}
	if tpl.State != backend.TemplateSaving && tpl.State != backend.TemplateReady {
		t.Errorf("Save: got template state %q (message %q), want saving or ready", tpl.State, tpl.Message)
	}
	// The source stays (hot) or ends (deferred) active.
	e.waitState(t, c, "active")
	if method == "deferred" {
		e.booted(t, c) // stopped and started again
	} else {
		e.checkDisk(t, c)
	}
	ready := e.waitTemplate(t, tpl.Name)
	if ready.Source != "" && ready.Source != c.Location {
		t.Errorf("Templates: saved template %s has Source %q, want %q", tpl.Name, ready.Source, c.Location)
	}
	if ready.Type != backend.OSTemplate {
		t.Errorf("Templates: saved template %s has type %d, want OSTemplate", tpl.Name, ready.Type)
	}

	// A compute made from the template boots from the source's disk.
	b, _ := e.newCompute(t, tpl.Name, counter)
	if e.observe(t, b).State != "active" {
		e.mustAct(t, b, actStart, "active")
	}
	e.del(t, b)
	if got := e.observe(t, c).State; got != "active" {
		t.Errorf("source %s after the save: got state %q, want active", c.Location, got)
	}
	e.del(t, c)
}

// waitTemplate waits until the template name is listed ready.
func (e *env) waitTemplate(r reporter, name string) backend.Template {
	r.Helper()
	d := e.driver()
	deadline := time.Now().Add(e.h.Timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		ctx, cancel := e.ctx()
		tpls, err := d.Templates(ctx)
		cancel()
		if err != nil {
			r.Fatalf("Templates: %v (code %v)", err, d.ErrorCode(err))
		}
		var found *backend.Template
		for i := range tpls {
			if tpls[i].Name == name && tpls[i].Type == backend.OSTemplate {
				found = &tpls[i]
			}
		}
		switch {
		case found == nil:
			r.Fatalf("Templates: saved template %s is not listed", name)
		case found.State == backend.TemplateReady:
			return *found
		case found.State == backend.TemplateError:
			r.Fatalf("Templates: saved template %s ended in error: %s", name, found.Message)
		case time.Now().After(deadline):
			r.Fatalf("Templates: saved template %s is still %s (%d%%, %q) after %v", name, found.State, found.Progress, found.Message, e.h.Timeout)
		}
		time.Sleep(pause)
	}
}

func (s *suite) testMissing(t *testing.T, e *env) {
	e.need(t, kindCompute)
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()

	never := e.entity(kindCompute)
	t.Run("never created", func(t *testing.T) {
		e.gone(t, never)
		if err := d.Delete(ctx, never); err != nil {
			t.Errorf("Delete(%s) of something never created: %v (code %v), want nil", never.Location, err, d.ErrorCode(err))
		}
	})

	c, _ := e.newCompute(t, "", 0)
	e.del(t, c)
	t.Run("deleted", func(t *testing.T) {
		for _, a := range []occi.CategoryID{actStart, actStop} {
			if !e.hasAction(a) {
				continue
			}
			_, _, err := e.act(ctx, c, a, nil)
			if got := d.ErrorCode(err); got != occi.NotFound {
				t.Errorf("Act(%s, %s) after delete: got %v (code %v), want NotFound", c.Location, a.Term, err, got)
			}
		}
		upd := c.Clone()
		upd.Attributes["occi.compute.hostname"] = "renamed"
		if _, err := d.Update(ctx, c, upd); d.ErrorCode(err) != occi.NotFound {
			t.Errorf("Update(%s) after delete: got %v (code %v), want NotFound", c.Location, err, d.ErrorCode(err))
		}
		if e.hasAction(actSave) {
			_, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: e.caps.SaveMethods[0], Name: "bt-missing-" + randomHex(4)}, nil)
			if got := d.ErrorCode(err); got != occi.NotFound {
				t.Errorf("Save(%s) after delete: got %v (code %v), want NotFound", c.Location, err, got)
			}
		}
	})
}

func (s *suite) testConcurrent(t *testing.T, e *env) {
	e.need(t, kindCompute)
	var wg sync.WaitGroup
	workers := make([]*worker, e.h.Parallel)
	for i := range workers {
		w := &worker{name: fmt.Sprintf("worker %d", i)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := e.newCompute(w, "", 0)
			var n *occi.Entity
			if e.hasKind(kindNetwork) {
				n, _ = e.newNetwork(w)
			}
			if e.hasAction(actStart) && e.observe(w, c).State == "inactive" {
				e.mustAct(w, c, actStart, "active")
			}
			if n != nil && e.hasAction(actUp) {
				e.mustAct(w, n, actUp, "active")
			}
			e.stopCompute(w, c)
			e.del(w, c)
			if n != nil {
				e.del(w, n)
			}
		}()
	}
	wg.Wait()
	for _, w := range workers {
		for _, msg := range w.errs {
			t.Error(msg)
		}
	}
}

func (s *suite) testCancelBefore(t *testing.T, e *env) {
	e.need(t, kindCompute)
	d := e.driver()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	t.Run("Create", func(t *testing.T) {
		c := e.entity(kindCompute)
		start := time.Now()
		obs, err := d.Create(ctx, backend.CreateRequest{Entity: c, OSTemplate: e.osTemplate(t)})
		if err == nil {
			c.BackendRef = obs.Ref
			e.mu.Lock()
			e.made = append(e.made, c)
			e.mu.Unlock()
			t.Fatalf("Create with a cancelled context: succeeded, want an error")
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("Create with a cancelled context took %v, want it to return promptly", el)
		}
	})

	c, _ := e.newCompute(t, "", 0)
	before := e.observe(t, c)
	if e.hasAction(actStart) && before.State == "inactive" {
		t.Run("Act", func(t *testing.T) {
			_, _, err := e.act(ctx, c, actStart, nil)
			if err == nil {
				t.Fatalf("Act(%s, start) with a cancelled context: succeeded, want an error", c.Location)
			}
			if got := e.observe(t, c).State; got != before.State {
				t.Errorf("Act(%s, start) with a cancelled context failed but moved the state from %s to %s", c.Location, before.State, got)
			}
		})
	}
	if e.hasAction(actSave) && e.hasAction(actStart) {
		t.Run("Save", func(t *testing.T) {
			if e.observe(t, c).State != "active" {
				e.startNoWait(t, c)
			}
			name := "bt-cancel-" + randomHex(4)
			tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: e.caps.SaveMethods[0], Name: name}, nil)
			if err == nil {
				e.mu.Lock()
				e.saved = append(e.saved, tpl.Name)
				e.mu.Unlock()
				t.Fatalf("Save(%s) with a cancelled context: succeeded, want an error", c.Location)
			}
			if got := e.observe(t, c).State; got != "active" {
				t.Errorf("Save(%s) with a cancelled context failed but left the compute %s, want active", c.Location, got)
			}
		})
	}
	e.del(t, c)
}

func (s *suite) testCancelDuring(t *testing.T, e *env) {
	e.need(t, kindCompute)
	e.needAction(t, actStart)
	c, _ := e.newCompute(t, "", 0)
	if e.observe(t, c).State != "inactive" {
		e.stopCompute(t, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	obs, _, err := e.act(ctx, c, actStart, nil)
	elapsed := time.Since(start)
	cancel()
	if bound := min(e.h.Timeout, 30*time.Second); elapsed > bound {
		t.Errorf("Act(%s, start) cancelled after 1ms took %v, want at most %v", c.Location, elapsed, bound)
	}
	if err == nil && obs.State != "active" {
		t.Errorf("Act(%s, start) cancelled but succeeded: got state %q, want active", c.Location, obs.State)
	}
	// Whatever happened, the compute is in a consistent state that the
	// next operations work from.
	after := e.observe(t, c)
	if after.State != "inactive" && after.State != "active" {
		t.Fatalf("Observe(%s) after a cancelled start: got state %q, want inactive or active", c.Location, after.State)
	}
	if after.State == "inactive" {
		// Start it now. On a cloud whose actions run asynchronously the
		// cancelled start may still take effect meanwhile, so a start
		// refused because the compute is active or busy is accepted.
		ctx, cancel := e.ctx()
		_, _, err := e.act(ctx, c, actStart, nil)
		cancel()
		switch code := e.codeOf(err); {
		case err == nil:
			e.s.exercise(actStart)
		case code == occi.FailedPrecondition || code == occi.Conflict:
			t.Logf("start after the cancelled start was refused (%v): the cancelled start took effect late", err)
		default:
			t.Fatalf("Act(%s, start) after a cancelled start: %v (code %v)", c.Location, err, code)
		}
		e.waitState(t, c, "active")
	}
	e.booted(t, c)
	e.del(t, c)
}

func (s *suite) testOutOfBand(t *testing.T, e *env) {
	if e.h.KillOutOfBand == nil {
		t.Skip("Harness.KillOutOfBand is not set")
	}
	e.need(t, kindCompute)
	e.needAction(t, actStart)
	d := e.driver()
	events := make(chan backend.Event, 256)
	if w, ok := d.(backend.Watcher); ok {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = w.Watch(ctx, func(ev backend.Event) {
				select {
				case events <- ev:
				default:
				}
			})
		}()
		t.Cleanup(func() { cancel(); <-done })
		time.Sleep(50 * time.Millisecond) // let Watch register
	}
	c, _ := e.newCompute(t, "", 0)
	if e.observe(t, c).State != "active" {
		e.mustAct(t, c, actStart, "active")
	}
	e.KillOutOfBand(t, c)
	obs := e.waitState(t, c, "inactive")
	t.Logf("after the out-of-band stop: state %q, message %q", obs.State, obs.Message)
	if _, ok := d.(backend.Watcher); ok {
		timeout := time.After(e.h.Timeout)
	wait:
		for {
			select {
			case ev := <-events:
				if ev.Location == c.Location && ev.Observation.State == "inactive" {
					break wait
				}
			case <-timeout:
				t.Errorf("Watch: no event saying %s is inactive within %v", c.Location, e.h.Timeout)
				break wait
			}
		}
	}
	e.mustAct(t, c, actStart, "active")
	e.del(t, c)
}

// KillOutOfBand runs the harness's out-of-band stop.
func (e *env) KillOutOfBand(t *testing.T, c *occi.Entity) {
	t.Helper()
	e.h.KillOutOfBand(t, e.driver(), c)
}

func (s *suite) testReopen(t *testing.T, e *env) {
	if e.h.Reopen == nil {
		t.Skip("Harness.Reopen is not set")
	}
	e.need(t, kindCompute)
	c, _ := e.newCompute(t, "", 0)
	if e.hasAction(actStart) && e.observe(t, c).State == "inactive" {
		e.mustAct(t, c, actStart, "active")
	}
	all := []*occi.Entity{c}
	if e.hasKind(kindNetwork) {
		n, _ := e.newNetwork(t)
		if e.hasAction(actUp) {
			e.mustAct(t, n, actUp, "active")
		}
		all = append(all, n)
		if e.hasKind(kindNetworkInterface) {
			ni, _ := e.newLink(t, kindNetworkInterface, c, n)
			all = append(all, ni)
		}
	}
	if e.hasKind(kindStorage) {
		st, _ := e.newStorage(t)
		all = append(all, st)
	}
	var saved string
	if slices.Contains(e.caps.SaveMethods, "hot") && e.observe(t, c).State == "active" {
		ctx, cancel := e.ctx()
		saved = "bt-reopen-" + randomHex(4)
		d := e.driver()
		tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: "hot", Name: saved}, nil)
		cancel()
		if err != nil {
			t.Fatalf("Save(%s, hot): %v (code %v)", c.Location, err, d.ErrorCode(err))
		}
		saved = tpl.Name
		e.mu.Lock()
		e.saved = append(e.saved, saved)
		e.mu.Unlock()
	}
	before := map[string]backend.Observation{}
	for _, ent := range all {
		before[ent.Location] = e.observe(t, ent)
	}

	old := e.driver()
	nd := e.h.Reopen(t, old)
	if nd == nil {
		t.Fatal("Harness.Reopen returned a nil driver")
	}
	e.mu.Lock()
	e.d = nd
	e.mu.Unlock()

	for _, ent := range all {
		got := e.observe(t, ent)
		want := before[ent.Location]
		if got.State != want.State || got.Ref != want.Ref {
			t.Errorf("Observe(%s) after reopening: got state %q ref %q, want state %q ref %q", ent.Location, got.State, got.Ref, want.State, want.Ref)
		}
		for k, v := range want.Attributes {
			if !strings.HasSuffix(k, ".state") && !cmp.Equal(got.Attributes[k], v) {
				t.Errorf("Observe(%s) after reopening: got %s=%v, want %v", ent.Location, k, got.Attributes[k], v)
			}
		}
	}
	e.checkDisk(t, c)
	if saved != "" {
		e.waitTemplate(t, saved)
	}
	e.stopCompute(t, c)
	for i := len(all) - 1; i >= 0; i-- {
		e.del(t, all[i])
	}
}

// saveTemplate saves running compute c with the first advertised method and
// waits until the template is ready; it returns the template's name.
func (e *env) saveTemplate(t *testing.T, c *occi.Entity) string {
	t.Helper()
	d := e.driver()
	method := e.caps.SaveMethods[0]
	ctx, cancel := e.ctx()
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: c, Method: method, Name: "bt-" + method + "-" + randomHex(4)}, nil)
	cancel()
	if err != nil {
		t.Fatalf("Save(%s, %s): %v (code %v)", c.Location, method, err, d.ErrorCode(err))
	}
	e.s.exercise(actSave)
	e.mu.Lock()
	e.saved = append(e.saved, tpl.Name)
	e.mu.Unlock()
	e.waitState(t, c, "active")
	if method == "deferred" {
		e.booted(t, c)
	}
	e.waitTemplate(t, tpl.Name)
	return tpl.Name
}

func (s *suite) testReimage(t *testing.T, e *env) {
	e.need(t, kindCompute)
	e.needAction(t, actStart, actSave)
	if !e.caps.ReplaceOSTemplate {
		t.Skip("the driver does not advertise ReplaceOSTemplate")
	}
	src, _ := e.newCompute(t, "", 0)
	if e.observe(t, src).State != "active" {
		e.mustAct(t, src, actStart, "active")
	}
	e.mu.Lock()
	counter := e.boots[src.Location]
	e.mu.Unlock()
	name := e.saveTemplate(t, src)
	e.del(t, src)

	// Associating the saved template with another compute replaces its
	// disk: its next boot shows the saved counter plus one.
	c, _ := e.newCompute(t, "", 0)
	old := c.Clone()
	var mixins []occi.CategoryID
	for _, m := range c.Mixins {
		if m.Scheme != osTplScheme {
			mixins = append(mixins, m)
		}
	}
	c.Mixins = append(mixins, occi.CategoryID{Scheme: osTplScheme, Term: name})
	d := e.driver()
	ctx, cancel := e.ctx()
	obs, err := d.Update(ctx, old, c)
	cancel()
	if err != nil {
		t.Fatalf("Update(%s) replacing the OS template with %s: %v (code %v)", c.Location, name, err, d.ErrorCode(err))
	}
	e.absorb(t, c, obs, "Update")
	e.mu.Lock()
	e.boots[c.Location] = counter
	e.mu.Unlock()
	if e.observe(t, c).State == "active" {
		e.booted(t, c) // the driver rebooted it on its new disk
	} else {
		e.mustAct(t, c, actStart, "active")
	}
	e.del(t, c)
}

func (s *suite) testResize(t *testing.T, e *env) {
	e.need(t, kindCompute)
	d := e.driver()
	ctx, cancel := e.ctx()
	tpls, err := d.Templates(ctx)
	cancel()
	if err != nil {
		t.Fatalf("Templates: %v (code %v)", err, d.ErrorCode(err))
	}
	var sized []backend.Template
	for _, tp := range tpls {
		if _, ok := tp.Attributes["occi.compute.cores"].(int64); ok && tp.Type == backend.ResourceTemplate {
			sized = append(sized, tp)
		}
	}
	if len(sized) < 2 {
		t.Skip("the driver lists fewer than two resource templates with occi.compute.cores")
	}
	from, to := sized[0], sized[1]
	c := e.entity(kindCompute, occi.CategoryID{Scheme: osTplScheme, Term: e.osTemplate(t)}, occi.CategoryID{Scheme: resTplScheme, Term: from.Name})
	obs := e.create(t, backend.CreateRequest{Entity: c, OSTemplate: e.osTemplate(t), ResourceTemplate: from.Name})
	if got, ok := obs.Attributes["occi.compute.cores"]; ok && got != from.Attributes["occi.compute.cores"] {
		t.Errorf("Create(%s) with resource template %s: got occi.compute.cores %v, want %v", c.Location, from.Name, got, from.Attributes["occi.compute.cores"])
	}
	if obs.State == "active" {
		e.booted(t, c)
		e.stopCompute(t, c)
	}
	old := c.Clone()
	c.Mixins = []occi.CategoryID{{Scheme: osTplScheme, Term: e.osTemplate(t)}, {Scheme: resTplScheme, Term: to.Name}}
	for k, v := range to.Attributes {
		c.Attributes[k] = v // the engine applies the new template's defaults
	}
	ctx, cancel = e.ctx()
	obs, err = d.Update(ctx, old, c)
	cancel()
	if err != nil {
		t.Fatalf("Update(%s) replacing resource template %s with %s: %v (code %v)", c.Location, from.Name, to.Name, err, d.ErrorCode(err))
	}
	for _, name := range []string{"occi.compute.cores", "occi.compute.memory"} {
		if got, ok := obs.Attributes[name]; ok && to.Attributes[name] != nil && got != to.Attributes[name] {
			t.Errorf("Update(%s) to resource template %s: got %s %v, want %v", c.Location, to.Name, name, got, to.Attributes[name])
		}
	}
	e.del(t, c)
}

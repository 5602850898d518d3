package backendtest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Identifiers of Infrastructure 1.2, kept local so that the suite depends on
// the contracts only.
const (
	infraScheme   = "http://schemas.ogf.org/occi/infrastructure#"
	computeAction = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkAction = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	storageAction = "http://schemas.ogf.org/occi/infrastructure/storage/action#"
	// osTplScheme and resTplScheme are the schemes the suite gives template
	// mixins, as an engine with the default provider scheme would.
	osTplScheme  = "http://occid.local/occi/os_tpl#"
	resTplScheme = "http://occid.local/occi/resource_tpl#"
)

var (
	kindCompute          = occi.CategoryID{Scheme: infraScheme, Term: "compute"}
	kindStorage          = occi.CategoryID{Scheme: infraScheme, Term: "storage"}
	kindNetwork          = occi.CategoryID{Scheme: infraScheme, Term: "network"}
	kindNetworkInterface = occi.CategoryID{Scheme: infraScheme, Term: "networkinterface"}
	kindStorageLink      = occi.CategoryID{Scheme: infraScheme, Term: "storagelink"}

	actStart   = occi.CategoryID{Scheme: computeAction, Term: "start"}
	actStop    = occi.CategoryID{Scheme: computeAction, Term: "stop"}
	actRestart = occi.CategoryID{Scheme: computeAction, Term: "restart"}
	actSuspend = occi.CategoryID{Scheme: computeAction, Term: "suspend"}
	actSave    = occi.CategoryID{Scheme: computeAction, Term: "save"}
	actUp      = occi.CategoryID{Scheme: networkAction, Term: "up"}
	actDown    = occi.CategoryID{Scheme: networkAction, Term: "down"}
	actOnline  = occi.CategoryID{Scheme: storageAction, Term: "online"}
	actOffline = occi.CategoryID{Scheme: storageAction, Term: "offline"}

	mixinSSHKey             = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"}
	mixinUserData           = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute#", Term: "user_data"}
	mixinIPNetwork          = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
	mixinIPNetworkInterface = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/networkinterface#", Term: "ipnetworkinterface"}
)

// validStates lists the OCCI states of each kind.
var validStates = map[occi.CategoryID][]string{
	kindCompute:          {"active", "inactive", "suspended", "error"},
	kindStorage:          {"online", "offline", "error"},
	kindNetwork:          {"active", "inactive", "error"},
	kindNetworkInterface: {"active", "inactive", "error"},
	kindStorageLink:      {"active", "inactive", "error"},
}

// reporter is what the helpers need from a test: *testing.T, or a worker of
// the concurrency case.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// worker reports for a goroutine: Fatalf ends the goroutine, and the errors
// are handed to the test when the goroutine is done.
type worker struct {
	name string
	mu   sync.Mutex
	errs []string
}

func (w *worker) Helper() {}
func (w *worker) Errorf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, w.name+": "+fmt.Sprintf(format, args...))
}
func (w *worker) Fatalf(format string, args ...any) {
	w.Errorf(format, args...)
	runtime.Goexit()
}
func (w *worker) Logf(string, ...any) {}

type suite struct {
	h      Harness
	netSeq atomic.Int64

	mu        sync.Mutex
	exercised map[occi.CategoryID]bool // actions that succeeded at least once
}

func (s *suite) exercise(a occi.CategoryID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exercised[a] = true
}

// env is the state of one case: its driver and what it made.
type env struct {
	s    *suite
	h    *Harness
	caps backend.Capabilities

	mu      sync.Mutex
	d       backend.Driver
	made    []*occi.Entity
	boots   map[string]int  // expected boot counter by location
	paused  map[string]bool // suspended computes, which resume rather than boot
	saved   []string
	osTpl   string
	hasLeft bool
	left    []string
	tpls    []string
}

func (s *suite) newEnv(t *testing.T) *env {
	t.Helper()
	d := s.h.Open(t)
	if d == nil {
		t.Fatal("Harness.Open returned a nil driver")
	}
	e := &env{s: s, h: &s.h, d: d, caps: d.Capabilities(), boots: map[string]int{}, paused: map[string]bool{}}
	t.Cleanup(func() {
		if err := e.driver().Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := e.ctx()
	defer cancel()
	if l, ok := d.(LeftoverLister); ok {
		left, err := l.Leftovers(ctx)
		if err != nil {
			t.Fatalf("Leftovers before the case: %v", err)
		}
		e.hasLeft, e.left = true, left
	}
	tpls, err := d.Templates(ctx)
	if err != nil {
		t.Fatalf("Templates before the case: %v (code %v)", err, d.ErrorCode(err))
	}
	e.tpls = templateKeys(tpls, nil)
	t.Cleanup(func() { e.finish(t) })
	return e
}

func (e *env) driver() backend.Driver {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.d
}

func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.h.Timeout)
}

func templateKeys(tpls []backend.Template, skip []string) []string {
	var out []string
	for _, t := range tpls {
		if slices.Contains(skip, t.Name) {
			continue
		}
		kind := "os"
		if t.Type == backend.ResourceTemplate {
			kind = "resource"
		}
		out = append(out, kind+":"+t.Name)
	}
	sort.Strings(out)
	return out
}

// finish deletes what the case made and checks that nothing is left.
func (e *env) finish(t *testing.T) {
	t.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	e.mu.Lock()
	made := slices.Clone(e.made)
	saved := slices.Clone(e.saved)
	e.mu.Unlock()
	for i := len(made) - 1; i >= 0; i-- {
		if err := d.Delete(ctx, made[i]); err != nil {
			t.Errorf("cleanup: Delete(%s): %v (code %v)", made[i].Location, err, d.ErrorCode(err))
		}
	}
	var undeleted []string
	if td, ok := d.(backend.TemplateDeleter); ok {
		for _, name := range saved {
			if err := td.DeleteTemplate(ctx, name); err != nil && d.ErrorCode(err) != occi.NotFound {
				t.Errorf("cleanup: DeleteTemplate(%s): %v (code %v)", name, err, d.ErrorCode(err))
			}
		}
	} else {
		undeleted = saved
	}
	if t.Failed() {
		return
	}
	if e.hasLeft {
		left, err := d.(LeftoverLister).Leftovers(ctx)
		if err != nil {
			t.Errorf("Leftovers after the case: %v", err)
		} else if extra := minus(left, e.left); len(extra) > 0 {
			t.Errorf("after deleting everything the case made, the driver still holds %q", extra)
		}
	}
	tpls, err := d.Templates(ctx)
	if err != nil {
		t.Errorf("Templates after the case: %v (code %v)", err, d.ErrorCode(err))
		return
	}
	if diff := cmp.Diff(e.tpls, templateKeys(tpls, undeleted)); diff != "" {
		t.Errorf("templates changed by the case (-before +after):\n%s", diff)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (e *env) hasKind(k occi.CategoryID) bool   { return slices.Contains(e.caps.Kinds, k) }
func (e *env) hasAction(a occi.CategoryID) bool { return slices.Contains(e.caps.Actions, a) }
func (e *env) hasMixin(m occi.CategoryID) bool  { return slices.Contains(e.caps.Mixins, m) }

func (e *env) need(t *testing.T, kinds ...occi.CategoryID) {
	t.Helper()
	for _, k := range kinds {
		if !e.hasKind(k) {
			t.Skipf("the driver does not advertise kind %s", k)
		}
	}
}

func (e *env) needAction(t *testing.T, acts ...occi.CategoryID) {
	t.Helper()
	for _, a := range acts {
		if !e.hasAction(a) {
			t.Skipf("the driver does not advertise action %s", a)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randomByte() byte {
	var b [1]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err)
	}
	return b[0]
}

func newUUID() string {
	h := randomHex(16)
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}

// entity returns a new entity of kind as the engine would pass it.
func (e *env) entity(kind occi.CategoryID, mixins ...occi.CategoryID) *occi.Entity {
	id := newUUID()
	return &occi.Entity{
		ID:         id,
		Location:   "/" + kind.Term + "/" + id,
		Kind:       kind,
		Mixins:     mixins,
		Title:      "backendtest " + kind.Term,
		Attributes: occi.Attributes{},
		Owner:      "backendtest",
	}
}

// osTemplate returns the OS template computes are created from.
func (e *env) osTemplate(r reporter) string {
	r.Helper()
	e.mu.Lock()
	name := e.osTpl
	e.mu.Unlock()
	if name != "" {
		return name
	}
	if e.h.OSTemplate != "" {
		name = e.h.OSTemplate
	} else {
		ctx, cancel := e.ctx()
		defer cancel()
		d := e.driver()
		tpls, err := d.Templates(ctx)
		if err != nil {
			r.Fatalf("Templates: %v (code %v)", err, d.ErrorCode(err))
		}
		for _, t := range tpls {
			if t.Type == backend.OSTemplate && t.Source == "" && (t.State == backend.TemplateReady) {
				name = t.Name
				break
			}
		}
		if name == "" {
			r.Fatalf("the driver lists no ready OS template and Harness.OSTemplate is empty")
		}
	}
	e.mu.Lock()
	e.osTpl = name
	e.mu.Unlock()
	return name
}

// newCompute creates a compute from the OS template osTpl ("" for the
// harness's) with base as its disk's boot counter.
func (e *env) newCompute(r reporter, osTpl string, base int, mixins ...occi.CategoryID) (*occi.Entity, backend.Observation) {
	r.Helper()
	if osTpl == "" {
		osTpl = e.osTemplate(r)
	}
	ms := append([]occi.CategoryID{{Scheme: osTplScheme, Term: osTpl}}, mixins...)
	if e.h.ResourceTemplate != "" {
		ms = append(ms, occi.CategoryID{Scheme: resTplScheme, Term: e.h.ResourceTemplate})
	}
	c := e.entity(kindCompute, ms...)
	if c.HasMixin(mixinSSHKey) {
		c.Attributes["occi.credentials.ssh.publickey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJhY2tlbmR0ZXN0S2V5QmFja2VuZHRlc3RLZXkwMTIz backendtest"
	}
	if c.HasMixin(mixinUserData) {
		c.Attributes["occi.compute.userdata"] = "#cloud-config\n"
	}
	e.mu.Lock()
	e.boots[c.Location] = base
	e.mu.Unlock()
	obs := e.create(r, backend.CreateRequest{Entity: c, OSTemplate: osTpl, ResourceTemplate: e.h.ResourceTemplate})
	if obs.State != "inactive" && obs.State != "active" {
		r.Fatalf("Create(%s): got state %q, want inactive (or active for clouds that boot at creation)", c.Location, obs.State)
	}
	if obs.State == "active" {
		e.booted(r, c)
	}
	return c, obs
}

// create calls Create and records the entity as the engine would.
func (e *env) create(r reporter, req backend.CreateRequest) backend.Observation {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	obs, err := d.Create(ctx, req)
	if err != nil {
		r.Fatalf("Create(%s %s): %v (code %v)", req.Entity.Kind.Term, req.Entity.Location, err, d.ErrorCode(err))
	}
	e.mu.Lock()
	e.made = append(e.made, req.Entity)
	e.mu.Unlock()
	e.absorb(r, req.Entity, obs, "Create")
	if obs.Gone {
		r.Fatalf("Create(%s): observation says Gone", req.Entity.Location)
	}
	return obs
}

// absorb checks obs and stores it in ent as the engine would.
func (e *env) absorb(r reporter, ent *occi.Entity, obs backend.Observation, op string) {
	r.Helper()
	if obs.Gone {
		return
	}
	if !slices.Contains(validStates[ent.Kind], obs.State) {
		r.Errorf("%s(%s): got state %q, want one of %q", op, ent.Location, obs.State, validStates[ent.Kind])
	}
	if err := canonical(obs.Attributes); err != nil {
		r.Errorf("%s(%s): observation attributes: %v", op, ent.Location, err)
	}
	if obs.Ref != "" {
		if ent.BackendRef != "" && ent.BackendRef != obs.Ref {
			r.Errorf("%s(%s): got Ref %q, want the Ref given at creation, %q", op, ent.Location, obs.Ref, ent.BackendRef)
		}
		ent.BackendRef = obs.Ref
	}
	for k, v := range obs.Attributes {
		ent.Attributes[k] = v
	}
}

// canonical reports an attribute value that is not in occi's canonical form.
func canonical(a occi.Attributes) error {
	for k, v := range a {
		if err := canonicalValue(v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

func canonicalValue(v any) error {
	switch x := v.(type) {
	case string, int64, float64, bool:
		return nil
	case []any:
		for _, el := range x {
			if err := canonicalValue(el); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, el := range x {
			if err := canonicalValue(el); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("value %v is a %T, not one of string, int64, float64, bool, []any, map[string]any", v, v)
}

// observe calls Observe and checks the answer.
func (e *env) observe(r reporter, ent *occi.Entity) backend.Observation {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	obs, err := d.Observe(ctx, ent)
	if err != nil {
		r.Fatalf("Observe(%s): %v (code %v)", ent.Location, err, d.ErrorCode(err))
	}
	if obs.Gone {
		r.Fatalf("Observe(%s): got Gone, want the object to exist", ent.Location)
	}
	e.absorb(r, ent, obs, "Observe")
	return obs
}

// waitState polls Observe until ent is in state want.
func (e *env) waitState(r reporter, ent *occi.Entity, want string) backend.Observation {
	r.Helper()
	deadline := time.Now().Add(e.h.Timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		obs := e.observe(r, ent)
		if obs.State == want {
			return obs
		}
		if time.Now().After(deadline) {
			r.Fatalf("Observe(%s): got state %q (message %q) after %v, want %q", ent.Location, obs.State, obs.Message, e.h.Timeout, want)
		}
		time.Sleep(pause)
	}
}

// act invokes an action and returns what the driver said.
func (e *env) act(ctx context.Context, ent *occi.Entity, action occi.CategoryID, params occi.Attributes) (backend.Observation, []backend.Observation, error) {
	var mu sync.Mutex
	var progress []backend.Observation
	obs, err := e.driver().Act(ctx, ent, &occi.ActionInvocation{Action: action, Attributes: params}, func(o backend.Observation) {
		mu.Lock()
		progress = append(progress, o)
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	return obs, slices.Clone(progress), err
}

// mustAct invokes an action that must succeed and leave ent in want.
func (e *env) mustAct(r reporter, ent *occi.Entity, action occi.CategoryID, want string) backend.Observation {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	obs, progress, err := e.act(ctx, ent, action, nil)
	if err != nil {
		if d.ErrorCode(err) == occi.Unimplemented {
			r.Fatalf("Act(%s, %s): Unimplemented, yet the driver advertises the action: %v", ent.Location, action.Term, err)
		}
		r.Fatalf("Act(%s, %s): %v (code %v)", ent.Location, action.Term, err, d.ErrorCode(err))
	}
	e.s.exercise(action)
	for _, p := range progress {
		if !slices.Contains(validStates[ent.Kind], p.State) {
			r.Errorf("Act(%s, %s): progress reported state %q, want one of %q", ent.Location, action.Term, p.State, validStates[ent.Kind])
		}
	}
	e.absorb(r, ent, obs, "Act "+action.Term)
	if obs.State != want {
		r.Fatalf("Act(%s, %s): got state %q (message %q), want %q", ent.Location, action.Term, obs.State, obs.Message, want)
	}
	e.waitState(r, ent, want)
	if action == actRestart || (action == actStart && !e.wasSuspended(ent)) {
		e.booted(r, ent)
	}
	e.setSuspended(ent, want == "suspended")
	return obs
}

// refuse invokes an action that the state of ent does not allow.
func (e *env) refuse(r reporter, ent *occi.Entity, action occi.CategoryID) {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	before := e.observe(r, ent)
	_, _, err := e.act(ctx, ent, action, nil)
	if err == nil {
		r.Fatalf("Act(%s, %s) in state %s: succeeded, want a FailedPrecondition error", ent.Location, action.Term, before.State)
	}
	if got := d.ErrorCode(err); got != occi.FailedPrecondition {
		r.Errorf("Act(%s, %s) in state %s: got code %v (%v), want FailedPrecondition", ent.Location, action.Term, before.State, got, err)
	}
	if after := e.observe(r, ent); after.State != before.State {
		r.Errorf("Act(%s, %s) was refused but moved the state from %s to %s", ent.Location, action.Term, before.State, after.State)
	}
}

// wasSuspended reports whether ent was last left suspended by the suite.
func (e *env) wasSuspended(ent *occi.Entity) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused[ent.Location]
}

func (e *env) setSuspended(ent *occi.Entity, s bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paused[ent.Location] = s
}

// booted records a boot of ent and waits until the guest has booted: with a
// DiskProbe, until the probe shows the expected counter; without, BootWait.
func (e *env) booted(r reporter, ent *occi.Entity) {
	r.Helper()
	e.mu.Lock()
	e.boots[ent.Location]++
	e.mu.Unlock()
	e.checkDisk(r, ent)
}

// checkDisk waits until the DiskProbe of ent shows the expected counter.
func (e *env) checkDisk(r reporter, ent *occi.Entity) {
	r.Helper()
	if e.h.DiskProbe == nil {
		if e.h.BootWait > 0 {
			time.Sleep(e.h.BootWait)
		}
		return
	}
	e.mu.Lock()
	want := e.boots[ent.Location]
	e.mu.Unlock()
	wait := e.h.BootWait
	if wait <= 0 {
		wait = e.h.Timeout
	}
	deadline := time.Now().Add(wait)
	var got int
	var err error
	for pause := time.Millisecond; ; pause = min(2*pause, 250*time.Millisecond) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(time.Second))
		got, err = e.h.DiskProbe(ctx, e.driver(), ent)
		cancel()
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(pause)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	obs, oerr := e.driver().Observe(ctx, ent)
	now := fmt.Sprintf("state %q, message %q", obs.State, obs.Message)
	if oerr != nil {
		now = "Observe: " + oerr.Error()
	}
	if err != nil {
		r.Fatalf("DiskProbe(%s): %v after %v, want boot counter %d (%s)", ent.Location, err, wait, want, now)
	}
	r.Fatalf("DiskProbe(%s): got boot counter %d after %v, want %d (%s)", ent.Location, got, wait, want, now)
}

// gone checks that ent no longer exists: Observe reports Gone or NotFound.
func (e *env) gone(r reporter, ent *occi.Entity) {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	obs, err := d.Observe(ctx, ent)
	switch {
	case err != nil && d.ErrorCode(err) == occi.NotFound:
	case err != nil:
		r.Errorf("Observe(%s) after delete: %v (code %v), want Gone or NotFound", ent.Location, err, d.ErrorCode(err))
	case !obs.Gone:
		r.Errorf("Observe(%s) after delete: got state %q, want Gone or NotFound", ent.Location, obs.State)
	}
}

// del deletes ent, checks it is gone and that a second delete succeeds.
func (e *env) del(r reporter, ent *occi.Entity) {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	if err := d.Delete(ctx, ent); err != nil {
		r.Fatalf("Delete(%s): %v (code %v)", ent.Location, err, d.ErrorCode(err))
	}
	e.gone(r, ent)
	if err := d.Delete(ctx, ent); err != nil {
		r.Errorf("Delete(%s) a second time: %v (code %v), want nil: deleting something gone is not an error", ent.Location, err, d.ErrorCode(err))
	}
}

// stopCompute brings an active or suspended compute to inactive.
func (e *env) stopCompute(r reporter, c *occi.Entity) {
	r.Helper()
	if e.observe(r, c).State != "inactive" && e.hasAction(actStop) {
		e.mustAct(r, c, actStop, "inactive")
	}
}

// newStorage creates a storage of the harness's size.
func (e *env) newStorage(r reporter) (*occi.Entity, backend.Observation) {
	r.Helper()
	s := e.entity(kindStorage)
	s.Attributes["occi.storage.size"] = e.h.StorageSize
	obs := e.create(r, backend.CreateRequest{Entity: s})
	if obs.State != "offline" && obs.State != "online" {
		r.Fatalf("Create(%s): got state %q, want offline (or online)", s.Location, obs.State)
	}
	return s, obs
}

// newNetwork creates a network, an IP network when the driver supports it.
func (e *env) newNetwork(r reporter) (*occi.Entity, backend.Observation) {
	r.Helper()
	var n *occi.Entity
	if e.hasMixin(mixinIPNetwork) {
		n = e.entity(kindNetwork, mixinIPNetwork)
		seq := e.s.netSeq.Add(1)
		n.Attributes["occi.network.address"] = fmt.Sprintf("%s.%d.0/24", e.h.NetworkPrefix, seq%250+1)
		n.Attributes["occi.network.gateway"] = fmt.Sprintf("%s.%d.1", e.h.NetworkPrefix, seq%250+1)
		n.Attributes["occi.network.allocation"] = "dynamic"
	} else {
		n = e.entity(kindNetwork)
	}
	obs := e.create(r, backend.CreateRequest{Entity: n})
	if obs.State != "inactive" && obs.State != "active" {
		r.Fatalf("Create(%s): got state %q, want inactive (or active)", n.Location, obs.State)
	}
	return n, obs
}

// newLink creates a link of kind from src to tgt.
func (e *env) newLink(r reporter, kind occi.CategoryID, src, tgt *occi.Entity, mixins ...occi.CategoryID) (*occi.Entity, backend.Observation) {
	r.Helper()
	l := e.entity(kind, mixins...)
	l.Source, l.SourceKind = src.Location, src.Kind
	l.Target, l.TargetKind = tgt.Location, tgt.Kind
	if l.HasMixin(mixinIPNetworkInterface) {
		l.Attributes["occi.networkinterface.allocation"] = "dynamic"
	}
	obs := e.create(r, backend.CreateRequest{Entity: l, Source: src, Target: tgt})
	return l, obs
}

// codeOf returns the code of err as the driver classifies it.
func (e *env) codeOf(err error) occi.Code { return e.driver().ErrorCode(err) }

// startNoWait starts compute c like mustAct but does not wait for its guest
// to boot, for cases that only need it active and then delete it running.
func (e *env) startNoWait(r reporter, c *occi.Entity) {
	r.Helper()
	d := e.driver()
	ctx, cancel := e.ctx()
	defer cancel()
	obs, _, err := e.act(ctx, c, actStart, nil)
	if err != nil {
		r.Fatalf("Act(%s, start): %v (code %v)", c.Location, err, d.ErrorCode(err))
	}
	e.s.exercise(actStart)
	e.absorb(r, c, obs, "Act start")
	if obs.State != "active" {
		r.Fatalf("Act(%s, start): got state %q (message %q), want active", c.Location, obs.State, obs.Message)
	}
	e.mu.Lock()
	e.boots[c.Location]++
	e.mu.Unlock()
}

package simbackend

import (
	"context"
	"fmt"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// step is one state transition of an action.
type step struct {
	to     string
	during string // message while it runs
	dur    time.Duration
	boot   bool // the disk's boot counter increments
}

// transition returns the step that action term takes o through, or an
// ErrState error if o's state does not allow it.
func (d *Driver) transition(o *object, term string) (step, error) {
	delay := d.opts.Delay
	from := o.State
	refuse := func(need string) (step, error) {
		return step{}, errorf(ErrState, "%s %s is %s; %s needs it %s", o.Kind, o.Location, from, term, need)
	}
	switch o.Kind + "/" + term {
	case "compute/start":
		switch from {
		case "inactive", "error":
			return step{to: "active", during: "starting", dur: delay, boot: true}, nil
		case "suspended":
			return step{to: "active", during: "resuming", dur: delay / 4}, nil
		}
		return refuse("inactive, suspended or error")
	case "compute/stop":
		if from == "active" || from == "suspended" || from == "error" {
			return step{to: "inactive", during: "stopping", dur: delay}, nil
		}
		return refuse("active, suspended or error")
	case "compute/restart":
		if from == "active" {
			return step{to: "active", during: "restarting", dur: delay, boot: true}, nil
		}
		return refuse("active")
	case "compute/suspend":
		if from == "active" {
			return step{to: "suspended", during: "suspending", dur: delay / 4}, nil
		}
		return refuse("active")
	case "network/up":
		if from == "inactive" || from == "error" {
			return step{to: "active", during: "bringing up", dur: delay / 4}, nil
		}
		return refuse("inactive or error")
	case "network/down":
		if from == "active" || from == "error" {
			return step{to: "inactive", during: "bringing down", dur: delay / 4}, nil
		}
		return refuse("active or error")
	case "storage/online":
		if from == "offline" || from == "error" {
			return step{to: "online", during: "going online", dur: delay / 4}, nil
		}
		return refuse("offline or error")
	case "storage/offline":
		if from == "online" || from == "error" {
			return step{to: "offline", during: "going offline", dur: delay / 4}, nil
		}
		return refuse("online or error")
	}
	return step{}, errorf(ErrInvalid, "%s is not an action of %s", term, o.Kind)
}

// Act runs an action other than save and returns the observation once it
// has completed; progress, if not nil, receives the transitional state
// first. A cancelled ctx returns ctx's error and leaves the object as it
// was before the action.
func (d *Driver) Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, progress backend.ProgressFunc) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, err
	}
	if inv == nil || e == nil {
		return backend.Observation{}, errorf(ErrInvalid, "an action needs an entity and an invocation")
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return backend.Observation{}, errorf(ErrClosed, "driver is closed")
	}
	o := d.lookupLocked(e)
	if o == nil {
		d.mu.Unlock()
		return backend.Observation{}, errorf(ErrNotFound, "%s does not exist in the simulator", e.Location)
	}
	term := inv.Action.Term
	if inv.Action.Scheme != actionScheme(o.Kind) || term == "save" {
		d.mu.Unlock()
		return backend.Observation{}, errorf(ErrInvalid, "%s is not an action Act runs on %s", inv.Action, o.Kind)
	}
	if o.Busy != "" {
		d.mu.Unlock()
		return backend.Observation{}, errorf(ErrBusy, "%s is busy: %s", o.Location, o.Busy)
	}
	st, err := d.transition(o, term)
	if err != nil {
		d.mu.Unlock()
		return backend.Observation{}, err
	}
	if ferr := d.checkLocked(term); ferr != nil {
		// A failed action moves the object to error (GFD.224 state
		// machines).
		o.State, o.Message = "error", fmt.Sprintf("%s failed: %v", term, ferr)
		perr := d.persistLocked()
		d.mu.Unlock()
		return backend.Observation{}, both(ferr, perr)
	}
	before := *o
	o.Busy, o.Message = term, st.during
	gen := o.gen
	obs := d.observeLocked(o)
	d.mu.Unlock()
	if progress != nil {
		progress(obs)
	}

	werr := d.sleep(ctx, st.dur)

	d.mu.Lock()
	defer d.mu.Unlock()
	if o.gen != gen || d.st.Objects[o.Ref] != o {
		return backend.Observation{}, errorf(ErrBusy, "%s changed out of band during %s", o.Location, term)
	}
	o.Busy = ""
	if werr != nil {
		o.Message = before.Message
		return backend.Observation{}, werr
	}
	o.State, o.Message = st.to, ""
	if st.boot {
		o.Boots++
	}
	if err := d.persistLocked(); err != nil {
		o.State, o.Message, o.Boots = before.State, before.Message, before.Boots
		return backend.Observation{}, err
	}
	return d.observeLocked(o), nil
}

// Save makes a new OS template from an active compute's disk. Method "hot"
// copies the disk at once and returns; "deferred" (or the misspelling
// "deffered") stops the compute, copies its disk and starts it again before
// returning, reporting each step to progress. Either way the template is
// returned in TemplateSaving (TemplateReady when Delay is zero) and becomes
// ready in the background. A name already used by any template is
// AlreadyExists; an empty name gets a generated one.
func (d *Driver) Save(ctx context.Context, req backend.SaveRequest, progress backend.ProgressFunc) (backend.Template, error) {
	if err := ctx.Err(); err != nil {
		return backend.Template{}, err
	}
	if req.Entity == nil {
		return backend.Template{}, errorf(ErrInvalid, "save needs an entity")
	}
	if progress == nil {
		progress = func(backend.Observation) {}
	}
	method := req.Method
	if method == "deffered" {
		method = "deferred"
	}
	if method != "hot" && method != "deferred" {
		return backend.Template{}, errorf(ErrInvalid, "save method %q is not hot or deferred", req.Method)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrClosed, "driver is closed")
	}
	o := d.lookupLocked(req.Entity)
	if o == nil {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrNotFound, "%s does not exist in the simulator", req.Entity.Location)
	}
	if o.Kind != kindCompute {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrInvalid, "save applies to a compute, not a %s", o.Kind)
	}
	if o.Busy != "" {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrBusy, "%s is busy: %s", o.Location, o.Busy)
	}
	if o.State != "active" {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrState, "compute %s is %s; save needs it active", o.Location, o.State)
	}
	name := req.Name
	if name == "" {
		for i := len(d.st.Templates) + 1; ; i++ {
			name = fmt.Sprintf("saved-%d", i)
			if _, p := findProvider(name); !p && d.findSavedLocked(name) == nil {
				break
			}
		}
	}
	if !occi.ValidTerm(name) {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrInvalid, "template name %q is not a valid OCCI term", name)
	}
	if _, p := findProvider(name); p || d.findSavedLocked(name) != nil {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrExists, "a template named %s already exists", name)
	}
	if err := d.checkLocked("save"); err != nil {
		d.mu.Unlock()
		return backend.Template{}, err
	}
	title := req.Title
	if title == "" {
		title = "Saved from " + o.Location
	}
	t := &savedTemplate{Name: name, Title: title, State: backend.TemplateSaving, Message: "copying disk",
		Source: o.Location, Owner: req.Entity.Owner, Created: time.Now().UTC()}
	if t.Owner == "" {
		t.Owner = o.Owner
	}

	if method == "hot" {
		t.Boots = o.Boots
		defer d.mu.Unlock()
		return d.addTemplateLocked(t)
	}

	// Deferred: stop, copy, start.
	o.Busy, o.Message = "save", "stopping for save"
	gen := o.gen
	obs := d.observeLocked(o)
	d.mu.Unlock()
	progress(obs)
	fail := func(restart bool, err error) (backend.Template, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if o.gen != gen || d.st.Objects[o.Ref] != o {
			return backend.Template{}, errorf(ErrBusy, "%s changed out of band during save", o.Location)
		}
		o.Busy, o.Message, o.State = "", "", "active"
		if restart {
			o.Boots++
		}
		return backend.Template{}, both(err, d.persistLocked())
	}
	if err := d.sleep(ctx, d.opts.Delay); err != nil {
		return fail(false, err)
	}
	d.mu.Lock()
	if o.gen != gen || d.st.Objects[o.Ref] != o {
		d.mu.Unlock()
		return backend.Template{}, errorf(ErrBusy, "%s changed out of band during save", o.Location)
	}
	o.State, o.Message = "inactive", "copying disk for save"
	t.Boots = o.Boots
	if err := d.persistLocked(); err != nil {
		d.mu.Unlock()
		return fail(true, err)
	}
	obs = d.observeLocked(o)
	d.mu.Unlock()
	progress(obs)
	d.mu.Lock()
	o.Message = "starting after save"
	obs = d.observeLocked(o)
	d.mu.Unlock()
	progress(obs)
	if err := d.sleep(ctx, d.opts.Delay); err != nil {
		return fail(true, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if o.gen != gen || d.st.Objects[o.Ref] != o {
		return backend.Template{}, errorf(ErrBusy, "%s changed out of band during save", o.Location)
	}
	if _, p := findProvider(name); p || d.findSavedLocked(name) != nil {
		o.Busy, o.Message, o.State = "", "", "active"
		o.Boots++
		return backend.Template{}, both(errorf(ErrExists, "a template named %s already exists", name), d.persistLocked())
	}
	o.Busy, o.Message, o.State = "", "", "active"
	o.Boots++
	return d.addTemplateLocked(t)
}

// addTemplateLocked records t and starts its background copy.
func (d *Driver) addTemplateLocked(t *savedTemplate) (backend.Template, error) {
	if d.opts.Delay == 0 && len(d.faults["copy"]) == 0 {
		t.State, t.Message, t.Progress = backend.TemplateReady, "", 100
	}
	d.st.Templates = append(d.st.Templates, t)
	if err := d.persistLocked(); err != nil {
		d.st.Templates = d.st.Templates[:len(d.st.Templates)-1]
		return backend.Template{}, err
	}
	if t.State == backend.TemplateSaving {
		d.startCopyLocked(t)
	}
	return t.template(), nil
}

// startCopyLocked runs the background copy of a saving template: four
// progress steps over Delay, then ready (or error if a "copy" fault was
// injected). It tells every watcher when it ends.
func (d *Driver) startCopyLocked(t *savedTemplate) {
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		for i := 1; i <= 4; i++ {
			if err := d.sleep(context.Background(), d.opts.Delay/4); err != nil {
				return // closed: the copy resumes when the state is reopened
			}
			d.mu.Lock()
			if d.findSavedLocked(t.Name) != t {
				d.mu.Unlock()
				return // deleted meanwhile
			}
			if i < 4 {
				t.Progress = i * 25
				_ = d.persistLocked()
				d.mu.Unlock()
				continue
			}
			if err := d.checkLocked("copy"); err != nil {
				t.State, t.Message = backend.TemplateError, "copy failed: "+err.Error()
			} else {
				t.State, t.Message, t.Progress = backend.TemplateReady, "", 100
			}
			_ = d.persistLocked()
			if ref, ok := d.byLoc[t.Source]; ok {
				d.emitLocked(backend.Event{Location: t.Source, Observation: d.observeLocked(d.st.Objects[ref])})
			}
			d.mu.Unlock()
		}
	}()
}

// Kill makes the running compute at location die out of band, as if its
// hypervisor process were killed: it becomes inactive and every watcher is
// told. It fails if there is no such compute or it is not running.
func (d *Driver) Kill(location string) error {
	return d.outOfBand(location, "killed out of band")
}

// PowerOff makes the running compute at location power itself off, as a
// guest shutting down does: it becomes inactive and every watcher is told.
func (d *Driver) PowerOff(location string) error {
	return d.outOfBand(location, "powered off by the guest")
}

func (d *Driver) outOfBand(location, message string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.st.Objects[d.byLoc[location]]
	if o == nil || o.Kind != kindCompute {
		return errorf(ErrNotFound, "no compute at %s", location)
	}
	if o.State != "active" && o.State != "suspended" {
		return errorf(ErrState, "compute %s is %s, not running", location, o.State)
	}
	o.gen++
	o.State, o.Message, o.Busy = "inactive", message, ""
	if err := d.persistLocked(); err != nil {
		return err
	}
	d.emitLocked(backend.Event{Location: o.Location, Observation: d.observeLocked(o)})
	for _, l := range d.linksOfLocked(o) {
		d.emitLocked(backend.Event{Location: l.Location, Observation: d.observeLocked(l)})
	}
	return nil
}

// Vanish deletes the object at location out of band, with the links that
// depend on it; every watcher is told that each is gone.
func (d *Driver) Vanish(location string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.st.Objects[d.byLoc[location]]
	if o == nil {
		return errorf(ErrNotFound, "nothing at %s", location)
	}
	removed := d.removeLocked(o)
	if err := d.persistLocked(); err != nil {
		return err
	}
	for _, r := range removed {
		d.emitLocked(backend.Event{Location: r.Location, Observation: backend.Observation{Gone: true, Ref: r.Ref}})
	}
	return nil
}

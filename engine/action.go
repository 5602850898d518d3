package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// checkAction validates inv for ent: the action exists, belongs to the
// entity's kind or mixins, is allowed in its state; it returns the
// parameters with defaults filled in.
func (e *Engine) checkAction(ent *occi.Entity, inv *occi.ActionInvocation) (occi.Attributes, error) {
	a, ok := e.model.Action(inv.Action)
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "action %s does not exist here", inv.Action)
	}
	acts, err := e.model.EntityActions(ent.Kind, ent.Mixins)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(acts, a.ID) {
		return nil, occi.Errorf(occi.InvalidArgument, "action %s is not defined for %s, a %s", a.ID, ent.Location, ent.Kind)
	}
	params := occi.Attributes{}
	defs := map[string]occi.AttributeDef{}
	for _, d := range a.Attributes {
		defs[d.Name] = d
	}
	var unknown []string
	for k, v := range inv.Attributes {
		d, ok := defs[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if v == nil {
			continue
		}
		if s, isStr := v.(string); isStr && a.ID == infra.ActionSave && k == infra.ParamMethod && s == "deffered" {
			v = infra.SaveDeferred
		}
		cv, err := coerce(d, v, "parameter")
		if err != nil {
			return nil, err
		}
		params[k] = cv
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		var known []string
		for _, d := range a.Attributes {
			known = append(known, d.Name)
		}
		return nil, occi.Errorf(occi.InvalidArgument, "unknown parameter(s) %s for action %s (it takes: %s)", strings.Join(unknown, ", "), a.ID, orNone(known))
	}
	for _, d := range a.Attributes {
		if _, set := params[d.Name]; !set && d.Default != nil {
			params[d.Name] = d.Default
		}
		if _, set := params[d.Name]; !set && d.Required {
			return nil, occi.Errorf(occi.InvalidArgument, "action %s needs the parameter %s", a.ID, d.Name)
		}
	}
	if sm, ok := infra.MachineFor(ent.Kind); ok {
		if tr, has := sm.Transition(a.ID); has {
			state, _ := ent.Attributes[sm.Attr].(string)
			if !slices.Contains(tr.From, state) {
				return nil, occi.Errorf(occi.FailedPrecondition, "%s cannot %s: it is %s; %s is allowed when it is %s", ent.Location, a.ID.Term, state, a.ID.Term, strings.Join(tr.From, " or "))
			}
		}
	}
	return params, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no parameters"
	}
	return strings.Join(s, ", ")
}

// Invoke runs an action on the entity at location. Actions on one entity
// run one at a time. A failing driver leaves the entity in its error state
// with the failure in its state message.
func (e *Engine) Invoke(ctx context.Context, location string, inv *occi.ActionInvocation) (*occi.ActionResult, error) {
	if inv == nil || inv.Action.IsZero() {
		return nil, occi.Errorf(occi.InvalidArgument, "no action given")
	}
	if _, err := e.getVisible(ctx, location); err != nil {
		return nil, err
	}
	unlock, err := e.lock(ctx, location)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ent, err := e.getVisible(ctx, location)
	if err != nil {
		return nil, err
	}
	if err := checkRevision(ctx, ent); err != nil {
		return nil, err
	}
	return e.invokeLocked(ctx, ent, inv)
}

func (e *Engine) invokeLocked(ctx context.Context, ent *occi.Entity, inv *occi.ActionInvocation) (*occi.ActionResult, error) {
	params, err := e.checkAction(ent, inv)
	if err != nil {
		return nil, err
	}
	if inv.Action == infra.ActionSave {
		return e.save(ctx, ent, params)
	}
	progress, done := e.progressSink(ctx, ent.Location)
	obs, actErr := e.drv.Act(ctx, ent.Clone(), &occi.ActionInvocation{Action: inv.Action, Attributes: params}, progress)
	done()
	// Progress may have been stored meanwhile: start from the latest.
	cur, err := e.store.Get(ctx, ent.Location)
	if err != nil {
		return nil, err
	}
	if actErr != nil {
		werr := e.driverErr(actErr, fmt.Sprintf("action %s on %s", inv.Action.Term, ent.Location))
		// A backend that cannot be reached did nothing: the entity keeps
		// its state and the client gets Unavailable to retry.
		if ctx.Err() == nil && occi.ErrorCode(werr) != occi.Unavailable {
			setError(cur, fmt.Sprintf("%s failed: %s", inv.Action.Term, occi.ErrorMessage(werr)))
			if err := e.store.Write(context.WithoutCancel(ctx), store.Mutation{Put: cur, Expect: cur.Revision}); err != nil {
				e.log.Warn("engine: storing the error state failed", "location", cur.Location, "err", err)
			}
		}
		return nil, werr
	}
	if e.applyObservation(cur, obs) {
		if err := e.store.Write(ctx, store.Mutation{Put: cur, Expect: cur.Revision}); err != nil {
			return nil, err
		}
	}
	e.markObserved(cur.Location)
	e.observeLinks(ctx, cur)
	p, err := e.present(ctx, cur)
	if err != nil {
		return nil, err
	}
	return &occi.ActionResult{Entity: p}, nil
}

// templateTerm makes name a valid term that none of user u's saved OS
// templates uses yet. Only u's own names count: another user's templates
// live in their own name space and the driver knows them under other names
// (SavedTemplateName), so they never change the term.
func (e *Engine) templateTerm(u, name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-', r == '_', r == '.':
			if b.Len() > 0 {
				b.WriteRune(r)
			}
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	term := strings.TrimRight(b.String(), "-_.")
	if len(term) > 60 {
		term = strings.TrimRight(term[:60], "-_.")
	}
	if !occi.ValidTerm(term) {
		term = "saved-" + uuid.NewString()[:8]
	}
	scheme, prefix := e.SavedTemplateScheme(u), savedTemplatePrefix(u)
	e.tplMu.Lock()
	names := map[string]bool{}
	for _, t := range e.templates {
		names[t.Name] = true
	}
	e.tplMu.Unlock()
	taken := func(t string) bool {
		_, ok := e.model.Mixin(occi.CategoryID{Scheme: scheme, Term: t})
		_, _, ok2 := e.model.ByLocation(prefix + t + "/")
		return ok || ok2 || names[SavedTemplateName(u, t)]
	}
	base := term
	for i := 2; taken(term); i++ {
		term = fmt.Sprintf("%s-%d", base, i)
	}
	return term
}

// recordSave picks the term of the template user ent.Owner saves as name
// and records the template (state saving) before the driver makes it, so
// that no process ever sees the image without its record (it would pass for
// a provider template, see syncTemplates) and two processes saving under one
// name take different terms. It returns the mixin id and the driver's name.
func (e *Engine) recordSave(ctx context.Context, ent *occi.Entity, name, title string) (occi.CategoryID, string, error) {
	owner := ent.Owner
	for attempt := 0; ; attempt++ {
		// The term must be free among the templates the user saved
		// through any process.
		if err := e.syncStoredMixins(ctx); err != nil {
			return occi.CategoryID{}, "", err
		}
		term := e.templateTerm(owner, name)
		id := occi.CategoryID{Scheme: e.SavedTemplateScheme(owner), Term: term}
		driverName := SavedTemplateName(owner, term)
		rec := e.templateMixin(id, owner, backend.Template{Type: backend.OSTemplate, Name: driverName, Title: title,
			State: backend.TemplateSaving, Source: ent.Location})
		err := e.changeStoredMixins(func() error {
			if err := e.store.Write(ctx, store.Mutation{PutMixin: rec, Expect: store.MustNotExist}); err != nil {
				return err
			}
			e.tplMu.Lock()
			if e.pendingSaves == nil {
				e.pendingSaves = map[occi.CategoryID]bool{}
			}
			e.pendingSaves[id] = true
			e.tplMu.Unlock()
			if err := e.model.ReplaceMixin(rec); err != nil {
				// Nothing may stay behind an error: the record goes again.
				if derr := e.store.Write(context.WithoutCancel(ctx), store.Mutation{DeleteMixin: id, Expect: store.AnyRevision}); derr != nil {
					e.log.Warn("engine: removing the record of a save that failed", "template", id, "err", derr)
				}
				return occi.Wrap(err, occi.Internal, "registering the saved template")
			}
			return nil
		})
		if err == nil {
			return id, driverName, nil
		}
		e.tplMu.Lock()
		delete(e.pendingSaves, id)
		e.tplMu.Unlock()
		if occi.ErrorCode(err) != occi.AlreadyExists || attempt >= 3 {
			return occi.CategoryID{}, "", err
		}
	}
}

// forgetSave removes the record of a save the driver refused.
func (e *Engine) forgetSave(ctx context.Context, id occi.CategoryID) {
	err := e.changeStoredMixins(func() error {
		if err := e.store.Write(ctx, store.Mutation{DeleteMixin: id, Expect: store.AnyRevision}); err != nil && occi.ErrorCode(err) != occi.NotFound {
			return err
		}
		e.model.RemoveMixin(id)
		return nil
	})
	if err != nil {
		e.log.Warn("engine: cannot remove the record of a failed save", "mixin", id.String(), "err", err)
	}
}

// save derives a new OS template from a compute and returns it at once.
func (e *Engine) save(ctx context.Context, ent *occi.Entity, params occi.Attributes) (*occi.ActionResult, error) {
	method, _ := params[infra.ParamMethod].(string)
	if method == "" {
		method = infra.SaveHot
	}
	if len(e.caps.SaveMethods) > 0 && !slices.Contains(e.caps.SaveMethods, method) {
		return nil, occi.Errorf(occi.InvalidArgument, "save method %s is not supported here (supported: %s)", method, strings.Join(e.caps.SaveMethods, ", "))
	}
	owner := ent.Owner
	name, _ := params[infra.ParamName].(string)
	title := name
	if name == "" {
		name = "saved-" + uuid.NewString()[:8]
		title = fmt.Sprintf("Saved from %s on %s", ent.Location, time.Now().UTC().Format(time.RFC3339))
	}
	id, driverName, err := e.recordSave(ctx, ent, name, title)
	if err != nil {
		return nil, err
	}
	term := id.Term
	if method == infra.SaveDeferred {
		// Tell the chain up front; the driver's progress reports refine it.
		if sm, ok := infra.MachineFor(ent.Kind); ok {
			ent.Attributes[sm.MessageAttr] = fmt.Sprintf("deferred save to OS template %s: stopping, copying, starting again", term)
			if err := e.store.Write(ctx, store.Mutation{Put: ent, Expect: ent.Revision}); err != nil {
				e.tplMu.Lock()
				delete(e.pendingSaves, id)
				e.tplMu.Unlock()
				e.forgetSave(context.WithoutCancel(ctx), id)
				return nil, err
			}
		}
	}
	progress, done := e.progressSink(ctx, ent.Location)
	tpl, err := e.drv.Save(ctx, backend.SaveRequest{Entity: ent.Clone(), Method: method, Name: driverName, Title: title}, progress)
	done()
	e.tplMu.Lock()
	delete(e.pendingSaves, id)
	e.tplMu.Unlock()
	if err != nil {
		werr := e.driverErr(err, fmt.Sprintf("saving %s", ent.Location))
		e.forgetSave(context.WithoutCancel(ctx), id)
		// A failed save leaves the compute as it was: clear our message.
		if cur, gerr := e.store.Get(context.WithoutCancel(ctx), ent.Location); gerr == nil && method == infra.SaveDeferred {
			if obs, oerr := e.drv.Observe(context.WithoutCancel(ctx), cur.Clone()); oerr == nil && e.applyObservation(cur, obs) {
				_ = e.store.Write(context.WithoutCancel(ctx), store.Mutation{Put: cur, Expect: cur.Revision})
			}
		}
		return nil, werr
	}
	if tpl.Name != driverName {
		// The mixin is found again by the name the engine chose.
		e.log.Warn("engine: the driver saved a template under another name than asked", "asked", driverName, "got", tpl.Name)
		if tpl.Name == "" || !occi.ValidTerm(tpl.Name) {
			tpl.Name = driverName
		}
	}
	tpl.Type = backend.OSTemplate
	if tpl.Source == "" {
		tpl.Source = ent.Location
	}
	tpl.Owner = owner
	if tpl.Title == "" || tpl.Title == tpl.Name {
		tpl.Title = title
	}
	if tpl.State == "" {
		tpl.State = backend.TemplateSaving
	}
	m := e.templateMixin(id, owner, tpl)
	cur, err := e.store.Get(ctx, ent.Location)
	if err != nil {
		return nil, err
	}
	// Save reports no observation of the compute: ask for one, so that a
	// deferred save's last step (the restart) is recorded.
	if obs, err := e.drv.Observe(ctx, cur.Clone()); err == nil {
		if e.applyObservation(cur, obs) {
			if err := e.store.Write(ctx, store.Mutation{Put: cur, Expect: cur.Revision}); err != nil {
				e.log.Debug("engine: storing the observation after save failed", "location", cur.Location, "err", err)
			}
		}
		e.markObserved(cur.Location)
	}
	err = e.changeStoredMixins(func() error {
		if err := e.store.Write(ctx, store.Mutation{PutMixin: m, Expect: store.AnyRevision}); err != nil {
			return err
		}
		if err := e.model.ReplaceMixin(m); err != nil {
			return occi.Wrap(err, occi.Internal, "registering the saved template")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.tplMu.Lock()
	if e.templates != nil {
		e.templates[m.ID] = tpl
	}
	e.tplMu.Unlock()
	p, err := e.present(ctx, cur)
	if err != nil {
		return nil, err
	}
	return &occi.ActionResult{Entity: p, Mixin: occi.CloneMixin(m)}, nil
}

// InvokeAll runs an action on every member of a collection. Every member
// must have the action (through its kind or mixins) and be in a state that
// allows it; otherwise nothing runs.
func (e *Engine) InvokeAll(ctx context.Context, collection string, inv *occi.ActionInvocation) ([]*occi.Entity, error) {
	if inv == nil || inv.Action.IsZero() {
		return nil, occi.Errorf(occi.InvalidArgument, "no action given")
	}
	t, err := e.collection(ctx, collection)
	if err != nil {
		return nil, err
	}
	if _, ok := e.model.Action(inv.Action); !ok {
		return nil, occi.Errorf(occi.NotFound, "action %s does not exist here", inv.Action)
	}
	all, err := e.members(ctx, t)
	if err != nil {
		return nil, err
	}
	for _, x := range all {
		acts, err := e.model.EntityActions(x.Kind, x.Mixins)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(acts, inv.Action) {
			return nil, occi.Errorf(occi.InvalidArgument, "action %s cannot run on %s: member %s (a %s) does not have it", inv.Action, collection, x.Location, x.Kind)
		}
	}
	for _, x := range all {
		if _, err := e.checkAction(x, inv); err != nil {
			return nil, err
		}
	}
	out := make([]*occi.Entity, 0, len(all))
	for _, x := range all {
		res, err := e.Invoke(ctx, x.Location, inv)
		if err != nil {
			return nil, err
		}
		if res.Entity != nil {
			out = append(out, res.Entity)
		}
	}
	return out, nil
}

// observeLinks observes again, after an action on the resource res, the
// links from and to it that the driver makes real, and stores what
// changed: a link's state follows its source's and its target's (a
// network interface of a compute that started is active; of a network
// that went down, inactive). It is best effort: a link the driver cannot
// observe now, or that changed meanwhile, is observed again when it is
// next read. Links to a compute are not looked for: no infrastructure
// link targets one, and computes are acted on most often.
func (e *Engine) observeLinks(ctx context.Context, res *occi.Entity) {
	if e.model.IsLink(res.Kind) {
		return
	}
	// Apart from changes to the links (a delete of one would otherwise
	// meet the revision this writes and answer Conflict).
	unlock, err := e.lockLinksOf(ctx, res.Location)
	if err != nil {
		return
	}
	defer unlock()
	links, err := e.store.List(ctx, store.Query{Source: res.Location, Owner: res.Owner})
	if err != nil {
		return
	}
	if res.Kind != infra.Compute {
		in, err := e.incomingLinks(ctx, res)
		if err != nil {
			return
		}
		links = append(links, in...)
	}
	for _, l := range links {
		if !e.driven(l.Kind) {
			continue
		}
		obs, err := e.drv.Observe(ctx, l)
		if err != nil || obs.Gone {
			continue
		}
		if e.applyObservation(l, obs) {
			if err := e.store.Write(ctx, store.Mutation{Put: l, Expect: l.Revision}); err != nil {
				continue
			}
		}
		e.markObserved(l.Location)
	}
}

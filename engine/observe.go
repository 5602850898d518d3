package engine

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

func sortDefs(ds []occi.AttributeDef) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
}

// applyObservation records obs in ent and reports whether anything changed.
func (e *Engine) applyObservation(ent *occi.Entity, obs backend.Observation) bool {
	before := ent.Clone()
	if ent.Attributes == nil {
		ent.Attributes = occi.Attributes{}
	}
	sm, hasSM := infra.MachineFor(ent.Kind)
	for k, v := range obs.Attributes {
		if strings.HasPrefix(k, "occi.core.") || v == nil {
			continue
		}
		if hasSM && (k == sm.Attr || k == sm.MessageAttr) {
			continue
		}
		ent.Attributes[k] = v
	}
	if obs.Ref != "" {
		ent.BackendRef = obs.Ref
	}
	if hasSM {
		switch {
		case obs.Gone:
			ent.Attributes[sm.Attr] = infra.StateError
			ent.Attributes[sm.MessageAttr] = "the object behind this entity no longer exists in the backend"
		case obs.State != "":
			ent.Attributes[sm.Attr] = obs.State
			if obs.Message != "" {
				ent.Attributes[sm.MessageAttr] = obs.Message
			} else {
				delete(ent.Attributes, sm.MessageAttr)
			}
		}
	}
	return !reflect.DeepEqual(before.Attributes, ent.Attributes) || before.BackendRef != ent.BackendRef
}

func (e *Engine) markObserved(location string) {
	e.obsMu.Lock()
	e.observed[location] = time.Now()
	e.obsMu.Unlock()
}

func (e *Engine) forgetObserved(location string) {
	e.obsMu.Lock()
	delete(e.observed, location)
	e.obsMu.Unlock()
}

func (e *Engine) observedRecently(location string) bool {
	if e.obsEvery < 0 {
		return false
	}
	e.obsMu.Lock()
	t, ok := e.observed[location]
	e.obsMu.Unlock()
	return ok && time.Since(t) < e.obsEvery
}

// setError puts ent into its machine's error state with message.
func setError(ent *occi.Entity, message string) {
	sm, ok := infra.MachineFor(ent.Kind)
	if !ok {
		return
	}
	if ent.Attributes == nil {
		ent.Attributes = occi.Attributes{}
	}
	ent.Attributes[sm.Attr] = infra.StateError
	ent.Attributes[sm.MessageAttr] = message
}

// refresh re-observes ent if its last observation is stale and the entity
// is not busy; it returns the freshest stored version.
func (e *Engine) refresh(ctx context.Context, ent *occi.Entity) *occi.Entity {
	if !e.driven(ent.Kind) || e.observedRecently(ent.Location) {
		return ent
	}
	unlock, ok := e.tryLock(ent.Location)
	if !ok {
		return ent
	}
	defer unlock()
	cur, err := e.store.Get(ctx, ent.Location)
	if err != nil {
		return ent
	}
	obs, err := e.drv.Observe(ctx, cur)
	if err != nil {
		e.log.Debug("engine: observe failed", "location", ent.Location, "err", err)
		return cur
	}
	e.markObserved(cur.Location)
	if !e.applyObservation(cur, obs) {
		return cur
	}
	if err := e.store.Write(ctx, store.Mutation{Put: cur, Expect: cur.Revision}); err != nil {
		e.log.Debug("engine: storing observation failed", "location", ent.Location, "err", err)
		if fresh, err := e.store.Get(ctx, ent.Location); err == nil {
			return fresh
		}
	}
	return cur
}

// enqueue queues an event (from the driver's watch or a late progress
// report) for the apply loop.
func (e *Engine) enqueue(ev backend.Event) {
	e.queueMu.Lock()
	e.queue = append(e.queue, ev)
	e.queueMu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) applyLoop() {
	defer e.wg.Done()
	for {
		e.queueMu.Lock()
		evs := e.queue
		e.queue = nil
		e.queueMu.Unlock()
		for _, ev := range evs {
			e.applyEvent(ev)
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-e.ctx.Done():
			return
		case <-e.wake:
		}
	}
}

func (e *Engine) applyEvent(ev backend.Event) {
	ctx := e.ctx
	e.tplMu.Lock()
	e.templates = nil // templates may have moved on too
	e.tplMu.Unlock()
	if ev.Location == "" {
		return
	}
	unlock, err := e.lock(ctx, ev.Location)
	if err != nil {
		return
	}
	defer unlock()
	for range 3 {
		cur, err := e.store.Get(ctx, ev.Location)
		if err != nil {
			return
		}
		if !e.applyObservation(cur, ev.Observation) {
			e.markObserved(cur.Location)
			return
		}
		err = e.store.Write(ctx, store.Mutation{Put: cur, Expect: cur.Revision})
		if err == nil {
			e.markObserved(cur.Location)
			return
		}
		if occi.ErrorCode(err) != occi.Conflict {
			e.log.Debug("engine: applying event failed", "location", ev.Location, "err", err)
			return
		}
	}
}

// progressSink returns a ProgressFunc for an operation on location that
// runs while the caller holds the entity's lock: reports that arrive during
// the call are stored at once; reports that arrive after done() is called
// are queued for the apply loop, which takes the lock.
func (e *Engine) progressSink(ctx context.Context, location string) (backend.ProgressFunc, func()) {
	var mu = make(chan struct{}, 1)
	inFlight := true
	progress := func(obs backend.Observation) {
		mu <- struct{}{}
		defer func() { <-mu }()
		if !inFlight {
			e.enqueue(backend.Event{Location: location, Observation: obs})
			return
		}
		cur, err := e.store.Get(context.WithoutCancel(ctx), location)
		if err != nil {
			return
		}
		if e.applyObservation(cur, obs) {
			if err := e.store.Write(context.WithoutCancel(ctx), store.Mutation{Put: cur, Expect: cur.Revision}); err != nil {
				e.log.Debug("engine: storing progress failed", "location", location, "err", err)
			}
		}
	}
	done := func() {
		mu <- struct{}{}
		inFlight = false
		<-mu
	}
	return progress, done
}

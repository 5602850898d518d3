package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// Creation is made crash safe with pending records. Before the driver is
// asked to create anything, the engine stores, for each entity the driver
// will make real, a pending record: a note (store.Note, in the store's
// keyspace of notes, apart from entities) with the key
// pendingPrefix+location, holding the entity to be created and the time
// as JSON (pendingBody). The entities are then created in the driver and
// stored in one atomic write that also deletes the pending records. A
// process that dies in between leaves the records; the next engine start
// settles each: if the driver has the object (Observe does not report it
// gone) the entity is adopted (stored as created), otherwise the record is
// removed. While a record exists, a create at its location is Conflict:
// the record is created with store.MustNotExist.
//
// An older occid stored its pending records as entities at
// pendingPrefix+location, of the internal kind pendingKind, owned by
// pendingOwner (so no listing, collection or Get of a user ever shows
// them), with the entity and the time in the attributes pendingEntity and
// pendingSince. Start settles those the same way; one it leaves (too
// young, or the driver unavailable) still makes a create at its location
// Conflict while it exists (see legacyPending).

const (
	pendingPrefix = "/.pending"
	pendingOwner  = "\toccid-engine" // no user name has a tab; PostgreSQL text has no NUL
	pendingEntity = "occid.pending.entity"
	pendingSince  = "occid.pending.since"
)

var pendingKind = occi.CategoryID{Scheme: "http://occid.local/engine#", Term: "pending"}

// pendingForm is the JSON form of an entity in a pending record.
type pendingForm struct {
	ID, Location, Kind, Title, Summary string
	Mixins                             []string
	Attributes                         map[string]any
	Source, SourceKind                 string
	Target, TargetKind                 string
	Owner                              string
}

// pendingBody is the body of a pending note: the entity to be created (a
// pendingForm) and when its creation began (RFC 3339 with nanoseconds).
type pendingBody struct {
	Entity json.RawMessage `json:"entity"`
	Since  string          `json:"since"`
}

// pending is a pending record as read back: a note, or an entity record
// written by an older occid (legacy).
type pending struct {
	key    string // the note's key, or the legacy record's location
	rev    int64
	legacy bool
	form   []byte // the JSON of a pendingForm
	since  string // RFC 3339 with nanoseconds; "" if unknown
}

// drop is the mutation that removes the record if it is still the one read.
func (p *pending) drop() store.Mutation {
	if p.legacy {
		return store.Mutation{Delete: p.key, Expect: p.rev}
	}
	return store.Mutation{DeleteNote: p.key, Expect: p.rev}
}

func catString(id occi.CategoryID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

func parseCat(s string) occi.CategoryID {
	if s == "" {
		return occi.CategoryID{}
	}
	id, _ := occi.ParseCategoryID(s)
	return id
}

// pendingRecord returns the pending note of the creation of ent begun at now.
func pendingRecord(ent *occi.Entity, now time.Time) (*store.Note, error) {
	f := pendingForm{ID: ent.ID, Location: ent.Location, Kind: catString(ent.Kind), Title: ent.Title, Summary: ent.Summary,
		Attributes: ent.Attributes, Source: ent.Source, SourceKind: catString(ent.SourceKind),
		Target: ent.Target, TargetKind: catString(ent.TargetKind), Owner: ent.Owner}
	for _, m := range ent.Mixins {
		f.Mixins = append(f.Mixins, m.String())
	}
	form, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(pendingBody{Entity: form, Since: now.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	return &store.Note{Key: pendingPrefix + ent.Location, Body: body}, nil
}

// pendingOfNote reads a pending note. A body that does not decode gives a
// record without an entity, which settlePending removes.
func pendingOfNote(n *store.Note) *pending {
	p := &pending{key: n.Key, rev: n.Revision}
	var b pendingBody
	if err := json.Unmarshal(n.Body, &b); err == nil {
		p.form, p.since = b.Entity, b.Since
	}
	return p
}

// pendingOfEntity reads a pending record stored as an entity by an older
// occid; ok is false for an entity that is not one.
func pendingOfEntity(rec *occi.Entity) (p *pending, ok bool) {
	if rec.Kind != pendingKind || rec.Owner != pendingOwner {
		return nil, false
	}
	form, _ := rec.Attributes[pendingEntity].(string)
	since, _ := rec.Attributes[pendingSince].(string)
	return &pending{key: rec.Location, rev: rec.Revision, legacy: true, form: []byte(form), since: since}, true
}

// pendingEntityOf decodes the entity a pending record holds, its
// attributes in their canonical types.
func (e *Engine) pendingEntityOf(p *pending) (*occi.Entity, error) {
	d := json.NewDecoder(bytes.NewReader(p.form))
	d.UseNumber()
	var f pendingForm
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("pending record %s: %w", p.key, err)
	}
	ent := &occi.Entity{ID: f.ID, Location: f.Location, Kind: parseCat(f.Kind), Title: f.Title, Summary: f.Summary,
		Source: f.Source, SourceKind: parseCat(f.SourceKind), Target: f.Target, TargetKind: parseCat(f.TargetKind),
		Owner: f.Owner, Attributes: occi.Attributes{}}
	for _, m := range f.Mixins {
		ent.Mixins = append(ent.Mixins, parseCat(m))
	}
	defs, _ := e.model.Attributes(ent.Kind, ent.Mixins)
	for k, v := range f.Attributes {
		v = fromJSON(v)
		if d, ok := defs[k]; ok {
			if cv, err := coerce(d, v, "attribute"); err == nil {
				v = cv
			}
		}
		ent.Attributes[k] = v
	}
	return ent, nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
	}
	return v
}

// beginCreate stores a pending record for each of ents. finish holds the
// mutations that remove them, to be written with the entities, after which
// the caller calls finished; abandon removes them after a failure. Until
// one of the two, the records are this process's creations in flight (see
// track).
func (e *Engine) beginCreate(ctx context.Context, ents []*occi.Entity) (finish []store.Mutation, finished, abandon func(), err error) {
	if len(ents) == 0 {
		return nil, func() {}, func() {}, nil
	}
	if err := e.checkLegacyPending(ctx, ents); err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	recs := make([]*store.Note, len(ents))
	muts := make([]store.Mutation, len(ents))
	keys := make([]string, len(ents))
	for i, ent := range ents {
		rec, err := pendingRecord(ent, now)
		if err != nil {
			return nil, nil, nil, err
		}
		recs[i] = rec
		muts[i] = store.Mutation{PutNote: rec, Expect: store.MustNotExist}
		keys[i] = rec.Key
	}
	// Tracked before the records exist, so that the periodic settling
	// never takes them for leftovers (see settleLoop).
	e.track(keys)
	if err := e.store.Write(ctx, muts...); err != nil {
		e.untrack(keys)
		if occi.ErrorCode(err) == occi.AlreadyExists {
			return nil, nil, nil, unfinished(ents)
		}
		return nil, nil, nil, err
	}
	for _, rec := range recs {
		finish = append(finish, store.Mutation{DeleteNote: rec.Key, Expect: rec.Revision})
	}
	abandon = func() {
		defer e.untrack(keys)
		del := make([]store.Mutation, len(recs))
		for i, rec := range recs {
			del[i] = store.Mutation{DeleteNote: rec.Key, Expect: store.AnyRevision}
		}
		if err := e.store.Write(context.WithoutCancel(ctx), del...); err != nil {
			e.log.Warn("engine: removing pending records failed; they are settled later", "err", err)
		}
	}
	return finish, func() { e.untrack(keys) }, abandon, nil
}

func unfinished(ents []*occi.Entity) error {
	return occi.Errorf(occi.Conflict, "an earlier creation at one of the locations %s is unfinished; retry shortly", joinLocations(ents))
}

// checkLegacyPending is Conflict when one of ents is at the location of a
// pending record of an older occid that start left in place and that is
// still there.
func (e *Engine) checkLegacyPending(ctx context.Context, ents []*occi.Entity) error {
	if len(e.legacyPending) == 0 {
		return nil
	}
	for _, ent := range ents {
		if !e.legacyPending[ent.Location] {
			continue
		}
		switch _, err := e.store.Get(ctx, pendingPrefix+ent.Location); occi.ErrorCode(err) {
		case occi.OK:
			return unfinished(ents)
		case occi.NotFound:
		default:
			return err
		}
	}
	return nil
}

func joinLocations(ents []*occi.Entity) string {
	locs := make([]string, len(ents))
	for i, x := range ents {
		locs[i] = x.Location
	}
	return strings.Join(locs, ", ")
}

// recoverPending settles the pending records older than RecoverAfter: an
// entity whose object the driver has is adopted, any other record is
// removed. A record the driver cannot be asked about now (Unavailable)
// stays for the next start. It settles the pending notes, then the
// pending records an older occid stored as entities; those of the latter
// it leaves go to legacyPending. It runs in New only, before the engine is
// used.
func (e *Engine) recoverPending(ctx context.Context) error {
	notes, err := e.store.ListNotes(ctx, pendingPrefix+"/")
	if err != nil {
		return err
	}
	var recs []*pending
	for _, n := range notes {
		recs = append(recs, pendingOfNote(n))
	}
	legacy, err := e.store.List(ctx, store.Query{Prefix: pendingPrefix + "/"})
	if err != nil {
		return err
	}
	for _, rec := range legacy {
		if p, ok := pendingOfEntity(rec); ok {
			recs = append(recs, p)
		}
	}
	for _, p := range recs {
		if !e.settleIfDue(ctx, p) {
			e.keepLegacy(p, strings.TrimPrefix(p.key, pendingPrefix))
		}
	}
	return nil
}

// settleIfDue settles p if it is older than RecoverAfter and reports
// whether it did.
func (e *Engine) settleIfDue(ctx context.Context, p *pending) bool {
	if e.recoverAfter > 0 {
		if t, err := time.Parse(time.RFC3339Nano, p.since); err == nil && time.Since(t) < e.recoverAfter {
			return false
		}
	}
	if err := e.settlePending(ctx, p); err != nil {
		e.log.Warn("engine: cannot settle an unfinished creation yet", "location", strings.TrimPrefix(p.key, pendingPrefix), "err", err)
		return false
	}
	return true
}

// settleLoop settles, every interval until Close, the pending notes that
// are not this process's creations in flight (see Config.RecoverEvery).
// Pending records of an older occid are settled at start only.
func (e *Engine) settleLoop(every time.Duration) {
	defer e.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		notes, err := e.store.ListNotes(e.ctx, pendingPrefix+"/")
		if err != nil {
			if e.ctx.Err() == nil {
				e.log.Warn("engine: cannot read the unfinished creations", "err", err)
			}
			continue
		}
		for _, n := range notes {
			if e.ctx.Err() != nil {
				return
			}
			if !e.isInflight(n.Key) {
				e.settleIfDue(e.ctx, pendingOfNote(n))
			}
		}
	}
}

// track marks the pending notes keys as this process's creations in
// flight; untrack ends that.
func (e *Engine) track(keys []string) {
	e.inflightMu.Lock()
	defer e.inflightMu.Unlock()
	for _, k := range keys {
		e.inflight[k]++
	}
}

func (e *Engine) untrack(keys []string) {
	e.inflightMu.Lock()
	defer e.inflightMu.Unlock()
	for _, k := range keys {
		if e.inflight[k]--; e.inflight[k] <= 0 {
			delete(e.inflight, k)
		}
	}
}

func (e *Engine) isInflight(key string) bool {
	e.inflightMu.Lock()
	defer e.inflightMu.Unlock()
	return e.inflight[key] > 0
}

// keepLegacy notes that p, if stored as an entity by an older occid, stays
// at start: a create at loc checks that it is gone (checkLegacyPending).
func (e *Engine) keepLegacy(p *pending, loc string) {
	if !p.legacy {
		return
	}
	if e.legacyPending == nil {
		e.legacyPending = map[string]bool{}
	}
	e.legacyPending[loc] = true
}

func (e *Engine) settlePending(ctx context.Context, p *pending) error {
	drop := p.drop()
	ent, err := e.pendingEntityOf(p)
	if err != nil || !e.driven(ent.Kind) {
		return e.store.Write(ctx, drop)
	}
	unlock, err := e.lock(ctx, ent.Location)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := e.store.Get(ctx, ent.Location); err == nil {
		return e.store.Write(ctx, drop) // stored after all
	}
	obs, err := e.drv.Observe(ctx, ent)
	gone := obs.Gone
	if err != nil {
		if e.drv.ErrorCode(err) != occi.NotFound {
			return e.driverErr(err, "observing "+ent.Location)
		}
		gone = true
	}
	if gone {
		return e.store.Write(ctx, drop)
	}
	e.applyObservation(ent, obs)
	muts := []store.Mutation{{Put: ent, Expect: store.MustNotExist}, drop}
	if e.model.IsLink(ent.Kind) && strings.HasPrefix(ent.Source, "/") {
		if _, err := e.store.Get(ctx, ent.Source); err != nil {
			// Its resource was never stored: the link cannot be adopted.
			if err := e.drv.Delete(ctx, ent); err != nil {
				return e.driverErr(err, "deleting the orphan link "+ent.Location)
			}
			return e.store.Write(ctx, drop)
		}
	}
	if err := e.store.Write(ctx, muts...); err != nil {
		return err
	}
	e.log.Info("engine: adopted an unfinished creation", "location", ent.Location)
	return nil
}

// CreateAll creates every entity of es in the kind collection at
// collection, or none: all are validated first, then made real and stored
// in one atomic write; a failure undoes what the driver made. More than
// Config.MaxBatch entities is TooLarge.
func (e *Engine) CreateAll(ctx context.Context, collection string, es []*occi.Entity) ([]*occi.Entity, error) {
	if len(es) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "no entity given")
	}
	if len(es) > e.maxBatch {
		return nil, occi.Errorf(occi.TooLarge, "%d entities in one request; the limit is %d per request", len(es), e.maxBatch)
	}
	k, err := e.kindCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	type item struct {
		in       *occi.Entity
		loc, seg string
		fresh    bool // the engine made the location up
	}
	items := make([]item, len(es))
	locs := make([]string, len(es))
	for i, in := range es {
		if in == nil {
			return nil, batchError(occi.Errorf(occi.InvalidArgument, "no entity given"), i, len(es))
		}
		in = in.Clone()
		if err := e.checkCreateInput(k, in); err != nil {
			return nil, batchError(err, i, len(es))
		}
		seg, err := e.newSegment(in)
		if err != nil {
			return nil, batchError(err, i, len(es))
		}
		items[i] = item{in, k.Location + seg, seg, in.ID == ""}
		locs[i] = k.Location + seg
	}
	unlock, err := e.lockAll(ctx, locs)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The links locks of the ends of new links, after the entity locks
	// as in create.
	var ends []string
	for _, it := range items {
		ends = append(ends, e.linkEnds(it.in)...)
	}
	unlockLinks, err := e.lockLinksOfAll(ctx, ends)
	if err != nil {
		return nil, err
	}
	defer unlockLinks()
	plans := make([]*createPlan, len(items))
	taken := map[string]int{}
	for i, it := range items {
		p, err := e.prepareCreate(ctx, it.loc, it.seg, it.in, it.fresh)
		if err != nil {
			return nil, batchError(err, i, len(es))
		}
		for _, l := range append([]*occi.Entity{p.ent}, p.links...) {
			if j, dup := taken[l.Location]; dup {
				return nil, batchError(occi.Errorf(occi.AlreadyExists, "%s is also created by entity %d of the request", l.Location, j+1), i, len(es))
			}
			taken[l.Location] = i
		}
		plans[i] = p
	}
	// Each plan was checked against the stored links of its source; the
	// links of the request from one source count together.
	bySource := map[string][]*createPlan{}
	for _, p := range plans {
		if e.model.IsLink(p.ent.Kind) && p.src != nil {
			bySource[p.src.Location] = append(bySource[p.src.Location], p)
		}
	}
	for _, ps := range bySource {
		if len(ps) > 1 {
			links := make([]*occi.Entity, len(ps))
			for i, p := range ps {
				links[i] = p.ent
			}
			if err := e.checkNewLinks(ctx, ps[0].src, links, ""); err != nil {
				return nil, err
			}
		}
	}
	if err := e.commitCreates(ctx, plans); err != nil {
		return nil, err
	}
	out := make([]*occi.Entity, len(plans))
	for i, p := range plans {
		out[i] = e.presentCreated(ctx, p)
	}
	return out, nil
}

// Package engine is where OCCI semantics run: it implements occi.Service
// over a store.Store and a backend.Driver, enforcing the Core and
// Infrastructure rules (categories, attributes, templates, links, state
// machines, ownership) before it asks the driver to act and records what the
// driver observed. Nothing in it knows about HTTP or renderings.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// Defaults of Config.
const (
	DefaultProviderScheme  = "http://occid.local/occi/"
	DefaultPageSize        = 100
	DefaultMaxPage         = 1000
	DefaultObserveInterval = 2 * time.Second
)

// Config configures an Engine. Store and Driver are required; the Engine
// uses them but does not close them.
type Config struct {
	Store  store.Store
	Driver backend.Driver
	// ProviderScheme prefixes the schemes of provider categories: OS
	// templates are in <ProviderScheme>os_tpl#, resource templates in
	// <ProviderScheme>resource_tpl#, user tags in
	// <ProviderScheme>users/<user>/tags#, the OS templates a user saves in
	// <ProviderScheme>users/<user>/os_tpl#. It must end in '/'. Default
	// DefaultProviderScheme.
	ProviderScheme string
	// DefaultPage is the page size when a listing asks for none (default
	// 100); MaxPage is the largest page a client may ask for (default
	// 1000); more is TooLarge.
	DefaultPage, MaxPage int
	// ObserveInterval is how old an entity's last observation may be
	// before Get asks the driver again: 0 means the default (2s), a
	// negative value means on every Get.
	ObserveInterval time.Duration
	// Logger receives internal failures; nil discards them.
	Logger *slog.Logger
	// MaxBatch is the most entities CreateAll creates, and the most
	// mixins DefineMixins or DeleteMixins handles, in one request; more is
	// TooLarge. 0 means DefaultMaxBatch.
	MaxBatch int
	// RecoverAfter is how old an unfinished creation (a pending record
	// left by a process that stopped between asking the driver and
	// storing the entity) must be before the engine settles it: 0 settles
	// every one at start, which is right for a single process; with
	// several processes on one store give it more than the longest create
	// takes.
	RecoverAfter time.Duration
	// RecoverEvery is how often a running engine settles the pending
	// records still there, other than those of its own creations in
	// flight: the ones start left (too young for RecoverAfter, or the
	// driver unavailable) and the ones whose entity a lost deferred write
	// undid while the engine ran (a database server that crashed). 0
	// means DefaultRecoverEvery; negative, only at start.
	RecoverEvery time.Duration
}

// DefaultRecoverEvery is how often a running engine settles leftover
// pending records when Config.RecoverEvery is 0.
const DefaultRecoverEvery = 10 * time.Second

// Engine implements occi.Service. It is safe for concurrent use.
type Engine struct {
	store              store.Store
	drv                backend.Driver
	caps               backend.Capabilities
	model              *occi.Model
	scheme             string
	osScheme, rtScheme string
	defPage, maxPage   int
	maxBatch           int
	recoverAfter       time.Duration
	recoverEvery       time.Duration
	obsEvery           time.Duration
	log                *slog.Logger

	locksMu sync.Mutex
	locks   map[string]*entityLock

	obsMu    sync.Mutex
	observed map[string]time.Time

	tplMu     sync.Mutex
	templates map[occi.CategoryID]backend.Template // by mixin id; nil when stale
	tplSynced time.Time
	provided  map[occi.CategoryID]bool // template mixins that come from the driver only
	// pendingSaves are the saved templates recorded while this process
	// asks the driver to make them (see recordSave).
	pendingSaves map[occi.CategoryID]bool
	// legacyPending holds the locations of the pending records stored as
	// entities by an older occid that start left in place (see
	// pending.go). It is written in New only and read-only after.
	legacyPending map[string]bool
	// inflight counts, by pending note key, this process's creations
	// between writing their pending records and removing them: the
	// periodic settling leaves those alone.
	inflightMu sync.Mutex
	inflight   map[string]int

	// mixMu serialises changes of the stored mixins in the model: local
	// writes and syncs with the store (see syncStoredMixins). mixGen counts
	// local writes.
	mixMu  sync.Mutex
	mixGen uint64
	// mixSynced is what the last complete sync of the stored mixins saw:
	// the store's version (store.Versioner) before it read them and the
	// model's generation after it; while both are unchanged the stored
	// mixins need no reading.
	mixSynced struct {
		ok       bool
		version  uint64
		modelGen uint64
	}

	// discoPrefix is the start of DiscoveryVersion's answer for the
	// model's latest generation.
	discoPrefix atomic.Pointer[genPrefix]

	queueMu sync.Mutex
	queue   []backend.Event
	wake    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type entityLock struct {
	ch   chan struct{}
	refs int
}

var (
	_ occi.Service      = (*Engine)(nil)
	_ occi.BatchService = (*Engine)(nil)
)

// New returns an Engine over cfg.Store and cfg.Driver. It builds the model
// from what the driver supports, loads user mixins and saved templates from
// the store, reads the driver's templates, and starts following the driver's
// events if it implements backend.Watcher.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Driver == nil {
		return nil, errors.New("engine: Config.Store and Config.Driver are required")
	}
	e := &Engine{
		store:        cfg.Store,
		drv:          cfg.Driver,
		caps:         cfg.Driver.Capabilities(),
		scheme:       cfg.ProviderScheme,
		defPage:      cfg.DefaultPage,
		maxPage:      cfg.MaxPage,
		obsEvery:     cfg.ObserveInterval,
		maxBatch:     cfg.MaxBatch,
		recoverAfter: cfg.RecoverAfter,
		recoverEvery: cfg.RecoverEvery,
		log:          cfg.Logger,
		inflight:     map[string]int{},
		locks:        map[string]*entityLock{},
		observed:     map[string]time.Time{},
		provided:     map[occi.CategoryID]bool{},
		wake:         make(chan struct{}, 1),
	}
	if e.scheme == "" {
		e.scheme = DefaultProviderScheme
	}
	if !strings.HasSuffix(e.scheme, "/") {
		return nil, errors.New("engine: ProviderScheme must end in '/'")
	}
	e.osScheme = e.scheme + "os_tpl#"
	e.rtScheme = e.scheme + "resource_tpl#"
	if e.defPage <= 0 {
		e.defPage = DefaultPageSize
	}
	if e.maxPage <= 0 {
		e.maxPage = DefaultMaxPage
	}
	if e.defPage > e.maxPage {
		e.defPage = e.maxPage
	}
	if e.maxBatch <= 0 {
		e.maxBatch = DefaultMaxBatch
	}
	if e.obsEvery == 0 {
		e.obsEvery = DefaultObserveInterval
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if err := e.buildModel(); err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	ctx := e.ctx
	stored, err := e.store.ListMixins(ctx)
	if err != nil {
		e.cancel()
		return nil, err
	}
	e.addMixins(stored, "engine: skipping stored mixin")
	if err := e.syncTemplates(ctx); err != nil {
		e.log.Warn("engine: cannot read the driver's templates", "err", err)
	}
	if err := e.recoverPending(ctx); err != nil {
		e.log.Warn("engine: cannot read the unfinished creations", "err", err)
	}
	e.wg.Add(1)
	go e.applyLoop()
	if e.recoverEvery == 0 {
		e.recoverEvery = DefaultRecoverEvery
	}
	if e.recoverEvery > 0 {
		e.wg.Add(1)
		go e.settleLoop(e.recoverEvery)
	}
	if w, ok := e.drv.(backend.Watcher); ok {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := w.Watch(ctx, e.enqueue); err != nil && ctx.Err() == nil {
				e.log.Warn("engine: driver watch ended", "err", err)
			}
		}()
	}
	return e, nil
}

// Close stops following the driver's events and waits for pending ones to
// be applied. It does not close the store or the driver.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

// Model returns the engine's category registry (read-only for callers).
func (e *Engine) Model() *occi.Model { return e.model }

func (e *Engine) supportsKind(k occi.CategoryID) bool   { return slices.Contains(e.caps.Kinds, k) }
func (e *Engine) supportsAction(a occi.CategoryID) bool { return slices.Contains(e.caps.Actions, a) }
func (e *Engine) supportsMixin(m occi.CategoryID) bool  { return slices.Contains(e.caps.Mixins, m) }

// driven reports whether entities of kind are made real by the driver
// (core kinds are records only).
func (e *Engine) driven(kind occi.CategoryID) bool { return e.supportsKind(kind) }

func (e *Engine) buildModel() error {
	m := occi.NewModel()
	for _, a := range infra.Actions() {
		if !e.supportsAction(a.ID) {
			continue
		}
		if a.ID == infra.ActionSave && len(e.caps.SaveMethods) > 0 {
			for i := range a.Attributes {
				if a.Attributes[i].Name == infra.ParamMethod {
					a.Attributes[i].Enum = append([]string(nil), e.caps.SaveMethods...)
					if !slices.Contains(e.caps.SaveMethods, a.Attributes[i].Default.(string)) {
						a.Attributes[i].Default = e.caps.SaveMethods[0]
					}
				}
			}
		}
		if err := m.AddAction(a); err != nil {
			return err
		}
	}
	for _, k := range infra.Kinds() {
		if !e.supportsKind(k.ID) {
			continue
		}
		k.Actions = slices.DeleteFunc(k.Actions, func(a occi.CategoryID) bool { return !e.supportsAction(a) })
		if err := m.AddKind(k); err != nil {
			return err
		}
	}
	for _, x := range infra.Mixins() {
		switch x.ID {
		case infra.OSTemplate, infra.ResourceTemplate:
		default:
			if !e.supportsMixin(x.ID) {
				continue
			}
		}
		ok := true
		for _, a := range x.Applies {
			if _, found := m.Kind(a); !found {
				ok = false
			}
		}
		if !ok {
			continue
		}
		if err := m.AddMixin(x); err != nil {
			return err
		}
	}
	e.model = m
	return nil
}

// lock takes the per-entity lock of location, waiting until it is free or
// ctx ends.
func (e *Engine) lock(ctx context.Context, location string) (func(), error) {
	e.locksMu.Lock()
	l := e.locks[location]
	if l == nil {
		l = &entityLock{ch: make(chan struct{}, 1)}
		e.locks[location] = l
	}
	l.refs++
	e.locksMu.Unlock()
	release := func() {
		e.locksMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(e.locks, location)
		}
		e.locksMu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, occi.Wrap(ctx.Err(), occi.Unavailable, "request cancelled while waiting for "+location)
	}
}

// tryLock takes the lock of location if it is free.
func (e *Engine) tryLock(location string) (func(), bool) {
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	l := e.locks[location]
	if l == nil {
		l = &entityLock{ch: make(chan struct{}, 1)}
		e.locks[location] = l
	}
	select {
	case l.ch <- struct{}{}:
		l.refs++
		return func() {
			<-l.ch
			e.locksMu.Lock()
			l.refs--
			if l.refs == 0 {
				delete(e.locks, location)
			}
			e.locksMu.Unlock()
		}, true
	default:
		if l.refs == 0 {
			delete(e.locks, location)
		}
		return nil, false
	}
}

// lockLinksOf takes the lock that serialises changes to the set of links
// that touch the resource at location, as source or target: creating or
// deleting such a link, changing one, deleting the resource itself. It
// covers the count and device checks of checkNewLinks and the write that
// follows them, and a resource delete's listing of its links and the
// write that deletes them (so no link is created from or to a resource
// being deleted, nor deleted under it). It is taken after the entity locks
// of the operation, and while it is held no entity lock is taken (several
// links locks only together, in sorted order: lockLinksOfAll), so it
// cannot deadlock.
func (e *Engine) lockLinksOf(ctx context.Context, location string) (func(), error) {
	return e.lock(ctx, linksLockKey(location))
}

// lockLinksAround takes the links locks an operation on ent needs: for a
// link, those of its source and target (the link set of both changes);
// for a resource, its own, and also those of extra (the targets of
// inline links it gains).
func (e *Engine) lockLinksAround(ctx context.Context, ent *occi.Entity, extra ...string) (func(), error) {
	var keys []string
	if e.model.IsLink(ent.Kind) {
		keys = append(keys, ent.Source, ent.Target)
	} else {
		keys = append(keys, ent.Location)
	}
	keys = append(keys, extra...)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "" })
	return e.lockLinksOfAll(ctx, keys)
}

// lockLinksOfAll takes the links locks (lockLinksOf) of the resources at
// locations, in sorted order.
func (e *Engine) lockLinksOfAll(ctx context.Context, locations []string) (func(), error) {
	keys := make([]string, len(locations))
	for i, l := range locations {
		keys[i] = linksLockKey(l)
	}
	return e.lockAll(ctx, keys)
}

// linksLockKey is the lock key of the links of the resource at location.
// No location holds a NUL: the key is apart from every entity lock.
func linksLockKey(location string) string {
	return "\x00links " + location
}

// lockAll takes the locks of locations in sorted order.
func (e *Engine) lockAll(ctx context.Context, locations []string) (func(), error) {
	locs := append([]string(nil), locations...)
	slices.Sort(locs)
	locs = slices.Compact(locs)
	var unlocks []func()
	unlock := func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	for _, l := range locs {
		u, err := e.lock(ctx, l)
		if err != nil {
			unlock()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return unlock, nil
}

func user(ctx context.Context) string { return occi.IdentityFrom(ctx).User }

// driverErr wraps a driver error once, with the code the driver gives it.
// The message says what failed and, unless the failure is Internal, the
// driver's explanation.
func (e *Engine) driverErr(err error, what string) error {
	if err == nil {
		return nil
	}
	code := e.drv.ErrorCode(err)
	if code == occi.OK {
		code = occi.Internal
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = occi.Unavailable
	}
	var oe *occi.Error
	detail := err.Error()
	if errors.As(err, &oe) {
		detail = occi.ErrorMessage(err)
	}
	msg := what + ": " + detail
	if code == occi.Internal {
		msg = what + " failed in the backend"
	}
	return occi.Wrap(err, code, msg)
}

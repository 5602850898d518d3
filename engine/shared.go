package engine

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// Several occid processes may share one store. Entities are read from the
// store on every request, so they need nothing more; the stored mixins (user
// tags and saved OS templates) also live in the engine's model, so before a
// request depends on them the engine brings the model in line with the store
// (syncStoredMixins). What one process defines or deletes is therefore seen
// by the next request through any other.

// Path prefixes below which stored mixins have their locations: user tags
// under /users/<user>/tags/, saved OS templates under /users/<user>/os_tpl/
// (and, saved by earlier versions, under /os_tpl/).
var storedMixinPrefixes = []string{"/users/", "/os_tpl/"}

// touchesStoredMixins reports whether resolving path depends on the stored
// mixins: the path is at or below a location where they live, or above one
// (an unbound collection such as "/").
func touchesStoredMixins(path string) bool {
	for _, p := range storedMixinPrefixes {
		if strings.HasPrefix(path, p) || strings.HasPrefix(p, path) || path+"/" == p {
			return true
		}
	}
	return false
}

// syncStoredMixins makes the model's stored mixins match the store: mixins
// another process stored are added (a tag after the tags it depends on),
// mixins another process deleted are removed, and mixins another process
// deleted and defined again differently (another title, location, ...)
// are replaced. Saved templates the model has are left as they are: their
// ids are never reused, and the model's copy carries the driver's latest
// state. A local change of the stored mixins made while the store
// was being read makes it read again.
//
// With a store that has a version (store.Versioner), a sync is skipped
// while neither the store's version nor the model's generation changed
// since the last one: nothing was written anywhere, so the stored mixins
// are what the model already holds.
func (e *Engine) syncStoredMixins(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		version, versioned := e.storeVersion()
		e.mixMu.Lock()
		gen := e.mixGen
		if versioned && e.mixSynced.ok && e.mixSynced.version == version && e.mixSynced.modelGen == e.model.Generation() {
			e.mixMu.Unlock()
			return nil
		}
		e.mixMu.Unlock()
		stored, err := e.store.ListMixins(ctx)
		if err != nil {
			return err
		}
		e.mixMu.Lock()
		if e.mixGen != gen && attempt < 3 {
			e.mixMu.Unlock()
			continue
		}
		e.reconcileMixinsLocked(stored)
		e.mixSynced.ok = versioned && e.mixGen == gen
		e.mixSynced.version, e.mixSynced.modelGen = version, e.model.Generation()
		e.mixMu.Unlock()
		return nil
	}
}

// storeVersion returns the store's version, if it has one (see
// store.Versioner).
func (e *Engine) storeVersion() (uint64, bool) {
	if vs, ok := e.store.(store.Versioner); ok {
		return vs.Version()
	}
	return 0, false
}

// reconcileMixinsLocked applies the store's list of mixins to the model;
// e.mixMu is held.
func (e *Engine) reconcileMixinsLocked(stored []*occi.Mixin) {
	inStore := make(map[occi.CategoryID]bool, len(stored))
	var missing, changed []*occi.Mixin
	for _, m := range stored {
		inStore[m.ID] = true
		cur, ok := e.model.Mixin(m.ID)
		switch {
		case !ok:
			missing = append(missing, m)
		case !e.isSavedTemplate(cur) && !sameDefinition(cur, m):
			changed = append(changed, m)
		}
	}
	for _, m := range e.model.Mixins() {
		if m.Owner == "" || inStore[m.ID] {
			continue
		}
		e.model.RemoveMixin(m.ID)
		e.tplMu.Lock()
		delete(e.templates, m.ID)
		e.tplMu.Unlock()
	}
	addedTemplate := false
	for _, m := range changed {
		if err := e.model.ReplaceMixin(m); err != nil {
			e.log.Warn("engine: skipping a stored mixin another process redefined", "mixin", m.ID.String(), "err", err)
		}
	}
	if e.addMixins(missing, "engine: skipping a stored mixin another process defined") {
		addedTemplate = true
	}
	if addedTemplate {
		// Its state comes from the driver: read the templates again soon.
		e.tplMu.Lock()
		e.tplSynced = time.Time{}
		e.tplMu.Unlock()
	}
}

// addMixins adds the stored mixins ms to the model in rounds, so that a
// tag comes after the tags it depends on whatever their order in ms; a
// mixin that cannot be added at all is logged with warn and skipped. It
// reports whether a saved template was added.
func (e *Engine) addMixins(ms []*occi.Mixin, warn string) (addedTemplate bool) {
	for len(ms) > 0 {
		var later []*occi.Mixin
		for _, m := range ms {
			if err := e.model.AddMixin(m); err != nil {
				later = append(later, m)
				continue
			}
			if e.isSavedTemplate(m) {
				addedTemplate = true
			}
		}
		if len(later) == len(ms) {
			for _, m := range later {
				err := e.model.AddMixin(m)
				e.log.Warn(warn, "mixin", m.ID.String(), "err", err)
			}
			break
		}
		ms = later
	}
	return addedTemplate
}

// sameDefinition reports whether the mixins a and b, of one identifier,
// are defined alike: title, location, owner, dependencies, applicable
// kinds, actions and attribute definitions.
func sameDefinition(a, b *occi.Mixin) bool {
	if a.Title != b.Title || a.Location != b.Location || a.Owner != b.Owner ||
		!slices.Equal(a.Depends, b.Depends) || !slices.Equal(a.Applies, b.Applies) || !slices.Equal(a.Actions, b.Actions) {
		return false
	}
	return len(a.Attributes) == 0 && len(b.Attributes) == 0 || reflect.DeepEqual(a.Attributes, b.Attributes)
}

// syncStoredMixinsFor syncs the stored mixins when a request about path
// depends on them, logging rather than failing when the store cannot be read
// (the request then works with what the model has).
func (e *Engine) syncStoredMixinsFor(ctx context.Context, path string) {
	if touchesStoredMixins(path) {
		e.syncStoredMixinsQuietly(ctx)
	}
}

func (e *Engine) syncStoredMixinsQuietly(ctx context.Context) {
	if err := e.syncStoredMixins(ctx); err != nil {
		e.log.Warn("engine: cannot read the stored mixins", "err", err)
	}
}

// knowsMixins syncs the stored mixins when ent carries a mixin the model
// does not know (another process defined it and associated it).
func (e *Engine) knowsMixins(ctx context.Context, ent *occi.Entity) {
	for _, id := range ent.Mixins {
		if _, ok := e.model.Mixin(id); !ok {
			e.syncStoredMixinsQuietly(ctx)
			return
		}
	}
}

// changeStoredMixins runs write, a local change of the stored mixins (store
// write and model update), so that no concurrent sync undoes it.
func (e *Engine) changeStoredMixins(write func() error) error {
	e.mixMu.Lock()
	defer e.mixMu.Unlock()
	e.mixGen++
	return write()
}

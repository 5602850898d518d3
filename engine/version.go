package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/occid/occi"
)

// EntityVersion returns a token naming what Get(ctx, location) returns to
// the caller now, when the engine can tell without doing what Get does:
// the token changes whenever that answer may change, and ok is false when
// the engine cannot vouch for it cheaply. The token is made of the store's
// version (store.Versioner: it changes with every write committed by any
// process sharing the store, including the engine's own observations and
// action results), the model's generation (its kinds, mixins and actions,
// on which the rendered actions depend) and the caller's name (what a
// caller sees is what it owns). ok is false when the store has no version,
// when location is not in a kind collection, and when the entity's state
// is due to be observed again (Get would ask the driver first). occihttp
// caches its renderings of an entity under this token (see
// occihttp.EntityVersioner); the answer for a token is only ever computed
// by a full Get that started after the token was read.
func (e *Engine) EntityVersion(ctx context.Context, location string) (token string, ok bool) {
	v, ok := e.storeVersion()
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(location, '/')
	if i <= 0 || i == len(location)-1 {
		return "", false
	}
	kind, class, ok := e.model.ByLocation(location[:i+1])
	if !ok || class != occi.ClassKind {
		return "", false
	}
	if e.driven(kind) && !e.observedRecently(location) {
		return "", false
	}
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, v, 16)
	b = append(b, '/')
	b = strconv.AppendUint(b, e.model.Generation(), 10)
	b = append(b, '/')
	b = append(b, user(ctx)...)
	return string(b), true
}

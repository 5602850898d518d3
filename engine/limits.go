package engine

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/occid/occi"
	"github.com/occid/occi/infra"
	"github.com/occid/occi/store"
)

// Size limits on what a request may store. Every limit is counted in bytes
// of UTF-8 (strings) or in items; going over it is InvalidArgument naming
// what and the limit. See docs/model.md, "Limits".
const (
	// MaxText bounds a title (of an entity or a user mixin) and a summary.
	MaxText = 1024
	// MaxString bounds a string attribute value, and the total size of the
	// strings inside a list or hash attribute value.
	MaxString = 64 << 10
	// MaxUserData bounds occi.compute.userdata (cloud-init scripts).
	MaxUserData = 256 << 10
	// MaxTerm bounds the term of a user mixin.
	MaxTerm = 128
	// MaxMixinLocation bounds the location of a user mixin.
	MaxMixinLocation = 512
	// MaxMixins bounds the mixins of one entity.
	MaxMixins = 64
	// MaxLinks bounds the links whose source is one resource.
	MaxLinks = 128
	// DefaultMaxBatch is the default of Config.MaxBatch: the entities one
	// CreateAll may create.
	DefaultMaxBatch = 100
)

// Numeric limits of Infrastructure attributes (sizes in GiB).
const (
	MaxStorageSize = 64 << 10 // 64 TiB
	MaxMemory      = 16 << 10 // 16 TiB
)

// checkText checks a title or summary.
func checkText(what, s string) error {
	if len(s) > MaxText {
		return occi.Errorf(occi.InvalidArgument, "%s is %d bytes long; the limit is %d", what, len(s), MaxText)
	}
	return nil
}

// checkEntitySize checks the title, summary and mixin count of ent.
func checkEntitySize(ent *occi.Entity) error {
	if err := checkText(occi.AttrTitle, ent.Title); err != nil {
		return err
	}
	if err := checkText(occi.AttrSummary, ent.Summary); err != nil {
		return err
	}
	if len(ent.Mixins) > MaxMixins {
		return occi.Errorf(occi.InvalidArgument, "%d mixins given; an entity may have at most %d", len(ent.Mixins), MaxMixins)
	}
	return nil
}

// valueSize returns the bytes of string data in v and whether every number
// in it is finite.
func valueSize(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return len(x), true
	case float64:
		return 0, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return valueSize(float64(x))
	case []any:
		n, ok := 0, true
		for _, y := range x {
			m, f := valueSize(y)
			n, ok = n+m, ok && f
		}
		return n, ok
	case map[string]any:
		n, ok := 0, true
		for k, y := range x {
			m, f := valueSize(y)
			n, ok = n+len(k)+m, ok && f
		}
		return n, ok
	}
	return 0, true
}

// checkValue enforces the size and finiteness limits and the value rules
// of Infrastructure attributes on a coerced value.
func checkValue(d occi.AttributeDef, v any, where string) error {
	limit := MaxString
	if d.Name == infra.AttrUserData {
		limit = MaxUserData
	}
	n, finite := valueSize(v)
	if !finite {
		return occi.Errorf(occi.InvalidArgument, "%s %s must be finite (no NaN or infinity)", where, d.Name)
	}
	if n > limit {
		return occi.Errorf(occi.InvalidArgument, "%s %s is %d bytes long; the limit is %d", where, d.Name, n, limit)
	}
	switch d.Name {
	case infra.AttrStorageSize:
		return positive(d.Name, where, v, MaxStorageSize, "GiB (64 TiB)")
	case infra.AttrComputeMemory:
		return positive(d.Name, where, v, MaxMemory, "GiB (16 TiB)")
	case infra.AttrComputeHostname:
		if s, _ := v.(string); s != "" && !validHostname(s) {
			return occi.Errorf(occi.InvalidArgument, "%s %s must be a DNS name (labels of letters, digits and '-', not starting or ending with '-', at most 63 bytes each, 253 in all), got %q", where, d.Name, s)
		}
	case infra.AttrSLMountpoint:
		if s, _ := v.(string); s != "" && !validMountpoint(s) {
			return occi.Errorf(occi.InvalidArgument, "%s %s must be an absolute path without '.' or '..' segments, got %q", where, d.Name, s)
		}
	}
	return nil
}

func positive(name, where string, v any, limit float64, unit string) error {
	f, _ := v.(float64)
	if f <= 0 || f > limit {
		return occi.Errorf(occi.InvalidArgument, "%s %s must be greater than 0 and at most %v %s, got %v", where, name, limit, unit, f)
	}
	return nil
}

// validHostname checks an RFC 1123 host name; a final dot is allowed.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validMountpoint checks an absolute path with no "." or ".." segment and
// no control characters.
func validMountpoint(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// batchError prefixes err with the position of the failing item.
func batchError(err error, i, n int) error {
	if n <= 1 {
		return err
	}
	return occi.Wrap(err, occi.ErrorCode(err), fmt.Sprintf("entity %d of %d: %s", i+1, n, occi.ErrorMessage(err)))
}

// checkNewLinks checks that giving the resource src the links add (and,
// for an update of a link, replacing the stored link at replacing) keeps
// it within MaxLinks and its storage links' device ids distinct.
func (e *Engine) checkNewLinks(ctx context.Context, src *occi.Entity, add []*occi.Entity, replacing string) error {
	if src == nil || len(add) == 0 {
		return nil
	}
	existing, err := e.store.List(ctx, store.Query{Source: src.Location})
	if err != nil {
		return err
	}
	all := make([]*occi.Entity, 0, len(existing)+len(add))
	for _, l := range existing {
		if l.Location != replacing {
			all = append(all, l)
		}
	}
	all = append(all, add...)
	if replacing == "" && len(all) > MaxLinks {
		return occi.Errorf(occi.InvalidArgument, "%s would have %d links; a resource may have at most %d", src.Location, len(all), MaxLinks)
	}
	byDevice := map[string]string{}
	for _, l := range all {
		if l.Kind != infra.StorageLink {
			continue
		}
		dev, _ := l.Attributes[infra.AttrSLDeviceID].(string)
		if dev == "" {
			continue
		}
		if other, dup := byDevice[dev]; dup {
			return occi.Errorf(occi.AlreadyExists, "%s %s on %s is already used by the storage link %s", infra.AttrSLDeviceID, dev, src.Location, other)
		}
		byDevice[dev] = l.Location
	}
	return nil
}

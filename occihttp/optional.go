package occihttp

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// Optional interfaces of a Service. The Server uses them when the service
// implements them (the engine does); each only lets the server skip work,
// and every answer stays what it would be without it.

// RequestScoper lets a service carry state through one request.
// WithRequestScope is called once per OCCI GET or HEAD request; the Server
// passes the context it returns to Resolve and, when Resolve found an
// entity, to the Get that follows, and to nothing else. A service can so
// hand what Resolve read to that Get.
type RequestScoper interface {
	WithRequestScope(ctx context.Context) context.Context
}

// LocationLister lists a collection's locations without its entities:
// ListLocations returns the locations of the entities List(ctx, q) returns,
// in the same order and with the same errors. The Server uses it for
// renderings of collections that hold only locations (see
// render.LocationLines) and writes long lists part by part.
type LocationLister interface {
	ListLocations(ctx context.Context, q occi.ListQuery) ([]string, error)
}

// DiscoveryVersioner lets the Server cache its renderings of the query
// interface. DiscoveryVersion returns a version of what Discover(ctx, nil)
// returns for the caller in ctx, which must change whenever that answer
// would change; the Server reads it before calling Discover and keeps each
// rendering (per version, media type and base URL) until the version
// changes.
type DiscoveryVersioner interface {
	DiscoveryVersion(ctx context.Context) (string, error)
}

// Bounds of the query interface cache (versions differ per user when users
// have tags of their own, and every base URL, so every Host a client
// sends, has its own rendering): it starts afresh when it holds
// maxCachedDiscoveries renderings or maxCachedDiscoveryBytes bytes (keys,
// headers and bodies, see renderingSize), and a rendering over
// maxCachedDiscovery bytes is not kept.
const (
	maxCachedDiscoveries    = 128
	maxCachedDiscoveryBytes = 16 << 20
	maxCachedDiscovery      = 1 << 20
)

// renderingSize is the memory a kept rendering holds, near enough: its key,
// its headers and its body. Keys and headers count as much as bodies: a
// base URL made of a client's Host is in all three (and a text/occi
// rendering is all headers).
func renderingSize(key int, h http.Header, body []byte) int {
	n := key + len(body)
	for k, vs := range h {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// renderCache holds finished responses (headers and body) by key.
type renderCache struct {
	mu    sync.RWMutex
	m     map[discoveryKey]*cachedReply
	bytes int
}

// discoveryKey names a rendering of the query interface: the service's
// version, the codec's media type, the media type announced (the alias the
// client asked for, or "") and the base URL of its locations.
type discoveryKey struct {
	version, mediaType, announced, base string
}

type cachedReply struct {
	header http.Header
	body   []byte
	size   int // see renderingSize
}

func (c *renderCache) get(key discoveryKey) *cachedReply {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

func (c *renderCache) put(key discoveryKey, r *cachedReply) {
	r.size = renderingSize(len(key.version)+len(key.mediaType)+len(key.announced)+len(key.base), r.header, r.body)
	if r.size > maxCachedDiscovery {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedDiscoveries || c.bytes+r.size > maxCachedDiscoveryBytes {
		c.m, c.bytes = map[discoveryKey]*cachedReply{}, 0
	}
	if old := c.m[key]; old != nil {
		c.bytes -= old.size
	}
	c.m[key] = r
	c.bytes += r.size
}

// replyDiscovery answers GET /-/ without a filter: from the cache when the
// service's discovery version allows, else by rendering d's answer.
func (x *exchange) replyDiscovery() {
	dv, ok := x.s.svc.(DiscoveryVersioner)
	if !ok {
		d, err := x.s.svc.Discover(x.ctx, nil)
		if err != nil {
			x.fail(err)
			return
		}
		x.reply(http.StatusOK, nil, func(w *render.Writer) error { return x.codec.EncodeDiscovery(w, d) })
		return
	}
	v, err := dv.DiscoveryVersion(x.ctx)
	if err != nil {
		x.fail(err)
		return
	}
	key := discoveryKey{v, x.codec.MediaType(), x.mediaType, x.base}
	if c := x.s.discovery.get(key); c != nil {
		x.send(http.StatusOK, c.header, c.body)
		return
	}
	d, err := x.s.svc.Discover(x.ctx, nil)
	if err != nil {
		x.fail(err)
		return
	}
	h, body, err := x.render(func(w *render.Writer) error { return x.codec.EncodeDiscovery(w, d) })
	if err != nil {
		x.fail(err)
		return
	}
	// Kept with its Content-Length, which send then leaves as it is.
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c := &cachedReply{header: h, body: body}
	x.s.discovery.put(key, c)
	x.send(http.StatusOK, c.header, c.body)
}

// streamLocationsAbove is the length of a list of locations above which
// the Server writes it part by part (without Content-Length) rather than
// whole; streamPart is the size of a part.
const (
	streamLocationsAbove = 4096
	streamPart           = 1024
)

// listLocations answers a listing from its locations alone when both the
// response codec and the service allow it; it reports whether it did.
func (x *exchange) listLocations(q occi.ListQuery) bool {
	ll, ok := x.codec.(render.LocationLines)
	if !ok || !ll.LocationLines() {
		return false
	}
	lister, ok := x.s.svc.(LocationLister)
	if !ok {
		return false
	}
	locs, err := lister.ListLocations(x.ctx, q)
	if err != nil {
		x.fail(err)
		return true
	}
	if len(locs) <= streamLocationsAbove {
		x.reply(http.StatusOK, nil, func(w *render.Writer) error { return x.codec.EncodeLocations(w, locs) })
		return true
	}
	h, part, err := x.render(func(w *render.Writer) error { return x.codec.EncodeLocations(w, locs[:streamPart]) })
	if err != nil {
		x.fail(err)
		return true
	}
	mergeHeader(x.w.Header(), h)
	x.w.WriteHeader(http.StatusOK)
	if x.r.Method == http.MethodHead {
		return true
	}
	var buf bytes.Buffer
	for rest := locs[streamPart:]; ; {
		if _, err := x.w.Write(part); err != nil {
			return true // the client went away
		}
		if len(rest) == 0 {
			return true
		}
		n := min(streamPart, len(rest))
		buf.Reset()
		if err := x.codec.EncodeLocations(&render.Writer{Header: http.Header{}, Body: &buf, Base: x.base}, rest[:n]); err != nil {
			// Headers are sent: cut the response off so that the client
			// cannot take a partial list for a whole one.
			panic(http.ErrAbortHandler)
		}
		part = buf.Bytes()
		rest = rest[n:]
	}
}

// EntityVersioner lets the Server cache its renderings of entities.
// EntityVersion returns a token naming what Get(ctx, location) returns to
// the caller in ctx, which must change whenever that answer would change,
// and false when the service cannot tell cheaply. The Server reads it
// before it serves a GET or HEAD of an entity: when it holds a rendering
// made under the same token (for the same location, media type and base
// URL) it answers with it; otherwise it serves the request in full and
// keeps the 200 rendering under the token it read first, so a rendering is
// never older than its token.
type EntityVersioner interface {
	EntityVersion(ctx context.Context, location string) (string, bool)
}

// Bounds of the entity rendering cache: it starts afresh when it holds
// maxCachedEntities renderings or maxCachedEntityBytes bytes (keys, headers
// and bodies, see renderingSize), and a rendering over maxCachedEntity
// bytes is not kept.
const (
	maxCachedEntities    = 8192
	maxCachedEntityBytes = 32 << 20
	maxCachedEntity      = 256 << 10
)

// entityCache holds renderings of entities within the bounds above, each
// with the token (see EntityVersioner) it was made under.
type entityCache struct {
	mu    sync.RWMutex
	m     map[string]*cachedEntity
	bytes int
}

type cachedEntity struct {
	token  string
	header http.Header // every response header but X-Request-Id
	body   []byte
	size   int // see renderingSize
}

// get returns the rendering kept under key if it was made under token.
func (c *entityCache) get(key, token string) *cachedEntity {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e == nil || e.token != token {
		return nil
	}
	return e
}

func (c *entityCache) put(key string, e *cachedEntity) {
	e.size = renderingSize(len(key)+len(e.token), e.header, e.body)
	if e.size > maxCachedEntity {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedEntities || c.bytes+e.size > maxCachedEntityBytes {
		c.m, c.bytes = map[string]*cachedEntity{}, 0
	}
	if old := c.m[key]; old != nil {
		c.bytes -= old.size
	}
	c.m[key] = e
	c.bytes += e.size
}

// entityCacheKey names a rendering: the path, the response's media types
// (the codec's and the one announced) and the base URL of its locations.
func (x *exchange) entityCacheKey() string {
	return x.r.URL.Path + "\x00" + x.codec.MediaType() + "\x00" + x.mediaType + "\x00" + x.base
}

// serveCachedEntity answers a GET or HEAD of an entity from the cache when
// the service's token allows; otherwise it notes the token, so that send
// keeps the rendering the full request makes, and returns false.
func (x *exchange) serveCachedEntity() bool {
	ev, ok := x.s.svc.(EntityVersioner)
	if !ok {
		return false
	}
	token, ok := ev.EntityVersion(x.ctx, x.r.URL.Path)
	if !ok {
		return false
	}
	key := x.entityCacheKey()
	c := x.s.entities.get(key, token)
	if c == nil {
		x.s.metrics.misses.Inc()
		x.cacheKey, x.cacheToken = key, token
		return false
	}
	x.s.metrics.hits.Inc()
	x.route, x.allow = routeEntity, allowEntity
	h := x.w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	x.w.WriteHeader(http.StatusOK)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write(c.body)
	}
	return true
}

// keepEntity keeps the 200 rendering of an entity just sent (header h,
// body), if serveCachedEntity asked for it.
func (x *exchange) keepEntity(status int, h http.Header, body []byte) {
	if x.cacheKey == "" || status != http.StatusOK || x.route != routeEntity {
		return
	}
	kept := make(http.Header, len(h))
	for k, v := range h {
		if k != "X-Request-Id" {
			kept[k] = slices.Clip(v) // an Add to a served copy must not write here
		}
	}
	x.s.entities.put(x.cacheKey, &cachedEntity{token: x.cacheToken, header: kept, body: body})
}

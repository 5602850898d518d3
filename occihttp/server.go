// Package occihttp is the OCCI 1.2 HTTP protocol (GFD.223) for occid: Server,
// an http.Handler that serves an occi.Service (the query interface, kind
// and mixin collections, entities, unbound paths and actions, with every
// status code of the protocol), and Client, which implements occi.Service
// over HTTP so one conformance suite runs against the engine and against the
// wire. Renderings are negotiated only through a Negotiator (render
// package); handlers never read Accept or Content-Type themselves.
//
// Beside the OCCI namespace the Server answers three operator paths, which
// therefore cannot be OCCI locations: /healthz (liveness), /readyz
// (readiness of the store and backend) and /metrics (Prometheus). OCCI
// collections always end in "/" (/compute/), so they never collide.
package occihttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// Negotiator picks codecs; *render.Negotiator implements it. ForResponse
// gets the request's Accept header ("" or "*/*" selects the default codec)
// and fails when no offered type is acceptable (406); ForRequest gets the
// request's Content-Type and fails when the type is not offered (415);
// Offered lists every media type, default first.
type Negotiator interface {
	ForResponse(accept string) (render.Codec, error)
	ForRequest(contentType string) (render.Codec, error)
	Offered() []string
}

// Default limits of Options.
const (
	DefaultMaxBody     = 1 << 20 // bytes of a request body
	DefaultMaxInFlight = 256     // OCCI requests served at once
)

// StatusClientClosedRequest is the status logged and counted (never sent)
// for a request whose client went away before the answer was ready, as
// nginx logs it.
const StatusClientClosedRequest = 499

// Options configure a Server. Negotiator is required.
type Options struct {
	// Negotiator picks the codec of every request and response.
	Negotiator Negotiator
	// Version is occid's version, sent as "Server: occid/<Version> OCCI/1.2".
	// Empty means "dev".
	Version string
	// PublicURL, if set, is the absolute URL prefix (scheme, host and an
	// optional path a proxy strips) of every location the server renders,
	// e.g. "https://cloud.example.org/occi". Otherwise locations are built
	// from the request: its Host header, and https when it came over TLS.
	PublicURL string
	// TrustProxy makes the server take the scheme and host of locations
	// from X-Forwarded-Proto and X-Forwarded-Host when PublicURL is empty.
	// Set it only behind a proxy that sets (or strips) those headers.
	TrustProxy bool
	// MaxBody is the largest request body in bytes; larger ones answer 413.
	// 0 means DefaultMaxBody.
	MaxBody int64
	// MaxInFlight bounds the OCCI requests served at once; a request
	// beyond it answers 503 with Retry-After at once instead of queueing
	// (the operator paths /healthz, /readyz and /metrics are never
	// refused). 0 means DefaultMaxInFlight; a negative value means no
	// bound.
	MaxInFlight int
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Registry receives the HTTP metrics and is what /metrics serves. Nil
	// means a registry of the server's own.
	Registry *prometheus.Registry
	// Ready reports whether the dependencies (store, backend) are
	// reachable; /readyz answers 503 with its client message when it fails.
	// Nil means always ready.
	Ready func(ctx context.Context) error
	// Challenges are the WWW-Authenticate values of a 401 the service
	// answers (such as an OpenStack token that expired meanwhile), one
	// header each; empty means `Basic realm="occid"`.
	Challenges []string
	// MetricsAllowed, if set, decides from the caller's user name (the
	// identity authentication put in the request's context) who may read
	// /metrics; anyone else gets 403. Nil lets every caller read it.
	MetricsAllowed func(user string) bool
}

// Server is the OCCI HTTP protocol over an occi.Service. It is an
// http.Handler and safe for concurrent use.
type Server struct {
	svc        occi.Service
	opt        Options
	log        *slog.Logger
	serverHdr  string
	acceptHdr  string
	baseMu     sync.RWMutex
	bases      map[baseKey]string // see base
	negMu      sync.RWMutex
	negotiated map[string]negotiated // by Accept value, see negotiate
	serverVals []string              // {serverHdr}, shared by every response
	acceptVals []string              // {acceptHdr}, shared by every response
	publicBase string
	metrics    *metrics
	discovery  renderCache   // renderings of the query interface, see DiscoveryVersioner
	entities   entityCache   // renderings of entities, see EntityVersioner
	slots      chan struct{} // one per OCCI request in flight; nil: no bound
}

// NewServer returns a Server that serves svc with opt. It panics if
// opt.Negotiator is nil, which is a programming error.
func NewServer(svc occi.Service, opt Options) *Server {
	if opt.Negotiator == nil {
		panic("occihttp: Options.Negotiator is nil")
	}
	if opt.Version == "" {
		opt.Version = "dev"
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.MaxInFlight == 0 {
		opt.MaxInFlight = DefaultMaxInFlight
	}
	var slots chan struct{}
	if opt.MaxInFlight > 0 {
		slots = make(chan struct{}, opt.MaxInFlight)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	serverHdr := "occid/" + opt.Version + " OCCI/1.2"
	acceptHdr := strings.Join(opt.Negotiator.Offered(), ", ")
	return &Server{
		serverVals: []string{serverHdr}[:1:1],
		acceptVals: []string{acceptHdr}[:1:1],
		svc:        svc,
		opt:        opt,
		log:        log,
		serverHdr:  serverHdr,
		acceptHdr:  acceptHdr,
		publicBase: strings.TrimRight(opt.PublicURL, "/"),
		metrics:    newMetrics(opt.Registry),
		slots:      slots,
	}
}

// Route classes, the "route" label of the metrics and the log.
const (
	routeQuery   = "query"
	routeKind    = "kind"
	routeMixin   = "mixin"
	routeEntity  = "entity"
	routeUnbound = "unbound"
	routeNone    = "none"
	routeHealth  = "health"
	routeMetrics = "metrics"
)

// Methods allowed on each kind of path, for Allow on 405.
var (
	allowQuery   = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete}
	allowKind    = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete}
	allowMixin   = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}
	allowEntity  = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}
	allowUnbound = []string{http.MethodGet, http.MethodHead}
	allowAction  = []string{http.MethodPost}
)

// exchange is one request being served.
type exchange struct {
	s     *Server
	w     *recorder
	r     *http.Request
	ctx   context.Context
	id    string
	route string
	base  string
	codec render.Codec    // the response codec; nil until negotiated
	scope context.Context // the context of Resolve, see RequestScoper
	// mediaType is the response Content-Type's media type: the codec's, or
	// the alias of it the client asked for by name.
	mediaType string
	allow     []string // methods allowed on the path, for a 405
	body      []byte
	read      bool

	rec recorder // what w points to, allocated with the exchange
	q0  query    // the query of a request without one

	// cacheKey and cacheToken, when set, ask send to keep the 200
	// rendering of an entity (see serveCachedEntity).
	cacheKey, cacheToken string

	errMsg string // client message of a failure, for the log
	shed   bool   // refused by the in-flight bound (logged at WARN, not ERROR)
	cause  string // internal cause of a 500, for the log
}

// ServeHTTP serves one request; see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, nil)
}

// ServeError answers r with err as the Server answers any failed request:
// its status from the code table, X-OCCI-Error and Occid-Error-Code, a body
// in the media type the request accepts (the default one if none), an
// X-Request-Id, WWW-Authenticate on 401 (Options.Challenges), the request
// log line and metrics. A handler in front of the Server (authentication)
// calls it to refuse a request the way the Server would.
func (s *Server) ServeError(w http.ResponseWriter, r *http.Request, err error) {
	s.serve(w, r, err)
}

// serve answers r: with refusal, when it is not nil, else by the protocol.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, refusal error) {
	start := time.Now()
	x := &exchange{
		s:     s,
		rec:   recorder{ResponseWriter: w},
		r:     r,
		id:    requestID(r),
		route: routeNone,
	}
	x.w = &x.rec
	x.ctx = withRequestID(r.Context(), x.id)
	s.metrics.inflight.Inc()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				s.metrics.inflight.Dec()
				panic(p)
			}
			s.log.Error("panic while serving a request; answered 500",
				"request_id", x.id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			x.cause = fmt.Sprintf("panic: %v", p)
			if !x.w.wrote {
				x.codec = nil
				x.failStatus(http.StatusInternalServerError, occi.Internal, "internal error")
			}
		}
		s.metrics.inflight.Dec()
		s.finish(x, time.Since(start))
	}()
	h := x.w.Header()
	s.CommonHeaders(h)
	h.Set("X-Request-Id", x.id)
	if refusal != nil {
		x.base = s.base(r)
		accept := strings.Join(r.Header.Values("Accept"), ", ")
		if countRanges("Accept", accept) == nil {
			x.codec, x.mediaType, _ = x.negotiate(accept) // none: failNamed takes the default
		}
		x.fail(refusal)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		x.serveHealth(nil)
		return
	case "/readyz":
		x.serveHealth(s.opt.Ready)
		return
	case "/metrics":
		x.route = routeMetrics
		if !x.allowed(http.MethodGet, http.MethodHead) {
			return
		}
		if s.opt.MetricsAllowed != nil && !s.opt.MetricsAllowed(occi.IdentityFrom(r.Context()).User) {
			x.fail(occi.Errorf(occi.PermissionDenied, "/metrics counts every tenant's entities and is for the operator: your user is not among those occid lets read it (--metrics-users)"))
			return
		}
		s.metrics.handler.ServeHTTP(x.w, r)
		return
	}
	x.base = s.base(r)
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		default:
			x.shed = true
			x.w.Header().Set("Retry-After", "1")
			x.failStatus(http.StatusServiceUnavailable, occi.Unavailable, fmt.Sprintf(
				"the server is serving its limit of %d requests; retry in a second", cap(s.slots)))
			return
		}
	}
	x.serveOCCI()
}

// finish logs the request line and records its metrics.
func (s *Server) finish(x *exchange, d time.Duration) {
	status := x.w.status
	if status == 0 {
		status = http.StatusOK
	}
	gone := status >= 500 && errors.Is(x.r.Context().Err(), context.Canceled) && !strings.HasPrefix(x.cause, "panic")
	if gone {
		// The client went away (its request context is cancelled) and the
		// service gave up with it: not a server failure.
		status = StatusClientClosedRequest
		x.errMsg, x.cause = "client closed request", ""
	}
	method := methodLabel(x.r.Method)
	s.metrics.observe(method, x.route, status, d.Seconds())
	attrs := []slog.Attr{
		slog.String("request_id", x.id),
		slog.String("method", x.r.Method),
		slog.String("path", x.r.URL.Path),
		slog.String("route", x.route),
		slog.Int("status", status),
		slog.Int64("bytes", x.w.bytes),
		slog.Duration("duration", d),
		slog.String("remote", x.r.RemoteAddr),
		slog.String("user", occi.IdentityFrom(x.r.Context()).User),
	}
	if x.errMsg != "" {
		attrs = append(attrs, slog.String("error", x.errMsg))
	}
	if x.cause != "" {
		attrs = append(attrs, slog.String("cause", x.cause))
	}
	level := slog.LevelInfo
	switch {
	case x.shed:
		level = slog.LevelWarn
	case status >= 500 && status != http.StatusNotImplemented:
		// 501 answers what a client asked for (a newer OCCI, say): not
		// a failure of the server.
		level = slog.LevelError
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// Bounds of the Server's memory of base URLs (see base).
const (
	maxBases    = 64
	maxBaseHost = 256
)

// baseKey names a base URL: https or http, and the host.
type baseKey struct {
	https bool
	host  string
}

// base returns the absolute URL prefix of locations for r, without a
// trailing slash.
func (s *Server) base(r *http.Request) string {
	if s.publicBase != "" {
		return s.publicBase
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if s.opt.TrustProxy {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && !strings.ContainsAny(h, "/ \\@") {
			host = h
		}
	}
	if host == "" {
		host = "localhost"
	}
	if len(host) > maxBaseHost {
		return scheme + "://" + host
	}
	// Clients send a handful of Host values: their bases are remembered
	// rather than built on every request.
	key := baseKey{scheme == "https", host}
	s.baseMu.RLock()
	b, ok := s.bases[key]
	s.baseMu.RUnlock()
	if ok {
		return b
	}
	b = scheme + "://" + host
	s.baseMu.Lock()
	if s.bases == nil || len(s.bases) >= maxBases {
		s.bases = map[baseKey]string{}
	}
	s.bases[key] = b
	s.baseMu.Unlock()
	return b
}

func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// serveHealth answers /healthz (check nil) and /readyz.
func (x *exchange) serveHealth(check func(context.Context) error) {
	x.route = routeHealth
	if !x.allowed(http.MethodGet, http.MethodHead) {
		return
	}
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	if check == nil {
		x.send(http.StatusOK, h, []byte("ok\n"))
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	if err := check(ctx); err != nil {
		x.errMsg = occi.ErrorMessage(err)
		x.cause = err.Error()
		x.send(http.StatusServiceUnavailable, h, []byte("not ready: "+occi.ErrorMessage(err)+"\n"))
		return
	}
	x.send(http.StatusOK, h, []byte("ready\n"))
}

// allowed answers 405 unless the method is one of methods.
func (x *exchange) allowed(methods ...string) bool {
	for _, m := range methods {
		if x.r.Method == m {
			return true
		}
	}
	x.allow = methods
	x.errMsg = "method " + clip(x.r.Method) + " is not allowed here"
	x.w.Header().Set("Allow", strings.Join(methods, ", "))
	x.w.Header()["X-OCCI-Error"] = []string{headerSafe(x.errMsg)}
	x.send(http.StatusMethodNotAllowed, http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		[]byte(x.errMsg+"\n"))
	return false
}

// serveOCCI serves a request in the OCCI namespace.
func (x *exchange) serveOCCI() {
	s, r := x.s, x.r
	if v, ok := tooNewOCCI(r.Header.Get("User-Agent")); ok {
		x.fail(occi.Errorf(occi.Unimplemented,
			"this server implements OCCI/1.2 (and serves 1.1 clients); the User-Agent announces OCCI/%s", clip(v)))
		return
	}
	accept := strings.Join(r.Header.Values("Accept"), ", ")
	if err := countRanges("Accept", accept); err != nil {
		x.fail(err)
		return
	}
	c, mt, err := x.negotiate(accept)
	if err != nil {
		x.failNamed(http.StatusNotAcceptable, "NotAcceptable", occi.InvalidArgument, fmt.Sprintf(
			"none of the media types in Accept %q can be produced; this server offers %s",
			clip(accept), s.acceptHdr))
		return
	}
	x.codec, x.mediaType = c, mt
	if err := x.checkContentEncoding(); err != nil {
		x.fail(err)
		return
	}
	q := &x.q0
	if r.URL.RawQuery != "" {
		if q, err = parseQuery(r.URL.RawQuery); err != nil {
			x.fail(err)
			return
		}
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(q.names) == 0 &&
		!strings.HasSuffix(r.URL.Path, "/") && x.serveCachedEntity() {
		return
	}
	x.scope = x.ctx
	// A scope pays off for an entity (Resolve reads it, Get reuses it);
	// collections and the query interface end in "/".
	if sc, ok := s.svc.(RequestScoper); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		!strings.HasSuffix(r.URL.Path, "/") {
		x.scope = sc.WithRequestScope(x.ctx)
	}
	t, err := s.svc.Resolve(x.scope, r.URL.Path)
	if err != nil && occi.ErrorCode(err) == occi.NotFound && r.Method == http.MethodPut && !q.hasAction &&
		!strings.HasSuffix(r.URL.Path, "/") {
		// PUT creates an entity at a location the client chose: the
		// service decides whether the path may hold one. A path ending
		// in "/" names a collection, never an entity: a PUT there
		// (replacing the members of a mixin collection the caller
		// cannot see) stays 404.
		t, err = occi.Target{Type: occi.TargetEntity, Path: r.URL.Path}, nil
	}
	if err != nil {
		x.fail(err)
		return
	}
	// What the path names, for clients (Client.Resolve) and people.
	h := x.w.Header()
	h.Set("Occid-Target", targetNames[t.Type])
	if !t.Category.IsZero() {
		h.Set("Occid-Category", t.Category.String())
	}
	if t.Path != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.Set("Content-Location", x.absolute(t.Path))
	}
	if t.Type != occi.TargetEntity && !x.collectionPreconditions(t.Path) {
		return
	}
	switch t.Type {
	case occi.TargetQueryInterface:
		x.route, x.allow = routeQuery, allowQuery
		x.serveQuery(q)
	case occi.TargetKindCollection:
		x.route, x.allow = routeKind, allowKind
		x.serveKind(t, q)
	case occi.TargetMixinCollection:
		x.route, x.allow = routeMixin, allowMixin
		x.serveMixin(t, q)
	case occi.TargetEntity:
		x.route, x.allow = routeEntity, allowEntity
		x.serveEntity(t, q)
	case occi.TargetUnbound:
		x.route, x.allow = routeUnbound, allowUnbound
		x.serveUnbound(t, q)
	default:
		x.fail(occi.Errorf(occi.NotFound, "nothing at %s", clip(r.URL.Path)))
	}
}

// typedNegotiator is a Negotiator that also names the media type a
// response carries (*render.Negotiator is one): an alias the client asked
// for by name is answered under that name.
type typedNegotiator interface {
	ForResponseType(accept string) (render.Codec, string, error)
}

// negotiate picks the response codec and media type for accept. The
// choice depends on accept alone, so the Server remembers it for the Accept
// values clients send (a handful in practice; at most maxNegotiated, each
// at most maxNegotiatedLen bytes long).
func (x *exchange) negotiate(accept string) (render.Codec, string, error) {
	if len(accept) <= maxNegotiatedLen {
		x.s.negMu.RLock()
		n, ok := x.s.negotiated[accept]
		x.s.negMu.RUnlock()
		if ok {
			return n.codec, n.mediaType, nil
		}
	}
	c, mt, err := x.negotiateAfresh(accept)
	if err == nil && len(accept) <= maxNegotiatedLen {
		x.s.negMu.Lock()
		if x.s.negotiated == nil || len(x.s.negotiated) >= maxNegotiated {
			x.s.negotiated = map[string]negotiated{}
		}
		x.s.negotiated[accept] = negotiated{c, mt}
		x.s.negMu.Unlock()
	}
	return c, mt, err
}

// Bounds of the Server's memory of negotiations.
const (
	maxNegotiated    = 256
	maxNegotiatedLen = 256
)

// negotiated is the outcome of negotiating one Accept value.
type negotiated struct {
	codec     render.Codec
	mediaType string
}

func (x *exchange) negotiateAfresh(accept string) (render.Codec, string, error) {
	if tn, ok := x.s.opt.Negotiator.(typedNegotiator); ok {
		return tn.ForResponseType(accept)
	}
	c, err := x.s.opt.Negotiator.ForResponse(accept)
	if err != nil {
		return nil, "", err
	}
	return c, c.MediaType(), nil
}

// countRanges refuses a header (Accept, Content-Type) listing more media
// types than the negotiator reads, rather than ignore the rest.
func countRanges(name, v string) error {
	// A value has at most one element more than it has commas.
	if strings.Count(v, ",") >= render.MaxAcceptRanges && render.CountRanges(v) > render.MaxAcceptRanges {
		return occi.Errorf(occi.InvalidArgument, "the %s header lists more than %d media types; send fewer",
			name, render.MaxAcceptRanges)
	}
	return nil
}

// maxEcho is how many bytes of client text (a header value, a path, a
// parameter) an error message quotes; longer text is cut and marked "…".
const maxEcho = 200

// clip shortens client text quoted in an error message to maxEcho bytes.
func clip(s string) string { return render.Truncate(s, maxEcho) }

// maxMessage caps a whole error message (X-OCCI-Error and the body), so
// that no message of any layer echoes a large input in full.
const maxMessage = 1000

// targetNames are the values of the Occid-Target response header.
var targetNames = map[occi.TargetType]string{
	occi.TargetQueryInterface:  "query",
	occi.TargetKindCollection:  "kind",
	occi.TargetMixinCollection: "mixin",
	occi.TargetEntity:          "entity",
	occi.TargetUnbound:         "unbound",
}

// tooNewOCCI reports the OCCI version a User-Agent announces when it is
// above 1.2. The product token OCCI matches in any case; its version is
// <major>[.<minor>[anything]] in decimal digits of any length (so
// OCCI/99999999999999999999.0 is too new). A token whose version does not
// start with digits (OCCI/x.y) announces no version and is ignored.
func tooNewOCCI(ua string) (string, bool) {
	if !containsFoldOCCI(ua) {
		return "", false // most User-Agents name no OCCI version
	}
	for f := range strings.FieldsSeq(ua) {
		if len(f) < len("OCCI/") || !strings.EqualFold(f[:len("OCCI/")], "OCCI/") {
			continue
		}
		v := f[len("OCCI/"):]
		majS, minS, _ := strings.Cut(v, ".")
		if majS == "" || !allDigits(majS) {
			continue
		}
		minS = minS[:len(minS)-len(strings.TrimLeft(minS, "0123456789"))]
		if cmpDecimal(majS, "1") > 0 || (cmpDecimal(majS, "1") == 0 && minS != "" && cmpDecimal(minS, "2") > 0) {
			return v, true
		}
	}
	return "", false
}

// containsFoldOCCI reports whether s contains "OCCI/" in any case.
func containsFoldOCCI(s string) bool {
	for i := 0; i+len("OCCI/") <= len(s); i++ {
		if c := s[i]; (c == 'O' || c == 'o') && strings.EqualFold(s[i:i+len("OCCI/")], "OCCI/") {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	return strings.TrimLeft(s, "0123456789") == ""
}

// cmpDecimal compares two non-negative decimal numbers of any length.
func cmpDecimal(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// methodNotAllowed fails with 405. allow names the methods the path takes
// (never none: a 405 lists them in Allow and in its message); it replaces
// x.allow, which fail sends.
func (x *exchange) methodNotAllowed(what string, allow []string) {
	x.allow = allow
	x.fail(occi.Errorf(occi.MethodNotAllowed, "%s does not take %s; allowed: %s",
		what, clip(x.r.Method), strings.Join(allow, ", ")))
}

// ---- the query interface ----

func (x *exchange) serveQuery(q *query) {
	if q.hasAction {
		x.methodNotAllowed("the query interface (actions cannot be triggered on /-/)", allowQuery)
		return
	}
	switch x.r.Method {
	case http.MethodGet, http.MethodHead:
		if q.page > 0 || q.number > 0 {
			x.fail(occi.Errorf(occi.InvalidArgument, "the query interface is not paginated; drop page and number"))
			return
		}
		cats, attrs, err := x.filter(q)
		if err != nil {
			x.fail(err)
			return
		}
		if len(attrs) > 0 {
			x.fail(occi.Errorf(occi.InvalidArgument, "the query interface filters by category only, not by attribute"))
			return
		}
		if len(cats) == 0 {
			x.replyDiscovery()
			return
		}
		d, err := x.s.svc.Discover(x.ctx, cats)
		if err != nil {
			x.fail(err)
			return
		}
		x.reply(http.StatusOK, nil, func(w *render.Writer) error { return x.codec.EncodeDiscovery(w, d) })
	case http.MethodPost, http.MethodDelete:
		if len(q.names) > 0 {
			x.fail(occi.Errorf(occi.InvalidArgument, "%s /-/ takes no query parameters", x.r.Method))
			return
		}
		c, rd, err := x.input()
		if err != nil {
			x.fail(err)
			return
		}
		ms, err := c.DecodeMixins(rd)
		if err != nil {
			x.fail(err)
			return
		}
		if len(ms) == 0 {
			x.fail(occi.Errorf(occi.InvalidArgument, "the request holds no mixin definition"))
			return
		}
		batch, isBatch := x.s.svc.(occi.BatchService)
		if x.r.Method == http.MethodDelete && isBatch {
			ids := make([]occi.CategoryID, len(ms))
			for i, m := range ms {
				ids[i] = m.ID
			}
			if err := batch.DeleteMixins(x.ctx, ids); err != nil {
				x.fail(err)
				return
			}
			x.replyEmpty()
			return
		}
		if x.r.Method == http.MethodPost && isBatch {
			defined, err := batch.DefineMixins(x.ctx, ms)
			if err != nil {
				x.fail(err)
				return
			}
			x.reply(http.StatusOK, nil, func(w *render.Writer) error {
				return x.codec.EncodeDiscovery(w, &occi.Discovery{Mixins: defined})
			})
			return
		}
		if x.r.Method == http.MethodDelete {
			for _, m := range ms {
				if err := x.s.svc.DeleteMixin(x.ctx, m.ID); err != nil {
					x.fail(err)
					return
				}
			}
			x.replyEmpty()
			return
		}
		var defined []*occi.Mixin
		for _, m := range ms {
			out, err := x.s.svc.DefineMixin(x.ctx, m)
			if err != nil {
				// A batch is all or nothing: take back what this request defined.
				for _, d := range defined {
					_ = x.s.svc.DeleteMixin(context.WithoutCancel(x.ctx), d.ID)
				}
				x.fail(err)
				return
			}
			defined = append(defined, out)
		}
		x.reply(http.StatusOK, nil, func(w *render.Writer) error {
			return x.codec.EncodeDiscovery(w, &occi.Discovery{Mixins: defined})
		})
	default:
		x.methodNotAllowed("the query interface", allowQuery)
	}
}

// ---- collections ----

func (x *exchange) serveKind(t occi.Target, q *query) {
	switch {
	case x.r.Method == http.MethodPost && q.hasAction:
		x.invokeAll(t, q)
	case q.hasAction:
		x.methodNotAllowed("an action trigger", allowAction)
	case x.r.Method == http.MethodGet || x.r.Method == http.MethodHead:
		x.list(t, q)
	case x.r.Method == http.MethodPost:
		if !x.noParams(q) {
			return
		}
		x.create(t)
	case x.r.Method == http.MethodDelete:
		if !x.noParams(q) {
			return
		}
		if err := x.s.svc.DeleteAll(x.ctx, t.Path); err != nil {
			x.fail(err)
			return
		}
		x.replyEmpty()
	default:
		x.methodNotAllowed("a kind collection", allowKind)
	}
}

func (x *exchange) serveMixin(t occi.Target, q *query) {
	switch {
	case x.r.Method == http.MethodPost && q.hasAction:
		x.invokeAll(t, q)
	case q.hasAction:
		x.methodNotAllowed("an action trigger", allowAction)
	case x.r.Method == http.MethodGet || x.r.Method == http.MethodHead:
		x.list(t, q)
	case x.r.Method == http.MethodPost, x.r.Method == http.MethodPut, x.r.Method == http.MethodDelete:
		if !x.noParams(q) {
			return
		}
		c, rd, err := x.input()
		if err != nil {
			x.fail(err)
			return
		}
		if x.r.Method == http.MethodPut && x.emptyInput() && x.r.Header.Get("Content-Type") == "" {
			// PUT replaces the whole membership: a request that carries
			// nothing at all is far more likely a mistake than a wish to
			// empty the collection, so that wish must be explicit.
			x.fail(occi.Errorf(occi.InvalidArgument,
				"PUT replaces the members of %s and needs the new list; the request has no body and no Content-Type. "+
					"To remove every member, send an empty body with Content-Type text/uri-list or text/plain, "+
					`or {"resources":[]} as application/occi+json (DELETE without a body does the same)`, t.Path))
			return
		}
		var locs []string
		if !x.emptyInput() {
			if locs, err = c.DecodeLocations(rd); err != nil {
				if es, eerr := c.DecodeEntities(rd); eerr == nil && x.r.Method == http.MethodPost && complete(es) && len(es) > 0 {
					// Full entities, not locations: a create, which the
					// service refuses or accepts for this collection.
					x.create(t)
					return
				}
				x.fail(err)
				return
			}
		}
		var es []*occi.Entity
		switch x.r.Method {
		case http.MethodPost:
			if len(locs) == 0 {
				x.fail(occi.Errorf(occi.InvalidArgument, "the request names no entity to associate with the mixin"))
				return
			}
			es, err = x.s.svc.Associate(x.ctx, t.Path, locs)
		case http.MethodPut:
			es, err = x.s.svc.ReplaceMembers(x.ctx, t.Path, locs)
		default:
			err = x.s.svc.Dissociate(x.ctx, t.Path, locs)
			if err == nil {
				x.replyEmpty()
				return
			}
		}
		if err != nil {
			x.fail(err)
			return
		}
		x.replyCollection(es)
	default:
		x.methodNotAllowed("a mixin collection", allowMixin)
	}
}

func (x *exchange) serveUnbound(t occi.Target, q *query) {
	switch {
	case q.hasAction:
		// No method triggers an action here; Allow lists what the path
		// takes without one, as on /-/.
		x.methodNotAllowed("an unbound path (actions run on kind and mixin collections and entities)", allowUnbound)
	case x.r.Method == http.MethodGet || x.r.Method == http.MethodHead:
		x.list(t, q)
	default:
		x.methodNotAllowed("an unbound path (it lists what is below it and is never deleted as a whole)", allowUnbound)
	}
}

// list answers GET on a collection.
func (x *exchange) list(t occi.Target, q *query) {
	cats, attrs, err := x.filter(q)
	if err != nil {
		x.fail(err)
		return
	}
	lq := occi.ListQuery{Collection: t.Path, Categories: cats, Attributes: attrs, Page: q.page, Number: q.number}
	if x.listLocations(lq) {
		return
	}
	es, err := x.s.svc.List(x.ctx, lq)
	if err != nil {
		x.fail(err)
		return
	}
	x.replyCollection(es)
}

// create answers POST on a kind collection: every entity of the body is
// created, or none.
func (x *exchange) create(t occi.Target) {
	c, rd, err := x.input()
	if err != nil {
		x.fail(err)
		return
	}
	es, err := c.DecodeEntities(rd)
	if err != nil {
		x.fail(err)
		return
	}
	if len(es) == 0 {
		x.fail(occi.Errorf(occi.InvalidArgument, "the request holds no entity to create (an entity rendering names its kind)"))
		return
	}
	created := make([]*occi.Entity, 0, len(es))
	if batch, ok := x.s.svc.(occi.BatchService); ok {
		// All or nothing in the service, within its per-request limit.
		out, err := batch.CreateAll(x.ctx, t.Path, es)
		if err != nil {
			x.fail(err)
			return
		}
		created = out
		es = nil
	}
	for i, e := range es {
		out, err := x.s.svc.Create(x.ctx, t.Path, e)
		if err != nil {
			for _, d := range created {
				_ = x.s.svc.Delete(context.WithoutCancel(x.ctx), d.Location)
			}
			if len(es) > 1 {
				err = prefixError(err, fmt.Sprintf("entity %d of %d", i+1, len(es)))
			}
			x.fail(err)
			return
		}
		created = append(created, out)
	}
	locs := make([]string, len(created))
	for i, e := range created {
		locs[i] = e.Location
	}
	extra := http.Header{"Location": {x.absolute(locs[0])}}
	if len(created) == 1 {
		setETag(extra, created[0])
	}
	x.reply(http.StatusCreated, extra, func(w *render.Writer) error { return x.codec.EncodeLocations(w, locs) })
}

// invokeAll answers POST ?action= on a collection.
func (x *exchange) invokeAll(t occi.Target, q *query) {
	if len(q.names) > 1 {
		x.fail(occi.Errorf(occi.InvalidArgument, "an action trigger takes only the action parameter"))
		return
	}
	inv, err := x.action(q, func() (occi.CategoryID, []occi.CategoryID, error) {
		if t.Type == occi.TargetMixinCollection {
			// A mixin (a tag) rarely defines actions of its own: the
			// term names one of any category, as long as only one has it.
			return occi.CategoryID{}, nil, nil
		}
		return occi.CategoryID{}, []occi.CategoryID{t.Category}, nil
	})
	if err != nil {
		x.fail(err)
		return
	}
	es, err := x.s.svc.InvokeAll(x.ctx, t.Path, inv)
	if err != nil {
		x.fail(err)
		return
	}
	x.replyCollection(es)
}

// ---- entities ----

func (x *exchange) serveEntity(t occi.Target, q *query) {
	if q.hasAction && x.r.Method != http.MethodPost {
		x.methodNotAllowed("an action trigger", allowAction)
		return
	}
	if len(q.names) > 0 && !(q.hasAction && len(q.names) == 1) {
		x.fail(occi.Errorf(occi.InvalidArgument, "an entity takes no query parameter other than action"))
		return
	}
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		if v := x.r.Header.Get("If-None-Match"); v != "" {
			if err := ifNoneMatch(v); err != nil {
				x.fail(err)
				return
			}
			if _, err := x.s.svc.Get(x.ctx, t.Path); err == nil {
				x.fail(occi.Errorf(occi.PreconditionFailed, "If-None-Match: * but an entity exists at %s", t.Path))
				return
			} else if occi.ErrorCode(err) != occi.NotFound {
				x.fail(err)
				return
			}
			x.ctx = occi.WithMustNotExist(x.ctx)
		}
		if vs := x.r.Header.Values("If-Match"); len(vs) > 0 {
			rev, err := ifMatch(vs)
			if err != nil {
				x.fail(err)
				return
			}
			x.ctx = occi.WithExpectedRevision(x.ctx, rev)
		}
	}
	svc := x.s.svc
	switch x.r.Method {
	case http.MethodGet, http.MethodHead:
		e, err := svc.Get(x.scope, t.Path)
		if err != nil {
			x.fail(err)
			return
		}
		x.replyEntity(http.StatusOK, nil, e)
	case http.MethodPut:
		c, rd, err := x.input()
		if err != nil {
			x.fail(err)
			return
		}
		e, err := c.DecodeEntity(rd)
		if err != nil {
			x.fail(err)
			return
		}
		out, created, err := svc.Put(x.ctx, t.Path, e)
		if err != nil {
			x.fail(err)
			return
		}
		if created {
			x.replyEntity(http.StatusCreated, http.Header{"Location": {x.absolute(out.Location)}}, out)
			return
		}
		x.replyEntity(http.StatusOK, nil, out)
	case http.MethodPost:
		if q.hasAction {
			x.invoke(t, q)
			return
		}
		c, rd, err := x.input()
		if err != nil {
			x.fail(err)
			return
		}
		patch, err := c.DecodeEntity(rd)
		if err != nil {
			x.fail(err)
			return
		}
		out, err := svc.Update(x.ctx, t.Path, patch)
		if err != nil {
			x.fail(err)
			return
		}
		x.replyEntity(http.StatusOK, nil, out)
	case http.MethodDelete:
		if err := svc.Delete(x.ctx, t.Path); err != nil {
			x.fail(err)
			return
		}
		x.replyEmpty()
	default:
		x.methodNotAllowed("an entity", allowEntity)
	}
}

// invoke answers POST ?action= on an entity: 200 with the entity's new
// rendering, or the new mixin for an action that makes one (save).
func (x *exchange) invoke(t occi.Target, q *query) {
	inv, err := x.action(q, func() (occi.CategoryID, []occi.CategoryID, error) {
		e, err := x.s.svc.Get(x.ctx, t.Path)
		if err != nil {
			return occi.CategoryID{}, nil, err
		}
		for _, a := range e.Actions {
			if a.Term == q.action {
				return a, nil, nil
			}
		}
		return occi.CategoryID{}, append([]occi.CategoryID{e.Kind}, e.Mixins...), nil
	})
	if err != nil {
		x.fail(err)
		return
	}
	res, err := x.s.svc.Invoke(x.ctx, t.Path, inv)
	if err != nil {
		x.fail(err)
		return
	}
	switch {
	case res != nil && res.Mixin != nil:
		m := res.Mixin
		x.reply(http.StatusOK, http.Header{"Occid-Result": {"mixin"}},
			func(w *render.Writer) error { return x.codec.EncodeMixin(w, m) })
	case res != nil && res.Entity != nil:
		x.replyEntity(http.StatusOK, nil, res.Entity)
	default:
		e, err := x.s.svc.Get(x.ctx, t.Path)
		if err != nil {
			x.fail(err)
			return
		}
		x.replyEntity(http.StatusOK, nil, e)
	}
}

// action reads the action invocation of a POST ?action=term. A body that
// names no action (an empty one) is completed from the term: scope returns
// either the one action meant or the categories whose actions to search.
func (x *exchange) action(q *query, scope func() (occi.CategoryID, []occi.CategoryID, error)) (*occi.ActionInvocation, error) {
	c, rd, err := x.input()
	if err != nil {
		return nil, err
	}
	inv := &occi.ActionInvocation{}
	if !x.emptyInput() {
		if inv, err = c.DecodeAction(rd); err != nil {
			return nil, err
		}
	}
	if !inv.Action.IsZero() {
		if inv.Action.Term != q.action {
			return nil, occi.Errorf(occi.InvalidArgument,
				"the body invokes action %q but the URL names action=%s", clip(inv.Action.String()), clip(q.action))
		}
		return inv, nil
	}
	direct, cats, err := scope()
	if err != nil {
		return nil, err
	}
	if !direct.IsZero() {
		inv.Action = direct
		return inv, nil
	}
	d, err := x.s.svc.Discover(x.ctx, cats)
	if err != nil {
		return nil, err
	}
	var found []occi.CategoryID
	for _, a := range d.Actions {
		if a.ID.Term == q.action {
			found = append(found, a.ID)
		}
	}
	switch len(found) {
	case 0:
		var terms []string
		for _, a := range d.Actions {
			if !slices.Contains(terms, a.ID.Term) {
				terms = append(terms, a.ID.Term)
			}
		}
		slices.Sort(terms)
		if len(terms) == 0 {
			return nil, occi.Errorf(occi.InvalidArgument, "no action %q is defined here; none is", clip(q.action))
		}
		return nil, occi.Errorf(occi.InvalidArgument, "no action %q is defined here; the actions here are %s", clip(q.action), strings.Join(terms, ", "))
	case 1:
		inv.Action = found[0]
		return inv, nil
	default:
		return nil, occi.Errorf(occi.Conflict,
			"action term %q is ambiguous here (%s and %s); name the action's category in the body",
			q.action, found[0], found[1])
	}
}

// ---- input ----

// input reads the request body and returns the codec for its Content-Type
// (the default codec, text/plain, when there is none) and a Reader over it.
// See requestCodec for Content-Type lists and text/occi.
func (x *exchange) input() (render.Codec, *render.Reader, error) {
	if err := x.readBody(); err != nil {
		return nil, nil, err
	}
	ct := x.r.Header.Get("Content-Type")
	var c render.Codec
	if ct == "" {
		var err error
		if c, err = x.s.opt.Negotiator.ForResponse(""); err != nil {
			return nil, nil, occi.Wrap(err, occi.Internal, "no default codec")
		}
	} else {
		var err error
		if c, err = x.requestCodec("request", ct, len(bytes.TrimSpace(x.body)) > 0); err != nil {
			return nil, nil, err
		}
	}
	if strings.EqualFold(c.MediaType(), headersType) {
		if b := bytes.TrimSpace(x.body); len(b) > 0 && !bytes.Equal(b, []byte("OK")) {
			return nil, nil, occi.Errorf(occi.InvalidArgument,
				"a text/occi request carries its rendering in Category, Link, X-OCCI-Attribute and X-OCCI-Location headers, "+
					"and its body is empty or OK; send the body as text/plain instead")
		}
	}
	return c, &render.Reader{Header: x.r.Header, Body: x.body, Base: x.base}, nil
}

// headersType is the media type whose rendering travels in headers.
const headersType = "text/occi"

// requestCodec picks the codec that reads a request whose Content-Type is
// ct (what names "request" or "filter" in the message). A Content-Type
// listing several types (rOCCI sends "text/plain,text/occi") is read by its
// first supported type, except that a request with a body is never read as
// text/occi when another listed type is supported: its body would be
// ignored.
func (x *exchange) requestCodec(what, ct string, hasBody bool) (render.Codec, error) {
	if err := countRanges("Content-Type", ct); err != nil {
		return nil, err
	}
	unsupported := &statusError{
		status: http.StatusUnsupportedMediaType, code: occi.InvalidArgument, name: "UnsupportedMediaType",
		msg: fmt.Sprintf("%s Content-Type %q is not supported; this server reads %s", what, clip(ct), x.s.acceptHdr),
	}
	parts := render.SplitOutsideQuotes(ct, ',', render.MaxAcceptRanges)
	if len(parts) > 1 && hasBody {
		for _, p := range parts {
			mt, _, _ := strings.Cut(p, ";")
			if strings.EqualFold(strings.TrimSpace(mt), headersType) {
				continue
			}
			if c, err := x.s.opt.Negotiator.ForRequest(p); err == nil {
				return c, nil
			}
		}
	}
	c, err := x.s.opt.Negotiator.ForRequest(ct)
	if err != nil {
		return nil, unsupported
	}
	return c, nil
}

// emptyInput reports whether the request carries no rendering at all: no
// body and no rendering headers (text/occi carries it in headers).
func (x *exchange) emptyInput() bool {
	if len(bytes.TrimSpace(x.body)) > 0 {
		return false
	}
	h := x.r.Header
	for _, k := range []string{"Category", "X-Occi-Attribute", "X-Occi-Location", "Link"} {
		if len(h.Values(k)) > 0 {
			return false
		}
	}
	return true
}

// readBody reads the request body once, at most MaxBody bytes.
func (x *exchange) readBody() error {
	if x.read {
		return nil
	}
	x.read = true
	max := x.s.opt.MaxBody
	if x.r.ContentLength > max {
		return tooLarge(max)
	}
	if x.r.Body == nil || x.r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(max)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &statusError{status: http.StatusRequestTimeout, code: occi.InvalidArgument, name: "RequestTimeout",
				msg: "the request body did not arrive in time (the server's read timeout); send it at once"}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &statusError{status: http.StatusRequestTimeout, code: occi.InvalidArgument, name: "RequestTimeout",
				msg: "the request body did not arrive in time (the server's read timeout); send it at once"}
		}
		return occi.Wrap(err, occi.InvalidArgument, "could not read the request body")
	}
	x.body = b
	return nil
}

// hasBody reports whether the request carries a body: a positive
// Content-Length, or one of unknown length (chunked).
func (x *exchange) hasBody() bool {
	r := x.r
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// checkContentEncoding refuses with 415 a request whose body has a content
// coding (a Content-Encoding other than identity): the server decodes
// none, and would read compressed bytes as a rendering (RFC 7231 sections
// 3.1.2.2 and 6.5.13). The answer names identity in Accept-Encoding, the
// one coding it reads (RFC 7694). A request without a body may carry the
// header.
func (x *exchange) checkContentEncoding() error {
	vs := x.r.Header.Values("Content-Encoding")
	if len(vs) == 0 || !x.hasBody() {
		return nil
	}
	for _, v := range vs {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c == "" || strings.EqualFold(c, "identity") {
				continue
			}
			x.w.Header().Set("Accept-Encoding", "identity")
			return &statusError{status: http.StatusUnsupportedMediaType, code: occi.InvalidArgument, name: "UnsupportedMediaType",
				msg: fmt.Sprintf("Content-Encoding %q is not supported: this server reads request bodies without a content coding; "+
					"send the body uncompressed and without Content-Encoding", clip(strings.Join(vs, ", ")))}
		}
	}
	return nil
}

func tooLarge(max int64) error {
	return occi.Errorf(occi.TooLarge, "the request body exceeds the limit of %d bytes", max)
}

// filter reads a GET's filter: categories and attributes from rendering
// headers (text/occi style) or a body, and from the query parameters.
func (x *exchange) filter(q *query) ([]occi.CategoryID, occi.Attributes, error) {
	var cats []occi.CategoryID
	var attrs occi.Attributes
	h := x.r.Header
	if len(h.Values("Category")) > 0 || len(h.Values("X-Occi-Attribute")) > 0 || x.hasBody() {
		if err := x.readBody(); err != nil {
			return nil, nil, err
		}
		body := len(bytes.TrimSpace(x.body)) > 0
		ct := h.Get("Content-Type")
		var c render.Codec
		var err error
		switch {
		case ct == "" && body:
			// A body without Content-Type is read as the default, text/plain.
			if c, err = x.s.opt.Negotiator.ForResponse(""); err != nil {
				err = occi.Wrap(err, occi.Internal, "no default codec")
			}
		case ct == "":
			c, err = x.requestCodec("filter", headersType, false) // the rendering that travels in headers
		default:
			c, err = x.requestCodec("filter", ct, body)
		}
		if err != nil {
			return nil, nil, err
		}
		hc, ha, err := c.DecodeFilter(&render.Reader{Header: h, Body: x.body, Base: x.base})
		if err != nil {
			return nil, nil, err
		}
		cats, attrs = hc, ha
	}
	if len(q.categories) > 0 {
		var all *occi.Discovery
		for _, s := range q.categories {
			if strings.Contains(s, "#") {
				id, err := occi.ParseCategoryID(s)
				if err != nil {
					return nil, nil, prefixError(err, "query parameter category")
				}
				cats = append(cats, id)
				continue
			}
			if all == nil {
				d, err := x.s.svc.Discover(x.ctx, nil)
				if err != nil {
					return nil, nil, err
				}
				all = d
			}
			id, err := byTerm(all, s)
			if err != nil {
				return nil, nil, err
			}
			cats = append(cats, id)
		}
	}
	if len(q.attrs) > 0 {
		if attrs == nil {
			attrs = occi.Attributes{}
		}
		for k, v := range q.attrs {
			if _, dup := attrs[k]; dup {
				// Either value would silently drop the other: refuse, as
				// for an attribute given twice in one place.
				where := "an X-OCCI-Attribute header"
				if len(bytes.TrimSpace(x.body)) > 0 {
					where = "the request body"
				}
				return nil, nil, occi.Errorf(occi.InvalidArgument,
					"attribute %q is filtered on both in the query string and in %s (a filter takes one value); give it once", clip(k), where)
			}
			attrs[k] = v
		}
	}
	return cats, attrs, nil
}

// byTerm finds the one kind or mixin with the term.
func byTerm(d *occi.Discovery, term string) (occi.CategoryID, error) {
	var found []occi.CategoryID
	for _, k := range d.Kinds {
		if k.ID.Term == term {
			found = append(found, k.ID)
		}
	}
	for _, m := range d.Mixins {
		if m.ID.Term == term {
			found = append(found, m.ID)
		}
	}
	switch len(found) {
	case 0:
		return occi.CategoryID{}, occi.Errorf(occi.InvalidArgument,
			"query parameter category=%q: no kind or mixin has that term; give a term or a type identifier (scheme#term) this server defines", clip(term))
	case 1:
		return found[0], nil
	default:
		return occi.CategoryID{}, occi.Errorf(occi.InvalidArgument,
			"query parameter category=%q is ambiguous (%s, %s); give the full type identifier", clip(term), found[0], found[1])
	}
}

func (x *exchange) noParams(q *query) bool {
	if len(q.names) == 0 {
		return true
	}
	x.fail(occi.Errorf(occi.InvalidArgument, "%s on a collection takes no query parameters (got %q)", x.r.Method, clip(q.names[0])))
	return false
}

// ifMatch reads a request's If-Match header, given as one or more header
// lines in vs: "*" (any current revision: rev 0) or one strong entity tag
// of this server's ("3"). A weak tag never matches (RFC 9110 13.1.1):
// PreconditionFailed. Anything else — an unquoted or empty tag, a list —
// is InvalidArgument.
func ifMatch(vs []string) (rev int64, err error) {
	v := strings.TrimSpace(strings.Join(vs, ","))
	if v == "*" {
		return 0, nil
	}
	if strings.HasPrefix(v, "W/") && !strings.Contains(v, ",") {
		return 0, occi.Errorf(occi.PreconditionFailed, "If-Match %q: a weak entity tag never matches; send the tag of an ETag as it is, such as \"3\"", clip(v))
	}
	if len(v) >= 3 && v[0] == '"' && v[len(v)-1] == '"' {
		rev, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
		if err == nil && rev >= 1 && strconv.FormatInt(rev, 10) == v[1:len(v)-1] {
			return rev, nil
		}
	}
	return 0, occi.Errorf(occi.InvalidArgument, "If-Match %q: want * or one entity tag this server sent, quoted, such as \"3\"", clip(v))
}

// collectionPreconditions answers a write to something other than an
// entity (a collection, the query interface) that has a precondition: such
// a target exists but has no entity tag, so "If-Match: *" holds, any other
// If-Match and "If-None-Match: *" fail (412). It reports whether the
// request may go on.
func (x *exchange) collectionPreconditions(path string) bool {
	if x.r.Method == http.MethodGet || x.r.Method == http.MethodHead {
		return true
	}
	if vs := x.r.Header.Values("If-Match"); len(vs) > 0 {
		rev, err := ifMatch(vs)
		if err != nil {
			x.fail(err)
			return false
		}
		if rev != 0 {
			x.fail(occi.Errorf(occi.PreconditionFailed, "If-Match: %s is a collection, which has no entity tag, so no tag matches", path))
			return false
		}
	}
	if v := x.r.Header.Get("If-None-Match"); v != "" {
		err := ifNoneMatch(v)
		if err == nil {
			err = occi.Errorf(occi.PreconditionFailed, "If-None-Match: * but %s exists", path)
		}
		x.fail(err)
		return false
	}
	return true
}

// ifNoneMatch checks a write's If-None-Match header v: "*" is the one
// value this server understands (InvalidArgument for any other).
func ifNoneMatch(v string) error {
	if strings.TrimSpace(v) != "*" {
		return occi.Errorf(occi.InvalidArgument,
			"If-None-Match %q: on a write this server understands only *, which makes a PUT create and never replace", clip(v))
	}
	return nil
}

// parseIfMatch reads one entity tag this server sent ("3", W/"3" or 3).
// "*" matches any revision and sets none.
func parseIfMatch(v string) (int64, bool, error) {
	v = strings.TrimSpace(v)
	if v == "*" {
		return 0, false, nil
	}
	s := strings.TrimPrefix(v, "W/")
	s = strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
	rev, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rev < 1 {
		return 0, false, occi.Errorf(occi.InvalidArgument, "If-Match %q: want one entity tag this server sent, such as \"3\"", clip(v))
	}
	return rev, true, nil
}

// ---- output ----

// absolute makes a location path absolute with the request's base.
func (x *exchange) absolute(loc string) string {
	if strings.HasPrefix(loc, "/") {
		return x.base + loc
	}
	return loc
}

func setETag(h http.Header, e *occi.Entity) {
	if e != nil && e.Revision > 0 {
		h["ETag"] = []string{`"` + strconv.FormatInt(e.Revision, 10) + `"`}
	}
}

func (x *exchange) replyEntity(status int, extra http.Header, e *occi.Entity) {
	if extra == nil {
		extra = http.Header{}
	}
	setETag(extra, e)
	x.reply(status, extra, func(w *render.Writer) error { return x.codec.EncodeEntity(w, e) })
}

func (x *exchange) replyCollection(es []*occi.Entity) {
	if es == nil {
		es = []*occi.Entity{}
	}
	x.reply(http.StatusOK, nil, func(w *render.Writer) error { return x.codec.EncodeCollection(w, es) })
}

// replyEmpty answers 200 with an empty collection rendering, the answer of
// every successful DELETE.
func (x *exchange) replyEmpty() { x.replyCollection(nil) }

// reply renders with enc in the response codec and sends it with status;
// extra headers are added. A rendering failure (such as text/uri-list asked
// for an entity) is answered as an error instead.
func (x *exchange) reply(status int, extra http.Header, enc func(*render.Writer) error) {
	h, body, err := x.render(enc)
	if err != nil {
		x.fail(err)
		return
	}
	mergeHeader(h, extra)
	x.send(status, h, body)
}

// render runs enc with the response codec and returns the header and body
// it made, the Content-Type naming the media type the client asked for
// (an alias of the codec's, such as application/json, stays as asked).
func (x *exchange) render(enc func(*render.Writer) error) (http.Header, []byte, error) {
	var buf bytes.Buffer
	h := http.Header{}
	h.Set("Content-Type", x.codec.MediaType())
	if err := enc(&render.Writer{Header: h, Body: &buf, Base: x.base}); err != nil {
		return nil, nil, err
	}
	setMediaType(h, x.mediaType)
	return h, buf.Bytes(), nil
}

// send writes headers h, status and body.
func (x *exchange) send(status int, h http.Header, body []byte) {
	out := x.w.Header()
	mergeHeader(out, h)
	if cl := h["Content-Length"]; len(cl) != 1 || !isLength(cl[0], len(body)) {
		out.Set("Content-Length", strconv.Itoa(len(body)))
	}
	x.keepEntity(status, out, body)
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write(body)
	}
}

// isLength reports whether v is the decimal form of n.
func isLength(v string, n int) bool {
	m, err := strconv.Atoi(v)
	return err == nil && m == n && v == strings.TrimLeft(v, "+-0") || v == "0" && n == 0
}

// mergeHeader sets every header of src in dst, replacing the values of a
// key spelled differently (codecs may use "X-OCCI-Attribute" rather than the
// canonical "X-Occi-Attribute"); src's spelling wins.
func mergeHeader(dst, src http.Header) {
	for k, vs := range src {
		for dk := range dst {
			if dk != k && strings.EqualFold(dk, k) {
				delete(dst, dk)
			}
		}
		dst[k] = vs
	}
}

// setMediaType replaces the media type of h's Content-Type by mt (an alias
// of the codec's type the client asked for), keeping its parameters.
func setMediaType(h http.Header, mt string) {
	if mt == "" {
		return
	}
	ct := h.Get("Content-Type")
	cur, params, _ := strings.Cut(ct, ";")
	if strings.EqualFold(strings.TrimSpace(cur), mt) {
		return
	}
	if params != "" {
		mt += ";" + params
	}
	h.Set("Content-Type", mt)
}

// statusError is a failure whose HTTP status is not one of the code table
// (406, 408, 415): name is its Occid-Error-Code (NotAcceptable,
// RequestTimeout, UnsupportedMediaType), code what a client's occi.Code is.
type statusError struct {
	status int
	code   occi.Code
	name   string
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// fail answers err: its status from the code table, X-OCCI-Error and
// Occid-Error-Code headers, Allow on 405, and a small body in the
// negotiated media type.
func (x *exchange) fail(err error) {
	var se *statusError
	if errors.As(err, &se) {
		x.failNamed(se.status, se.name, se.code, se.msg)
		return
	}
	code := occi.ErrorCode(err)
	if code == occi.Internal {
		x.cause = err.Error()
	}
	x.failStatus(Status(code), code, occi.ErrorMessage(err))
}

func (x *exchange) failStatus(status int, code occi.Code, msg string) {
	x.failNamed(status, "", code, msg)
}

// failNamed answers an error with status; name, when not empty, is sent as
// Occid-Error-Code instead of code's name (for the statuses outside the
// code table). The message is capped at maxMessage bytes.
func (x *exchange) failNamed(status int, name string, code occi.Code, msg string) {
	msg = render.Truncate(msg, maxMessage)
	if name == "" {
		name = code.String()
	}
	x.errMsg = msg
	h := http.Header{}
	h["X-OCCI-Error"] = []string{headerSafe(msg)} // spelled as GFD.223 and the text rendering spell it
	h.Set("Occid-Error-Code", name)
	if status == http.StatusMethodNotAllowed {
		h.Set("Allow", strings.Join(x.allow, ", "))
	}
	if status == http.StatusUnauthorized {
		if len(x.s.opt.Challenges) > 0 {
			h["Www-Authenticate"] = append([]string(nil), x.s.opt.Challenges...)
		} else {
			h.Set("WWW-Authenticate", `Basic realm="occid"`)
		}
	}
	// The negotiated codec first; if it cannot render an error (or none was
	// negotiated), the default one; if that fails too, plain text.
	codecs := []render.Codec{x.codec}
	if def, err := x.s.opt.Negotiator.ForResponse(""); err == nil {
		codecs = append(codecs, def)
	}
	for _, c := range codecs {
		if c == nil {
			continue
		}
		var buf bytes.Buffer
		rh := http.Header{}
		rh.Set("Content-Type", c.MediaType())
		if err := c.EncodeError(&render.Writer{Header: rh, Body: &buf, Base: x.base}, code, msg); err != nil {
			continue
		}
		if c == x.codec {
			setMediaType(rh, x.mediaType)
		}
		mergeHeader(rh, h)
		x.send(status, rh, buf.Bytes())
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	x.send(status, h, []byte(msg+"\n"))
}

// headerSafe makes msg fit in one header line.
func headerSafe(msg string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
}

// prefixError adds where to the client message of err, keeping its code.
func prefixError(err error, where string) error {
	var se *statusError
	if errors.As(err, &se) {
		return &statusError{status: se.status, code: se.code, name: se.name, msg: where + ": " + se.msg}
	}
	return &occi.Error{Code: occi.ErrorCode(err), Message: where + ": " + occi.ErrorMessage(err), Err: err}
}

// CommonHeaders sets on h the headers that every occid response carries:
// Server (occid/<version> OCCI/1.2) and Accept (the offered media types).
// The Server sets them itself; a handler in front of it that may answer on
// its own (authentication's 401) calls CommonHeaders first.
func (s *Server) CommonHeaders(h http.Header) {
	// The value slices are shared by every response: clipped, so that an
	// Add to one response's header copies instead of writing into them.
	h["Server"] = s.serverVals
	h["Accept"] = s.acceptVals
}

package occihttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// recorder remembers the status and the byte count of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if r.wrote {
		return
	}
	r.wrote = true
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// cache counts GETs and HEADs of entities by what the rendering cache
	// did: "hit" (answered from it), "miss" (served in full, then kept).
	cache   *prometheus.CounterVec
	hits    prometheus.Counter
	misses  prometheus.Counter
	handler http.Handler

	// The children of requests and duration by label values, so that a
	// request does not hash its labels (a few dozen combinations occur).
	mu        sync.RWMutex
	counters  map[requestLabels]prometheus.Counter
	observers map[requestLabels]prometheus.Observer
}

// requestLabels are the label values of one request's metrics; status is
// 0 for the duration histogram, which has none.
type requestLabels struct {
	method, route string
	status        int
}

// observe records one answered request.
func (m *metrics) observe(method, route string, status int, seconds float64) {
	ck := requestLabels{method, route, status}
	ok := requestLabels{method, route, 0}
	m.mu.RLock()
	c, o := m.counters[ck], m.observers[ok]
	m.mu.RUnlock()
	if c == nil || o == nil {
		c = m.requests.WithLabelValues(method, route, strconv.Itoa(status))
		o = m.duration.WithLabelValues(method, route)
		m.mu.Lock()
		if m.counters == nil {
			m.counters, m.observers = map[requestLabels]prometheus.Counter{}, map[requestLabels]prometheus.Observer{}
		}
		m.counters[ck], m.observers[ok] = c, o
		m.mu.Unlock()
	}
	c.Inc()
	o.Observe(seconds)
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "occid_http_requests_total",
			Help: "HTTP requests answered, by method, route class (query, kind, mixin, entity, unbound, none, health, metrics) and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "occid_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route class.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "occid_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.inflight = register(reg, m.inflight)
	m.cache = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "occid_http_entity_cache_total",
		Help: "GET and HEAD requests of entities the service could version (see occihttp.EntityVersioner), by result: hit (answered from the rendering cache) or miss (served in full).",
	}, []string{"result"}))
	m.hits, m.misses = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// register registers c, or returns the collector already registered in its
// place (two Servers sharing one registry share the metrics).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic("occihttp: registering metrics: " + err.Error())
	}
	return c
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodOptions, http.MethodPatch:
		return m
	}
	return "OTHER"
}

// requestID returns the client's X-Request-Id when it is short and plain,
// else a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && plainID(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	var h [16]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

func plainID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id of the HTTP request ctx belongs to (the one
// logged and sent in X-Request-Id), or "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

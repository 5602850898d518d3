// Command occid is an OCCI 1.2 server: the HTTP protocol (occihttp) over the
// engine, with a store (SQLite by default) and a backend (the simulator by
// default) chosen by URL. See README.md and occid --help.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/occid/occi"
	"github.com/occid/occi/auth"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/openstackbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
	"github.com/occid/occi/store"
)

// version is occid's version; set it with -ldflags "-X main.version=1.0.0".
var version = ""

// Version returns the version occid announces in its Server header.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.ParseFlags(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, errHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "occid:", err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "occid:", err)
		os.Exit(1)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		m.logger.Info("shutting down: finishing requests in flight", "timeout", m.Config.ShutdownTimeout.String())
	case serveErr = <-m.Err():
	}
	stop()
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "occid: shutting down:", err)
		os.Exit(1)
	}
	if serveErr != nil {
		fmt.Fprintln(os.Stderr, "occid:", serveErr)
		os.Exit(1)
	}
}

// Main is the occid program: ParseFlags reads the configuration, Run opens
// the store and the backend and starts serving, Close drains the requests
// in flight and then closes the engine, the backend and the store, so
// nothing acknowledged is lost. Tests run it in-process on 127.0.0.1:0.
type Main struct {
	// Config is the configuration ParseFlags resolved; tests may set it
	// directly instead.
	Config Config
	// Stdout receives --help and --version; Stderr the logs.
	Stdout, Stderr io.Writer
	// Getenv reads the environment; os.Getenv by default.
	Getenv func(string) string

	logger   *slog.Logger
	logw     *logWriter // the logger's output, written in the background
	store    store.Store
	driver   backend.Driver
	engine   *engine.Engine
	listener net.Listener
	server   *http.Server
	errc     chan error
	url      string
	chain    *auth.Chain
	hup      chan os.Signal

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main with the default configuration, writing to the
// process's standard output and error.
func NewMain() *Main {
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, errc: make(chan error, 1)}
	if c, err := parseConfig(nil, func(string) string { return "" }, io.Discard, ""); err == nil {
		m.Config = *c
	}
	return m
}

// ParseFlags resolves the configuration from args (without the program
// name), the environment and the config file. After printing the usage
// (--help) or the version (--version) it returns an error matching
// flag.ErrHelp, on which the program should exit successfully.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	c, err := parseConfig(args, m.Getenv, m.Stdout, Version())
	if err != nil {
		return err
	}
	m.Config = *c
	return nil
}

// URL returns the base URL occid serves on, such as
// "http://127.0.0.1:8080", once Run has returned.
func (m *Main) URL() string { return m.url }

// Err returns a channel that receives the error that stopped the HTTP
// server, if it stops by itself.
func (m *Main) Err() <-chan error { return m.errc }

// Run opens the store and the backend, builds the engine and starts serving
// HTTP; it returns once the listener is open. On failure everything opened
// so far is closed again.
func (m *Main) Run(ctx context.Context) (err error) {
	c := &m.Config
	m.logw = newLogWriter(m.Stderr)
	m.logger = newLogger(m.logw, c.LogFormat, c.LogLevel)
	defer func() {
		if err != nil {
			m.closeParts()
			m.logw.Close()
		}
	}()
	if err := checkListen(c); err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, storeDesc, err := openStore(ctx, c.Store, c.DataDir)
	if err != nil {
		return err
	}
	m.store = st
	drv, err := openBackend(ctx, c.Backend, c.DataDir)
	if err != nil {
		return err
	}
	m.driver = drv
	// The chain is built before anything listens: a bad tokens file, an
	// unreachable OIDC issuer or a listener that would be open to anyone
	// stops occid here.
	chain, err := auth.New(ctx, auth.Config{
		TokensFile:           c.AuthTokens,
		HtpasswdFile:         c.Htpasswd,
		OIDCIssuer:           c.OIDCIssuer,
		OIDCAudience:         c.OIDCAudience,
		OIDCUserClaim:        c.OIDCUserClaim,
		OIDCGroupsClaim:      c.OIDCGroupsClaim,
		OIDCClockSkew:        c.OIDCClockSkew,
		ClientCAFile:         c.ClientCA,
		ClientDNMapFile:      c.ClientDNMap,
		KeystoneURL:          c.KeystoneURL,
		KeystonePublicURL:    c.KeystonePublicURL,
		KeystoneServiceToken: c.KeystoneServiceToken,
		Logger:               m.logger,
	})
	if err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	m.chain = chain
	eng, err := engine.New(engine.Config{
		Store: st, Driver: drv, ProviderScheme: c.ProviderScheme,
		DefaultPage: c.MaxPage, MaxPage: c.MaxPage, Logger: m.logger,
		MaxBatch: c.MaxBatch, ObserveInterval: observeInterval(c.ObserveInterval), RecoverAfter: c.RecoverAfter,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	m.engine = eng

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newEntityCollector(st, drv.Capabilities().Kinds))
	handler := occihttp.NewServer(eng, occihttp.Options{
		Negotiator:     render.NewNegotiator(occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New()),
		Version:        Version(),
		PublicURL:      c.PublicURL,
		TrustProxy:     c.TrustProxy,
		MaxBody:        c.MaxBody,
		MaxInFlight:    maxInFlight(c.MaxInFlight),
		Logger:         m.logger,
		Registry:       reg,
		Ready:          m.ready,
		Challenges:     chain.Challenges(),
		MetricsAllowed: metricsAllowed(c.MetricsUsers),
	})
	var h http.Handler = handler
	if _, ok := drv.(*openstackbackend.Driver); ok && c.KeystoneURL != "" {
		h = keystonePassThrough(h)
	}
	h = auth.Middleware(chain, h, auth.MiddlewareOptions{Public: publicPaths, Logger: m.logger, Refuse: handler.ServeError})
	h = withCommonHeaders(handler, h)
	var tlsConfig *tls.Config
	if c.TLSCert != "" {
		if tlsConfig, err = auth.TLSConfig(c.TLSCert, c.TLSKey, c.ClientCA); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.listener = ln
	m.server = occihttp.NewHTTPServer(h, c.Limits, m.logger)
	m.url = "http://" + ln.Addr().String()
	if tlsConfig != nil {
		m.server.TLSConfig = tlsConfig
		ln = tls.NewListener(ln, tlsConfig)
		m.url = "https://" + m.listener.Addr().String()
	}
	m.watchHUP()
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.errc <- err
		}
	}()
	m.logger.Info("occid listening", "url", m.url, "version", Version(), "store", storeDesc,
		"backend", redact(c.Backend), "data_dir", c.DataDir, "public_url", c.PublicURL,
		"auth", authMethods(c), "tls", tlsConfig != nil)
	return nil
}

// publicPaths are served without authentication: the health checks, which
// say nothing about anyone's resources. /metrics is not among them: it
// counts every tenant's entities, so a scraper authenticates like any
// client (for example with a static token).
var publicPaths = []string{"/healthz", "/readyz"}

// authMethods names the authentication methods c turns on, for the log.
func authMethods(c *Config) []string {
	var out []string
	for _, m := range []struct {
		on   bool
		name string
	}{{c.ClientCA != "", "x509"}, {c.AuthTokens != "", "tokens"}, {c.Htpasswd != "", "basic"},
		{c.OIDCIssuer != "", "oidc"}, {c.KeystoneURL != "", "keystone"}} {
		if m.on {
			out = append(out, m.name)
		}
	}
	if len(out) == 0 {
		out = append(out, "none")
	}
	return out
}

// keystonePassThrough hands the caller's Keystone token, once the Keystone
// authenticator has validated it, to the OpenStack driver, which then acts
// with it in the caller's project.
func keystonePassThrough(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := auth.KeystoneToken(r.Context()); ok && tok != "" {
			r = r.WithContext(openstackbackend.WithToken(r.Context(), tok))
		}
		next.ServeHTTP(w, r)
	})
}

// watchHUP re-reads the authentication files (tokens, htpasswd, DN map) on
// each SIGHUP until Close.
func (m *Main) watchHUP() {
	m.hup = make(chan os.Signal, 1)
	signal.Notify(m.hup, syscall.SIGHUP)
	chain, logger, hup := m.chain, m.logger, m.hup
	go func() {
		for range hup {
			reloadAuth(chain, logger)
		}
	}()
}

// reloadAuth re-reads the authentication files now, as SIGHUP does; on
// error the previous contents stay in use and the error (which never holds
// a secret) is logged.
func reloadAuth(chain *auth.Chain, logger *slog.Logger) {
	if err := chain.Reload(); err != nil {
		logger.Error("reloading the authentication files failed; keeping the previous contents", "err", err)
		return
	}
	logger.Info("authentication files reloaded")
}

// ready reports whether the store and the backend answer.
func (m *Main) ready(ctx context.Context) error {
	if _, err := m.store.List(ctx, store.Query{Limit: 1}); err != nil {
		return occi.Wrap(err, occi.Unavailable, "the store does not answer")
	}
	if p, ok := m.driver.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return occi.Wrap(err, occi.Unavailable, "the backend does not answer")
		}
		return nil
	}
	if _, err := m.driver.Templates(ctx); err != nil {
		return occi.Wrap(err, occi.Unavailable, "the backend does not answer")
	}
	return nil
}

// Close stops accepting connections, lets the requests in flight finish
// (for at most Config.ShutdownTimeout, then cuts them off), and then closes
// the engine, the backend and the store. It is safe to call more than once.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		if m.hup != nil {
			signal.Stop(m.hup)
			close(m.hup)
		}
		if m.server != nil {
			timeout := m.Config.ShutdownTimeout
			if timeout <= 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			if err := m.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("requests still in flight after %v were cut off: %w", timeout, err))
				_ = m.server.Close()
			}
			cancel()
		}
		if err := m.closeParts(); err != nil {
			errs = append(errs, err)
		}
		if m.logger != nil {
			m.logger.Info("occid stopped")
		}
		if m.logw != nil {
			m.logw.Close()
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

// closeParts closes the engine, then the backend, then the store.
func (m *Main) closeParts() error {
	var errs []error
	if m.engine != nil {
		if err := m.engine.Close(); err != nil {
			errs = append(errs, fmt.Errorf("engine: %w", err))
		}
		m.engine = nil
	}
	if m.driver != nil {
		if err := m.driver.Close(); err != nil {
			errs = append(errs, fmt.Errorf("backend: %w", err))
		}
		m.driver = nil
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
		m.store = nil
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// observeInterval turns --observe-interval (0: on every GET) into
// engine.Config.ObserveInterval (negative: on every GET).
func observeInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// metricsAllowed turns --metrics-users into occihttp.Options.MetricsAllowed:
// nil (everyone who passed authentication) for an empty list.
func metricsAllowed(users []string) func(user string) bool {
	if len(users) == 0 {
		return nil
	}
	return func(user string) bool { return slices.Contains(users, user) }
}

// maxInFlight turns --max-inflight (0: no bound) into
// occihttp.Options.MaxInFlight (negative: no bound).
func maxInFlight(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// withCommonHeaders returns next with the headers of every occid response
// (Server, Accept) set before it runs, so that answers made in front of the
// protocol handler, such as authentication's 401, carry them too.
func withCommonHeaders(srv *occihttp.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.CommonHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

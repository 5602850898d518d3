package auth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/auth"
)

// This is how cmd/occid wires authentication: build the chain from the
// flags, refuse a non-loopback listener without authentication unless
// --insecure, serve TLS when --tls-cert is given, re-read the files on
// SIGHUP, and wrap the OCCI handler.
func Example() {
	ctx := context.Background()
	logger := slog.Default()
	listen, insecure := "0.0.0.0:8443", false
	tlsCert, tlsKey, clientCA := "/etc/occid/tls.crt", "/etc/occid/tls.key", "/etc/occid/users-ca.pem"

	chain, err := auth.New(ctx, auth.Config{
		TokensFile:           "/etc/occid/tokens",                       // --auth-tokens
		HtpasswdFile:         "/etc/occid/htpasswd",                     // --htpasswd
		OIDCIssuer:           "https://idp.example/realms/cloud",        // --oidc-issuer
		OIDCAudience:         "occid",                                   // --oidc-audience
		OIDCGroupsClaim:      "groups",                                  // --oidc-groups-claim
		OIDCClockSkew:        time.Minute,                               // --oidc-clock-skew
		ClientCAFile:         clientCA,                                  // --client-ca
		ClientDNMapFile:      "/etc/occid/dn.map",                       // --client-dn-map
		KeystoneURL:          "http://keystone:5000",                    // --keystone-url
		KeystonePublicURL:    "https://keystone.example:5000",           // --keystone-public-url
		KeystoneServiceToken: os.Getenv("OCCID_KEYSTONE_SERVICE_TOKEN"), // environment only
		Logger:               logger,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "occid:", err)
		return
	}
	if !chain.Enabled() && !auth.IsLoopback(listen) && !insecure {
		fmt.Fprintf(os.Stderr, "occid: refusing to listen on %s without authentication; pass --insecure to insist\n", listen)
		return
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := chain.Reload(); err != nil {
				logger.Error("reload failed; keeping the previous files", "err", err)
			}
		}
	}()

	var occiHandler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", occi.IdentityFrom(r.Context()).User) // occihttp.NewServer(...) in occid
	})
	srv := &http.Server{
		Addr: listen,
		Handler: auth.Middleware(chain, occiHandler, auth.MiddlewareOptions{
			Public: []string{"/healthz", "/readyz", "/metrics"},
			Logger: logger,
		}),
	}
	if tlsCert != "" {
		srv.TLSConfig, err = auth.TLSConfig(tlsCert, tlsKey, clientCA)
		if err != nil {
			fmt.Fprintln(os.Stderr, "occid:", err)
			return
		}
		_ = srv.ListenAndServeTLS("", "") // the certificate is in TLSConfig
		return
	}
	_ = srv.ListenAndServe()
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi/occihttp"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "occid.conf")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, envOf(nil), &bytes.Buffer{}, "v")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen: "127.0.0.1:8080", DataDir: "./occid-data", Backend: "sim://", LogFormat: "text", LogLevel: "info",
		ProviderScheme: "http://occid.local/occi/", MaxPage: 1000, MaxBody: 1 << 20, MaxInFlight: 256,
		MaxBatch: 100, ObserveInterval: 2 * time.Second,
		Limits: occihttp.Limits{MaxHeaderBytes: 2 << 20, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
			WriteTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute},
		ShutdownTimeout: 30 * time.Second, OIDCUserClaim: "sub", OIDCClockSkew: time.Minute,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(*want, NewMain().Config); diff != "" {
		t.Errorf("NewMain config (-want +got):\n%s", diff)
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, "# occid settings\nlisten = 127.0.0.1:7001\ndata-dir = \"/srv/occid file\"\nlog-format = json\nmax-body = 2MiB\n\nbackend=sim://?delay=1s\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c *Config)
	}{
		{name: "file over default", args: []string{"--config", file}, want: func(c *Config) {
			c.Listen, c.DataDir, c.LogFormat, c.MaxBody, c.Backend = "127.0.0.1:7001", "/srv/occid file", "json", 2<<20, "sim://?delay=1s"
		}},
		{name: "config file from the environment", env: map[string]string{"OCCID_CONFIG": file}, want: func(c *Config) {
			c.Listen, c.DataDir, c.LogFormat, c.MaxBody, c.Backend = "127.0.0.1:7001", "/srv/occid file", "json", 2<<20, "sim://?delay=1s"
		}},
		{name: "environment over file", args: []string{"--config", file},
			env: map[string]string{"OCCID_LISTEN": "127.0.0.1:7002", "OCCID_LOG_FORMAT": "text", "OCCID_STORE": "memory:"},
			want: func(c *Config) {
				c.Listen, c.DataDir, c.LogFormat, c.MaxBody, c.Backend, c.Store = "127.0.0.1:7002", "/srv/occid file", "text", 2<<20, "sim://?delay=1s", "memory:"
			}},
		{name: "flag over environment", args: []string{"--config", file, "--listen", "[::1]:7003", "--max-body=4096"},
			env: map[string]string{"OCCID_LISTEN": "127.0.0.1:7002", "OCCID_MAX_BODY": "1KiB"},
			want: func(c *Config) {
				c.Listen, c.DataDir, c.LogFormat, c.MaxBody, c.Backend = "[::1]:7003", "/srv/occid file", "json", 4096, "sim://?delay=1s"
			}},
		{name: "every setting by environment", env: map[string]string{
			"OCCID_LISTEN": "0.0.0.0:9", "OCCID_INSECURE": "true", "OCCID_DATA_DIR": "/d", "OCCID_STORE": "sqlite:///d/x.db",
			"OCCID_BACKEND": "test:///default", "OCCID_PUBLIC_URL": "https://c.example/occi/", "OCCID_TRUST_PROXY": "1",
			"OCCID_LOG_FORMAT": "json", "OCCID_LOG_LEVEL": "debug", "OCCID_PROVIDER_SCHEME": "https://c.example/", "OCCID_MAX_PAGE": "50",
			"OCCID_MAX_BODY": "10KiB", "OCCID_MAX_INFLIGHT": "7", "OCCID_MAX_HEADER": "8KiB", "OCCID_READ_HEADER_TIMEOUT": "1s", "OCCID_READ_TIMEOUT": "2s",
			"OCCID_WRITE_TIMEOUT": "3s", "OCCID_IDLE_TIMEOUT": "4s", "OCCID_SHUTDOWN_TIMEOUT": "5s",
			"OCCID_MAX_BATCH": "9", "OCCID_OBSERVE_INTERVAL": "0", "OCCID_RECOVER_AFTER": "10m"},
			want: func(c *Config) {
				*c = Config{Listen: "0.0.0.0:9", Insecure: true, DataDir: "/d", Store: "sqlite:///d/x.db", Backend: "test:///default",
					PublicURL: "https://c.example/occi", TrustProxy: true, LogFormat: "json", LogLevel: "debug",
					ProviderScheme: "https://c.example/", MaxPage: 50, MaxBody: 10 << 10, MaxInFlight: 7,
					MaxBatch: 9, ObserveInterval: 0, RecoverAfter: 10 * time.Minute,
					Limits: occihttp.Limits{MaxHeaderBytes: 8 << 10, ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second,
						WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second}, ShutdownTimeout: 5 * time.Second,
					OIDCUserClaim: "sub", OIDCClockSkew: time.Minute}
			}},
		{name: "every authentication setting by environment", env: map[string]string{
			"OCCID_LISTEN": "0.0.0.0:9", "OCCID_AUTH_TOKENS": "/t", "OCCID_HTPASSWD": "/h", "OCCID_OIDC_ISSUER": "https://idp/",
			"OCCID_OIDC_AUDIENCE": "occid", "OCCID_OIDC_USER_CLAIM": "email", "OCCID_OIDC_GROUPS_CLAIM": "groups",
			"OCCID_OIDC_CLOCK_SKEW": "30s", "OCCID_TLS_CERT": "/c.pem", "OCCID_TLS_KEY": "/k.pem", "OCCID_CLIENT_CA": "/ca.pem",
			"OCCID_CLIENT_DN_MAP": "/dn", "OCCID_KEYSTONE_URL": "http://ks:5000", "OCCID_KEYSTONE_PUBLIC_URL": "https://ks.example",
			"OCCID_KEYSTONE_SERVICE_TOKEN": "svc-secret"},
			want: func(c *Config) {
				c.Listen, c.AuthTokens, c.Htpasswd, c.OIDCIssuer, c.OIDCAudience = "0.0.0.0:9", "/t", "/h", "https://idp/", "occid"
				c.OIDCUserClaim, c.OIDCGroupsClaim, c.OIDCClockSkew = "email", "groups", 30*time.Second
				c.TLSCert, c.TLSKey, c.ClientCA, c.ClientDNMap = "/c.pem", "/k.pem", "/ca.pem", "/dn"
				c.KeystoneURL, c.KeystonePublicURL, c.KeystoneServiceToken = "http://ks:5000", "https://ks.example", "svc-secret"
			}},
		{name: "authentication flags over file", args: []string{"--config", writeConfig(t, "auth-tokens = /file-tokens\nhtpasswd = /h\noidc-clock-skew = 0s\n"),
			"--auth-tokens", "/flag-tokens", "--listen", "[::]:8443"},
			want: func(c *Config) {
				c.Listen, c.AuthTokens, c.Htpasswd, c.OIDCClockSkew = "[::]:8443", "/flag-tokens", "/h", -1
			}},
		{name: "non-loopback with authentication", args: []string{"--listen", ":8080", "--htpasswd", "/h"},
			want: func(c *Config) { c.Listen, c.Htpasswd = ":8080", "/h" }},
		{name: "boolean flag over environment", args: []string{"--trust-proxy=false"}, env: map[string]string{"OCCID_TRUST_PROXY": "true"},
			want: func(c *Config) {}},
		{name: "non-loopback with --insecure", args: []string{"--listen", ":8080", "--insecure"},
			want: func(c *Config) { c.Listen, c.Insecure = ":8080", true }},
		{name: "localhost is loopback", args: []string{"--listen", "localhost:0"}, want: func(c *Config) { c.Listen = "localhost:0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := parseConfig(nil, envOf(nil), &bytes.Buffer{}, "v")
			if err != nil {
				t.Fatal(err)
			}
			tt.want(want)
			got, err := parseConfig(tt.args, envOf(tt.env), &bytes.Buffer{}, "v")
			if err != nil {
				t.Fatal(err)
			}
			got.ConfigFile = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		wantErr string
	}{
		{name: "non-loopback without --insecure", args: []string{"--listen", "0.0.0.0:8080"},
			wantErr: `listen address "0.0.0.0:8080" is not a loopback address and no authentication method is configured`},
		{name: "tls cert without key", args: []string{"--tls-cert", "/c.pem"}, wantErr: "--tls-cert needs --tls-key"},
		{name: "tls key without cert", env: map[string]string{"OCCID_TLS_KEY": "/k.pem"}, wantErr: "--tls-key needs --tls-cert"},
		{name: "client CA without TLS", args: []string{"--client-ca", "/ca.pem"}, wantErr: "--client-ca needs --tls-cert and --tls-key"},
		{name: "DN map without client CA", args: []string{"--client-dn-map", "/dn"}, wantErr: "--client-dn-map needs --client-ca"},
		{name: "OIDC issuer without audience", args: []string{"--oidc-issuer", "https://idp/"}, wantErr: "--oidc-issuer needs --oidc-audience"},
		{name: "OIDC audience without issuer", args: []string{"--oidc-audience", "occid"}, wantErr: "--oidc-audience needs --oidc-issuer"},
		{name: "bad clock skew", args: []string{"--oidc-clock-skew", "a bit"}, wantErr: `flag --oidc-clock-skew: want a duration such as 1m, got "a bit"`},
		{name: "service token is not a file key", file: "keystone-service-token = s3cret\n", wantErr: `unknown key "keystone-service-token"`},
		{name: "all interfaces without --insecure", env: map[string]string{"OCCID_LISTEN": ":8080"},
			wantErr: `listen address ":8080" is not a loopback address`},
		{name: "listen without port", args: []string{"--listen", "127.0.0.1"}, wantErr: `listen address "127.0.0.1": want host:port`},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: `flag --log-format: want text or json, got "xml"`},
		{name: "bad env size", env: map[string]string{"OCCID_MAX_BODY": "lots"}, wantErr: `environment variable OCCID_MAX_BODY: want a size such as 1048576, 512KiB or 1MiB, got "lots"`},
		{name: "bad max page", args: []string{"--max-page", "0"}, wantErr: `flag --max-page: want a whole number of at least 1, got "0"`},
		{name: "bad max inflight", args: []string{"--max-inflight", "-1"}, wantErr: `flag --max-inflight: want a whole number of at least 0, got "-1"`},
		{name: "bad max batch", args: []string{"--max-batch", "0"}, wantErr: `flag --max-batch: want a whole number of at least 1, got "0"`},
		{name: "bad observe interval", args: []string{"--observe-interval", "-1s"}, wantErr: `flag --observe-interval: want a duration of at least 0 such as 2s, got "-1s"`},
		{name: "bad recover after", env: map[string]string{"OCCID_RECOVER_AFTER": "later"}, wantErr: `environment variable OCCID_RECOVER_AFTER: want a duration of at least 0 such as 10m, got "later"`},
		{name: "bad duration", args: []string{"--read-timeout", "soon"}, wantErr: `flag --read-timeout: want a positive duration such as 30s, got "soon"`},
		{name: "bad public URL", args: []string{"--public-url", "cloud.example.org"}, wantErr: `flag --public-url: want an absolute http or https URL`},
		{name: "bad boolean env", env: map[string]string{"OCCID_INSECURE": "maybe"}, wantErr: `environment variable OCCID_INSECURE: want true or false, got "maybe"`},
		{name: "unknown flag", args: []string{"--colour"}, wantErr: "flag provided but not defined: -colour (see occid --help)"},
		{name: "stray argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
		{name: "unknown file key", file: "listen = 127.0.0.1:1\ncolour = blue\n", wantErr: `line 2: unknown key "colour"`},
		{name: "file line without =", file: "listen\n", wantErr: `line 1: want key = value, got "listen"`},
		{name: "duplicate file key", file: "listen = a:1\nlisten = b:2\n", wantErr: `line 2: key "listen" appears twice`},
		{name: "bad file value", file: "max-page = many\n", wantErr: `key max-page: want a whole number of at least 1, got "many"`},
		{name: "missing config file", args: []string{"--config", "/nonexistent/occid.conf"}, wantErr: "config file: open /nonexistent/occid.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeConfig(t, tt.file))
			}
			_, err := parseConfig(args, envOf(tt.env), &bytes.Buffer{}, "v")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseFlagsHelpAndVersion(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want string
	}{
		{"--help", "OCCID_DATA_DIR"},
		{"--help", "OCCID_KEYSTONE_SERVICE_TOKEN (environment only)"},
		{"--help", "--oidc-clock-skew"},
		{"--version", "occid "},
	} {
		t.Run(tt.arg, func(t *testing.T) {
			var out bytes.Buffer
			m := NewMain()
			m.Stdout, m.Getenv = &out, envOf(nil)
			err := m.ParseFlags(context.Background(), []string{tt.arg})
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("got error %v, want flag.ErrHelp", err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("got output %q, want it to contain %q", out.String(), tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tt := range []struct {
		name, store, backend, wantErr string
	}{
		{name: "unknown store", store: "mysql://x", backend: "sim://", wantErr: `store URL "mysql://x": want sqlite:///path, postgres://…, or memory:`},
		{name: "store password redacted", store: "redis://u:hunter2@h/", backend: "sim://", wantErr: "xxxxx"},
		{name: "unknown backend", store: "memory:", backend: "vmware://x", wantErr: `backend URL "vmware://x": want sim://`},
		{name: "bad sim option", store: "memory:", backend: "sim://?speed=2", wantErr: `unknown option "speed"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = &bytes.Buffer{}
			m.Config.DataDir, m.Config.Store, m.Config.Backend, m.Config.Listen = dir, tt.store, tt.backend, "127.0.0.1:0"
			err := m.Run(ctx)
			if err == nil {
				m.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("got error %v, want one containing %q (and no password)", err, tt.wantErr)
			}
		})
	}
}

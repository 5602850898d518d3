package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/occid/occi/auth"
	"github.com/occid/occi/occihttp"
)

// Config is occid's configuration, resolved from flags, environment, a
// config file and defaults, in that order of precedence.
type Config struct {
	Listen          string
	DataDir         string
	Store           string // "" means sqlite at DataDir/occid.db
	Backend         string
	PublicURL       string
	TrustProxy      bool
	Insecure        bool
	LogFormat       string // "text" or "json"
	LogLevel        string // "debug", "info", "warn" or "error"
	ProviderScheme  string
	MaxPage         int
	MaxBody         int64
	MaxInFlight     int // 0 means no bound
	MaxBatch        int
	MetricsUsers    []string // who may read /metrics; empty: every authenticated user
	ObserveInterval time.Duration
	RecoverAfter    time.Duration
	Limits          occihttp.Limits
	ShutdownTimeout time.Duration
	ConfigFile      string

	// Authentication (see auth.Config and README.md "Authentication").
	AuthTokens        string
	Htpasswd          string
	OIDCIssuer        string
	OIDCAudience      string
	OIDCUserClaim     string
	OIDCGroupsClaim   string
	OIDCClockSkew     time.Duration
	TLSCert           string
	TLSKey            string
	ClientCA          string
	ClientDNMap       string
	KeystoneURL       string
	KeystonePublicURL string
	// KeystoneServiceToken comes only from the environment variable
	// OCCID_KEYSTONE_SERVICE_TOKEN (never a flag or a file key, so it does
	// not show in ps); it is a secret and is never logged.
	KeystoneServiceToken string
}

// authConfigured reports whether c turns on at least one authenticator.
func (c *Config) authConfigured() bool {
	return c.AuthTokens != "" || c.Htpasswd != "" || c.OIDCIssuer != "" || c.ClientCA != "" || c.KeystoneURL != ""
}

// setting is one configuration key: its flag name (also its key in the
// config file), its environment variable, default and help, and how to
// store a value.
type setting struct {
	name  string
	env   string
	def   string
	usage string
	bool  bool
	set   func(c *Config, v string) error
}

// settings lists every key, in the order of --help.
var settings = []setting{
	{name: "listen", env: "OCCID_LISTEN", def: "127.0.0.1:8080",
		usage: "address to listen on, host:port; a non-loopback host needs an authentication method or --insecure",
		set:   func(c *Config, v string) error { c.Listen = v; return nil }},
	{name: "data-dir", env: "OCCID_DATA_DIR", def: "./occid-data",
		usage: "directory for the embedded database and the simulator's state",
		set:   func(c *Config, v string) error { c.DataDir = v; return nil }},
	{name: "store", env: "OCCID_STORE", def: "",
		usage: "store URL: sqlite:///path/occid.db, postgres://user@host/db, memory: (default: SQLite at <data-dir>/occid.db)",
		set:   func(c *Config, v string) error { c.Store = v; return nil }},
	{name: "backend", env: "OCCID_BACKEND", def: "sim://",
		usage: "backend URL: sim:// (simulator), qemu:///system, qemu+ssh://user@host/system, test:///default, openstack or openstack://CLOUD",
		set:   func(c *Config, v string) error { c.Backend = v; return nil }},
	{name: "public-url", env: "OCCID_PUBLIC_URL", def: "",
		usage: "absolute URL prefix of locations, e.g. https://cloud.example.org/occi (default: from each request's Host)",
		set:   setPublicURL},
	{name: "trust-proxy", env: "OCCID_TRUST_PROXY", def: "false", bool: true,
		usage: "take the scheme and host of locations from X-Forwarded-Proto and X-Forwarded-Host",
		set:   func(c *Config, v string) (err error) { c.TrustProxy, err = parseBool(v); return err }},
	{name: "insecure", env: "OCCID_INSECURE", def: "false", bool: true,
		usage: "allow listening on a non-loopback address without any authentication method (only behind an authenticating proxy)",
		set:   func(c *Config, v string) (err error) { c.Insecure, err = parseBool(v); return err }},
	{name: "log-format", env: "OCCID_LOG_FORMAT", def: "text",
		usage: "log format: text or json",
		set: func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("want text or json, got %q", v)
			}
			c.LogFormat = v
			return nil
		}},
	{name: "log-level", env: "OCCID_LOG_LEVEL", def: "info",
		usage: "log level: debug, info, warn or error",
		set: func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("want debug, info, warn or error, got %q", v)
		}},
	{name: "provider-scheme", env: "OCCID_PROVIDER_SCHEME", def: "http://occid.local/occi/",
		usage: "scheme prefix of provider categories (templates, user tags); must end in /",
		set: func(c *Config, v string) error {
			if !strings.HasSuffix(v, "/") {
				return fmt.Errorf("want a URL ending in /, got %q", v)
			}
			c.ProviderScheme = v
			return nil
		}},
	{name: "max-page", env: "OCCID_MAX_PAGE", def: "1000",
		usage: "largest page a listing may ask for with number=; more answers 413; also the page size without number=",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("want a whole number of at least 1, got %q", v)
			}
			c.MaxPage = n
			return nil
		}},
	{name: "max-body", env: "OCCID_MAX_BODY", def: "1MiB",
		usage: "largest request body; more answers 413 (bytes, or with KiB/MiB)",
		set: func(c *Config, v string) (err error) {
			c.MaxBody, err = parseSize(v)
			return err
		}},
	{name: "max-inflight", env: "OCCID_MAX_INFLIGHT", def: "256",
		usage: "OCCI requests served at once; more answer 503 with Retry-After at once (0: no bound)",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a whole number of at least 0, got %q", v)
			}
			c.MaxInFlight = n
			return nil
		}},
	{name: "metrics-users", env: "OCCID_METRICS_USERS", def: "",
		usage: "comma-separated user names that may read /metrics (it counts every tenant's entities); others get 403. Empty: every authenticated user",
		set: func(c *Config, v string) error {
			c.MetricsUsers = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					c.MetricsUsers = append(c.MetricsUsers, u)
				}
			}
			return nil
		}},
	{name: "max-header", env: "OCCID_MAX_HEADER", def: "2MiB",
		usage: "largest request head (request line and headers; text/occi carries whole renderings there); more answers 431",
		set: func(c *Config, v string) error {
			n, err := parseSize(v)
			c.Limits.MaxHeaderBytes = int(n)
			return err
		}},
	{name: "read-header-timeout", env: "OCCID_READ_HEADER_TIMEOUT", def: "10s",
		usage: "how long a client may take to send the request headers",
		set:   durationSetter(func(c *Config) *time.Duration { return &c.Limits.ReadHeaderTimeout })},
	{name: "read-timeout", env: "OCCID_READ_TIMEOUT", def: "60s",
		usage: "how long a client may take to send a whole request",
		set:   durationSetter(func(c *Config) *time.Duration { return &c.Limits.ReadTimeout })},
	{name: "write-timeout", env: "OCCID_WRITE_TIMEOUT", def: "10m",
		usage: "how long one request may take to be answered (longer than the slowest backend operation)",
		set:   durationSetter(func(c *Config) *time.Duration { return &c.Limits.WriteTimeout })},
	{name: "idle-timeout", env: "OCCID_IDLE_TIMEOUT", def: "2m",
		usage: "how long an idle keep-alive connection is kept",
		set:   durationSetter(func(c *Config) *time.Duration { return &c.Limits.IdleTimeout })},
	{name: "max-batch", env: "OCCID_MAX_BATCH", def: "100",
		usage: "most entities created, or mixins defined or deleted, in one request; more answers 413",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("want a whole number of at least 1, got %q", v)
			}
			c.MaxBatch = n
			return nil
		}},
	{name: "observe-interval", env: "OCCID_OBSERVE_INTERVAL", def: "2s",
		usage: "how old the backend's last word on an entity's state may be before a GET asks it again (0: on every GET)",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration of at least 0 such as 2s, got %q", v)
			}
			c.ObserveInterval = d
			return nil
		}},
	{name: "recover-after", env: "OCCID_RECOVER_AFTER", def: "0s",
		usage: "at start, settle only unfinished creations older than this; with several occid on one database, more than the longest create takes",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration of at least 0 such as 10m, got %q", v)
			}
			c.RecoverAfter = d
			return nil
		}},
	{name: "shutdown-timeout", env: "OCCID_SHUTDOWN_TIMEOUT", def: "30s",
		usage: "on SIGTERM, how long requests in flight may take to finish",
		set:   durationSetter(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{name: "auth-tokens", env: "OCCID_AUTH_TOKENS", def: "",
		usage: "file of static tokens, one \"TOKEN USER [GROUP,...]\" per line, sent as X-Auth-Token or Authorization: Bearer",
		set:   func(c *Config, v string) error { c.AuthTokens = v; return nil }},
	{name: "htpasswd", env: "OCCID_HTPASSWD", def: "",
		usage: "htpasswd file with bcrypt hashes for HTTP Basic authentication",
		set:   func(c *Config, v string) error { c.Htpasswd = v; return nil }},
	{name: "oidc-issuer", env: "OCCID_OIDC_ISSUER", def: "",
		usage: "OpenID Connect issuer URL whose JWT bearer tokens are accepted (needs --oidc-audience)",
		set:   func(c *Config, v string) error { c.OIDCIssuer = v; return nil }},
	{name: "oidc-audience", env: "OCCID_OIDC_AUDIENCE", def: "",
		usage: "audience (client ID) an OIDC token must name",
		set:   func(c *Config, v string) error { c.OIDCAudience = v; return nil }},
	{name: "oidc-user-claim", env: "OCCID_OIDC_USER_CLAIM", def: "sub",
		usage: "OIDC claim that names the user",
		set:   func(c *Config, v string) error { c.OIDCUserClaim = v; return nil }},
	{name: "oidc-groups-claim", env: "OCCID_OIDC_GROUPS_CLAIM", def: "",
		usage: "OIDC claim that lists the user's groups, such as groups (default: none)",
		set:   func(c *Config, v string) error { c.OIDCGroupsClaim = v; return nil }},
	{name: "oidc-clock-skew", env: "OCCID_OIDC_CLOCK_SKEW", def: "1m",
		usage: "clock difference allowed for the times in OIDC tokens; a negative value such as -1s allows none",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration such as 1m, got %q", v)
			}
			if d == 0 {
				d = -1 // "0s" means no allowance, as a negative value does
			}
			c.OIDCClockSkew = d
			return nil
		}},
	{name: "tls-cert", env: "OCCID_TLS_CERT", def: "",
		usage: "PEM certificate (chain) to serve HTTPS with (needs --tls-key)",
		set:   func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{name: "tls-key", env: "OCCID_TLS_KEY", def: "",
		usage: "PEM private key of --tls-cert",
		set:   func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{name: "client-ca", env: "OCCID_CLIENT_CA", def: "",
		usage: "PEM file of the CAs whose X.509 client certificates authenticate users (needs --tls-cert)",
		set:   func(c *Config, v string) error { c.ClientCA = v; return nil }},
	{name: "client-dn-map", env: "OCCID_CLIENT_DN_MAP", def: "",
		usage: "file mapping client certificate subject DNs to users, one \"DN\" USER [GROUP,...] per line (default: the DN is the user)",
		set:   func(c *Config, v string) error { c.ClientDNMap = v; return nil }},
	{name: "keystone-url", env: "OCCID_KEYSTONE_URL", def: "",
		usage: "Keystone endpoint that validates X-Auth-Token (the OpenStack backend then acts with the caller's token); a service token may be given in OCCID_KEYSTONE_SERVICE_TOKEN",
		set:   func(c *Config, v string) error { c.KeystoneURL = v; return nil }},
	{name: "keystone-public-url", env: "OCCID_KEYSTONE_PUBLIC_URL", def: "",
		usage: "Keystone URL named in the 401 challenge (default: --keystone-url)",
		set:   func(c *Config, v string) error { c.KeystonePublicURL = v; return nil }},
}

func setPublicURL(c *Config, v string) error {
	if v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("want an absolute http or https URL such as https://cloud.example.org/occi, got %q", v)
		}
	}
	c.PublicURL = strings.TrimRight(v, "/")
	return nil
}

func durationSetter(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30s, got %q", v)
		}
		*field(c) = d
		return nil
	}
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("want true or false, got %q", v)
	}
	return b, nil
}

// parseSize reads a byte count: a whole number, optionally followed by B,
// KiB, MiB or GiB (KB, MB and GB are taken as the same powers of 1024).
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mult {
		return 0, fmt.Errorf("want a size such as 1048576, 512KiB or 1MiB, got %q", v)
	}
	return n * mult, nil
}

// errHelp is returned by ParseFlags after it printed the usage or the
// version: the program should exit successfully without running.
var errHelp = flag.ErrHelp

// parseConfig resolves the configuration from args, the environment
// (getenv) and the config file named by --config or OCCID_CONFIG.
// Precedence: flag, then environment, then file, then default.
func parseConfig(args []string, getenv func(string) string, stdout io.Writer, version string) (*Config, error) {
	fs := flag.NewFlagSet("occid", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*string{}
	bools := map[string]*bool{}
	for _, s := range settings {
		if s.bool {
			bools[s.name] = fs.Bool(s.name, false, s.usage)
		} else {
			vals[s.name] = fs.String(s.name, s.def, s.usage)
		}
	}
	configFlag := fs.String("config", "", "configuration file of key = value lines (keys are the flag names)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return nil, errHelp
		}
		return nil, fmt.Errorf("%v (see occid --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (occid takes only flags; see occid --help)", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintf(stdout, "occid %s (OCCI/1.2)\n", version)
		return nil, errHelp
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	c := &Config{ConfigFile: *configFlag}
	if !explicit["config"] {
		c.ConfigFile = getenv("OCCID_CONFIG")
	}
	file := map[string]string{}
	if c.ConfigFile != "" {
		var err error
		if file, err = readConfigFile(c.ConfigFile); err != nil {
			return nil, err
		}
	}
	for _, s := range settings {
		v, from := s.def, "default"
		if fv, ok := file[s.name]; ok {
			v, from = fv, "config file "+c.ConfigFile+" key "+s.name
		}
		if ev, ok := lookupEnv(getenv, s.env); ok {
			v, from = ev, "environment variable "+s.env
		}
		if explicit[s.name] {
			from = "flag --" + s.name
			if s.bool {
				v = strconv.FormatBool(*bools[s.name])
			} else {
				v = *vals[s.name]
			}
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s: %v", from, err)
		}
	}
	c.KeystoneServiceToken = getenv("OCCID_KEYSTONE_SERVICE_TOKEN")
	if err := checkListen(c); err != nil {
		return nil, err
	}
	return c, nil
}

// lookupEnv reads an environment variable; an empty value counts as unset.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// readConfigFile reads "key = value" lines; blank lines and lines starting
// with '#' are ignored; a value may be in double quotes.
func readConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %v", err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: want key = value, got %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !known[k] {
			return nil, fmt.Errorf("config file %s line %d: unknown key %q (keys are the flag names, such as listen or data-dir)", path, n, k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("config file %s line %d: key %q appears twice", path, n, k)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("config file %s line %d: bad quoted value %s", path, n, v)
			}
			v = uq
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	return out, nil
}

// checkListen checks the listen address and the TLS settings, and refuses
// a listen address that is not loopback when no authentication method is
// configured, unless the configuration says Insecure: anyone who could
// reach the port could create and delete machines.
func checkListen(c *Config) error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: want host:port such as 127.0.0.1:8080", c.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("listen address %q: port %q is not a number from 0 to 65535", c.Listen, port)
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return fmt.Errorf("--tls-cert needs --tls-key (the certificate's private key)")
	case c.TLSKey != "" && c.TLSCert == "":
		return fmt.Errorf("--tls-key needs --tls-cert")
	case c.ClientCA != "" && c.TLSCert == "":
		return fmt.Errorf("--client-ca needs --tls-cert and --tls-key: client certificates work only when occid serves TLS itself")
	case c.ClientDNMap != "" && c.ClientCA == "":
		return fmt.Errorf("--client-dn-map needs --client-ca")
	case c.OIDCAudience != "" && c.OIDCIssuer == "":
		return fmt.Errorf("--oidc-audience needs --oidc-issuer")
	case c.OIDCIssuer != "" && c.OIDCAudience == "":
		return fmt.Errorf("--oidc-issuer needs --oidc-audience (the client ID tokens must name)")
	case c.KeystonePublicURL != "" && c.KeystoneURL == "":
		return fmt.Errorf("--keystone-public-url needs --keystone-url")
	}
	if c.Insecure || c.authConfigured() || auth.IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address and no authentication method is configured, "+
		"so anyone who can reach it could create and delete machines; turn on authentication (--auth-tokens, "+
		"--htpasswd, --oidc-issuer, --client-ca or --keystone-url), listen on 127.0.0.1 (e.g. behind an "+
		"authenticating proxy), or pass --insecure (OCCID_INSECURE=true) if you really mean it", c.Listen)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: occid [flags]

occid is an OCCI 1.2 server. Every flag can also be set by its environment
variable or by a line "key = value" in the file given by --config (or
OCCID_CONFIG); keys are the flag names. A flag beats the environment, which
beats the file, which beats the default.

Flags:
`)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s\n      env %s, default %s\n", s.name, s.usage, s.env, def)
	}
	fmt.Fprint(w, "  OCCID_KEYSTONE_SERVICE_TOKEN (environment only)\n      Keystone service token that validates callers' tokens (default: each token validates itself)\n")
	fmt.Fprint(w, "  --config FILE\n      configuration file of key = value lines\n      env OCCID_CONFIG\n")
	fmt.Fprint(w, "  --version\n      print the version and exit\n")
}

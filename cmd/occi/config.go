package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// defaultEndpoint is the endpoint when no flag, variable or file names one.
const defaultEndpoint = "http://127.0.0.1:8080"

// globals are the settings every command takes, resolved from flags, the
// environment, the config file and defaults, in that order of precedence.
type globals struct {
	Endpoint  string
	Token     string
	User      string
	Password  string
	Rendering string
	Output    string
	Config    string
	Timeout   time.Duration
	Quiet     bool
}

// setting is one key of the configuration: its flag (also its key in the
// config file), its environment variable and its default.
type setting struct {
	name, env, def, usage string
	field                 func(g *globals) *string
}

var settings = []setting{
	{"endpoint", "OCCI_ENDPOINT", defaultEndpoint, "base URL of the OCCI server", func(g *globals) *string { return &g.Endpoint }},
	{"token", "OCCI_TOKEN", "", "bearer token (sent as Authorization: Bearer)", func(g *globals) *string { return &g.Token }},
	{"user", "OCCI_USER", "", "user name for HTTP Basic authentication", func(g *globals) *string { return &g.User }},
	{"password", "OCCI_PASSWORD", "", "password for HTTP Basic authentication", func(g *globals) *string { return &g.Password }},
	{"rendering", "OCCI_RENDERING", "text", "rendering on the wire: text (text/plain), occi (text/occi) or json (application/occi+json)", func(g *globals) *string { return &g.Rendering }},
	{"output", "OCCI_OUTPUT", "table", "output: table (for people), text (OCCI text/plain) or json (OCCI JSON, for scripts)", func(g *globals) *string { return &g.Output }},
}

// flagValues are the global flags as parsed, before precedence applies.
type flagValues struct {
	vals    map[string]*string
	config  *string
	timeout *time.Duration
	quiet   *bool
	set     map[string]bool
}

// addGlobalFlags registers the global flags on fs. Several flag sets may
// share one flagValues: the one before the command and the command's own.
func addGlobalFlags(fs *flag.FlagSet, fv *flagValues) {
	if fv.vals == nil {
		fv.vals = map[string]*string{}
		fv.set = map[string]bool{}
		fv.config = new(string)
		fv.timeout = new(time.Duration)
		*fv.timeout = 5 * time.Minute
		fv.quiet = new(bool)
		for _, s := range settings {
			fv.vals[s.name] = new(string)
		}
	}
	// Registering a flag stores its default in the variable, so the values
	// already parsed by an earlier flag set (the global flags before the
	// command) are passed as the defaults here, never reset.
	for _, s := range settings {
		fs.StringVar(fv.vals[s.name], s.name, *fv.vals[s.name], s.usage)
	}
	fs.StringVar(fv.config, "config", *fv.config, "config file of key = value lines (default ~/.config/occi/config)")
	fs.DurationVar(fv.timeout, "timeout", *fv.timeout, "give up on the command after this long")
	fs.BoolVar(fv.quiet, "q", *fv.quiet, "print only locations (or nothing), for scripts")
	fs.BoolVar(fv.quiet, "quiet", *fv.quiet, "same as -q")
}

// record notes which flags fs saw.
func (fv *flagValues) record(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) { fv.set[f.Name] = true })
}

// resolve applies precedence: flag, then environment, then file, then
// default. home returns the user's configuration directory.
func (fv *flagValues) resolve(getenv func(string) string, configDir func() (string, error)) (*globals, error) {
	g := &globals{Timeout: *fv.timeout, Quiet: *fv.quiet}
	path, explicit := *fv.config, fv.set["config"]
	if !explicit {
		if p := getenv("OCCI_CONFIG"); p != "" {
			path, explicit = p, true
		}
	}
	if path == "" {
		if dir, err := configDir(); err == nil && dir != "" {
			path = filepath.Join(dir, "occi", "config")
		}
	}
	file := map[string]string{}
	if path != "" {
		var err error
		file, err = readConfigFile(path)
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			file, err = map[string]string{}, nil
		}
		var ue *usageError
		if err != nil && !errors.As(err, &ue) {
			return nil, usageErrorf("config file: %v", err)
		}
		if err != nil {
			return nil, err
		}
		g.Config = path
	}
	for _, s := range settings {
		v := s.def
		if fv, ok := file[s.name]; ok {
			v = fv
		}
		if ev := getenv(s.env); ev != "" {
			v = ev
		}
		if fv.set[s.name] {
			v = *fv.vals[s.name]
		}
		*s.field(g) = v
	}
	switch g.Output {
	case "table", "text", "json":
	default:
		return nil, usageErrorf("output %q: want table, text or json", g.Output)
	}
	return g, nil
}

// readConfigFile reads "key = value" lines; blank lines and lines starting
// with '#' are ignored; a value may be in double quotes.
func readConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, data)
}

// parseConfig reads the contents of a config file.
func parseConfig(path string, data []byte) (map[string]string, error) {
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, usageErrorf("config file %s line %d: want key = value, got %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !known[k] {
			return nil, usageErrorf("config file %s line %d: unknown key %q (keys: endpoint, token, user, password, rendering, output)", path, n, k)
		}
		if _, dup := out[k]; dup {
			return nil, usageErrorf("config file %s line %d: key %q appears twice", path, n, k)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, usageErrorf("config file %s line %d: bad quoted value %s", path, n, v)
			}
			v = uq
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, usageErrorf("config file %s: %v", path, err)
	}
	return out, nil
}

package simbackend

import (
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// OpenURL opens a simulator described by a sim URL:
//
//	sim://                    state in dataDir/sim (in memory if dataDir is "")
//	sim:///abs/dir            state in /abs/dir
//	sim://?memory=true        in memory even if dataDir is set
//	sim://?delay=2s&seed=42   a boot or stop takes 2 s; reproducible ids
//
// Query options are delay (a Go duration), seed (an unsigned integer) and
// memory (a boolean). Any other scheme, host or option is an error that
// ErrorCode classifies as InvalidArgument.
func OpenURL(rawURL, dataDir string) (*Driver, error) {
	opts, err := parseURL(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	return Open(opts)
}

// parseURL turns a sim URL into Options.
func parseURL(rawURL, dataDir string) (Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Options{}, errorf(ErrInvalid, "backend URL %q: %v", rawURL, err)
	}
	if u.Scheme != "sim" {
		return Options{}, errorf(ErrInvalid, "backend URL %q: scheme %q is not sim", rawURL, u.Scheme)
	}
	if u.Host != "" || u.User != nil || u.Opaque != "" {
		return Options{}, errorf(ErrInvalid, "backend URL %q: want sim:// or sim:///dir, with no host", rawURL)
	}
	opts := Options{}
	if dataDir != "" {
		opts.Dir = filepath.Join(dataDir, "sim")
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		opts.Dir = p
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Options{}, errorf(ErrInvalid, "backend URL %q: query: %v", rawURL, err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "delay":
			dl, err := time.ParseDuration(v)
			if err != nil || dl < 0 {
				return Options{}, errorf(ErrInvalid, "backend URL %q: delay %q is not a non-negative duration such as 2s", rawURL, v)
			}
			opts.Delay = dl
		case "seed":
			s, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Options{}, errorf(ErrInvalid, "backend URL %q: seed %q is not an unsigned integer", rawURL, v)
			}
			opts.Seed = s
		case "memory":
			m, err := strconv.ParseBool(v)
			if err != nil {
				return Options{}, errorf(ErrInvalid, "backend URL %q: memory %q is not a boolean", rawURL, v)
			}
			if m {
				opts.Dir = ""
			}
		default:
			return Options{}, errorf(ErrInvalid, "backend URL %q: unknown option %q (want delay, seed or memory)", rawURL, key)
		}
	}
	return opts, nil
}

package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/libvirtbackend"
	"github.com/occid/occi/backend/openstackbackend"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/memstore"
	"github.com/occid/occi/store/pgstore"
	"github.com/occid/occi/store/sqlitestore"
)

// openStore opens the store named by rawURL:
//
//	""                       SQLite at dataDir/occid.db
//	sqlite:///abs/path.db    SQLite at an absolute path
//	sqlite:rel/path.db       SQLite at a path relative to the working directory
//	postgres://… postgresql://…  PostgreSQL (a pgx connection string)
//	memory:                  in memory; everything is lost on exit
//
// It returns the store and a description safe to log (no password).
func openStore(ctx context.Context, rawURL, dataDir string) (store.Store, string, error) {
	switch {
	case rawURL == "":
		p := filepath.Join(dataDir, "occid.db")
		st, err := sqlitestore.Open(p)
		if err != nil {
			return nil, "", fmt.Errorf("store: opening SQLite at %s: %w", p, err)
		}
		return st, "sqlite:" + p, nil
	case rawURL == "memory:" || rawURL == "memory://":
		return memstore.New(), "memory:", nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		if p == "" {
			return nil, "", fmt.Errorf("store URL %q names no file; want sqlite:///path/occid.db", rawURL)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, "", fmt.Errorf("store: %w", err)
		}
		st, err := sqlitestore.Open(p)
		if err != nil {
			return nil, "", fmt.Errorf("store: opening SQLite at %s: %w", p, err)
		}
		return st, "sqlite:" + p, nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		safe := redact(rawURL)
		st, err := pgstore.Open(ctx, rawURL)
		if err != nil {
			return nil, "", fmt.Errorf("store: opening PostgreSQL at %s: %w", safe, err)
		}
		return st, safe, nil
	}
	return nil, "", fmt.Errorf("store URL %q: want sqlite:///path, postgres://…, or memory:", redact(rawURL))
}

// openBackend opens the backend named by rawURL:
//
//	sim://…                          the simulator, state in dataDir/sim
//	qemu:///system, qemu+ssh://…, qemu+tcp://…, test:///default   libvirt
//	openstack, openstack://CLOUD     OpenStack (OS_* variables, or CLOUD in clouds.yaml)
func openBackend(ctx context.Context, rawURL, dataDir string) (backend.Driver, error) {
	scheme, _, _ := strings.Cut(rawURL, ":")
	switch {
	case scheme == "sim":
		d, err := simbackend.OpenURL(rawURL, dataDir)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", rawURL, err)
		}
		return d, nil
	case scheme == "qemu" || strings.HasPrefix(scheme, "qemu+") || scheme == "test":
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return nil, err
		}
		d, err := libvirtbackend.Open(ctx, libvirtbackend.Options{URI: rawURL, DataDir: filepath.Join(abs, "libvirt")})
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", redact(rawURL), err)
		}
		return d, nil
	case rawURL == "openstack" || scheme == "openstack":
		cloud := strings.TrimPrefix(strings.TrimPrefix(rawURL, "openstack"), "://")
		d, err := openstackbackend.Open(ctx, openstackbackend.Options{Cloud: cloud})
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", rawURL, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("backend URL %q: want sim://, qemu:///system, qemu+ssh://user@host/system, test:///default, openstack or openstack://CLOUD", redact(rawURL))
}

// redact hides a password in a URL.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return raw
}

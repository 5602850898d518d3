package pgstore

import (
	"context"

	"github.com/occid/occi/store"
)

// Statements of the optional reads, for the plan tests.
const (
	SQLGetLinked   = sqlGetLinked
	SQLListSourced = sqlListSourced
)

// SelectLocations returns the statement ListLocations sends for q.
func SelectLocations(q store.Query) (string, []any) { return selectLocations(q) }

// SetProbe makes every write transaction of s run query last, just before
// it commits, and hand its one text value to report. Call it before the
// first Write.
func SetProbe(s *Store, query string, report func(string)) { s.probe, s.probed = query, report }

// IdleSettings returns the value of the run-time setting name on every
// idle connection of the pool of s, as a session sees it.
func IdleSettings(ctx context.Context, s *Store, name string) ([]string, error) {
	conns := s.pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	var out []string
	for _, c := range conns {
		var v string
		if err := c.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Migrations are the schema migrations, for the test of an upgrade.
var Migrations = migrations

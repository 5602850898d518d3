package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/occid/occi/store"
	"github.com/occid/occi/store/sqlitestore"
	"github.com/occid/occi/store/storetest"
)

func openAt(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) (store.Store, storetest.Reopen) {
			path := filepath.Join(t.TempDir(), "occid.db")
			return openAt(t, path), func(t *testing.T) store.Store { return openAt(t, path) }
		},
		Shared: true,
	})
}

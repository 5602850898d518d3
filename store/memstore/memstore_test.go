package memstore_test

import (
	"testing"

	"github.com/occid/occi/store"
	"github.com/occid/occi/store/memstore"
	"github.com/occid/occi/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) (store.Store, storetest.Reopen) {
			return memstore.New(), nil
		},
	})
}

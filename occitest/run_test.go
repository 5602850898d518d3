package occitest_test

import (
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occitest"
	"github.com/occid/occi/store/memstore"
)

// TestEngine runs the suite against the engine over an in-memory store and
// the simulated backend.
func TestEngine(t *testing.T) {
	occitest.Run(t, func(t *testing.T) occi.Service {
		drv, err := simbackend.Open(simbackend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st := memstore.New()
		e, err := engine.New(engine.Config{Store: st, Driver: drv, ObserveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			e.Close()
			drv.Close()
			st.Close()
		})
		return e
	})
}

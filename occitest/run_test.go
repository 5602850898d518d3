package occitest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occitest"
	"github.com/occid/occi/store/memstore"
)

// TestEngine runs the suite against the engine over an in-memory store and
// the simulated backend, instant and with operations that take time (so
// that saved templates are seen while they are still saving).
func TestEngine(t *testing.T) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprintf("delay=%v", delay), func(t *testing.T) {
			if delay > 0 && testing.Short() {
				t.Skip("slow backend skipped in -short mode")
			}
			runEngine(t, delay)
		})
	}
}

func runEngine(t *testing.T, delay time.Duration) {
	occitest.Run(t, func(t *testing.T) occi.Service {
		drv, err := simbackend.Open(simbackend.Options{Delay: delay})
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

package libvirtbackend

import (
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/backendtest"
)

// TestConformanceTestDriver runs the backend conformance suite against
// libvirt's built-in test driver (test:///default through libvirtd): no
// guests, so no disk probe; save offers only deferred there.
func TestConformanceTestDriver(t *testing.T) {
	needLibvirt(t)
	keepTestDriver(t)
	opts := testOptions(t, "test:///default")
	backendtest.Run(t, backendtest.Harness{
		Open: func(t *testing.T) backend.Driver { return openTest(t, opts, "") },
		Reopen: func(t *testing.T, old backend.Driver) backend.Driver {
			if err := old.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			return openTest(t, opts, "")
		},
		OSTemplate: "tinyos",
		Timeout:    time.Minute,
	})
}

// TestConformanceQEMU runs the conformance suite against real QEMU guests
// booted from the tinyos image.
func TestConformanceQEMU(t *testing.T) {
	env := needQEMU(t)
	opts := testOptions(t, env.uri)
	backendtest.Run(t, backendtest.Harness{
		Open: func(t *testing.T) backend.Driver { return openTest(t, opts, env.tinyos) },
		Reopen: func(t *testing.T, old backend.Driver) backend.Driver {
			if err := old.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			return openTest(t, opts, env.tinyos)
		},
		OSTemplate: "tinyos",
		Timeout:    2 * time.Minute,
		BootWait:   60 * time.Second,
		DiskProbe:  diskProbe,
		KillOutOfBand: func(t *testing.T, d backend.Driver, e *occi.Entity) {
			powerOffOutOfBand(t, d.(*Driver), e)
		},
		Parallel: 2,
	})
}

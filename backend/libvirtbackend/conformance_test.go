package libvirtbackend

import (
	"os/exec"
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
		// Another connection through libvirtd (virsh alone would run its own
		// test driver) powers the domain off (the test driver's
		// state is shared by all connections to test:///default).
		KillOutOfBand: func(t *testing.T, d backend.Driver, e *occi.Entity) {
			out, err := exec.Command("virsh", "-c", "test+unix:///default", "destroy", d.(*Driver).domainName(e)).CombinedOutput()
			if err != nil {
				t.Fatalf("virsh destroy: %v: %s", err, out)
			}
		},
	})
}

// TestConformanceQEMU runs the conformance suite against real QEMU guests
// booted from the tinyos image.
func TestConformanceQEMU(t *testing.T) {
	env := needQEMU(t)
	t.Parallel()
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
		// A tinyos guest boots in ~3 s on an idle machine; on a loaded
		// 2-core CI machine under TCG it has taken over a minute.
		Timeout:   3 * time.Minute,
		BootWait:  150 * time.Second,
		DiskProbe: diskProbe,
		KillOutOfBand: func(t *testing.T, d backend.Driver, e *occi.Entity) {
			powerOffOutOfBand(t, d.(*Driver), e)
		},
		Parallel: 2,
	})
}

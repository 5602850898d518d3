package simbackend_test

import (
	"context"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/backendtest"
	"github.com/occid/occi/backend/simbackend"
)

func open(t *testing.T, opts simbackend.Options) *simbackend.Driver {
	t.Helper()
	d, err := simbackend.Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	return d
}

func diskProbe(_ context.Context, d backend.Driver, e *occi.Entity) (int, error) {
	boots, ok := d.(*simbackend.Driver).Disk(e.Location)
	if !ok {
		return 0, occi.Errorf(occi.NotFound, "no disk for %s", e.Location)
	}
	return boots, nil
}

func kill(t *testing.T, d backend.Driver, e *occi.Entity) {
	t.Helper()
	if err := d.(*simbackend.Driver).Kill(e.Location); err != nil {
		t.Fatalf("Kill(%s): %v", e.Location, err)
	}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		disk  bool
	}{
		{name: "memory", delay: 0},
		{name: "dir", delay: 0, disk: true},
		{name: "delayed", delay: 20 * time.Millisecond, disk: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := backendtest.Harness{
				Open: func(t *testing.T) backend.Driver {
					dir := ""
					if tt.disk {
						dir = t.TempDir()
					}
					return open(t, simbackend.Options{Dir: dir, Delay: tt.delay})
				},
				OSTemplate:    "tinyos",
				Timeout:       20 * time.Second,
				DiskProbe:     diskProbe,
				KillOutOfBand: kill,
			}
			if tt.disk {
				h.Reopen = func(t *testing.T, old backend.Driver) backend.Driver {
					dir := old.(*simbackend.Driver).Dir()
					if err := old.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
					return open(t, simbackend.Options{Dir: dir, Delay: tt.delay})
				}
			}
			if tt.name == "memory" {
				h.ResourceTemplate = "small"
			}
			backendtest.Run(t, h)
		})
	}
}

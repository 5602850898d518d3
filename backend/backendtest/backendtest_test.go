package backendtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/backendtest"
	"github.com/occid/occi/backend/simbackend"
)

// broken wraps the simulator and breaks one rule of the contract, to prove
// that the suite notices.
type broken struct {
	*simbackend.Driver
	flaw string

	mu      sync.Mutex
	deleted []string
	cache   map[string]backend.Observation
}

func (b *broken) Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, p backend.ProgressFunc) (backend.Observation, error) {
	switch b.flaw {
	case "unimplemented":
		if inv.Action.Term == "suspend" {
			return backend.Observation{}, occi.Errorf(occi.Unimplemented, "suspend is not implemented")
		}
	case "permissive":
		if obs, err := b.Driver.Observe(ctx, e); err == nil && inv.Action.Term == "start" && obs.State == "active" {
			return obs, nil
		}
	case "ignores-cancel":
		ctx = context.Background()
	}
	return b.Driver.Act(ctx, e, inv, p)
}

func (b *broken) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if b.flaw == "fresh-disk" && strings.HasPrefix(req.OSTemplate, "bt-") {
		req.OSTemplate = "tinyos"
	}
	return b.Driver.Create(ctx, req)
}

func (b *broken) Update(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	if b.flaw == "ignores-templates" {
		updated = updated.Clone()
		updated.Mixins = old.Mixins
		for _, k := range []string{"occi.compute.cores", "occi.compute.memory"} {
			updated.Attributes[k] = old.Attributes[k]
		}
	}
	return b.Driver.Update(ctx, old, updated)
}

func (b *broken) Delete(ctx context.Context, e *occi.Entity) error {
	b.mu.Lock()
	b.deleted = append(b.deleted, e.Location)
	b.mu.Unlock()
	return b.Driver.Delete(ctx, e)
}

func (b *broken) Observe(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	obs, err := b.Driver.Observe(ctx, e)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.flaw {
	case "stale":
		if c, ok := b.cache[e.Location]; ok && c.State == "active" {
			return c, nil
		}
		if b.cache == nil {
			b.cache = map[string]backend.Observation{}
		}
		b.cache[e.Location] = obs
	case "never-gone":
		if obs.Gone {
			return backend.Observation{State: "inactive", Ref: e.BackendRef}, nil
		}
	}
	return obs, err
}

func (b *broken) Leftovers(ctx context.Context) ([]string, error) {
	left, err := b.Driver.Leftovers(ctx)
	if b.flaw == "leaky" {
		b.mu.Lock()
		for _, l := range b.deleted {
			if strings.HasPrefix(l, "/storage/") {
				left = append(left, "volume:"+l)
			}
		}
		b.mu.Unlock()
	}
	return left, err
}

func (b *broken) ErrorCode(err error) occi.Code {
	if b.flaw == "wrong-code" {
		return occi.Internal
	}
	return b.Driver.ErrorCode(err)
}

func harness(flaw string) backendtest.Harness {
	return backendtest.Harness{
		Open: func(t *testing.T) backend.Driver {
			d, err := simbackend.Open(simbackend.Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return &broken{Driver: d, flaw: flaw}
		},
		OSTemplate: "tinyos",
		Timeout:    time.Second,
		DiskProbe: func(_ context.Context, d backend.Driver, e *occi.Entity) (int, error) {
			n, ok := d.(*broken).Disk(e.Location)
			if !ok {
				return 0, occi.Errorf(occi.NotFound, "no disk for %s", e.Location)
			}
			return n, nil
		},
		KillOutOfBand: func(t *testing.T, d backend.Driver, e *occi.Entity) {
			if err := d.(*broken).Kill(e.Location); err != nil {
				t.Fatalf("Kill: %v", err)
			}
		},
	}
}

// TestBrokenDriver runs the suite against one broken driver; it only runs
// as the child process of TestSuiteCatches.
func TestBrokenDriver(t *testing.T) {
	flaw := os.Getenv("BACKENDTEST_FLAW")
	if flaw == "" {
		t.Skip("runs as a child of TestSuiteCatches")
	}
	backendtest.Run(t, harness(flaw))
}

func TestSuiteCatches(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct {
		flaw  string
		cases string // -test.run pattern below TestBrokenDriver
		want  string // in the child's output
	}{
		{"", "", "PASS"},
		{"unimplemented", "Compute/Lifecycle", "Unimplemented, yet the driver advertises the action"},
		{"permissive", "Compute/Refused", "Act(/compute/"},
		{"ignores-cancel", "Cancel/Before", "with a cancelled context: succeeded, want an error"},
		{"fresh-disk", "Save/hot", "got boot counter 1"},
		{"ignores-templates", "Compute/Reimage", "got boot counter 1"},
		{"ignores-templates", "Compute/Resize", "got occi.compute.cores 1, want 2"},
		{"stale", "OutOfBand", `got state "active"`},
		{"never-gone", "Compute/Lifecycle", "want Gone or NotFound"},
		{"leaky", "Storage/Lifecycle", "still holds"},
		{"wrong-code", "Network/Refused", "got code Internal"},
	}
	for _, tt := range tests {
		name := tt.flaw + "/" + tt.cases
		if tt.flaw == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			run := "^TestBrokenDriver$"
			if tt.cases != "" {
				run += "/^" + tt.cases + "$"
			}
			flaw := tt.flaw
			if flaw == "" {
				flaw = "none"
			}
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v")
			cmd.Env = append(os.Environ(), "BACKENDTEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if tt.flaw == "" {
				if err != nil {
					t.Fatalf("the suite failed against the unbroken simulator: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("the suite passed against a driver with flaw %q, want a failure\n%s", tt.flaw, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("the suite failed against flaw %q without saying %q:\n%s", tt.flaw, tt.want, out)
			}
		})
	}
}

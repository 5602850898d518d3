// Package backendtest is the conformance suite of the backend.Driver
// contract. Every driver runs it: the simulator in memory and on disk, the
// libvirt driver against real QEMU, the OpenStack driver against a real
// cloud. The suite plays the engine: it builds entities as the engine would
// store them, calls the driver and checks what a user would see.
//
// Only what Capabilities advertises is tested, and everything advertised is:
// each advertised kind goes through its life, each advertised action is
// invoked at least once (an Unimplemented answer fails the suite), each save
// method produces a template that a new compute boots from. Several cases
// delete computes that are running: Delete must work in every state. The
// suite also checks what it can see of the disk through Harness.DiskProbe
// (boots, resumes that are not boots, saved disks carried over), that
// refused actions are FailedPrecondition and change nothing, that deleted
// objects are reported Gone or NotFound and leave nothing behind, that a
// cancelled context ends a call promptly, that changes made behind the
// driver's back show in Observe and Watch, and that a reopened driver finds
// everything again. Cases are bounded
// for real virtual machines (see Harness.Timeout and Harness.BootWait) and
// instant with the simulator.
package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Harness tells the suite how to use a driver.
type Harness struct {
	// Open returns a driver for one test case. The suite closes it when the
	// case ends. Cases run one after another; each should start from a
	// driver that holds nothing made by an earlier case (a fresh simulator,
	// or a real one cleaned by the suite's deletions).
	Open func(t *testing.T) backend.Driver

	// Reopen, if set, closes old and returns a new driver over the same
	// persistent state, as a restarted server would get. The persistence
	// case runs only when it is set.
	Reopen func(t *testing.T, old backend.Driver) backend.Driver

	// OSTemplate is the OS template computes are created from ("" means
	// the first ready OS template the driver lists). Real drivers use a
	// small fast guest, such as tinyos.
	OSTemplate string
	// ResourceTemplate, if set, sizes the computes the suite creates.
	ResourceTemplate string

	// Timeout bounds every driver call and every wait for a state
	// (default 2 minutes).
	Timeout time.Duration
	// BootWait bounds how long a guest takes to boot once started. With
	// DiskProbe set the suite polls the probe for that long; without it,
	// the suite sleeps BootWait after every boot so that a graceful stop
	// finds a booted guest (default 0: no wait).
	BootWait time.Duration

	// DiskProbe, if set, returns the boot counter of the guest behind e as
	// of its last completed boot (the simulator's Disk, the tinyos serial
	// console for libvirt). It may return an error while the guest has not
	// booted yet; the suite retries until BootWait (or Timeout) ends. The
	// suite assumes that the disks of the OS template start at 0 and that
	// every boot adds 1.
	DiskProbe func(ctx context.Context, d backend.Driver, e *occi.Entity) (boots int, err error)

	// KillOutOfBand, if set, makes the running compute behind e stop
	// without the driver being asked (killing its QEMU process, say). The
	// out-of-band case runs only when it is set.
	KillOutOfBand func(t *testing.T, d backend.Driver, e *occi.Entity)

	// Parallel is the number of computes the concurrency case drives at
	// once (default 4).
	Parallel int
	// StorageSize is the size in GiB of the storages the suite creates
	// (default 1).
	StorageSize float64
	// NetworkPrefix is the first two octets of the IPv4 ranges the suite
	// gives its networks, as in "10.213" (default): the networks are
	// PREFIX.N.0/24, N counting from a random start. Pick a range no host
	// network uses.
	NetworkPrefix string
}

// LeftoverLister is implemented by drivers that can list what they hold in
// their system (domains, volumes, networks, saved images...). The suite
// compares the list before and after each case: anything new after the case
// deleted all it made is a leak.
type LeftoverLister interface {
	Leftovers(ctx context.Context) ([]string, error)
}

// Run runs the whole suite against the driver h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("backendtest: Harness.Open is nil")
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Minute
	}
	if h.Parallel <= 0 {
		h.Parallel = 4
	}
	if h.StorageSize <= 0 {
		h.StorageSize = 1
	}
	if h.NetworkPrefix == "" {
		h.NetworkPrefix = "10.213"
	}
	s := &suite{h: h, exercised: map[occi.CategoryID]bool{}}
	// Start the network ranges at a random place so that two runs at once
	// (two drivers, or two processes) rarely pick the same range.
	s.netSeq.Store(int64(randomByte()))
	var caps backend.Capabilities
	ran := 0
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"Capabilities", s.testCapabilities},
		{"Templates", s.testTemplates},
		{"Compute/Lifecycle", s.testComputeLifecycle},
		{"Compute/Refused", s.testComputeRefused},
		{"Compute/Resize", s.testResize},
		{"Compute/Reimage", s.testReimage},
		{"Storage/Lifecycle", s.testStorageLifecycle},
		{"Storage/Refused", s.testStorageRefused},
		{"Network/Lifecycle", s.testNetworkLifecycle},
		{"Network/Refused", s.testNetworkRefused},
		{"Links", s.testLinks},
		{"Links/DeletedWithCompute", s.testLinksDeletedWithCompute},
		{"Save/hot", func(t *testing.T, e *env) { s.testSave(t, e, "hot") }},
		{"Save/deferred", func(t *testing.T, e *env) { s.testSave(t, e, "deferred") }},
		{"Missing", s.testMissing},
		{"Concurrent", s.testConcurrent},
		{"Cancel/Before", s.testCancelBefore},
		{"Cancel/During", s.testCancelDuring},
		{"OutOfBand", s.testOutOfBand},
		{"Reopen", s.testReopen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran++
			e := s.newEnv(t)
			caps = e.caps
			c.run(t, e)
		})
	}
	// Every advertised Infrastructure action must have worked somewhere
	// (checked only when no case was filtered out with -run).
	if t.Failed() || ran < len(cases) {
		return
	}
	for _, a := range caps.Actions {
		if _, infra := actionKind[a.Scheme]; infra && !s.exercised[a] {
			t.Errorf("the driver advertises %s but no case could run it successfully (are its cases skipped?)", a)
		}
	}
}

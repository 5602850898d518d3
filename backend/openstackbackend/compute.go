package openstackbackend

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Nova's vm_state values (OS-EXT-STS:vm_state).
const (
	vmActive           = "active"
	vmBuilding         = "building"
	vmStopped          = "stopped"
	vmSuspended        = "suspended"
	vmPaused           = "paused"
	vmShelved          = "shelved"
	vmShelvedOffloaded = "shelved_offloaded"
	vmError            = "error"
	vmResized          = "resized"
	vmRescued          = "rescued"
	vmDeleted          = "deleted"
	vmSoftDeleted      = "soft-delete"
)

// vmStateOf returns the server's vm_state, derived from its status when
// the extended attribute is hidden by policy.
func vmStateOf(s *servers.Server) string {
	if s.VmState != "" {
		return strings.ToLower(s.VmState)
	}
	switch strings.ToUpper(s.Status) {
	case "ACTIVE", "REBOOT", "HARD_REBOOT", "PASSWORD", "MIGRATING", "RESIZE", "REVERT_RESIZE":
		return vmActive
	case "BUILD", "REBUILD":
		return vmBuilding
	case "SHUTOFF":
		return vmStopped
	case "SUSPENDED":
		return vmSuspended
	case "PAUSED":
		return vmPaused
	case "SHELVED":
		return vmShelved
	case "SHELVED_OFFLOADED":
		return vmShelvedOffloaded
	case "ERROR":
		return vmError
	case "VERIFY_RESIZE":
		return vmResized
	case "RESCUE":
		return vmRescued
	case "DELETED":
		return vmDeleted
	case "SOFT_DELETED":
		return vmSoftDeleted
	}
	return ""
}

// taskStateOf returns the server's task_state ("" when none), falling back
// on transitional statuses when the extended attribute is hidden.
func taskStateOf(s *servers.Server) string {
	if s.TaskState != "" {
		return s.TaskState
	}
	if s.VmState == "" {
		switch strings.ToUpper(s.Status) {
		case "BUILD":
			return "spawning"
		case "REBOOT":
			return "rebooting"
		case "HARD_REBOOT":
			return "rebooting_hard"
		case "REBUILD":
			return "rebuilding"
		case "RESIZE":
			return "resize_migrating"
		case "MIGRATING":
			return "migrating"
		}
	}
	return ""
}

// serverObservation maps a Nova server onto OCCI: vm_state active →
// active, stopped → inactive, suspended, paused and shelved → suspended,
// error → error with the fault message; a building server is inactive and
// any task in progress (powering-off, image_uploading, …) is shown in the
// message, never turned into a guessed state.
func serverObservation(s *servers.Server) backend.Observation {
	o := backend.Observation{Ref: s.ID, Attributes: occi.Attributes{}}
	vm := vmStateOf(s)
	var msg []string
	switch vm {
	case vmActive:
		o.State = stateActive
	case vmStopped:
		o.State = stateInactive
	case vmSuspended:
		o.State = stateSuspended
	case vmPaused, vmShelved, vmShelvedOffloaded:
		o.State = stateSuspended
		msg = append(msg, strings.ReplaceAll(vm, "_", " "))
	case vmError:
		o.State = stateError
		if s.Fault.Message != "" {
			msg = append(msg, s.Fault.Message)
		} else {
			msg = append(msg, "Nova reports the server in ERROR without a fault message")
		}
	case vmBuilding:
		o.State = stateInactive
		msg = append(msg, "building")
	case vmResized:
		o.State = powerState(s)
		msg = append(msg, "resized, waiting for confirmation")
	case vmRescued:
		o.State = stateActive
		msg = append(msg, "rescued")
	case vmSoftDeleted:
		o.State = stateInactive
		msg = append(msg, "soft-deleted")
	case vmDeleted:
		return backend.Observation{Ref: s.ID, Gone: true}
	default:
		o.State = powerState(s)
		msg = append(msg, fmt.Sprintf("Nova status %s", s.Status))
	}
	if t := taskStateOf(s); t != "" {
		msg = append(msg, t)
	}
	o.Message = strings.Join(msg, "; ")
	if v, ok := number(s.Flavor["vcpus"]); ok {
		o.Attributes[attrCores] = int64(v)
	}
	if v, ok := number(s.Flavor["ram"]); ok {
		o.Attributes[attrMemory] = v / 1024
	}
	return o
}

// powerState maps the hypervisor's power state when vm_state does not say.
func powerState(s *servers.Server) string {
	switch s.PowerState {
	case servers.RUNNING:
		return stateActive
	case servers.PAUSED, servers.SUSPENDED:
		return stateSuspended
	case servers.CRASHED:
		return stateError
	}
	return stateInactive
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func attrString(a occi.Attributes, name string) string {
	s, _ := a[name].(string)
	return s
}

func attrNumber(a occi.Attributes, name string) (float64, bool) {
	return number(a[name])
}

// serverName is what Nova calls the server (and derives the guest's
// hostname from): occi.compute.hostname, else the title, else occi-ID.
func serverName(e *occi.Entity) string {
	if h := attrString(e.Attributes, attrHostname); h != "" {
		return h
	}
	if e.Title != "" {
		return e.Title
	}
	return "occi-" + e.ID
}

// userDataForNova returns occi.compute.userdata as the base64 that Nova
// requires: a value that already is standard base64 is passed as is, any
// other is encoded (GFD.224 leaves the encoding open; rOCCI sends base64).
func userDataForNova(s string) string {
	if _, err := base64.StdEncoding.DecodeString(s); err == nil {
		return s
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// sshPublicKey returns occi.credentials.ssh.publickey as OpenSSH text,
// decoding it first when it was sent as base64 of that text.
func sshPublicKey(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || looksLikeOpenSSH(s) {
		return s
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && looksLikeOpenSSH(strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b))
	}
	return s
}

func looksLikeOpenSSH(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-", "sk-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func keypairName(e *occi.Entity) string { return keypairPrefix + e.ID }

func (d *Driver) createServer(ctx context.Context, c *clients, req backend.CreateRequest) (backend.Observation, error) {
	e := req.Entity
	flavorID, err := d.pickFlavor(ctx, c, req.ResourceTemplate, e.Attributes)
	if err != nil {
		return backend.Observation{}, err
	}
	imageID, err := d.pickImage(ctx, c, req.OSTemplate)
	if err != nil {
		return backend.Observation{}, err
	}
	opts := servers.CreateOpts{
		Name:      serverName(e),
		ImageRef:  imageID,
		FlavorRef: flavorID,
		Metadata:  map[string]string{metaOCCIID: e.ID, metaOCCILocation: clip255(e.Location)},
	}
	switch d.opts.ServerNetworks {
	case "none", "auto":
		opts.Networks = d.opts.ServerNetworks
	default:
		opts.Networks = []servers.Network{{UUID: d.opts.ServerNetworks}}
	}
	if ud := attrString(e.Attributes, attrUserData); ud != "" {
		opts.UserData = []byte(userDataForNova(ud))
	}
	var builder servers.CreateOptsBuilder = opts
	keyName := ""
	if key := sshPublicKey(attrString(e.Attributes, attrSSHKey)); key != "" {
		keyName = keypairName(e)
		if err := d.importKey(ctx, c, keyName, key); err != nil {
			return backend.Observation{}, err
		}
		builder = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: keyName}
	}
	s, err := servers.Create(ctx, c.compute, builder, nil).Extract()
	if err != nil {
		if keyName != "" {
			_ = keypairs.Delete(context.WithoutCancel(ctx), c.compute, keyName, nil).ExtractErr()
		}
		return backend.Observation{}, d.wrap(err, "nova", "create server")
	}
	last, err := d.waitServer(ctx, c, s.ID, func(s *servers.Server) bool { return vmStateOf(s) != vmBuilding }, nil)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up: leave nothing behind.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = servers.Delete(cctx, c.compute, s.ID).ExtractErr()
			if keyName != "" {
				_ = keypairs.Delete(cctx, c.compute, keyName, nil).ExtractErr()
			}
			return backend.Observation{}, err
		}
		if last == nil {
			// Nova accepted the server: report it as building rather than
			// lose track of it.
			return backend.Observation{Ref: s.ID, State: stateInactive, Message: "building", Attributes: occi.Attributes{}}, nil
		}
		// Timed out while building: report what Nova says.
	}
	return serverObservation(last), nil
}

// importKey imports the public key as keypair name, replacing an earlier
// keypair of the same name (which only an earlier try of this entity made).
func (d *Driver) importKey(ctx context.Context, c *clients, name, key string) error {
	_, err := keypairs.Create(ctx, c.compute, keypairs.CreateOpts{Name: name, PublicKey: key}).Extract()
	if httpStatus(err) == 409 {
		_ = keypairs.Delete(ctx, c.compute, name, nil).ExtractErr()
		_, err = keypairs.Create(ctx, c.compute, keypairs.CreateOpts{Name: name, PublicKey: key}).Extract()
	}
	if err != nil {
		return d.wrap(err, "nova", "import "+attrSSHKey+" as a keypair")
	}
	return nil
}

func clip255(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}

func (d *Driver) getServer(ctx context.Context, c *clients, id string) (*servers.Server, error) {
	s, err := servers.Get(ctx, c.compute, id).Extract()
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d *Driver) observeServer(ctx context.Context, c *clients, id string) (backend.Observation, error) {
	s, err := d.getServer(ctx, c, id)
	if isNotFound(err) {
		return backend.Observation{Ref: id, Gone: true}, nil
	}
	if err != nil {
		return backend.Observation{}, d.wrap(err, "nova", "read server "+id)
	}
	return serverObservation(s), nil
}

// waitServer polls the server with backoff until done reports true, the
// timeout passes (an Unavailable error, with the last server) or ctx ends.
// progress, if set, sees every observation whose state or message changed.
func (d *Driver) waitServer(ctx context.Context, c *clients, id string, done func(*servers.Server) bool, progress backend.ProgressFunc) (*servers.Server, error) {
	deadline := time.Now().Add(d.opts.Timeout)
	delay := d.opts.PollInterval
	var last *servers.Server
	var lastObs backend.Observation
	for {
		s, err := d.getServer(ctx, c, id)
		switch {
		case isNotFound(err):
			return last, occi.Wrap(err, occi.NotFound, fmt.Sprintf("nova: server %s disappeared", id))
		case err != nil && errorCode(err) != occi.Unavailable:
			return last, d.wrap(err, "nova", "read server "+id)
		case err == nil:
			last = s
			if done(s) {
				return s, nil
			}
			if progress != nil {
				o := serverObservation(s)
				if o.State != lastObs.State || o.Message != lastObs.Message {
					progress(o)
					lastObs = o
				}
			}
		}
		if time.Now().After(deadline) {
			what := "no answer"
			if last != nil {
				what = fmt.Sprintf("status %s, task %q", last.Status, taskStateOf(last))
			}
			return last, occi.Errorf(occi.Unavailable, "nova: server %s did not get there within %s (%s)", id, d.opts.Timeout, what)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*3/2, 3*time.Second)
	}
}

func idle(s *servers.Server) bool {
	return taskStateOf(s) == "" && vmStateOf(s) != vmBuilding
}

// waitIdle waits until no task runs on the server, so that a new action
// is not refused with 409.
func (d *Driver) waitIdle(ctx context.Context, c *clients, id string, progress backend.ProgressFunc) (*servers.Server, error) {
	return d.waitServer(ctx, c, id, idle, progress)
}

func (d *Driver) deleteServer(ctx context.Context, c *clients, e *occi.Entity) error {
	if e.BackendRef != "" {
		err := servers.Delete(ctx, c.compute, e.BackendRef).ExtractErr()
		if err != nil && !isNotFound(err) {
			return d.wrap(err, "nova", "delete server "+e.BackendRef)
		}
		if err == nil {
			_, werr := d.waitServer(ctx, c, e.BackendRef, func(*servers.Server) bool { return false }, nil)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errorCode(werr) != occi.NotFound {
				return werr
			}
		}
	}
	if attrString(e.Attributes, attrSSHKey) != "" {
		if err := keypairs.Delete(ctx, c.compute, keypairName(e), nil).ExtractErr(); err != nil && !isNotFound(err) {
			return d.wrap(err, "nova", "delete keypair "+keypairName(e))
		}
	}
	return nil
}

// actServer runs start, stop, restart or suspend as Nova actions and waits
// until Nova has finished the task, then reports the state Nova shows.
func (d *Driver) actServer(ctx context.Context, c *clients, e *occi.Entity, inv *occi.ActionInvocation, progress backend.ProgressFunc) (backend.Observation, error) {
	id := e.BackendRef
	method, _ := inv.Attributes[paramMethod].(string)
	s, err := d.getServer(ctx, c, id)
	if err != nil {
		return backend.Observation{}, d.wrap(err, "nova", "read server "+id)
	}
	// busy: a task was running (an earlier, abandoned call perhaps); if it
	// ends where this action leads, the action is done rather than refused.
	busy := !idle(s)
	if busy {
		if s, err = d.waitIdle(ctx, c, id, progress); err != nil {
			return backend.Observation{}, err
		}
	}
	vm := vmStateOf(s)
	var call func() error
	var target []string
	what := ""
	state := serverObservation(s).State
	refuse := func(verb string) (backend.Observation, error) {
		if busy && (verb == "start" && state == stateActive || verb == "stop" && state == stateInactive) {
			return serverObservation(s), nil
		}
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "cannot %s %s: it is %s (Nova status %s)", verb, e.Location, state, s.Status)
	}
	switch inv.Action {
	case actionStart:
		target = []string{vmActive}
		switch vm {
		case vmSuspended:
			what, call = "resume", func() error { return servers.Resume(ctx, c.compute, id).ExtractErr() }
		case vmPaused:
			what, call = "unpause", func() error { return servers.Unpause(ctx, c.compute, id).ExtractErr() }
		case vmShelved, vmShelvedOffloaded:
			what, call = "unshelve", func() error { return servers.Unshelve(ctx, c.compute, id, nil).ExtractErr() }
		default:
			if state == stateActive {
				return refuse("start")
			}
			what, call = "start", func() error { return servers.Start(ctx, c.compute, id).ExtractErr() }
		}
	case actionStop:
		// Nova's stop is graceful (ACPI) and powers off when the guest does
		// not stop in time, so graceful, acpioff and poweroff all map to it.
		target = []string{vmStopped}
		if state == stateInactive {
			return refuse("stop")
		}
		what, call = "stop", func() error { return servers.Stop(ctx, c.compute, id).ExtractErr() }
	case actionRestart:
		target = []string{vmActive}
		if state != stateActive {
			return refuse("restart")
		}
		how := servers.SoftReboot
		if method == restartCold {
			how = servers.HardReboot
		}
		what, call = "reboot ("+strings.ToLower(string(how))+")", func() error {
			return servers.Reboot(ctx, c.compute, id, servers.RebootOpts{Type: how}).ExtractErr()
		}
	case actionSuspend:
		if state != stateActive {
			return refuse("suspend")
		}
		switch method {
		case suspendHibernate:
			// Hibernation frees the host: Nova shelves the server (a
			// snapshot plus power-off); start unshelves it.
			target = []string{vmShelved, vmShelvedOffloaded}
			what, call = "shelve", func() error { return servers.Shelve(ctx, c.compute, id).ExtractErr() }
		default:
			target = []string{vmSuspended}
			what, call = "suspend", func() error { return servers.Suspend(ctx, c.compute, id).ExtractErr() }
		}
	default:
		return backend.Observation{}, occi.Errorf(occi.Unimplemented, "action %s is not supported on compute", inv.Action)
	}
	if err := call(); err != nil {
		return backend.Observation{}, d.wrap(err, "nova", what+" server "+id)
	}
	last, err := d.waitIdle(ctx, c, id, progress)
	if err != nil {
		return backend.Observation{}, err
	}
	o := serverObservation(last)
	vm = vmStateOf(last)
	for _, t := range target {
		if vm == t {
			return o, nil
		}
	}
	if vm == vmError {
		// The action failed and Nova says so: that is the state.
		return o, nil
	}
	return o, occi.Errorf(occi.FailedPrecondition, "nova: %s of server %s ended with the server %s%s", what, id, last.Status, faultSuffix(last))
}

func faultSuffix(s *servers.Server) string {
	if s.Fault.Message != "" {
		return " (" + s.Fault.Message + ")"
	}
	return ""
}

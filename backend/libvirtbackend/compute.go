package libvirtbackend

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"libvirt.org/go/libvirtxml"
)

// Limits on compute sizes; larger requests are refused as InvalidArgument.
const (
	maxCores     = 256
	maxMemoryGiB = 4096
)

// sizing is a compute's effective size.
type sizing struct {
	Cores    int
	Memory   float64 // GiB
	Arch     string  // occi value: x86 or x64
	Hostname string
}

// computeSizing works out a compute's size: defaults (1 core, 0.5 GiB,
// x64), then the entity's own attributes, then the resource template's,
// which override them as GFD.224 says.
func (d *Driver) computeSizing(e *occi.Entity, resTpl string) (sizing, error) {
	s := sizing{Cores: 1, Memory: 0.5, Arch: "x64"}
	apply := func(a occi.Attributes) error {
		if v, ok := numAttr(a, attrCores); ok {
			if v != float64(int(v)) || v < 1 || v > maxCores {
				return occi.Errorf(occi.InvalidArgument, "occi.compute.cores %v is not a whole number from 1 to %d", v, maxCores)
			}
			s.Cores = int(v)
		}
		if v, ok := numAttr(a, attrMemory); ok {
			if v <= 0 || v > maxMemoryGiB {
				return occi.Errorf(occi.InvalidArgument, "occi.compute.memory %v GiB is not above 0 and at most %d", v, maxMemoryGiB)
			}
			s.Memory = v
		}
		if v := stringAttr(a, attrArch); v != "" {
			if _, ok := occiArch(v); !ok {
				return occi.Errorf(occi.InvalidArgument, "occi.compute.architecture %q is not x86 or x64", v)
			}
			s.Arch = v
		}
		return nil
	}
	if err := apply(e.Attributes); err != nil {
		return s, err
	}
	if resTpl != "" {
		t, ok := d.resourceTemplate(resTpl)
		if !ok {
			return s, occi.Errorf(occi.InvalidArgument, "resource template %q is not offered by the libvirt backend", resTpl)
		}
		if err := apply(t.Attributes); err != nil {
			return s, err
		}
	}
	s.Hostname = stringAttr(e.Attributes, attrHostname)
	if s.Hostname == "" {
		id := entityID(e)
		if len(id) > 8 {
			id = id[:8]
		}
		s.Hostname = "vm-" + id
	}
	if !validHostname(s.Hostname) {
		return s, occi.Errorf(occi.InvalidArgument, "occi.compute.hostname %q is not a DNS host name", s.Hostname)
	}
	return s, nil
}

// validHostname reports whether h is a DNS name of letters, digits, '-' and
// '.' (at most 253 characters, labels of at most 63).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (d *Driver) resourceTemplate(name string) (backend.Template, bool) {
	for _, t := range d.opts.ResourceTemplates {
		if t.Name == name {
			return t, true
		}
	}
	return backend.Template{}, false
}

// ConsoleLog returns the path of the serial console log of a compute (on
// the libvirt host).
func (d *Driver) ConsoleLog(e *occi.Entity) string {
	return d.opts.ConsoleDir + "/" + d.domainName(e) + ".log"
}

func (d *Driver) createCompute(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	e := req.Entity
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Unavailable, "the request ended before the compute was created")
	}
	sz, err := d.computeSizing(e, req.ResourceTemplate)
	if err != nil {
		return backend.Observation{}, err
	}
	arch, _ := occiArch(sz.Arch)
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	name := d.domainName(e)
	if _, err := l.DomainLookupByName(name); err == nil {
		return backend.Observation{}, occi.Errorf(occi.AlreadyExists, "domain %s already exists", name)
	} else if !isNotFound(err) {
		return backend.Observation{}, d.fail(err, "looking up domain %s", name)
	}
	meta := instanceMeta{Location: e.Location, Hostname: sz.Hostname, OSTpl: req.OSTemplate}
	var created []string // volumes to remove if a later step fails
	cleanup := func() {
		for _, v := range created {
			d.deleteVolume(l, d.opts.VolumePool, v)
		}
	}
	spec := computeSpec{
		Name:       name,
		DomainType: d.opts.DomainType,
		Arch:       arch,
		Cores:      sz.Cores,
		MemoryKiB:  gibToKiB(sz.Memory),
		Meta:       meta,
	}
	if !d.isTest {
		spec.ConsoleLog = d.ConsoleLog(e)
	}
	if req.OSTemplate != "" {
		img, err := d.findImage(l, req.OSTemplate)
		if err != nil {
			return backend.Observation{}, err
		}
		root := name + "-root.qcow2"
		path, err := d.cloneVolume(ctx, l, img, d.opts.VolumePool, root)
		if err != nil {
			return backend.Observation{}, d.fail(err, "copying image %s to the root disk of %s", req.OSTemplate, name)
		}
		created = append(created, root)
		spec.RootPath, spec.RootFormat = path, "qcow2"
		spec.Meta.Root = root
	}
	if seed, ok := seedFor(e, sz.Hostname); ok {
		iso, err := seed.iso()
		if err != nil {
			cleanup()
			return backend.Observation{}, occi.Wrap(err, occi.Internal, "building the cloud-init seed")
		}
		vname := name + "-seed.iso"
		path, err := d.uploadVolume(l, d.opts.VolumePool, vname, "raw", iso)
		if err != nil {
			cleanup()
			return backend.Observation{}, d.fail(err, "storing the cloud-init seed of %s", name)
		}
		created = append(created, vname)
		spec.SeedPath = path
		spec.Meta.Seed = vname
	}
	x, err := domainXML(spec)
	if err != nil {
		cleanup()
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "building domain XML")
	}
	dom, err := l.DomainDefineXMLFlags(x, 0)
	if err != nil {
		cleanup()
		return backend.Observation{}, d.fail(err, "defining domain %s", name)
	}
	d.mu.Lock()
	d.locs[name] = e.Location
	d.mu.Unlock()
	obs, err := d.observeDomain(l, dom)
	if err != nil {
		return backend.Observation{}, err
	}
	return obs, nil
}

// domainInfo is what observeDomain reads from a domain's XML.
type domainInfo struct {
	def  *libvirtxml.Domain
	meta instanceMeta
}

func parseDomain(x string) (domainInfo, error) {
	var def libvirtxml.Domain
	if err := def.Unmarshal(x); err != nil {
		return domainInfo{}, err
	}
	info := domainInfo{def: &def}
	if def.Metadata != nil {
		info.meta, _ = parseMeta(def.Metadata.XML)
	}
	return info, nil
}

func (d *Driver) lookupDomain(l *libvirt.Libvirt, e *occi.Entity) (libvirt.Domain, error) {
	return l.DomainLookupByName(d.domainName(e))
}

func (d *Driver) observeCompute(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	dom, err := d.lookupDomain(l, e)
	if isNotFound(err) {
		return backend.Observation{Gone: true, State: stateError, Message: "the domain no longer exists in libvirt"}, nil
	}
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up domain %s", d.domainName(e))
	}
	return d.observeDomain(l, dom)
}

// observeDomain reads state and attributes of a domain.
func (d *Driver) observeDomain(l *libvirt.Libvirt, dom libvirt.Domain) (backend.Observation, error) {
	st, reason, err := l.DomainGetState(dom, 0)
	if err != nil {
		if isNotFound(err) {
			return backend.Observation{Gone: true, State: stateError, Message: "the domain no longer exists in libvirt"}, nil
		}
		return backend.Observation{}, d.fail(err, "reading the state of domain %s", dom.Name)
	}
	managed := false
	if libvirt.DomainState(st) == libvirt.DomainShutoff {
		if r, err := l.DomainHasManagedSaveImage(dom, 0); err == nil && r == 1 {
			managed = true
		}
	}
	state, msg := mapDomainState(libvirt.DomainState(st), reason, managed)
	x, err := l.DomainGetXMLDesc(dom, libvirt.DomainXMLInactive)
	if err != nil {
		if isNotFound(err) {
			return backend.Observation{Gone: true, State: stateError, Message: "the domain no longer exists in libvirt"}, nil
		}
		return backend.Observation{}, d.fail(err, "reading the definition of domain %s", dom.Name)
	}
	info, err := parseDomain(x)
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "parsing the definition of domain "+dom.Name)
	}
	attrs := occi.Attributes{}
	if info.def.VCPU != nil {
		attrs[attrCores] = int64(info.def.VCPU.Value)
	}
	if info.def.Memory != nil {
		attrs[attrMemory] = kibToGiB(memKiB(info.def.Memory.Value, info.def.Memory.Unit))
	}
	if info.def.OS != nil && info.def.OS.Type != nil {
		if a := libvirtArch(info.def.OS.Type.Arch); a != "" {
			attrs[attrArch] = a
		}
	}
	if info.meta.Hostname != "" {
		attrs[attrHostname] = info.meta.Hostname
	}
	if info.meta.Location != "" {
		d.mu.Lock()
		d.locs[dom.Name] = info.meta.Location
		d.mu.Unlock()
	}
	d.mu.Lock()
	if what, ok := d.busy[dom.Name]; ok {
		if msg == "" {
			msg = what
		} else {
			msg = what + "; " + msg
		}
	}
	d.mu.Unlock()
	return backend.Observation{State: state, Message: msg, Attributes: attrs, Ref: uuidString(dom.UUID)}, nil
}

// memKiB converts a libvirt memory value to KiB.
func memKiB(v uint, unit string) uint64 {
	switch strings.ToLower(unit) {
	case "b", "bytes":
		return uint64(v) / 1024
	case "m", "mib":
		return uint64(v) * 1024
	case "g", "gib":
		return uint64(v) * 1024 * 1024
	case "mb":
		return uint64(v) * 1000 * 1000 / 1024
	case "gb":
		return uint64(v) * 1000 * 1000 * 1000 / 1024
	}
	return uint64(v) // "", k, KiB
}

func uuidString(u libvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// mapDomainState maps libvirt's domain state and reason onto an OCCI compute
// state and a message. managedSave reports a shut-off domain with a
// managed-save image (hibernated).
func mapDomainState(st libvirt.DomainState, reason int32, managedSave bool) (string, string) {
	switch st {
	case libvirt.DomainRunning, libvirt.DomainBlocked:
		return stateActive, ""
	case libvirt.DomainShutdown:
		return stateActive, "shutting down"
	case libvirt.DomainPaused:
		switch libvirt.DomainPausedReason(reason) {
		case libvirt.DomainPausedUser, libvirt.DomainPausedSave, libvirt.DomainPausedMigration,
			libvirt.DomainPausedSnapshot, libvirt.DomainPausedFromSnapshot, libvirt.DomainPausedDump:
			return stateSuspended, ""
		case libvirt.DomainPausedStartingUp:
			return stateSuspended, "starting up"
		case libvirt.DomainPausedShuttingDown:
			return stateActive, "shutting down"
		case libvirt.DomainPausedIoerror:
			return stateError, "paused after a disk I/O error"
		case libvirt.DomainPausedWatchdog:
			return stateError, "paused by the watchdog"
		case libvirt.DomainPausedCrashed:
			return stateError, "the guest crashed"
		case libvirt.DomainPausedPostcopyFailed:
			return stateError, "paused after a failed migration"
		case libvirt.DomainPausedAPIError:
			return stateError, "paused after a hypervisor error"
		}
		return stateError, "paused by the hypervisor for an unknown reason (emulation failure?)"
	case libvirt.DomainShutoff:
		if managedSave {
			return stateSuspended, "hibernated (managed save)"
		}
		switch libvirt.DomainShutoffReason(reason) {
		case libvirt.DomainShutoffCrashed:
			return stateError, "the guest crashed"
		case libvirt.DomainShutoffFailed:
			return stateError, "the domain failed to start"
		}
		return stateInactive, ""
	case libvirt.DomainCrashed:
		return stateError, "the guest crashed"
	case libvirt.DomainPmsuspended:
		return stateSuspended, "suspended by the guest (power management)"
	}
	return stateError, "libvirt reports no state for the domain"
}

func (d *Driver) updateCompute(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	dom, err := d.lookupDomain(l, updated)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up domain %s", d.domainName(updated))
	}
	resTpl := d.resourceTemplateOf(updated)
	sz, err := d.computeSizing(updated, resTpl)
	if err != nil {
		return backend.Observation{}, err
	}
	arch, _ := occiArch(sz.Arch)
	x, err := l.DomainGetXMLDesc(dom, libvirt.DomainXMLInactive)
	if err != nil {
		return backend.Observation{}, d.fail(err, "reading domain %s", dom.Name)
	}
	info, err := parseDomain(x)
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "parsing domain "+dom.Name)
	}
	def := info.def
	changed := false
	if def.VCPU == nil || int(def.VCPU.Value) != sz.Cores {
		def.VCPU = &libvirtxml.DomainVCPU{Placement: "static", Value: uint(sz.Cores)}
		changed = true
	}
	kib := gibToKiB(sz.Memory)
	if def.Memory == nil || memKiB(def.Memory.Value, def.Memory.Unit) != kib {
		def.Memory = &libvirtxml.DomainMemory{Value: uint(kib), Unit: "KiB"}
		def.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: uint(kib), Unit: "KiB"}
		changed = true
	}
	if def.OS != nil && def.OS.Type != nil && def.OS.Type.Arch != arch {
		def.OS.Type.Arch = arch
		def.OS.Type.Machine = ""
		changed = true
	}
	if info.meta.Hostname != sz.Hostname {
		info.meta.Hostname = sz.Hostname
		def.Metadata = &libvirtxml.DomainMetadata{XML: replaceMeta(def.Metadata, info.meta)}
		changed = true
	}
	if changed {
		nx, err := def.Marshal()
		if err != nil {
			return backend.Observation{}, occi.Wrap(err, occi.Internal, "building domain XML")
		}
		if _, err := l.DomainDefineXMLFlags(nx, 0); err != nil {
			return backend.Observation{}, d.fail(err, "redefining domain %s", dom.Name)
		}
	}
	obs, err := d.observeDomain(l, dom)
	if err == nil && changed && obs.State == stateActive {
		obs.Message = "the new size takes effect at the next power cycle (stop and start, or restart cold)"
	}
	return obs, err
}

// replaceMeta returns the metadata inner XML with occid's element replaced.
func replaceMeta(m *libvirtxml.DomainMetadata, meta instanceMeta) string {
	if m == nil {
		return meta.xml()
	}
	// Other applications' elements are kept; occid's is rewritten.
	inner := m.XML
	start := strings.Index(inner, "<occid:instance")
	end := strings.Index(inner, "</occid:instance>")
	if start >= 0 && end > start {
		return inner[:start] + meta.xml() + inner[end+len("</occid:instance>"):]
	}
	return inner + meta.xml()
}

// resourceTemplateOf returns the name of the resource template among e's
// mixins, if the driver offers one by that term.
func (d *Driver) resourceTemplateOf(e *occi.Entity) string {
	for _, m := range e.Mixins {
		if _, ok := d.resourceTemplate(m.Term); ok {
			return m.Term
		}
	}
	return ""
}

func (d *Driver) deleteCompute(ctx context.Context, e *occi.Entity) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	name := d.domainName(e)
	if d.isBusy(name) {
		return occi.Errorf(occi.Conflict, "compute %s is being saved; delete it when the save has finished", e.Location)
	}
	dom, err := l.DomainLookupByName(name)
	if isNotFound(err) {
		d.deleteVolume(l, d.opts.VolumePool, name+"-root.qcow2")
		d.deleteVolume(l, d.opts.VolumePool, name+"-seed.iso")
		return nil
	}
	if err != nil {
		return d.fail(err, "looking up domain %s", name)
	}
	x, err := l.DomainGetXMLDesc(dom, libvirt.DomainXMLInactive)
	if err != nil && !isNotFound(err) {
		return d.fail(err, "reading domain %s", name)
	}
	info, _ := parseDomain(x)
	if active, err := l.DomainIsActive(dom); err == nil && active == 1 {
		if err := l.DomainDestroy(dom); err != nil && !isNotFound(err) && !isCode(err, libvirt.ErrOperationInvalid) {
			return d.fail(err, "powering off domain %s", name)
		}
	}
	flags := libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata |
		libvirt.DomainUndefineCheckpointsMetadata | libvirt.DomainUndefineNvram
	if err := l.DomainUndefineFlags(dom, flags); err != nil && !isNotFound(err) {
		// Older drivers refuse some flags.
		if err2 := l.DomainUndefineFlags(dom, libvirt.DomainUndefineManagedSave); err2 != nil && !isNotFound(err2) {
			return d.fail(err, "undefining domain %s", name)
		}
	}
	root, seed := info.meta.Root, info.meta.Seed
	if root == "" {
		root = name + "-root.qcow2"
	}
	if seed == "" {
		seed = name + "-seed.iso"
	}
	d.deleteVolume(l, d.opts.VolumePool, root)
	d.deleteVolume(l, d.opts.VolumePool, seed)
	if d.localHost() {
		_ = os.Remove(d.ConsoleLog(e))
	}
	d.mu.Lock()
	delete(d.locs, name)
	d.mu.Unlock()
	return nil
}

func (d *Driver) isBusy(domain string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.busy[domain]
	return ok
}

// actCompute runs start, stop, restart or suspend.
func (d *Driver) actCompute(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, progress backend.ProgressFunc) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Unavailable, "the request ended before the action started")
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	name := d.domainName(e)
	if d.isBusy(name) {
		return backend.Observation{}, occi.Errorf(occi.Conflict, "compute %s is being saved; try again when the save has finished", e.Location)
	}
	dom, err := l.DomainLookupByName(name)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up domain %s", name)
	}
	method := stringAttr(inv.Attributes, "method")
	switch inv.Action.Term {
	case "start":
		err = d.start(ctx, l, dom)
	case "stop":
		if method == "" {
			method = "graceful"
		}
		err = d.stop(ctx, l, dom, method, progress)
	case "restart":
		if method == "" {
			method = "graceful"
		}
		err = d.restart(ctx, l, dom, method, progress)
	case "suspend":
		if method == "" {
			method = "suspend"
		}
		err = d.suspend(ctx, l, dom, method)
	case "save":
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "save goes through Save, not Act")
	default:
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "action %s is not a compute action", inv.Action)
	}
	if err != nil {
		return backend.Observation{}, err
	}
	l, err = d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	return d.observeDomain(l, dom)
}

func (d *Driver) state(l *libvirt.Libvirt, dom libvirt.Domain) (libvirt.DomainState, int32, error) {
	st, reason, err := l.DomainGetState(dom, 0)
	if err != nil {
		return 0, 0, d.fail(err, "reading the state of domain %s", dom.Name)
	}
	return libvirt.DomainState(st), reason, nil
}

// start boots a shut-off domain (restoring a managed-save image if there is
// one, and bringing up the isolated networks its interfaces are on),
// resumes a paused one and wakes a pmsuspended one. An active domain is a
// FailedPrecondition error.
func (d *Driver) start(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain) error {
	st, reason, err := d.state(l, dom)
	if err != nil {
		return err
	}
	switch st {
	case libvirt.DomainRunning, libvirt.DomainBlocked:
		return occi.Errorf(occi.FailedPrecondition, "compute is already active")
	case libvirt.DomainPaused:
		if s, _ := mapDomainState(st, reason, false); s == stateError {
			// Paused after an error: power-cycle it.
			if err := l.DomainDestroy(dom); err != nil && !isCode(err, libvirt.ErrOperationInvalid) {
				return d.fail(err, "powering off domain %s before starting it", dom.Name)
			}
			break
		}
		return d.fail(l.DomainResume(dom), "resuming domain %s", dom.Name)
	case libvirt.DomainPmsuspended:
		return d.fail(l.DomainPmWakeup(dom, 0), "waking domain %s", dom.Name)
	case libvirt.DomainCrashed, libvirt.DomainShutdown:
		if err := l.DomainDestroy(dom); err != nil && !isCode(err, libvirt.ErrOperationInvalid) {
			return d.fail(err, "powering off domain %s before starting it", dom.Name)
		}
	}
	if err := ctx.Err(); err != nil {
		return occi.Wrap(err, occi.Unavailable, "starting "+dom.Name+": the request ended")
	}
	if err := d.ensureNetworks(l, dom); err != nil {
		return err
	}
	return d.fail(l.DomainCreate(dom), "starting domain %s", dom.Name)
}

// ensureNetworks starts the inactive libvirt networks a domain's interfaces
// are on, as a domain cannot start with an interface on a network that is
// down.
func (d *Driver) ensureNetworks(l *libvirt.Libvirt, dom libvirt.Domain) error {
	def, err := d.domainDef(l, dom, libvirt.DomainXMLInactive)
	if err != nil {
		return err
	}
	for _, in := range def.Devices.Interfaces {
		if in.Source == nil || in.Source.Network == nil {
			continue
		}
		if err := d.ensureNetwork(l, in.Source.Network.Network); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) ensureNetwork(l *libvirt.Libvirt, name string) error {
	n, err := l.NetworkLookupByName(name)
	if err != nil {
		return d.fail(err, "looking up network %s", name)
	}
	active, err := l.NetworkIsActive(n)
	if err != nil {
		return d.fail(err, "reading network %s", name)
	}
	if active == 0 {
		if err := l.NetworkCreate(n); err != nil && !isCode(err, libvirt.ErrOperationInvalid) {
			return d.fail(err, "starting network %s", name)
		}
	}
	return nil
}

// stop powers a domain off: graceful lets libvirt pick the guest agent or
// ACPI, acpioff presses the ACPI power button, and both wait at most
// GracefulTimeout for the guest to power off (a guest still running then is
// a FailedPrecondition error, and it keeps running); poweroff destroys the
// domain at once. A hibernated domain loses its managed-save image; a paused
// one is resumed first for graceful and acpioff.
func (d *Driver) stop(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain, method string, progress backend.ProgressFunc) error {
	st, _, err := d.state(l, dom)
	if err != nil {
		return err
	}
	if st == libvirt.DomainShutoff {
		if r, err := l.DomainHasManagedSaveImage(dom, 0); err == nil && r == 1 {
			return d.fail(l.DomainManagedSaveRemove(dom, 0), "discarding the hibernation image of %s", dom.Name)
		}
		return occi.Errorf(occi.FailedPrecondition, "compute is already inactive")
	}
	switch method {
	case "poweroff":
		err := l.DomainDestroy(dom)
		if err != nil && isCode(err, libvirt.ErrOperationInvalid) {
			return nil // already off
		}
		return d.fail(err, "powering off domain %s", dom.Name)
	case "graceful", "acpioff":
	default:
		return occi.Errorf(occi.InvalidArgument, "stop method %q is not graceful, acpioff or poweroff", method)
	}
	if st == libvirt.DomainPaused {
		if err := l.DomainResume(dom); err != nil {
			return d.fail(err, "resuming domain %s to shut it down", dom.Name)
		}
	}
	progress(backend.Observation{State: stateActive, Message: "stopping (" + method + ")"})
	return d.shutdownAndWait(ctx, dom, method == "acpioff")
}

// shutdownAndWait asks the guest to power off and waits for it, at most
// GracefulTimeout. The ACPI button is pressed again every few seconds, as a
// guest that was still booting may have missed it.
func (d *Driver) shutdownAndWait(ctx context.Context, dom libvirt.Domain, acpiOnly bool) error {
	flags := libvirt.DomainShutdownFlagValues(0)
	if acpiOnly {
		flags = libvirt.DomainShutdownAcpiPowerBtn
	}
	deadline := time.Now().Add(d.opts.GracefulTimeout)
	var lastPress time.Time
	for {
		l, err := d.client()
		if err != nil {
			return err
		}
		st, _, err := d.state(l, dom)
		if err != nil {
			return err
		}
		if st == libvirt.DomainShutoff {
			return nil
		}
		if time.Since(lastPress) > 3*time.Second {
			err := l.DomainShutdownFlags(dom, flags)
			if err != nil && flags != 0 && isCode(err, libvirt.ErrInvalidArg, libvirt.ErrNoSupport, libvirt.ErrArgumentUnsupported) {
				// Drivers without a choice of method (the test driver).
				flags = 0
				err = l.DomainShutdownFlags(dom, flags)
			}
			if err != nil && !isCode(err, libvirt.ErrOperationInvalid) {
				return d.fail(err, "sending the shutdown request to domain %s", dom.Name)
			}
			lastPress = time.Now()
		}
		if time.Now().After(deadline) {
			return occi.Errorf(occi.FailedPrecondition,
				"the guest of %s did not power off within %s of the shutdown request; it is still running (stop it with method poweroff)",
				dom.Name, d.opts.GracefulTimeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return occi.Wrap(err, occi.Unavailable, "stopping "+dom.Name+": the request ended before the guest powered off")
		}
	}
}

// restart: warm asks the guest to reboot (virDomainReboot: guest agent or
// ACPI; the QEMU process stays); cold power-cycles the domain (destroy and
// start: a new QEMU process, which also applies a changed size); graceful
// shuts the guest down (ACPI, bounded wait as for stop) and starts it again.
// A domain that is not running is simply started.
func (d *Driver) restart(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain, method string, progress backend.ProgressFunc) error {
	st, _, err := d.state(l, dom)
	if err != nil {
		return err
	}
	if st != libvirt.DomainRunning && st != libvirt.DomainBlocked {
		return occi.Errorf(occi.FailedPrecondition, "compute is not active; only an active compute can be restarted")
	}
	switch method {
	case "warm":
		return d.fail(l.DomainReboot(dom, 0), "rebooting domain %s", dom.Name)
	case "cold":
		if err := l.DomainDestroy(dom); err != nil && !isCode(err, libvirt.ErrOperationInvalid) {
			return d.fail(err, "powering off domain %s", dom.Name)
		}
		progress(backend.Observation{State: stateInactive, Message: "restarting (cold)"})
		return d.start(d.bg, l, dom)
	case "graceful":
		progress(backend.Observation{State: stateActive, Message: "restarting (graceful): shutting down"})
		if err := d.shutdownAndWait(ctx, dom, false); err != nil {
			return err
		}
		progress(backend.Observation{State: stateInactive, Message: "restarting (graceful): starting"})
		l, err := d.client()
		if err != nil {
			return err
		}
		return d.start(d.bg, l, dom)
	}
	return occi.Errorf(occi.InvalidArgument, "restart method %q is not graceful, warm or cold", method)
}

// suspend: suspend pauses the domain's vCPUs (memory stays in the host);
// hibernate saves the memory to a managed-save image and stops the QEMU
// process; start restores it.
func (d *Driver) suspend(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain, method string) error {
	st, _, err := d.state(l, dom)
	if err != nil {
		return err
	}
	switch method {
	case "suspend":
		if st != libvirt.DomainRunning && st != libvirt.DomainBlocked {
			return occi.Errorf(occi.FailedPrecondition, "compute is not active; only an active compute can be suspended")
		}
		return d.fail(l.DomainSuspend(dom), "pausing domain %s", dom.Name)
	case "hibernate":
		if st != libvirt.DomainRunning && st != libvirt.DomainBlocked {
			return occi.Errorf(occi.FailedPrecondition, "compute is not active; only an active compute can be hibernated")
		}
		return d.fail(l.DomainManagedSave(dom, 0), "hibernating domain %s", dom.Name)
	}
	return occi.Errorf(occi.InvalidArgument, "suspend method %q is not suspend or hibernate", method)
}

// domainDisks returns the target devices of a domain's disks.
func domainDisks(def *libvirtxml.Domain) []string {
	var out []string
	if def.Devices == nil {
		return nil
	}
	for _, dk := range def.Devices.Disks {
		if dk.Target != nil {
			out = append(out, dk.Target.Dev)
		}
	}
	return out
}

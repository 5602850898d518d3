// Package libvirtbackend is occid's driver for libvirt (QEMU/KVM hosts, and
// libvirt's built-in test driver), speaking libvirt's RPC protocol through
// the pure-Go github.com/digitalocean/go-libvirt (no cgo) and building XML
// with libvirt.org/go/libvirtxml.
//
// Mappings:
//
//   - compute → a persistent domain named Prefix+id, of Options.DomainType,
//     with occi.compute.cores vCPUs, occi.compute.memory GiB of memory and
//     occi.compute.architecture x86/x64 as i686/x86_64. Its root disk is a
//     full qcow2 copy of the os_tpl image, a volume in the volume pool, so a
//     VM never depends on an image (an image can be deleted at any time).
//     The serial console is logged to ConsoleDir/<domain>.log. occid's
//     metadata element in the domain holds the entity location so that
//     lifecycle events are mapped back to entities.
//   - storage → a qcow2 volume in the volume pool; updating
//     occi.storage.size resizes it (growing only).
//   - network → an isolated libvirt network: no <forward>, so nothing is
//     routed or NATed off the machine; its range comes from
//     occi.network.address (a private range) or a free 10.213.N.0/24.
//   - networkinterface, storagelink → devices attached to the domain: live
//     and persistent on a running domain, persistent otherwise.
//   - os_tpl → every volume in the image pool; resource_tpl → the configured
//     sizes (small, medium, large by default).
//   - ssh_key, user_data and the hostname → a cloud-init NoCloud seed ISO
//     (volume label cidata) attached as a read-only cdrom.
//
// State is always read from libvirt: running → active; paused by a user,
// pmsuspended or shut off with a managed-save image → suspended; shut off →
// inactive; crashed, or paused by an I/O error → error with a message.
// The driver implements backend.Watcher with libvirt's lifecycle events, so
// a guest that powers itself off shows inactive, and it re-dials libvirtd by
// itself after the connection was lost; while libvirtd is away every call
// fails with an error that ErrorCode classifies as occi.Unavailable.
package libvirtbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Options configures a Driver. Only URI is needed; every other field has a
// default.
type Options struct {
	// URI is the libvirt connection URI as libvirt spells it:
	// qemu:///system (the local socket), qemu+ssh://user@host/system,
	// qemu+tcp://host/system, test:///default. Default qemu:///system.
	URI string
	// DataDir holds the image pool's directory (when the driver creates
	// the pool), the volume pool's directory, the console logs and the
	// saved images' index. Default /var/lib/occid. On a remote URI the
	// pool directories and console logs are paths on the libvirt host.
	DataDir string
	// ImagePool is the storage pool whose volumes are the OS templates.
	// Default "occid-images"; a directory pool under DataDir/images is
	// created unless a pool of that name exists.
	ImagePool string
	// VolumePool holds root disks, seed ISOs and storage volumes. Default
	// "occid-volumes", created like ImagePool under DataDir/volumes.
	VolumePool string
	// DomainType is the domain type: "kvm" or "qemu" (software emulation,
	// TCG). Default: kvm when KVM is usable (for a local URI: /dev/kvm can
	// be opened and the CPU has vmx or svm; for a remote URI: the host's
	// capabilities offer kvm), else qemu.
	DomainType string
	// Prefix starts the name of every domain, volume and network the
	// driver makes. Default "occid-".
	Prefix string
	// ConsoleDir receives the serial console logs. Default DataDir/console.
	ConsoleDir string
	// GracefulTimeout bounds the wait for a guest to power off after the
	// ACPI power button (graceful and acpioff stop, graceful restart,
	// deferred save). Default 60s.
	GracefulTimeout time.Duration
	// ResourceTemplates are the resource_tpl sizes offered. Default:
	// small (1 core, 0.5 GiB), medium (2 cores, 2 GiB), large (4 cores,
	// 8 GiB).
	ResourceTemplates []backend.Template
	// Logger receives diagnostics; default slog.Default().
	Logger *slog.Logger
}

// DefaultResourceTemplates are the resource templates offered when
// Options.ResourceTemplates is empty.
var DefaultResourceTemplates = []backend.Template{
	{Type: backend.ResourceTemplate, Name: "small", Title: "Small: 1 core, 0.5 GiB", State: backend.TemplateReady,
		Attributes: occi.Attributes{attrCores: int64(1), attrMemory: 0.5}},
	{Type: backend.ResourceTemplate, Name: "medium", Title: "Medium: 2 cores, 2 GiB", State: backend.TemplateReady,
		Attributes: occi.Attributes{attrCores: int64(2), attrMemory: 2.0}},
	{Type: backend.ResourceTemplate, Name: "large", Title: "Large: 4 cores, 8 GiB", State: backend.TemplateReady,
		Attributes: occi.Attributes{attrCores: int64(4), attrMemory: 8.0}},
}

// Driver is a backend.Driver and backend.Watcher for libvirt. It is safe for
// concurrent use.
type Driver struct {
	opts   Options
	conn   *conn
	log    *slog.Logger
	isTest bool // libvirt's test driver: no guests, no uploads, no live attach
	caps   backend.Capabilities
	meta   *imageIndex

	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	saves map[string]*saveJob // template name → save in progress
	busy  map[string]string   // domain name → what a save is doing to it
	locs  map[string]string   // domain name → entity location (cache)
}

// Open connects to libvirt at opts.URI, makes sure the image and volume
// pools exist and are active, and returns the driver. A libvirt that cannot
// be reached is an Unavailable error; a malformed option InvalidArgument.
func Open(ctx context.Context, opts Options) (*Driver, error) {
	if opts.URI == "" {
		opts.URI = "qemu:///system"
	}
	if opts.DataDir == "" {
		opts.DataDir = "/var/lib/occid"
	}
	if opts.ImagePool == "" {
		opts.ImagePool = "occid-images"
	}
	if opts.VolumePool == "" {
		opts.VolumePool = "occid-volumes"
	}
	if opts.Prefix == "" {
		opts.Prefix = "occid-"
	}
	if opts.ConsoleDir == "" {
		opts.ConsoleDir = filepath.Join(opts.DataDir, "console")
	}
	if opts.GracefulTimeout <= 0 {
		opts.GracefulTimeout = 60 * time.Second
	}
	if len(opts.ResourceTemplates) == 0 {
		opts.ResourceTemplates = DefaultResourceTemplates
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	switch opts.DomainType {
	case "", "kvm", "qemu":
	default:
		return nil, occi.Errorf(occi.InvalidArgument, "domain type %q is not kvm or qemu", opts.DomainType)
	}
	for _, t := range opts.ResourceTemplates {
		if !occi.ValidTerm(t.Name) {
			return nil, occi.Errorf(occi.InvalidArgument, "resource template name %q is not a valid OCCI term", t.Name)
		}
	}
	c, err := newConn(opts.URI)
	if err != nil {
		return nil, err
	}
	d := &Driver{
		opts:  opts,
		conn:  c,
		log:   opts.Logger.With("backend", "libvirt", "uri", opts.URI),
		saves: map[string]*saveJob{},
		busy:  map[string]string{},
		locs:  map[string]string{},
	}
	d.bg, d.cancel = context.WithCancel(context.Background())
	l, err := c.get()
	if err != nil {
		return nil, err
	}
	typ, err := l.ConnectGetType()
	if err != nil {
		c.close()
		return nil, d.fail(err, "asking libvirt for its driver type")
	}
	d.isTest = strings.EqualFold(typ, "test")
	if d.opts.DomainType == "" {
		d.opts.DomainType = d.detectDomainType(l)
	}
	if d.localHost() && !d.isTest {
		if err := os.MkdirAll(opts.ConsoleDir, 0o755); err != nil {
			c.close()
			return nil, occi.Wrap(err, occi.Internal, "creating the console log directory")
		}
	}
	d.meta, err = openImageIndex(filepath.Join(opts.DataDir, "images.json"))
	if err != nil {
		c.close()
		return nil, err
	}
	for _, p := range []struct{ name, dir string }{
		{opts.ImagePool, filepath.Join(opts.DataDir, "images")},
		{opts.VolumePool, filepath.Join(opts.DataDir, "volumes")},
	} {
		if err := d.ensurePool(l, p.name, p.dir); err != nil {
			c.close()
			return nil, err
		}
	}
	d.caps = backend.Capabilities{
		Kinds:       []occi.CategoryID{kindCompute, kindStorage, kindNetwork, kindNetworkInterface, kindStorageLink},
		Actions:     []occi.CategoryID{actStart, actStop, actRestart, actSuspend, actSave, actUp, actDown},
		Mixins:      []occi.CategoryID{mixinSSHKey, mixinUserData, mixinIPNetwork},
		SaveMethods: []string{"hot", "deferred"},
	}
	if d.isTest {
		// The test driver has no backup jobs.
		d.caps.SaveMethods = []string{"deferred"}
	}
	return d, nil
}

// detectDomainType picks kvm where KVM works, else qemu.
func (d *Driver) detectDomainType(l *libvirt.Libvirt) string {
	if d.isTest {
		return "qemu"
	}
	u := d.conn.uri
	if u.Host == "" {
		f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
		if err != nil {
			return "qemu"
		}
		f.Close()
		cpu, err := os.ReadFile("/proc/cpuinfo")
		if err != nil {
			return "qemu"
		}
		for _, line := range strings.Split(string(cpu), "\n") {
			if strings.HasPrefix(line, "flags") {
				for _, f := range strings.Fields(line) {
					if f == "vmx" || f == "svm" {
						return "kvm"
					}
				}
				return "qemu"
			}
		}
		return "qemu"
	}
	caps, err := l.ConnectGetCapabilities()
	if err == nil && strings.Contains(caps, "<domain type='kvm'") {
		return "kvm"
	}
	return "qemu"
}

// ensurePool makes sure a storage pool exists and is active: an existing
// pool is used as it is (started if inactive), a missing one is defined as
// a directory pool at dir, built, started and set to autostart.
func (d *Driver) ensurePool(l *libvirt.Libvirt, name, dir string) error {
	p, err := l.StoragePoolLookupByName(name)
	if err != nil && !isNotFound(err) {
		return d.fail(err, "looking up storage pool %s", name)
	}
	if err != nil {
		x, err := dirPoolXML(name, dir)
		if err != nil {
			return occi.Wrap(err, occi.Internal, "building pool XML")
		}
		p, err = l.StoragePoolDefineXML(x, 0)
		if err != nil {
			return d.fail(err, "defining storage pool %s at %s", name, dir)
		}
		if err := l.StoragePoolBuild(p, libvirt.StoragePoolBuildNew); err != nil && !isCode(err, libvirt.ErrStoragePoolBuilt) {
			d.log.Warn("building storage pool", "pool", name, "err", err)
		}
		_ = l.StoragePoolSetAutostart(p, 1)
	}
	active, err := l.StoragePoolIsActive(p)
	if err != nil {
		return d.fail(err, "checking storage pool %s", name)
	}
	if active == 0 {
		if err := l.StoragePoolCreate(p, 0); err != nil {
			return d.fail(err, "starting storage pool %s", name)
		}
	}
	return nil
}

// Capabilities reports the kinds, actions and mixins the driver supports.
// On libvirt's test driver, which has no backup jobs, save offers only the
// deferred method.
func (d *Driver) Capabilities() backend.Capabilities {
	c := d.caps
	c.Kinds = append([]occi.CategoryID(nil), c.Kinds...)
	c.Actions = append([]occi.CategoryID(nil), c.Actions...)
	c.Mixins = append([]occi.CategoryID(nil), c.Mixins...)
	c.SaveMethods = append([]string(nil), c.SaveMethods...)
	return c
}

// ErrorCode classifies an error returned by the driver: libvirt's "no such
// domain/network/pool/volume" as NotFound, an operation invalid in the
// object's state as FailedPrecondition, a lost or refused connection to
// libvirtd as Unavailable.
func (d *Driver) ErrorCode(err error) occi.Code { return classify(err) }

// Close waits for saves still copying (at most GracefulTimeout; a copy
// still running then is aborted and its half image removed) and closes the
// connection.
func (d *Driver) Close() error {
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.opts.GracefulTimeout):
		// A copy that takes longer is aborted; its half image is removed.
		d.cancel()
		<-done
	}
	d.cancel()
	return d.conn.close()
}

// localHost reports whether libvirtd runs on this machine (a URI without a
// host), so that paths such as console logs are local files.
func (d *Driver) localHost() bool { return d.conn.uri.Host == "" }

// URI returns the libvirt URI the driver talks to.
func (d *Driver) URI() string { return d.opts.URI }

// DomainType returns the domain type the driver creates, "kvm" or "qemu".
func (d *Driver) DomainType() string { return d.opts.DomainType }

// client returns the connected libvirt client.
func (d *Driver) client() (*libvirt.Libvirt, error) { return d.conn.get() }

// Entity naming.

// entityID returns the id of e, falling back to the last segment of its
// location.
func entityID(e *occi.Entity) string {
	if e.ID != "" {
		return e.ID
	}
	loc := strings.TrimSuffix(e.Location, "/")
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[i+1:]
	}
	return loc
}

func (d *Driver) domainName(e *occi.Entity) string { return d.opts.Prefix + entityID(e) }
func (d *Driver) networkName(e *occi.Entity) string {
	if e.BackendRef != "" && strings.HasPrefix(e.BackendRef, "network/") {
		return strings.TrimPrefix(e.BackendRef, "network/")
	}
	return d.opts.Prefix + entityID(e)
}
func (d *Driver) volumeName(e *occi.Entity) string {
	if e.BackendRef != "" && strings.HasPrefix(e.BackendRef, "volume/") {
		return strings.TrimPrefix(e.BackendRef, "volume/")
	}
	return d.opts.Prefix + entityID(e) + ".qcow2"
}

// idFromLocation returns the last path segment of a location.
func idFromLocation(loc string) string {
	loc = strings.TrimSuffix(loc, "/")
	if u, err := url.Parse(loc); err == nil && u.Path != "" {
		loc = u.Path
	}
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[i+1:]
	}
	return loc
}

// kindOf returns the kind term of e.
func kindOf(e *occi.Entity) string {
	if e.Kind.Scheme == infraScheme {
		return e.Kind.Term
	}
	return ""
}

// Create makes the entity real: a defined (inactive) domain, a volume, a
// defined (inactive) network, or an attached device.
func (d *Driver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if req.Entity == nil {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "no entity to create")
	}
	switch kindOf(req.Entity) {
	case "compute":
		return d.createCompute(ctx, req)
	case "storage":
		return d.createStorage(ctx, req.Entity)
	case "network":
		return d.createNetwork(ctx, req.Entity)
	case "networkinterface":
		return d.createInterface(ctx, req)
	case "storagelink":
		return d.createStorageLink(ctx, req)
	}
	return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "kind %s is not supported by the libvirt backend", req.Entity.Kind)
}

// Update applies changed attributes or templates.
func (d *Driver) Update(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	switch kindOf(updated) {
	case "compute":
		return d.updateCompute(ctx, old, updated)
	case "storage":
		return d.updateStorage(ctx, old, updated)
	case "network":
		return d.observeNetwork(ctx, updated)
	case "networkinterface":
		return d.observeInterface(ctx, updated)
	case "storagelink":
		return d.observeStorageLink(ctx, updated)
	}
	return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "kind %s is not supported by the libvirt backend", updated.Kind)
}

// Delete removes the object behind e and what it owns; something already
// gone is not an error.
func (d *Driver) Delete(ctx context.Context, e *occi.Entity) error {
	switch kindOf(e) {
	case "compute":
		return d.deleteCompute(ctx, e)
	case "storage":
		return d.deleteStorage(ctx, e)
	case "network":
		return d.deleteNetwork(ctx, e)
	case "networkinterface", "storagelink":
		return d.deleteLink(ctx, e)
	}
	return occi.Errorf(occi.InvalidArgument, "kind %s is not supported by the libvirt backend", e.Kind)
}

// Observe reads the current state of the object behind e from libvirt.
func (d *Driver) Observe(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	switch kindOf(e) {
	case "compute":
		return d.observeCompute(ctx, e)
	case "storage":
		return d.observeStorage(ctx, e)
	case "network":
		return d.observeNetwork(ctx, e)
	case "networkinterface":
		return d.observeInterface(ctx, e)
	case "storagelink":
		return d.observeStorageLink(ctx, e)
	}
	return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "kind %s is not supported by the libvirt backend", e.Kind)
}

// Act runs a compute or network action and returns once it has completed.
func (d *Driver) Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, progress backend.ProgressFunc) (backend.Observation, error) {
	if inv == nil {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "no action to run")
	}
	if progress == nil {
		progress = func(backend.Observation) {}
	}
	switch inv.Action.Scheme {
	case computeActionScheme:
		if kindOf(e) == "compute" {
			return d.actCompute(ctx, e, inv, progress)
		}
	case networkActionScheme:
		if kindOf(e) == "network" {
			return d.actNetwork(ctx, e, inv)
		}
	}
	return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "action %s does not apply to %s", inv.Action, e.Kind)
}

// sleepCtx waits for dur or until ctx ends.
func sleepCtx(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stringAttr returns a string attribute or "".
func stringAttr(a occi.Attributes, name string) string {
	s, _ := a[name].(string)
	return s
}

// numAttr returns a numeric attribute as float64.
func numAttr(a occi.Attributes, name string) (float64, bool) {
	switch v := a[name].(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case int:
		return float64(v), true
	}
	return 0, false
}

var errNoRoot = errors.New("no root disk")

func wrapf(code occi.Code, err error, format string, args ...any) error {
	return occi.Wrap(err, code, fmt.Sprintf(format, args...))
}

// Leftovers lists every domain, network and volume (in the image and
// volume pools) whose name starts with the driver's prefix, and every saved
// image, as "domain/NAME", "network/NAME", "volume/POOL/NAME".
func (d *Driver) Leftovers(ctx context.Context) ([]string, error) {
	l, err := d.client()
	if err != nil {
		return nil, err
	}
	var out []string
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, d.fail(err, "listing domains")
	}
	for _, dom := range doms {
		if strings.HasPrefix(dom.Name, d.opts.Prefix) {
			out = append(out, "domain/"+dom.Name)
		}
	}
	nets, _, err := l.ConnectListAllNetworks(1, 0)
	if err != nil {
		return nil, d.fail(err, "listing networks")
	}
	for _, n := range nets {
		if strings.HasPrefix(n.Name, d.opts.Prefix) {
			out = append(out, "network/"+n.Name)
		}
	}
	for _, pool := range []string{d.opts.VolumePool, d.opts.ImagePool} {
		p, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return nil, d.fail(err, "looking up pool %s", pool)
		}
		vols, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
		if err != nil {
			return nil, d.fail(err, "listing pool %s", pool)
		}
		for _, v := range vols {
			if pool == d.opts.ImagePool || strings.HasPrefix(v.Name, d.opts.Prefix) {
				out = append(out, "volume/"+pool+"/"+v.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Interfaces the driver implements.
var (
	_ backend.Driver  = (*Driver)(nil)
	_ backend.Watcher = (*Driver)(nil)
)

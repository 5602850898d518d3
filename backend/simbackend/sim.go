package simbackend

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Options configure a simulator.
type Options struct {
	// Dir keeps the simulator's state (state.json) so that a reopened
	// driver finds everything again; "" keeps it in memory only.
	Dir string
	// Delay is how long a boot or a stop takes (see the package
	// documentation for the other operations); 0 makes everything instant.
	Delay time.Duration
	// Seed makes generated references and MAC addresses reproducible;
	// 0 picks a random seed.
	Seed uint64
}

// Driver is the simulated cloud. It implements backend.Driver and
// backend.Watcher and is safe for concurrent use.
type Driver struct {
	opts Options

	mu      sync.Mutex
	st      *state
	byLoc   map[string]string // location → ref
	rng     *rand.Rand
	faults  map[string][]error
	watch   map[int]*watcher
	nextW   int
	closed  bool
	closing chan struct{}
	unlock  func() // releases Dir
	bg      sync.WaitGroup
}

// state is everything the simulator knows; it is what state.json holds.
type state struct {
	Version   int                `json:"version"`
	Objects   map[string]*object `json:"objects"`
	Templates []*savedTemplate   `json:"templates"`
	NextNet   int                `json:"next_net"`
}

// object is one simulated resource or link.
type object struct {
	Ref      string `json:"ref"`
	Location string `json:"location"`
	Kind     string `json:"kind"`
	Owner    string `json:"owner,omitempty"`
	State    string `json:"state,omitempty"` // resources only; links derive theirs
	Message  string `json:"message,omitempty"`
	Busy     string `json:"busy,omitempty"` // operation in progress
	gen      uint64 // bumped by out-of-band changes and deletion

	// compute
	OSTemplate       string  `json:"os_template,omitempty"`
	ResourceTemplate string  `json:"resource_template,omitempty"`
	Boots            int     `json:"boots,omitempty"`
	Hostname         string  `json:"hostname,omitempty"`
	Cores            int64   `json:"cores,omitempty"`
	Memory           float64 `json:"memory,omitempty"`

	// storage
	Size float64 `json:"size,omitempty"`

	// network
	IP        bool   `json:"ip,omitempty"` // carries ipnetwork
	Address   string `json:"address,omitempty"`
	Gateway   string `json:"gateway,omitempty"`
	NetAlloc  string `json:"net_allocation,omitempty"`
	Subnet    string `json:"subnet,omitempty"` // internal range for interface addresses
	Interface string `json:"interface,omitempty"`

	// links
	Source   string `json:"source,omitempty"` // ref of the source compute
	Target   string `json:"target,omitempty"` // ref of the target, "" when remote
	MAC      string `json:"mac,omitempty"`
	IPIface  bool   `json:"ip_interface,omitempty"` // carries ipnetworkinterface
	IfAddr   string `json:"if_address,omitempty"`
	IfAlloc  string `json:"if_allocation,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
}

// savedTemplate is an OS template made by save.
type savedTemplate struct {
	Name     string    `json:"name"`
	Title    string    `json:"title"`
	State    string    `json:"state"`
	Message  string    `json:"message,omitempty"`
	Progress int       `json:"progress"`
	Source   string    `json:"source"` // location of the source compute
	Owner    string    `json:"owner,omitempty"`
	Boots    int       `json:"boots"` // the disk copy's boot counter
	Created  time.Time `json:"created"`
}

type providerTemplate struct {
	typ   backend.TemplateType
	name  string
	title string
	cores int64
	mem   float64
}

var providerTemplates = []providerTemplate{
	{typ: backend.OSTemplate, name: "debian-12", title: "Debian 12 (bookworm), simulated"},
	{typ: backend.OSTemplate, name: "ubuntu-24.04", title: "Ubuntu 24.04 LTS, simulated"},
	{typ: backend.OSTemplate, name: "tinyos", title: "tinyos test guest, simulated"},
	{typ: backend.ResourceTemplate, name: "small", title: "Small: 1 core, 1 GiB", cores: 1, mem: 1},
	{typ: backend.ResourceTemplate, name: "medium", title: "Medium: 2 cores, 4 GiB", cores: 2, mem: 4},
	{typ: backend.ResourceTemplate, name: "large", title: "Large: 4 cores, 8 GiB", cores: 4, mem: 8},
}

func findProvider(name string) (providerTemplate, bool) {
	for _, p := range providerTemplates {
		if p.name == name {
			return p, true
		}
	}
	return providerTemplate{}, false
}

// Open returns a simulator. With opts.Dir set it loads the state saved
// there, if any, and resumes the template copies that were under way.
func Open(opts Options) (*Driver, error) {
	if opts.Delay < 0 {
		return nil, errorf(ErrInvalid, "negative delay %v", opts.Delay)
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("simbackend: seeding: %w", err)
		}
		seed = binary.LittleEndian.Uint64(b[:])
	}
	d := &Driver{
		opts:    opts,
		byLoc:   map[string]string{},
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		faults:  map[string][]error{},
		watch:   map[int]*watcher{},
		closing: make(chan struct{}),
		unlock:  func() {},
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("simbackend: creating state directory: %w", err)
		}
		unlock, err := lockDir(opts.Dir)
		if err != nil {
			return nil, err
		}
		d.unlock = unlock
	}
	st, err := load(opts.Dir)
	if err != nil {
		d.unlock()
		return nil, err
	}
	d.st = st
	for ref, o := range st.Objects {
		o.Ref = ref
		d.byLoc[o.Location] = ref
		if o.Busy != "" {
			// The process ended in the middle of an action: settle in
			// the state the object had before it.
			o.Busy = ""
			o.Message = ""
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.persistLocked(); err != nil {
		d.unlock()
		return nil, err
	}
	for _, t := range st.Templates {
		if t.State == backend.TemplateSaving {
			d.startCopyLocked(t)
		}
	}
	return d, nil
}

// Dir returns the directory the driver keeps its state in ("" in memory).
func (d *Driver) Dir() string { return d.opts.Dir }

// Capabilities reports every Infrastructure kind, action and behavioural
// mixin, OS template replacement and both save methods.
func (d *Driver) Capabilities() backend.Capabilities {
	return backend.Capabilities{
		Kinds:             append([]occi.CategoryID(nil), kindIDs...),
		Actions:           append([]occi.CategoryID(nil), actionIDs...),
		Mixins:            []occi.CategoryID{mixinSSHKey, mixinUserData, mixinIPNetwork, mixinIPNetworkInterface},
		ReplaceOSTemplate: true,
		SaveMethods:       []string{"hot", "deferred"},
	}
}

// Templates returns the provider OS and resource templates followed by the
// saved templates in the order they were made.
func (d *Driver) Templates(ctx context.Context) ([]backend.Template, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("templates"); err != nil {
		return nil, err
	}
	out := make([]backend.Template, 0, len(providerTemplates)+len(d.st.Templates))
	for _, p := range providerTemplates {
		t := backend.Template{Type: p.typ, Name: p.name, Title: p.title, State: backend.TemplateReady, Progress: 100}
		if p.typ == backend.ResourceTemplate {
			t.Attributes = occi.Attributes{attrCores: p.cores, attrMemory: p.mem}
		}
		out = append(out, t)
	}
	for _, s := range d.st.Templates {
		out = append(out, s.template())
	}
	return out, nil
}

func (s *savedTemplate) template() backend.Template {
	return backend.Template{
		Type: backend.OSTemplate, Name: s.Name, Title: s.Title, State: s.State,
		Message: s.Message, Progress: s.Progress, Source: s.Source, Owner: s.Owner,
	}
}

func (d *Driver) findSavedLocked(name string) *savedTemplate {
	for _, s := range d.st.Templates {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// checkLocked reports ErrClosed on a closed driver and consumes an injected
// failure for op.
func (d *Driver) checkLocked(op string) error {
	if d.closed {
		return errorf(ErrClosed, "driver is closed")
	}
	if q := d.faults[op]; len(q) > 0 {
		err := q[0]
		if len(q) == 1 {
			delete(d.faults, op)
		} else {
			d.faults[op] = q[1:]
		}
		return err
	}
	return nil
}

// FailNext makes the next operation named op fail with err. Operations are
// "create", "update", "delete", "observe", "templates", "save" (Save fails
// at once and leaves the compute as it was), "copy" (the background copy of
// the next save fails and its template ends in error), and the action terms
// "start", "stop", "restart", "suspend", "up", "down", "online", "offline"
// (the object moves to error, with err's text as its message). Calls queue:
// two FailNext for one op fail its next two calls.
func (d *Driver) FailNext(op string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults[op] = append(d.faults[op], err)
}

// Disk returns the boot counter of the disk of the compute at location.
func (d *Driver) Disk(location string) (boots int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.st.Objects[d.byLoc[location]]
	if o == nil || o.Kind != kindCompute {
		return 0, false
	}
	return o.Boots, true
}

// Leftovers lists what the simulator holds: the location of every object and
// "template:NAME" for every saved template. The conformance suite uses it to
// check that deleting an entity leaves nothing behind.
func (d *Driver) Leftovers(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, o := range d.st.Objects {
		out = append(out, o.Location)
	}
	for _, s := range d.st.Templates {
		out = append(out, "template:"+s.Name)
	}
	sort.Strings(out)
	return out, nil
}

// DeleteTemplate deletes a saved template, stopping its copy if it is still
// saving. Provider templates cannot be deleted (FailedPrecondition) and an
// unknown name is NotFound.
func (d *Driver) DeleteTemplate(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errorf(ErrClosed, "driver is closed")
	}
	if _, ok := findProvider(name); ok {
		return occi.Errorf(occi.PermissionDenied, "template %s is a provider template and cannot be deleted", name)
	}
	for i, s := range d.st.Templates {
		if s.Name == name {
			d.st.Templates = append(d.st.Templates[:i], d.st.Templates[i+1:]...)
			return d.persistLocked()
		}
	}
	return errorf(ErrNotFound, "no template %s", name)
}

// Close stops background work, ends every Watch and makes further calls fail
// with ErrClosed. The state on disk is kept.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	d.mu.Unlock()
	d.bg.Wait()
	d.unlock()
	return nil
}

// sleep waits for dur, returning early with ctx's error or ErrClosed.
func (d *Driver) sleep(ctx context.Context, dur time.Duration) error {
	if dur <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.closing:
		return errorf(ErrClosed, "driver closed during the operation")
	}
}

// lookupLocked finds the object behind e: by BackendRef when it is set, else
// by location. It returns nil if there is none.
func (d *Driver) lookupLocked(e *occi.Entity) *object {
	if e == nil {
		return nil
	}
	if e.BackendRef != "" {
		return d.st.Objects[e.BackendRef]
	}
	if ref, ok := d.byLoc[e.Location]; ok {
		return d.st.Objects[ref]
	}
	return nil
}

func (d *Driver) newRefLocked() string {
	for {
		ref := fmt.Sprintf("sim-%016x", d.rng.Uint64())
		if _, taken := d.st.Objects[ref]; !taken {
			return ref
		}
	}
}

func (d *Driver) newMACLocked() string {
	for {
		v := d.rng.Uint64()
		mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		taken := false
		for _, o := range d.st.Objects {
			if o.MAC == mac {
				taken = true
				break
			}
		}
		if !taken {
			return mac
		}
	}
}

// kindOf returns the kind term of e if it is an Infrastructure kind.
func kindOf(e *occi.Entity) (string, error) {
	for _, k := range kindIDs {
		if e.Kind == k {
			return k.Term, nil
		}
	}
	return "", errorf(ErrInvalid, "kind %s is not simulated", e.Kind)
}

func floatAttr(a occi.Attributes, name string) (float64, bool, error) {
	switch v := a[name].(type) {
	case nil:
		return 0, false, nil
	case float64:
		return v, true, nil
	case int64:
		return float64(v), true, nil
	case int:
		return float64(v), true, nil
	}
	return 0, false, errorf(ErrInvalid, "attribute %s is a %T, want a number", name, a[name])
}

func intAttr(a occi.Attributes, name string) (int64, bool, error) {
	switch v := a[name].(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case int:
		return int64(v), true, nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true, nil
		}
	}
	return 0, false, errorf(ErrInvalid, "attribute %s is %v, want an integer", name, a[name])
}

func stringAttr(a occi.Attributes, name string) (string, error) {
	switch v := a[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", errorf(ErrInvalid, "attribute %s is a %T, want a string", name, a[name])
}

// Create makes the object behind req.Entity. Resources start in their
// initial state (compute and network inactive, storage offline).
func (d *Driver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, err
	}
	e := req.Entity
	if e == nil || e.Location == "" {
		return backend.Observation{}, errorf(ErrInvalid, "create needs an entity with a location")
	}
	kind, err := kindOf(e)
	if err != nil {
		return backend.Observation{}, err
	}
	if err := d.sleep(ctx, d.opts.Delay/10); err != nil {
		return backend.Observation{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("create"); err != nil {
		return backend.Observation{}, err
	}
	if _, taken := d.byLoc[e.Location]; taken {
		return backend.Observation{}, errorf(ErrExists, "%s already exists", e.Location)
	}
	o := &object{Location: e.Location, Kind: kind, Owner: e.Owner}
	switch kind {
	case kindCompute:
		err = d.newComputeLocked(o, req)
	case kindStorage:
		o.State = "offline"
		size, ok, ferr := floatAttr(e.Attributes, attrStorageSize)
		switch {
		case ferr != nil:
			err = ferr
		case !ok:
			err = errorf(ErrInvalid, "storage %s has no %s", e.Location, attrStorageSize)
		case size <= 0:
			err = errorf(ErrInvalid, "storage %s: %s must be positive, got %v", e.Location, attrStorageSize, size)
		default:
			o.Size = size
		}
	case kindNetwork:
		err = d.newNetworkLocked(o, e)
	case kindNetworkInterface, kindStorageLink:
		err = d.newLinkLocked(o, req)
	}
	if err != nil {
		return backend.Observation{}, err
	}
	o.Ref = d.newRefLocked()
	d.st.Objects[o.Ref] = o
	d.byLoc[o.Location] = o.Ref
	if err := d.persistLocked(); err != nil {
		delete(d.st.Objects, o.Ref)
		delete(d.byLoc, o.Location)
		return backend.Observation{}, err
	}
	return d.observeLocked(o), nil
}

func (d *Driver) newComputeLocked(o *object, req backend.CreateRequest) error {
	e := req.Entity
	o.State = "inactive"
	if req.OSTemplate != "" {
		boots, err := d.osDiskLocked(req.OSTemplate)
		if err != nil {
			return err
		}
		o.OSTemplate, o.Boots = req.OSTemplate, boots
	}
	o.Cores, o.Memory = 1, 1
	if err := setSize(o, e.Attributes); err != nil {
		return err
	}
	if req.ResourceTemplate != "" {
		p, ok := findProvider(req.ResourceTemplate)
		if !ok || p.typ != backend.ResourceTemplate {
			return errorf(ErrInvalid, "no resource template %s", req.ResourceTemplate)
		}
		o.ResourceTemplate, o.Cores, o.Memory = p.name, p.cores, p.mem
	}
	h, err := stringAttr(e.Attributes, attrHostname)
	if err != nil {
		return err
	}
	if h == "" {
		h = defaultHostname(e)
	}
	o.Hostname = h
	return nil
}

func setSize(o *object, a occi.Attributes) error {
	if c, ok, err := intAttr(a, attrCores); err != nil {
		return err
	} else if ok {
		if c < 1 {
			return errorf(ErrInvalid, "%s must be at least 1, got %d", attrCores, c)
		}
		o.Cores = c
	}
	if m, ok, err := floatAttr(a, attrMemory); err != nil {
		return err
	} else if ok {
		if m <= 0 {
			return errorf(ErrInvalid, "%s must be positive, got %v", attrMemory, m)
		}
		o.Memory = m
	}
	return nil
}

// osDiskLocked returns the boot counter a disk made from the OS template
// name starts with.
func (d *Driver) osDiskLocked(name string) (int, error) {
	if p, ok := findProvider(name); ok {
		if p.typ != backend.OSTemplate {
			return 0, errorf(ErrInvalid, "%s is a resource template, not an OS template", name)
		}
		return 0, nil
	}
	s := d.findSavedLocked(name)
	if s == nil {
		return 0, errorf(ErrInvalid, "no OS template %s", name)
	}
	if s.State != backend.TemplateReady {
		return 0, errorf(ErrState, "OS template %s is %s, not ready", name, s.State)
	}
	return s.Boots, nil
}

func (d *Driver) newNetworkLocked(o *object, e *occi.Entity) error {
	o.State = "inactive"
	o.IP = e.HasMixin(mixinIPNetwork)
	addr, err := stringAttr(e.Attributes, attrNetAddress)
	if err != nil {
		return err
	}
	gw, err := stringAttr(e.Attributes, attrNetGateway)
	if err != nil {
		return err
	}
	alloc, err := stringAttr(e.Attributes, attrNetAlloc)
	if err != nil {
		return err
	}
	if addr == "" {
		d.st.NextNet++
		addr = fmt.Sprintf("10.%d.%d.0/24", 100+d.st.NextNet/256%100, d.st.NextNet%256)
	}
	pfx, err := netip.ParsePrefix(addr)
	if err != nil {
		return errorf(ErrInvalid, "network %s: %s %q is not a CIDR range", e.Location, attrNetAddress, addr)
	}
	if gw == "" {
		gw = pfx.Masked().Addr().Next().String()
	} else if _, err := netip.ParseAddr(strings.SplitN(gw, "/", 2)[0]); err != nil {
		return errorf(ErrInvalid, "network %s: %s %q is not an IP address", e.Location, attrNetGateway, gw)
	}
	if alloc == "" {
		alloc = "dynamic"
	}
	o.Address, o.Gateway, o.NetAlloc, o.Subnet = addr, gw, alloc, pfx.Masked().String()
	return nil
}

func (d *Driver) newLinkLocked(o *object, req backend.CreateRequest) error {
	e := req.Entity
	src := d.lookupLocked(req.Source)
	if src == nil && req.Source == nil && e.Source != "" {
		src = d.st.Objects[d.byLoc[e.Source]]
	}
	if src == nil || src.Kind != kindCompute {
		return errorf(ErrInvalid, "%s: source %s is not a compute of this simulator", e.Location, e.Source)
	}
	o.Source = src.Ref
	var tgt *object
	if req.Target != nil {
		tgt = d.lookupLocked(req.Target)
	} else if ref, ok := d.byLoc[e.Target]; ok {
		tgt = d.st.Objects[ref]
	}
	want := kindNetwork
	if o.Kind == kindStorageLink {
		want = kindStorage
	}
	switch {
	case tgt != nil && tgt.Kind != want:
		return errorf(ErrInvalid, "%s: target %s is a %s, want a %s", e.Location, e.Target, tgt.Kind, want)
	case tgt == nil && req.Target != nil:
		return errorf(ErrInvalid, "%s: target %s does not exist in this simulator", e.Location, e.Target)
	case tgt == nil && o.Kind == kindStorageLink:
		return errorf(ErrInvalid, "%s: target %s must be a storage of this server", e.Location, e.Target)
	}
	if tgt != nil {
		o.Target = tgt.Ref
	}
	if o.Kind == kindStorageLink {
		dev, err := stringAttr(e.Attributes, attrSLDeviceID)
		if err != nil {
			return err
		}
		if dev == "" {
			dev = d.freeNameLocked(src.Ref, kindStorageLink, func(i int) string { return "/dev/vd" + string(rune('b'+i)) })
		}
		o.DeviceID = dev
		return nil
	}
	mac, err := stringAttr(e.Attributes, attrNIMAC)
	if err != nil {
		return err
	}
	if mac == "" {
		mac = d.newMACLocked()
	}
	o.MAC = mac
	o.Interface = d.freeNameLocked(src.Ref, kindNetworkInterface, func(i int) string { return fmt.Sprintf("eth%d", i) })
	o.IPIface = e.HasMixin(mixinIPNetworkInterface)
	if !o.IPIface {
		return nil
	}
	alloc, err := stringAttr(e.Attributes, attrNIAlloc)
	if err != nil {
		return err
	}
	addr, err := stringAttr(e.Attributes, attrNIAddress)
	if err != nil {
		return err
	}
	if alloc == "" {
		alloc = "dynamic"
		if addr != "" {
			alloc = "static"
		}
	}
	o.IfAlloc = alloc
	switch {
	case addr != "":
		if _, err := netip.ParseAddr(strings.SplitN(addr, "/", 2)[0]); err != nil {
			return errorf(ErrInvalid, "%s: %s %q is not an IP address", e.Location, attrNIAddress, addr)
		}
		o.IfAddr = addr
	case alloc == "static":
		return errorf(ErrInvalid, "%s: a static interface needs %s", e.Location, attrNIAddress)
	case tgt != nil:
		a, err := d.freeAddressLocked(tgt)
		if err != nil {
			return err
		}
		o.IfAddr = a
	}
	return nil
}

// freeNameLocked returns the first name(i) not used by a link of kind whose
// source is src.
func (d *Driver) freeNameLocked(src, kind string, name func(int) string) string {
	used := map[string]bool{}
	for _, l := range d.st.Objects {
		if l.Source == src && l.Kind == kind {
			used[l.DeviceID] = true
			used[l.Interface] = true
		}
	}
	for i := 0; ; i++ {
		if n := name(i); !used[n] {
			return n
		}
	}
}

// freeAddressLocked returns the first free host address of network n.
func (d *Driver) freeAddressLocked(n *object) (string, error) {
	pfx, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return "", errorf(ErrState, "network %s has no address range", n.Location)
	}
	used := map[string]bool{strings.SplitN(n.Gateway, "/", 2)[0]: true}
	for _, l := range d.st.Objects {
		if l.Target == n.Ref && l.IfAddr != "" {
			used[strings.SplitN(l.IfAddr, "/", 2)[0]] = true
		}
	}
	for a := pfx.Addr().Next(); pfx.Contains(a); a = a.Next() {
		if next := a.Next(); !pfx.Contains(next) && a.Is4() {
			break // the broadcast address
		}
		if !used[a.String()] {
			return a.String(), nil
		}
	}
	return "", errorf(ErrState, "network %s has no free address left", n.Location)
}

// observeLocked returns what the simulator reports about o.
func (d *Driver) observeLocked(o *object) backend.Observation {
	obs := backend.Observation{State: o.State, Message: o.Message, Ref: o.Ref, Attributes: occi.Attributes{}}
	a := obs.Attributes
	switch o.Kind {
	case kindCompute:
		a[attrHostname] = o.Hostname
		a[attrCores] = o.Cores
		a[attrMemory] = o.Memory
	case kindStorage:
		a[attrStorageSize] = o.Size
	case kindNetwork:
		if o.IP {
			a[attrNetAddress] = o.Address
			a[attrNetGateway] = o.Gateway
			a[attrNetAlloc] = o.NetAlloc
		}
	case kindNetworkInterface, kindStorageLink:
		obs.State = d.linkStateLocked(o)
		if o.Kind == kindStorageLink {
			a[attrSLDeviceID] = o.DeviceID
			break
		}
		a[attrNIMAC] = o.MAC
		a[attrNIInterface] = o.Interface
		if o.IPIface {
			if o.IfAddr != "" {
				a[attrNIAddress] = o.IfAddr
			}
			a[attrNIAlloc] = o.IfAlloc
			if t := d.st.Objects[o.Target]; t != nil && t.Gateway != "" {
				a[attrNIGateway] = t.Gateway
			}
		}
	}
	return obs
}

func (d *Driver) linkStateLocked(l *object) string {
	src := d.st.Objects[l.Source]
	if src == nil || src.State != "active" {
		return "inactive"
	}
	if l.Target != "" {
		t := d.st.Objects[l.Target]
		if t == nil || (t.State != "active" && t.State != "online") {
			return "inactive"
		}
	}
	return "active"
}

// Observe returns the current state of the object behind e; an object that
// does not exist is reported Gone.
func (d *Driver) Observe(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("observe"); err != nil {
		return backend.Observation{}, err
	}
	if e == nil {
		return backend.Observation{}, errorf(ErrInvalid, "observe needs an entity")
	}
	o := d.lookupLocked(e)
	if o == nil {
		return backend.Observation{Gone: true, Ref: e.BackendRef}, nil
	}
	return d.observeLocked(o), nil
}

// Update applies changed attributes and templates: hostname, cores and
// memory, a new resource template (resize) or OS template (re-image: the
// disk is replaced by the template's, and an active compute reboots on it),
// a larger storage size (shrinking is refused), a network's gateway and
// allocation (its range stays), a link's MAC, address or device id.
func (d *Driver) Update(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("update"); err != nil {
		return backend.Observation{}, err
	}
	if updated == nil {
		return backend.Observation{}, errorf(ErrInvalid, "update needs the updated entity")
	}
	o := d.lookupLocked(updated)
	if o == nil {
		o = d.lookupLocked(old)
	}
	if o == nil {
		return backend.Observation{}, errorf(ErrNotFound, "%s does not exist in the simulator", updated.Location)
	}
	if o.Busy != "" {
		return backend.Observation{}, errorf(ErrBusy, "%s is busy: %s", o.Location, o.Busy)
	}
	n := *o
	a := updated.Attributes
	var err error
	switch o.Kind {
	case kindCompute:
		err = d.updateComputeLocked(&n, old, updated)
	case kindStorage:
		if size, ok, ferr := floatAttr(a, attrStorageSize); ferr != nil {
			err = ferr
		} else if ok {
			if size < o.Size {
				err = errorf(ErrInvalid, "storage %s cannot shrink from %v to %v GiB", o.Location, o.Size, size)
			}
			n.Size = size
		}
	case kindNetwork:
		n.IP = updated.HasMixin(mixinIPNetwork)
		if g, serr := stringAttr(a, attrNetGateway); serr != nil {
			err = serr
		} else if g != "" {
			n.Gateway = g
		}
		if al, serr := stringAttr(a, attrNetAlloc); serr != nil {
			err = serr
		} else if al != "" {
			n.NetAlloc = al
		}
	case kindNetworkInterface:
		if m, serr := stringAttr(a, attrNIMAC); serr != nil {
			err = serr
		} else if m != "" {
			n.MAC = m
		}
		if ad, serr := stringAttr(a, attrNIAddress); serr != nil {
			err = serr
		} else if ad != "" && n.IPIface {
			n.IfAddr = ad
		}
	case kindStorageLink:
		if dev, serr := stringAttr(a, attrSLDeviceID); serr != nil {
			err = serr
		} else if dev != "" {
			n.DeviceID = dev
		}
	}
	if err != nil {
		return backend.Observation{}, err
	}
	prev := *o
	*o = n
	if err := d.persistLocked(); err != nil {
		*o = prev
		return backend.Observation{}, err
	}
	return d.observeLocked(o), nil
}

func (d *Driver) updateComputeLocked(n *object, old, updated *occi.Entity) error {
	if h, err := stringAttr(updated.Attributes, attrHostname); err != nil {
		return err
	} else if h != "" {
		n.Hostname = h
	}
	if err := setSize(n, updated.Attributes); err != nil {
		return err
	}
	for _, m := range updated.Mixins {
		if old != nil && old.HasMixin(m) {
			continue
		}
		if p, ok := findProvider(m.Term); ok && p.typ == backend.ResourceTemplate {
			n.ResourceTemplate, n.Cores, n.Memory = p.name, p.cores, p.mem
			continue
		}
		if _, ok := findProvider(m.Term); ok || d.findSavedLocked(m.Term) != nil {
			boots, err := d.osDiskLocked(m.Term)
			if err != nil {
				return err
			}
			n.OSTemplate, n.Boots = m.Term, boots
			if n.State == "active" {
				n.Boots++ // the VM reboots on its new disk
			}
		}
	}
	return nil
}

// Delete removes the object behind e, in any state, with its links (a
// compute's links, or the links that point to a network or storage). An
// object already gone is not an error.
func (d *Driver) Delete(ctx context.Context, e *occi.Entity) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e == nil {
		return errorf(ErrInvalid, "delete needs an entity")
	}
	d.mu.Lock()
	if o := d.lookupLocked(e); o == nil || d.closed {
		d.mu.Unlock()
		if d.closed {
			return errorf(ErrClosed, "driver is closed")
		}
		return nil
	}
	d.mu.Unlock()
	if err := d.sleep(ctx, d.opts.Delay/10); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked("delete"); err != nil {
		return err
	}
	o := d.lookupLocked(e)
	if o == nil {
		return nil
	}
	removed := d.removeLocked(o)
	if err := d.persistLocked(); err != nil {
		return err
	}
	for _, r := range removed {
		if r != o {
			d.emitLocked(backend.Event{Location: r.Location, Observation: backend.Observation{Gone: true, Ref: r.Ref}})
		}
	}
	return nil
}

// removeLocked deletes o and the links that depend on it; it returns every
// removed object.
func (d *Driver) removeLocked(o *object) []*object {
	removed := []*object{o}
	for _, l := range d.st.Objects {
		if l != o && (l.Source == o.Ref || l.Target == o.Ref) && (l.Kind == kindNetworkInterface || l.Kind == kindStorageLink) {
			removed = append(removed, l)
		}
	}
	for _, r := range removed {
		r.gen++
		delete(d.st.Objects, r.Ref)
		delete(d.byLoc, r.Location)
	}
	return removed
}

// linksOfLocked returns the links whose state depends on o.
func (d *Driver) linksOfLocked(o *object) []*object {
	var out []*object
	for _, l := range d.st.Objects {
		if l.Source == o.Ref || (l.Target == o.Ref && l.Kind != o.Kind) {
			if l.Kind == kindNetworkInterface || l.Kind == kindStorageLink {
				out = append(out, l)
			}
		}
	}
	return out
}

var (
	_ backend.Driver  = (*Driver)(nil)
	_ backend.Watcher = (*Driver)(nil)
)

// defaultHostname derives a valid DNS label from the entity's location (its
// last segment, which never carries the "urn:uuid:" prefix of the id):
// "vm-" and the first eight letters, digits or hyphens, lower-cased.
func defaultHostname(e *occi.Entity) string {
	seg := e.Location[strings.LastIndexByte(e.Location, '/')+1:]
	if seg == "" {
		seg = strings.TrimPrefix(e.ID, "urn:uuid:")
	}
	var b strings.Builder
	for _, r := range strings.ToLower(seg) {
		if b.Len() == 8 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "vm"
	}
	return strings.TrimRight("vm-"+b.String(), "-")
}

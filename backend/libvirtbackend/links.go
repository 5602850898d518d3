package libvirtbackend

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"libvirt.org/go/libvirtxml"
)

// domainLocks serialises device changes per domain: links of one compute
// are different entities, so the engine may change them concurrently.
var domainLocks sync.Map // domain name → *sync.Mutex

func lockDomain(name string) func() {
	m, _ := domainLocks.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// linkRef is a link's backend reference: its domain and device alias.
func linkRef(domain, alias string) string { return "link/" + domain + "/" + alias }

// linkTarget returns the domain name and device alias of a link entity.
func (d *Driver) linkTarget(e *occi.Entity) (string, string) {
	if strings.HasPrefix(e.BackendRef, "link/") {
		rest := strings.TrimPrefix(e.BackendRef, "link/")
		if i := strings.LastIndexByte(rest, '/'); i > 0 {
			return rest[:i], rest[i+1:]
		}
	}
	return d.opts.Prefix + idFromLocation(e.Source), linkAlias(entityID(e))
}

// sourceDomain returns the domain of a link's source compute.
func (d *Driver) sourceDomain(req backend.CreateRequest) (string, error) {
	if req.Source != nil {
		if kindOf(req.Source) != "compute" {
			return "", occi.Errorf(occi.InvalidArgument, "the source of a %s must be a compute", req.Entity.Kind.Term)
		}
		return d.domainName(req.Source), nil
	}
	if req.Entity.Source == "" {
		return "", occi.Errorf(occi.InvalidArgument, "a %s needs a source compute", req.Entity.Kind.Term)
	}
	return d.opts.Prefix + idFromLocation(req.Entity.Source), nil
}

func (d *Driver) createInterface(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	e := req.Entity
	domName, err := d.sourceDomain(req)
	if err != nil {
		return backend.Observation{}, err
	}
	if req.Target == nil || kindOf(req.Target) != "network" {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "the target of a networkinterface must be a network of this server")
	}
	mac := stringAttr(e.Attributes, attrIfaceMAC)
	if mac != "" && !validMAC(mac) {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "occi.networkinterface.mac %q is not a MAC address such as 52:54:00:12:34:56", mac)
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	netName := d.networkName(req.Target)
	if _, err := l.NetworkLookupByName(netName); err != nil {
		return backend.Observation{}, d.fail(err, "looking up network %s", netName)
	}
	alias := linkAlias(entityID(e))
	x, err := interfaceXML(netName, mac, alias)
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "building interface XML")
	}
	msg, err := d.attach(l, domName, x, func(def *libvirtxml.Domain) error {
		var dev libvirtxml.DomainInterface
		if err := dev.Unmarshal(x); err != nil {
			return err
		}
		def.Devices.Interfaces = append(def.Devices.Interfaces, dev)
		return nil
	})
	if err != nil {
		return backend.Observation{}, err
	}
	obs, err := d.observeLink(l, domName, alias, true, e)
	if err == nil && msg != "" && obs.Message == "" {
		obs.Message = msg
	}
	return obs, err
}

func validMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (d *Driver) createStorageLink(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	e := req.Entity
	domName, err := d.sourceDomain(req)
	if err != nil {
		return backend.Observation{}, err
	}
	if req.Target == nil || kindOf(req.Target) != "storage" {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "the target of a storagelink must be a storage of this server")
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	v, err := d.lookupVolume(l, req.Target)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up volume %s", d.volumeName(req.Target))
	}
	path, err := l.StorageVolGetPath(v)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up volume %s", v.Name)
	}
	format := volFormat(l, v)
	alias := linkAlias(entityID(e))
	unlock := lockDomain(domName)
	defer unlock()
	dom, err := l.DomainLookupByName(domName)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up domain %s", domName)
	}
	def, err := d.domainDef(l, dom, 0)
	if err != nil {
		return backend.Observation{}, err
	}
	used := map[string]bool{}
	if def.Devices != nil {
		for _, dk := range def.Devices.Disks {
			if dk.Target != nil {
				used[dk.Target.Dev] = true
			}
			if dk.Source != nil && dk.Source.File != nil && dk.Source.File.File == path {
				return backend.Observation{}, occi.Errorf(occi.Conflict, "storage %s is already attached to this compute", req.Target.Location)
			}
		}
	}
	var dev string
	if want := stringAttr(e.Attributes, attrDeviceID); want != "" {
		var ok bool
		if dev, ok = normDevice(want); !ok {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "occi.storagelink.deviceid %q is not a virtio disk such as /dev/vdb", want)
		}
		if used[dev] {
			return backend.Observation{}, occi.Errorf(occi.Conflict, "occi.storagelink.deviceid %s is already in use on this compute", want)
		}
	} else {
		var ok bool
		if dev, ok = nextDevice(used); !ok {
			return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "the compute has no free disk device left (vdb..vdz)")
		}
	}
	x, err := diskXML(path, format, dev, alias)
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "building disk XML")
	}
	msg, err := d.attachLocked(l, dom, x, func(def *libvirtxml.Domain) error {
		var dk libvirtxml.DomainDisk
		if err := dk.Unmarshal(x); err != nil {
			return err
		}
		def.Devices.Disks = append(def.Devices.Disks, dk)
		return nil
	})
	if err != nil {
		return backend.Observation{}, err
	}
	obs, err := d.observeLink(l, domName, alias, false, e)
	if err == nil && msg != "" && obs.Message == "" {
		obs.Message = msg
	}
	return obs, err
}

// domainDef reads and parses a domain's XML.
func (d *Driver) domainDef(l *libvirt.Libvirt, dom libvirt.Domain, flags libvirt.DomainXMLFlags) (*libvirtxml.Domain, error) {
	x, err := l.DomainGetXMLDesc(dom, flags)
	if err != nil {
		return nil, d.fail(err, "reading domain %s", dom.Name)
	}
	var def libvirtxml.Domain
	if err := def.Unmarshal(x); err != nil {
		return nil, occi.Wrap(err, occi.Internal, "parsing domain "+dom.Name)
	}
	if def.Devices == nil {
		def.Devices = &libvirtxml.DomainDeviceList{}
	}
	return &def, nil
}

// attach adds a device to a domain: live and persistent on a running
// domain, persistent otherwise. Where the hypervisor cannot hot-plug (as
// libvirt's test driver), the device goes into the persistent definition
// only and the returned message says so.
func (d *Driver) attach(l *libvirt.Libvirt, domName, devXML string, edit func(*libvirtxml.Domain) error) (string, error) {
	unlock := lockDomain(domName)
	defer unlock()
	dom, err := l.DomainLookupByName(domName)
	if err != nil {
		return "", d.fail(err, "looking up domain %s", domName)
	}
	return d.attachLocked(l, dom, devXML, edit)
}

func (d *Driver) attachLocked(l *libvirt.Libvirt, dom libvirt.Domain, devXML string, edit func(*libvirtxml.Domain) error) (string, error) {
	active, err := l.DomainIsActive(dom)
	if err != nil {
		return "", d.fail(err, "reading domain %s", dom.Name)
	}
	if active == 1 {
		var in libvirtxml.DomainInterface
		if in.Unmarshal(devXML) == nil && in.Source != nil && in.Source.Network != nil {
			if err := d.ensureNetwork(l, in.Source.Network.Network); err != nil {
				return "", err
			}
		}
		err := l.DomainAttachDeviceFlags(dom, devXML, uint32(libvirt.DomainAffectLive|libvirt.DomainAffectConfig))
		if err == nil {
			return "", nil
		}
		if !isCode(err, libvirt.ErrNoSupport, libvirt.ErrOperationUnsupported, libvirt.ErrArgumentUnsupported) {
			return "", d.fail(err, "attaching a device to domain %s", dom.Name)
		}
	}
	if err := d.redefine(l, dom, edit); err != nil {
		return "", err
	}
	if active == 1 {
		return "attached to the definition only: the device appears at the next start", nil
	}
	return "", nil
}

// redefine edits a domain's persistent definition.
func (d *Driver) redefine(l *libvirt.Libvirt, dom libvirt.Domain, edit func(*libvirtxml.Domain) error) error {
	def, err := d.domainDef(l, dom, libvirt.DomainXMLInactive)
	if err != nil {
		return err
	}
	if err := edit(def); err != nil {
		return occi.Wrap(err, occi.Internal, "editing domain "+dom.Name)
	}
	x, err := def.Marshal()
	if err != nil {
		return occi.Wrap(err, occi.Internal, "building domain XML")
	}
	if _, err := l.DomainDefineXMLFlags(x, 0); err != nil {
		return d.fail(err, "redefining domain %s", dom.Name)
	}
	return nil
}

func (d *Driver) observeInterface(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	dom, alias := d.linkTarget(e)
	return d.observeLink(l, dom, alias, true, e)
}

func (d *Driver) observeStorageLink(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	dom, alias := d.linkTarget(e)
	return d.observeLink(l, dom, alias, false, e)
}

// observeLink reports a link's device: active while its domain runs with
// the device plugged in, inactive while the domain is off (the device is in
// its definition), gone when the device or the domain is gone.
func (d *Driver) observeLink(l *libvirt.Libvirt, domName, alias string, iface bool, e *occi.Entity) (backend.Observation, error) {
	gone := backend.Observation{Gone: true, State: stateError, Message: "the device is no longer attached"}
	dom, err := l.DomainLookupByName(domName)
	if isNotFound(err) {
		return gone, nil
	}
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up domain %s", domName)
	}
	active, err := l.DomainIsActive(dom)
	if err != nil {
		return backend.Observation{}, d.fail(err, "reading domain %s", domName)
	}
	cfg, err := d.domainDef(l, dom, libvirt.DomainXMLInactive)
	if err != nil {
		return backend.Observation{}, err
	}
	live := cfg
	if active == 1 {
		if live, err = d.domainDef(l, dom, 0); err != nil {
			return backend.Observation{}, err
		}
	}
	obs := backend.Observation{State: stateInactive, Ref: linkRef(domName, alias), Attributes: occi.Attributes{}}
	if iface {
		idx, ci := findInterface(cfg, alias)
		_, li := findInterface(live, alias)
		if ci == nil && li == nil {
			return gone, nil
		}
		if ci == nil {
			ci = li
		}
		if active == 1 && li != nil {
			obs.State = stateActive
		} else if active == 1 {
			obs.Message = "in the definition only: the device appears at the next start"
		}
		if ci.MAC != nil {
			obs.Attributes[attrIfaceMAC] = ci.MAC.Address
		}
		if idx >= 0 {
			obs.Attributes[attrIfaceName] = fmt.Sprintf("eth%d", idx)
		}
		if li != nil && li.MAC != nil && li.Source != nil && li.Source.Network != nil {
			if ip := d.leaseOf(l, li.Source.Network.Network, li.MAC.Address); ip != "" {
				obs.Attributes[attrIfaceAddress] = ip
			}
		}
		return obs, nil
	}
	cd := findDisk(cfg, alias)
	ld := findDisk(live, alias)
	if cd == nil && ld == nil {
		return gone, nil
	}
	if cd == nil {
		cd = ld
	}
	if active == 1 && ld != nil {
		obs.State = stateActive
	} else if active == 1 {
		obs.Message = "in the definition only: the device appears at the next start"
	}
	if cd.Target != nil {
		dev := "/dev/" + cd.Target.Dev
		if want := stringAttr(e.Attributes, attrDeviceID); want != "" {
			if n, ok := normDevice(want); ok && n == cd.Target.Dev {
				dev = want // keep the client's spelling
			}
		}
		obs.Attributes[attrDeviceID] = dev
	}
	return obs, nil
}

// findInterface returns the index and device of the interface with alias.
func findInterface(def *libvirtxml.Domain, alias string) (int, *libvirtxml.DomainInterface) {
	if def == nil || def.Devices == nil {
		return -1, nil
	}
	for i := range def.Devices.Interfaces {
		in := &def.Devices.Interfaces[i]
		if in.Alias != nil && in.Alias.Name == alias {
			return i, in
		}
	}
	return -1, nil
}

func findDisk(def *libvirtxml.Domain, alias string) *libvirtxml.DomainDisk {
	if def == nil || def.Devices == nil {
		return nil
	}
	for i := range def.Devices.Disks {
		dk := &def.Devices.Disks[i]
		if dk.Alias != nil && dk.Alias.Name == alias {
			return dk
		}
	}
	return nil
}

// leaseOf returns the DHCP address leased to mac on a network, or "".
func (d *Driver) leaseOf(l *libvirt.Libvirt, network, mac string) string {
	n, err := l.NetworkLookupByName(network)
	if err != nil {
		return ""
	}
	leases, _, err := l.NetworkGetDhcpLeases(n, libvirt.OptString{mac}, 1, 0)
	if err != nil {
		return ""
	}
	for _, le := range leases {
		if le.Ipaddr != "" {
			return le.Ipaddr
		}
	}
	return ""
}

// deleteLink detaches a link's device: from the running domain and its
// definition, or from the definition of a shut-off domain. A guest that
// does not release a hot-unplugged device within a few seconds keeps it
// until its next power cycle; the definition no longer has it.
func (d *Driver) deleteLink(ctx context.Context, e *occi.Entity) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	domName, alias := d.linkTarget(e)
	iface := kindOf(e) == "networkinterface"
	unlock := lockDomain(domName)
	defer unlock()
	dom, err := l.DomainLookupByName(domName)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return d.fail(err, "looking up domain %s", domName)
	}
	active, err := l.DomainIsActive(dom)
	if err != nil {
		return d.fail(err, "reading domain %s", domName)
	}
	if active == 1 {
		live, err := d.domainDef(l, dom, 0)
		if err != nil {
			return err
		}
		var x string
		if iface {
			if _, in := findInterface(live, alias); in != nil {
				x, err = in.Marshal()
			}
		} else if dk := findDisk(live, alias); dk != nil {
			x, err = dk.Marshal()
		}
		if err != nil {
			return occi.Wrap(err, occi.Internal, "building device XML")
		}
		if x != "" {
			err := l.DomainDetachDeviceFlags(dom, x, uint32(libvirt.DomainAffectLive|libvirt.DomainAffectConfig))
			if err != nil && !isCode(err, libvirt.ErrNoSupport, libvirt.ErrOperationUnsupported, libvirt.ErrArgumentUnsupported) {
				return d.fail(err, "detaching a device from domain %s", domName)
			}
			if err == nil {
				d.waitDetached(ctx, l, dom, alias, iface)
			}
		}
	}
	return d.redefine(l, dom, func(def *libvirtxml.Domain) error {
		if iface {
			if i, _ := findInterface(def, alias); i >= 0 {
				def.Devices.Interfaces = append(def.Devices.Interfaces[:i], def.Devices.Interfaces[i+1:]...)
			}
			return nil
		}
		for i := range def.Devices.Disks {
			if dk := def.Devices.Disks[i]; dk.Alias != nil && dk.Alias.Name == alias {
				def.Devices.Disks = append(def.Devices.Disks[:i], def.Devices.Disks[i+1:]...)
				break
			}
		}
		return nil
	})
}

// waitDetached waits up to 5 s for a hot-unplugged device to leave the
// running domain.
func (d *Driver) waitDetached(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain, alias string, iface bool) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		live, err := d.domainDef(l, dom, 0)
		if err != nil {
			return
		}
		if iface {
			if _, in := findInterface(live, alias); in == nil {
				return
			}
		} else if findDisk(live, alias) == nil {
			return
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

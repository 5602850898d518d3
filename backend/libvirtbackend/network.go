package libvirtbackend

import (
	"context"
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"libvirt.org/go/libvirtxml"
)

// generatedBase is the /16 from which networks without occi.network.address
// get a /24: a private range that home and office networks rarely use.
var generatedBase = netip.MustParseAddr("10.213.0.0")

func (d *Driver) createNetwork(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	name := d.networkName(e)
	spec := netSpec{Name: name, DHCP: stringAttr(e.Attributes, attrNetAlloc) != "static"}
	if addr := stringAttr(e.Attributes, attrNetAddress); addr != "" {
		p, gw, err := parseNetworkAddress(addr, stringAttr(e.Attributes, attrNetGateway))
		if err != nil {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s", err.Error())
		}
		if other, ok := d.rangeInUse(l, p); ok {
			return backend.Observation{}, occi.Errorf(occi.Conflict, "occi.network.address %s overlaps %s, which is already in use on the host", p, other)
		}
		spec.Prefix, spec.Gateway = p, gw
	} else {
		p, ok := d.freeRange(l, entityID(e))
		if !ok {
			return backend.Observation{}, occi.Errorf(occi.Unavailable, "no free /24 left in %s/16 for a new network", generatedBase)
		}
		spec.Prefix, spec.Gateway = p, p.Addr().Next()
	}
	x, err := networkXML(spec)
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "building network XML")
	}
	n, err := l.NetworkDefineXML(x)
	if err != nil {
		return backend.Observation{}, d.fail(err, "defining network %s", name)
	}
	return d.observeNet(l, n, e)
}

// usedRanges lists the address ranges of the host's interfaces and of every
// libvirt network.
func (d *Driver) usedRanges(l *libvirt.Libvirt) []netip.Prefix {
	var out []netip.Prefix
	if d.conn.uri.Host == "" {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					out = append(out, p.Masked())
				}
			}
		}
	}
	nets, _, err := l.ConnectListAllNetworks(1, 0)
	if err != nil {
		return out
	}
	for _, n := range nets {
		x, err := l.NetworkGetXMLDesc(n, 0)
		if err != nil {
			continue
		}
		var def libvirtxml.Network
		if def.Unmarshal(x) != nil {
			continue
		}
		for _, ip := range def.IPs {
			if p, ok := ipPrefix(ip); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// ipPrefix reads a network's <ip> as a prefix.
func ipPrefix(ip libvirtxml.NetworkIP) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(ip.Address)
	if err != nil {
		return netip.Prefix{}, false
	}
	bits := int(ip.Prefix)
	if ip.Netmask != "" {
		m, err := netip.ParseAddr(ip.Netmask)
		if err != nil {
			return netip.Prefix{}, false
		}
		ones, _ := net.IPMask(m.AsSlice()).Size()
		bits = ones
	}
	if bits == 0 {
		if a.Is4() {
			bits = 24
		} else {
			bits = 64
		}
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

func (d *Driver) rangeInUse(l *libvirt.Libvirt, p netip.Prefix) (netip.Prefix, bool) {
	for _, u := range d.usedRanges(l) {
		if u.Overlaps(p) {
			return u, true
		}
	}
	return netip.Prefix{}, false
}

// freeRange picks a free 10.213.N.0/24, starting at a place derived from
// the entity id.
func (d *Driver) freeRange(l *libvirt.Libvirt, id string) (netip.Prefix, bool) {
	used := d.usedRanges(l)
	h := fnv.New32a()
	h.Write([]byte(id))
	start := int(h.Sum32() % 256)
	b := generatedBase.As4()
	for i := 0; i < 256; i++ {
		n := (start + i) % 256
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{b[0], b[1], byte(n), 0}), 24)
		clash := false
		for _, u := range used {
			if u.Overlaps(p) {
				clash = true
				break
			}
		}
		if !clash {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func (d *Driver) observeNetwork(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	n, err := l.NetworkLookupByName(d.networkName(e))
	if isNotFound(err) {
		return backend.Observation{Gone: true, State: stateError, Message: "the network no longer exists in libvirt"}, nil
	}
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up network %s", d.networkName(e))
	}
	return d.observeNet(l, n, e)
}

// observeNet reports a network: active or inactive, and for an ipnetwork its
// range, gateway (the host's address on the bridge) and allocation.
func (d *Driver) observeNet(l *libvirt.Libvirt, n libvirt.Network, e *occi.Entity) (backend.Observation, error) {
	active, err := l.NetworkIsActive(n)
	if err != nil {
		if isNotFound(err) {
			return backend.Observation{Gone: true, State: stateError, Message: "the network no longer exists in libvirt"}, nil
		}
		return backend.Observation{}, d.fail(err, "reading network %s", n.Name)
	}
	obs := backend.Observation{State: stateInactive, Ref: "network/" + n.Name, Attributes: occi.Attributes{}}
	if active == 1 {
		obs.State = stateActive
	}
	if e.HasMixin(mixinIPNetwork) {
		x, err := l.NetworkGetXMLDesc(n, 0)
		if err != nil {
			return backend.Observation{}, d.fail(err, "reading network %s", n.Name)
		}
		var def libvirtxml.Network
		if err := def.Unmarshal(x); err != nil {
			return backend.Observation{}, occi.Wrap(err, occi.Internal, "parsing network "+n.Name)
		}
		if len(def.IPs) > 0 {
			if p, ok := ipPrefix(def.IPs[0]); ok {
				obs.Attributes[attrNetAddress] = p.Masked().String()
				obs.Attributes[attrNetGateway] = def.IPs[0].Address
				alloc := "static"
				if def.IPs[0].DHCP != nil && len(def.IPs[0].DHCP.Ranges) > 0 {
					alloc = "dynamic"
				}
				obs.Attributes[attrNetAlloc] = alloc
			}
		}
	}
	return obs, nil
}

func (d *Driver) actNetwork(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation) (backend.Observation, error) {
	if err := ctx.Err(); err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Unavailable, "the request ended before the action started")
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	name := d.networkName(e)
	n, err := l.NetworkLookupByName(name)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up network %s", name)
	}
	active, err := l.NetworkIsActive(n)
	if err != nil {
		return backend.Observation{}, d.fail(err, "reading network %s", name)
	}
	switch inv.Action.Term {
	case "up":
		if active == 1 {
			return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "network is already active")
		}
		if err := l.NetworkCreate(n); err != nil {
			return backend.Observation{}, d.fail(err, "starting network %s", name)
		}
	case "down":
		if active == 0 {
			return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "network is already inactive")
		}
		if err := l.NetworkDestroy(n); err != nil {
			return backend.Observation{}, d.fail(err, "stopping network %s", name)
		}
	default:
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "action %s is not a network action", inv.Action)
	}
	return d.observeNet(l, n, e)
}

func (d *Driver) deleteNetwork(ctx context.Context, e *occi.Entity) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	name := d.networkName(e)
	n, err := l.NetworkLookupByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return d.fail(err, "looking up network %s", name)
	}
	if active, err := l.NetworkIsActive(n); err == nil && active == 1 {
		if err := l.NetworkDestroy(n); err != nil && !isNotFound(err) {
			return d.fail(err, "stopping network %s", name)
		}
	}
	if err := l.NetworkUndefine(n); err != nil && !isNotFound(err) {
		return d.fail(err, "undefining network %s", name)
	}
	return nil
}

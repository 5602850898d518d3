package openstackbackend

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/attachinterfaces"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// occiDescriptionPrefix starts the description of the networks occid
// makes, followed by the entity's location.
const occiDescriptionPrefix = "occi:"

func (d *Driver) needNetwork(c *clients) error {
	if c.network == nil || d.opts.DisableNetworks {
		return occi.Errorf(occi.Unimplemented, "this cloud offers no networking (Neutron) to this project")
	}
	return nil
}

// neutronNetwork is a Neutron network with the provider extension's VLAN.
type neutronNetwork struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	AdminStateUp   bool   `json:"admin_state_up"`
	NetworkType    string `json:"provider:network_type"`
	SegmentationID any    `json:"provider:segmentation_id"`
}

// networkCreate adds the provider VLAN to the plain create options.
type networkCreate struct {
	networks.CreateOpts
	vlan int64
}

func (o networkCreate) ToNetworkCreateMap() (map[string]any, error) {
	b, err := o.CreateOpts.ToNetworkCreateMap()
	if err != nil {
		return nil, err
	}
	if o.vlan > 0 {
		n := b["network"].(map[string]any)
		n["provider:network_type"] = "vlan"
		n["provider:segmentation_id"] = o.vlan
	}
	return b, nil
}

// networkState maps a Neutron status: ACTIVE → active, DOWN → inactive,
// ERROR → error, BUILD → inactive with "building".
func networkState(status string) (string, string) {
	switch strings.ToUpper(status) {
	case "ACTIVE":
		return stateActive, ""
	case "DOWN":
		return stateInactive, ""
	case "ERROR":
		return stateError, "neutron status ERROR"
	case "BUILD":
		return stateInactive, "building"
	}
	return stateInactive, "neutron status " + status
}

func (d *Driver) getNetwork(ctx context.Context, c *clients, id string) (*neutronNetwork, error) {
	var n neutronNetwork
	if err := networks.Get(ctx, c.network, id).ExtractInto(&n); err != nil {
		return nil, err
	}
	return &n, nil
}

func (d *Driver) networkSubnet(ctx context.Context, c *clients, networkID string) (*subnets.Subnet, error) {
	pages, err := subnets.List(c.network, subnets.ListOpts{NetworkID: networkID}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(err, "neutron", "list the subnets of network "+networkID)
	}
	all, err := subnets.ExtractSubnets(pages)
	if err != nil {
		return nil, d.wrap(err, "neutron", "read the subnets of network "+networkID)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return &all[0], nil
}

func (d *Driver) networkObservation(ctx context.Context, c *clients, n *neutronNetwork) (backend.Observation, error) {
	o := backend.Observation{Ref: n.ID, Attributes: occi.Attributes{}}
	o.State, o.Message = networkState(n.Status)
	if v, ok := number(n.SegmentationID); ok && strings.EqualFold(n.NetworkType, "vlan") {
		o.Attributes[attrVLAN] = int64(v)
	}
	sn, err := d.networkSubnet(ctx, c, n.ID)
	if err != nil {
		return backend.Observation{}, err
	}
	if sn != nil {
		o.Attributes[attrNetAddress] = sn.CIDR
		if sn.GatewayIP != "" {
			o.Attributes[attrNetGateway] = sn.GatewayIP
		}
		if sn.EnableDHCP {
			o.Attributes[attrNetAllocation] = allocationDynamic
		} else {
			o.Attributes[attrNetAllocation] = allocationStatic
		}
	}
	return o, nil
}

// createNetwork makes a Neutron network, administratively down as OCCI's
// initial inactive state asks (with a provider VLAN when
// occi.network.vlan is set, which needs an admin role) and, when the
// ipnetwork attributes are given, a subnet: occi.network.address is its
// CIDR, occi.network.gateway its gateway and allocation dynamic turns DHCP
// on.
func (d *Driver) createNetwork(ctx context.Context, c *clients, req backend.CreateRequest) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	e := req.Entity
	addr := attrString(e.Attributes, attrNetAddress)
	var prefix netip.Prefix
	if addr != "" {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %q is not an address range in CIDR notation", attrNetAddress, addr)
		}
		prefix = p.Masked()
	} else if e.HasMixin(mixinIPNetwork) {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "the ipnetwork mixin needs %s (a CIDR range) on OpenStack", attrNetAddress)
	}
	gw := attrString(e.Attributes, attrNetGateway)
	if gw != "" {
		if _, err := netip.ParseAddr(gw); err != nil {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %q is not an IP address", attrNetGateway, gw)
		}
	}
	name := e.Title
	if name == "" {
		name = "occi-" + e.ID
	}
	// OCCI networks start inactive and come up with the up action: the
	// Neutron network starts with admin_state_up false.
	up := false
	opts := networkCreate{CreateOpts: networks.CreateOpts{Name: name, Description: occiDescriptionPrefix + e.Location, AdminStateUp: &up}}
	if v, ok := attrNumber(e.Attributes, attrVLAN); ok {
		if v < 1 || v > 4094 {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %v is not a VLAN id from 1 to 4094", attrVLAN, v)
		}
		opts.vlan = int64(v)
	}
	n := &neutronNetwork{}
	if err := networks.Create(ctx, c.network, opts).ExtractInto(n); err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", "create network")
	}
	if addr != "" {
		dhcp := attrString(e.Attributes, attrNetAllocation) != allocationStatic
		so := subnets.CreateOpts{NetworkID: n.ID, CIDR: prefix.String(), Name: name, EnableDHCP: &dhcp, IPVersion: gophercloud.IPv4}
		if prefix.Addr().Is6() {
			so.IPVersion = gophercloud.IPv6
		}
		if gw != "" {
			so.GatewayIP = &gw
		}
		if _, err := subnets.Create(ctx, c.network, so).Extract(); err != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = networks.Delete(dctx, c.network, n.ID).ExtractErr()
			return backend.Observation{}, d.wrap(err, "neutron", "create the subnet "+prefix.String())
		}
	}
	if got, err := d.getNetwork(ctx, c, n.ID); err == nil {
		n = got
	}
	return d.networkObservation(ctx, c, n)
}

func (d *Driver) observeNetwork(ctx context.Context, c *clients, id string) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	n, err := d.getNetwork(ctx, c, id)
	if isNotFound(err) {
		return backend.Observation{Ref: id, Gone: true}, nil
	}
	if err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", "read network "+id)
	}
	return d.networkObservation(ctx, c, n)
}

// updateNetwork renames the network and changes the subnet's gateway and
// DHCP; a new address range or VLAN needs a new network.
func (d *Driver) updateNetwork(ctx context.Context, c *clients, old, updated *occi.Entity) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	id := updated.BackendRef
	if attrString(old.Attributes, attrNetAddress) != attrString(updated.Attributes, attrNetAddress) {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s of an existing network cannot change on OpenStack; create a new network", attrNetAddress)
	}
	ov, _ := attrNumber(old.Attributes, attrVLAN)
	nv, _ := attrNumber(updated.Attributes, attrVLAN)
	if ov != nv {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s of an existing network cannot change on OpenStack", attrVLAN)
	}
	if old.Title != updated.Title && updated.Title != "" {
		name := updated.Title
		if _, err := networks.Update(ctx, c.network, id, networks.UpdateOpts{Name: &name}).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "neutron", "rename network "+id)
		}
	}
	gwChanged := attrString(old.Attributes, attrNetGateway) != attrString(updated.Attributes, attrNetGateway)
	allocChanged := attrString(old.Attributes, attrNetAllocation) != attrString(updated.Attributes, attrNetAllocation)
	if gwChanged || allocChanged {
		sn, err := d.networkSubnet(ctx, c, id)
		if err != nil {
			return backend.Observation{}, err
		}
		if sn == nil {
			return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "network %s has no subnet: set %s at creation", updated.Location, attrNetAddress)
		}
		var uo subnets.UpdateOpts
		if gwChanged {
			gw := attrString(updated.Attributes, attrNetGateway)
			if gw != "" {
				if _, err := netip.ParseAddr(gw); err != nil {
					return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %q is not an IP address", attrNetGateway, gw)
				}
			}
			uo.GatewayIP = &gw
		}
		if allocChanged {
			dhcp := attrString(updated.Attributes, attrNetAllocation) != allocationStatic
			uo.EnableDHCP = &dhcp
		}
		if _, err := subnets.Update(ctx, c.network, sn.ID, uo).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "neutron", "update subnet "+sn.ID)
		}
	}
	return d.observeNetwork(ctx, c, id)
}

func (d *Driver) deleteNetwork(ctx context.Context, c *clients, e *occi.Entity) error {
	if e.BackendRef == "" {
		return nil
	}
	if err := d.needNetwork(c); err != nil {
		return err
	}
	err := networks.Delete(ctx, c.network, e.BackendRef).ExtractErr()
	if err != nil && !isNotFound(err) {
		return d.wrap(err, "neutron", "delete network "+e.BackendRef)
	}
	return nil
}

// actNetwork runs up and down as the network's admin_state_up and waits
// for Neutron's status to follow.
func (d *Driver) actNetwork(ctx context.Context, c *clients, e *occi.Entity, inv *occi.ActionInvocation) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	var up bool
	var want string
	switch inv.Action {
	case actionUp:
		up, want = true, "ACTIVE"
	case actionDown:
		up, want = false, "DOWN"
	default:
		return backend.Observation{}, occi.Errorf(occi.Unimplemented, "action %s is not supported on network", inv.Action)
	}
	id := e.BackendRef
	cur, err := d.getNetwork(ctx, c, id)
	if err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", "read network "+id)
	}
	if strings.EqualFold(cur.Status, want) {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "network %s is already %s", e.Location, strings.ToLower(want))
	}
	if _, err := networks.Update(ctx, c.network, id, networks.UpdateOpts{AdminStateUp: &up}).Extract(); err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", fmt.Sprintf("set network %s admin_state_up=%v", id, up))
	}
	var last *neutronNetwork
	err = d.poll(ctx, "neutron network "+id, func() (bool, string, error) {
		n, err := d.getNetwork(ctx, c, id)
		if err != nil {
			return false, "", d.wrap(err, "neutron", "read network "+id)
		}
		last = n
		return strings.EqualFold(n.Status, want) || strings.EqualFold(n.Status, "ERROR"), "status " + n.Status, nil
	})
	if err != nil {
		return backend.Observation{}, err
	}
	return d.networkObservation(ctx, c, last)
}

// Network interfaces are Neutron ports attached to the server through
// Nova's os-interface; their Ref is "SERVER/PORT".

func (d *Driver) createPort(ctx context.Context, c *clients, req backend.CreateRequest) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	if req.Target != nil && req.Target.Kind != kindNetwork {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "a networkinterface must target a network, not %s", req.Target.Kind)
	}
	server, network, err := linkEnds(req, "networkinterface")
	if err != nil {
		return backend.Observation{}, err
	}
	e := req.Entity
	up := true
	po := ports.CreateOpts{NetworkID: network, Name: "occi-" + e.ID, AdminStateUp: &up}
	if addr := attrString(e.Attributes, attrIfaceAddress); addr != "" && attrString(e.Attributes, attrIfaceAllocation) != allocationDynamic {
		a, err := netip.ParseAddr(strings.Split(addr, "/")[0])
		if err != nil {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %q is not an IP address", attrIfaceAddress, addr)
		}
		po.FixedIPs = []ports.IP{{IPAddress: a.String()}}
	}
	if mac := attrString(e.Attributes, attrIfaceMAC); mac != "" {
		po.MACAddress = mac
	}
	p, err := ports.Create(ctx, c.network, po).Extract()
	if err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", "create a port on network "+network)
	}
	if _, err := attachinterfaces.Create(ctx, c.compute, server, attachinterfaces.CreateOpts{PortID: p.ID}).Extract(); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = ports.Delete(dctx, c.network, p.ID).ExtractErr()
		return backend.Observation{}, d.wrap(err, "nova", fmt.Sprintf("attach port %s to server %s", p.ID, server))
	}
	ref := server + "/" + p.ID
	_ = d.poll(ctx, "neutron port "+p.ID, func() (bool, string, error) {
		q, err := ports.Get(ctx, c.network, p.ID).Extract()
		if err != nil {
			return false, "", d.wrap(err, "neutron", "read port "+p.ID)
		}
		return !strings.EqualFold(q.Status, "BUILD") && q.DeviceID != "", "status " + q.Status, nil
	})
	if ctx.Err() != nil {
		return backend.Observation{}, ctx.Err()
	}
	return d.observePort(ctx, c, ref)
}

// observePort reports a network interface: Neutron's port status (ACTIVE
// → active, DOWN → inactive, BUILD → inactive "building", ERROR → error),
// inactive with "detached" when no server holds it, its MAC, first fixed
// address, the subnet's gateway, and the host-side device name.
func (d *Driver) observePort(ctx context.Context, c *clients, ref string) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	server, portID, err := splitRef(ref)
	if err != nil {
		return backend.Observation{}, err
	}
	p, err := ports.Get(ctx, c.network, portID).Extract()
	if isNotFound(err) {
		return backend.Observation{Ref: ref, Gone: true}, nil
	}
	if err != nil {
		return backend.Observation{}, d.wrap(err, "neutron", "read port "+portID)
	}
	o := backend.Observation{Ref: ref, Attributes: occi.Attributes{
		attrIfaceMAC:  p.MACAddress,
		attrIfaceName: "tap" + portID[:min(11, len(portID))],
	}}
	if p.DeviceID != server {
		// The interface is the port's binding to the server: unbound (the
		// server was deleted or the port detached), the link is gone.
		return backend.Observation{Ref: ref, Gone: true}, nil
	}
	o.State, o.Message = networkState(p.Status)
	if len(p.FixedIPs) > 0 {
		o.Attributes[attrIfaceAddress] = p.FixedIPs[0].IPAddress
		if sn, err := subnets.Get(ctx, c.network, p.FixedIPs[0].SubnetID).Extract(); err == nil {
			if sn.GatewayIP != "" {
				o.Attributes[attrIfaceGateway] = sn.GatewayIP
			}
			if sn.EnableDHCP {
				o.Attributes[attrIfaceAllocation] = allocationDynamic
			} else {
				o.Attributes[attrIfaceAllocation] = allocationStatic
			}
		}
	}
	return o, nil
}

// updatePort moves the interface to a new fixed address; its MAC cannot
// change once the port is bound.
func (d *Driver) updatePort(ctx context.Context, c *clients, old, updated *occi.Entity) (backend.Observation, error) {
	if err := d.needNetwork(c); err != nil {
		return backend.Observation{}, err
	}
	_, portID, err := splitRef(updated.BackendRef)
	if err != nil {
		return backend.Observation{}, err
	}
	if o, n := attrString(old.Attributes, attrIfaceMAC), attrString(updated.Attributes, attrIfaceMAC); o != n && n != "" {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s of an attached port cannot change", attrIfaceMAC)
	}
	if o, n := attrString(old.Attributes, attrIfaceAddress), attrString(updated.Attributes, attrIfaceAddress); o != n && n != "" {
		a, err := netip.ParseAddr(strings.Split(n, "/")[0])
		if err != nil {
			return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "%s %q is not an IP address", attrIfaceAddress, n)
		}
		if _, err := ports.Update(ctx, c.network, portID, ports.UpdateOpts{FixedIPs: []ports.IP{{IPAddress: a.String()}}}).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "neutron", "change the address of port "+portID)
		}
	}
	return d.observePort(ctx, c, updated.BackendRef)
}

func (d *Driver) deletePort(ctx context.Context, c *clients, e *occi.Entity) error {
	if e.BackendRef == "" {
		return nil
	}
	if err := d.needNetwork(c); err != nil {
		return err
	}
	server, portID, err := splitRef(e.BackendRef)
	if err != nil {
		return err
	}
	if err := attachinterfaces.Delete(ctx, c.compute, server, portID).ExtractErr(); err != nil && !isNotFound(err) {
		return d.wrap(err, "nova", fmt.Sprintf("detach port %s from server %s", portID, server))
	}
	if err := ports.Delete(ctx, c.network, portID).ExtractErr(); err != nil && !isNotFound(err) {
		return d.wrap(err, "neutron", "delete port "+portID)
	}
	return nil
}

// validID reports whether s looks like an OpenStack ID (a UUID, possibly
// without dashes).
func validID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '-') {
			return false
		}
	}
	return true
}

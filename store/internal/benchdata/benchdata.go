// Package benchdata makes the entities that the store benchmarks write and
// page through, so every store is measured on the same rows.
package benchdata

import (
	"fmt"

	"github.com/occid/occi"
)

const infra = "http://schemas.ogf.org/occi/infrastructure#"

// Category identifiers of the data set.
var (
	Compute  = occi.CategoryID{Scheme: infra, Term: "compute"}
	Storage  = occi.CategoryID{Scheme: infra, Term: "storage"}
	Network  = occi.CategoryID{Scheme: infra, Term: "network"}
	NetIf    = occi.CategoryID{Scheme: infra, Term: "networkinterface"}
	Ubuntu   = occi.CategoryID{Scheme: "http://example.org/occid/os_tpl#", Term: "ubuntu"}
	Small    = occi.CategoryID{Scheme: "http://example.org/occid/resource_tpl#", Term: "small"}
	Users    = 50
	PageSize = 100
)

// Entity returns the i-th entity of the data set: 40 % compute, 30 %
// storage, 20 % network and 10 % network interface links; a quarter of the
// entities carry the Ubuntu mixin; 50 owners. A compute resource looks like
// one occid creates: a dozen attributes and two mixins.
func Entity(i int) *occi.Entity {
	owner := fmt.Sprintf("user%02d", i%Users)
	var e *occi.Entity
	switch i % 10 {
	case 0, 1, 2, 3:
		e = &occi.Entity{Kind: Compute, Location: fmt.Sprintf("/compute/%08d", i), Mixins: []occi.CategoryID{Small},
			Attributes: occi.Attributes{
				"occi.compute.architecture": "x64", "occi.compute.cores": int64(2), "occi.compute.share": int64(1),
				"occi.compute.hostname": fmt.Sprintf("vm-%d", i), "occi.compute.speed": 2.4, "occi.compute.memory": 4.0,
				"occi.compute.state": "active", "occi.compute.state.message": "",
			}}
	case 4, 5, 6:
		e = &occi.Entity{Kind: Storage, Location: fmt.Sprintf("/storage/%08d", i),
			Attributes: occi.Attributes{"occi.storage.size": 20.0, "occi.storage.state": "online"}}
	case 7, 8:
		e = &occi.Entity{Kind: Network, Location: fmt.Sprintf("/network/%08d", i),
			Attributes: occi.Attributes{"occi.network.vlan": int64(i % 4096), "occi.network.label": "lan", "occi.network.state": "active"}}
	default:
		src := fmt.Sprintf("/compute/%08d", i-9)
		e = &occi.Entity{Kind: NetIf, Location: fmt.Sprintf("/link/networkinterface/%08d", i),
			Source: src, SourceKind: Compute, Target: fmt.Sprintf("/network/%08d", i-2), TargetKind: Network,
			Attributes: occi.Attributes{"occi.networkinterface.interface": "eth0", "occi.networkinterface.mac": "52:54:00:00:00:01",
				"occi.networkinterface.state": "active"}}
	}
	if i%4 == 0 {
		e.Mixins = append(e.Mixins, Ubuntu)
	}
	e.ID = e.Location[len(e.Location)-8:]
	e.Title = "entity " + e.ID
	e.Owner = owner
	e.BackendRef = "ref-" + e.ID
	return e
}

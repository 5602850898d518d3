package simbackend

import "github.com/occid/occi"

// Infrastructure identifiers, kept local so that the package depends on the
// contracts only (see docs/design.md).
const (
	infraScheme   = "http://schemas.ogf.org/occi/infrastructure#"
	computeAction = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkAction = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	storageAction = "http://schemas.ogf.org/occi/infrastructure/storage/action#"
)

// Object kinds, as the terms of their Kind.
const (
	kindCompute          = "compute"
	kindStorage          = "storage"
	kindNetwork          = "network"
	kindNetworkInterface = "networkinterface"
	kindStorageLink      = "storagelink"
)

var (
	kindIDs = []occi.CategoryID{
		{Scheme: infraScheme, Term: kindCompute},
		{Scheme: infraScheme, Term: kindStorage},
		{Scheme: infraScheme, Term: kindNetwork},
		{Scheme: infraScheme, Term: kindNetworkInterface},
		{Scheme: infraScheme, Term: kindStorageLink},
	}
	actionIDs = []occi.CategoryID{
		{Scheme: computeAction, Term: "start"},
		{Scheme: computeAction, Term: "stop"},
		{Scheme: computeAction, Term: "restart"},
		{Scheme: computeAction, Term: "suspend"},
		{Scheme: computeAction, Term: "save"},
		{Scheme: networkAction, Term: "up"},
		{Scheme: networkAction, Term: "down"},
		{Scheme: storageAction, Term: "online"},
		{Scheme: storageAction, Term: "offline"},
	}
	mixinSSHKey             = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"}
	mixinUserData           = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute#", Term: "user_data"}
	mixinIPNetwork          = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
	mixinIPNetworkInterface = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/networkinterface#", Term: "ipnetworkinterface"}
)

// actionScheme returns the action scheme of a kind term ("" for links).
func actionScheme(kind string) string {
	switch kind {
	case kindCompute:
		return computeAction
	case kindNetwork:
		return networkAction
	case kindStorage:
		return storageAction
	}
	return ""
}

// Attribute names the simulator reads or reports.
const (
	attrHostname    = "occi.compute.hostname"
	attrCores       = "occi.compute.cores"
	attrMemory      = "occi.compute.memory"
	attrStorageSize = "occi.storage.size"
	attrNetAddress  = "occi.network.address"
	attrNetGateway  = "occi.network.gateway"
	attrNetAlloc    = "occi.network.allocation"
	attrNIMAC       = "occi.networkinterface.mac"
	attrNIInterface = "occi.networkinterface.interface"
	attrNIAddress   = "occi.networkinterface.address"
	attrNIGateway   = "occi.networkinterface.gateway"
	attrNIAlloc     = "occi.networkinterface.allocation"
	attrSLDeviceID  = "occi.storagelink.deviceid"
)

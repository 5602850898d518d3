package libvirtbackend

import "github.com/occid/occi"

// Infrastructure identifiers, kept local so that the package depends on the
// contracts only (see docs/design.md).
const (
	infraScheme         = "http://schemas.ogf.org/occi/infrastructure#"
	computeActionScheme = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkActionScheme = "http://schemas.ogf.org/occi/infrastructure/network/action#"
)

var (
	kindCompute          = occi.CategoryID{Scheme: infraScheme, Term: "compute"}
	kindStorage          = occi.CategoryID{Scheme: infraScheme, Term: "storage"}
	kindNetwork          = occi.CategoryID{Scheme: infraScheme, Term: "network"}
	kindNetworkInterface = occi.CategoryID{Scheme: infraScheme, Term: "networkinterface"}
	kindStorageLink      = occi.CategoryID{Scheme: infraScheme, Term: "storagelink"}

	actStart   = occi.CategoryID{Scheme: computeActionScheme, Term: "start"}
	actStop    = occi.CategoryID{Scheme: computeActionScheme, Term: "stop"}
	actRestart = occi.CategoryID{Scheme: computeActionScheme, Term: "restart"}
	actSuspend = occi.CategoryID{Scheme: computeActionScheme, Term: "suspend"}
	actSave    = occi.CategoryID{Scheme: computeActionScheme, Term: "save"}
	actUp      = occi.CategoryID{Scheme: networkActionScheme, Term: "up"}
	actDown    = occi.CategoryID{Scheme: networkActionScheme, Term: "down"}

	mixinSSHKey    = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"}
	mixinUserData  = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute#", Term: "user_data"}
	mixinIPNetwork = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
)

// Attribute names.
const (
	attrCores        = "occi.compute.cores"
	attrMemory       = "occi.compute.memory"
	attrArch         = "occi.compute.architecture"
	attrHostname     = "occi.compute.hostname"
	attrShare        = "occi.compute.share"
	attrUserData     = "occi.compute.userdata"
	attrSSHKey       = "occi.credentials.ssh.publickey"
	attrStorageSize  = "occi.storage.size"
	attrNetAddress   = "occi.network.address"
	attrNetGateway   = "occi.network.gateway"
	attrNetAlloc     = "occi.network.allocation"
	attrIfaceName    = "occi.networkinterface.interface"
	attrIfaceMAC     = "occi.networkinterface.mac"
	attrIfaceAddress = "occi.networkinterface.address"
	attrDeviceID     = "occi.storagelink.deviceid"
)

// OCCI states.
const (
	stateActive    = "active"
	stateInactive  = "inactive"
	stateSuspended = "suspended"
	stateError     = "error"
	stateOnline    = "online"
)

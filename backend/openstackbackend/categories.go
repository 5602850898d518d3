package openstackbackend

import "github.com/occid/occi"

// The Infrastructure 1.2 categories this driver maps. They are spelled out
// here because backends import only occi and backend, not infra.
const (
	infraScheme           = "http://schemas.ogf.org/occi/infrastructure#"
	computeActionScheme   = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkActionScheme   = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	credentialsScheme     = "http://schemas.ogf.org/occi/infrastructure/credentials#"
	computeMixinScheme    = "http://schemas.ogf.org/occi/infrastructure/compute#"
	networkMixinScheme    = "http://schemas.ogf.org/occi/infrastructure/network#"
	netifaceMixinScheme   = "http://schemas.ogf.org/occi/infrastructure/networkinterface#"
	attrCores             = "occi.compute.cores"
	attrMemory            = "occi.compute.memory"
	attrHostname          = "occi.compute.hostname"
	attrUserData          = "occi.compute.userdata"
	attrSSHKey            = "occi.credentials.ssh.publickey"
	attrStorageSize       = "occi.storage.size"
	attrDeviceID          = "occi.storagelink.deviceid"
	attrMountpoint        = "occi.storagelink.mountpoint"
	attrVLAN              = "occi.network.vlan"
	attrNetAddress        = "occi.network.address"
	attrNetGateway        = "occi.network.gateway"
	attrNetAllocation     = "occi.network.allocation"
	attrIfaceName         = "occi.networkinterface.interface"
	attrIfaceMAC          = "occi.networkinterface.mac"
	attrIfaceAddress      = "occi.networkinterface.address"
	attrIfaceGateway      = "occi.networkinterface.gateway"
	attrIfaceAllocation   = "occi.networkinterface.allocation"
	metaOCCIID            = "occi_id"
	metaOCCILocation      = "occi_location"
	imagePropSource       = "occi_source"
	imagePropOwner        = "occi_owner"
	imagePropTitle        = "occi_title"
	keypairPrefix         = "occi-"
	allocationDynamic     = "dynamic"
	allocationStatic      = "static"
	stateActive           = "active"
	stateInactive         = "inactive"
	stateSuspended        = "suspended"
	stateError            = "error"
	stateOnline           = "online"
	stateOffline          = "offline"
	saveHot               = "hot"
	saveDeferred          = "deferred"
	saveDeferredMisspelt  = "deffered"
	restartGraceful       = "graceful"
	restartWarm           = "warm"
	restartCold           = "cold"
	suspendSuspend        = "suspend"
	suspendHibernate      = "hibernate"
	paramMethod           = "method"
	defaultServerNetworks = "none"
)

var (
	kindCompute          = occi.CategoryID{Scheme: infraScheme, Term: "compute"}
	kindStorage          = occi.CategoryID{Scheme: infraScheme, Term: "storage"}
	kindNetwork          = occi.CategoryID{Scheme: infraScheme, Term: "network"}
	kindStorageLink      = occi.CategoryID{Scheme: infraScheme, Term: "storagelink"}
	kindNetworkInterface = occi.CategoryID{Scheme: infraScheme, Term: "networkinterface"}

	actionStart   = occi.CategoryID{Scheme: computeActionScheme, Term: "start"}
	actionStop    = occi.CategoryID{Scheme: computeActionScheme, Term: "stop"}
	actionRestart = occi.CategoryID{Scheme: computeActionScheme, Term: "restart"}
	actionSuspend = occi.CategoryID{Scheme: computeActionScheme, Term: "suspend"}
	actionSave    = occi.CategoryID{Scheme: computeActionScheme, Term: "save"}
	actionUp      = occi.CategoryID{Scheme: networkActionScheme, Term: "up"}
	actionDown    = occi.CategoryID{Scheme: networkActionScheme, Term: "down"}

	mixinSSHKey             = occi.CategoryID{Scheme: credentialsScheme, Term: "ssh_key"}
	mixinUserData           = occi.CategoryID{Scheme: computeMixinScheme, Term: "user_data"}
	mixinIPNetwork          = occi.CategoryID{Scheme: networkMixinScheme, Term: "ipnetwork"}
	mixinIPNetworkInterface = occi.CategoryID{Scheme: netifaceMixinScheme, Term: "ipnetworkinterface"}
)

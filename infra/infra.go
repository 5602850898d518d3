// Package infra is the OCCI 1.2 Infrastructure extension (GFD.224) as data:
// its kinds, mixins and actions with their attribute and parameter
// definitions, and the five state machines. It uses the standard library and
// the occi package only.
package infra

import (
	"github.com/occid/occi"
)

// Schemes of the Infrastructure extension.
const (
	Scheme                 = "http://schemas.ogf.org/occi/infrastructure#"
	ComputeActionScheme    = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	StorageActionScheme    = "http://schemas.ogf.org/occi/infrastructure/storage/action#"
	NetworkActionScheme    = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	NetworkScheme          = "http://schemas.ogf.org/occi/infrastructure/network#"
	NetworkInterfaceScheme = "http://schemas.ogf.org/occi/infrastructure/networkinterface#"
	CredentialsScheme      = "http://schemas.ogf.org/occi/infrastructure/credentials#"
	ComputeScheme          = "http://schemas.ogf.org/occi/infrastructure/compute#"
)

// Kinds.
var (
	Compute          = occi.CategoryID{Scheme: Scheme, Term: "compute"}
	Storage          = occi.CategoryID{Scheme: Scheme, Term: "storage"}
	Network          = occi.CategoryID{Scheme: Scheme, Term: "network"}
	NetworkInterface = occi.CategoryID{Scheme: Scheme, Term: "networkinterface"}
	StorageLink      = occi.CategoryID{Scheme: Scheme, Term: "storagelink"}
)

// Mixins.
var (
	IPNetwork          = occi.CategoryID{Scheme: NetworkScheme, Term: "ipnetwork"}
	IPNetworkInterface = occi.CategoryID{Scheme: NetworkInterfaceScheme, Term: "ipnetworkinterface"}
	OSTemplate         = occi.CategoryID{Scheme: Scheme, Term: "os_tpl"}
	ResourceTemplate   = occi.CategoryID{Scheme: Scheme, Term: "resource_tpl"}
	SSHKey             = occi.CategoryID{Scheme: CredentialsScheme, Term: "ssh_key"}
	UserData           = occi.CategoryID{Scheme: ComputeScheme, Term: "user_data"}
)

// Actions.
var (
	ActionStart   = occi.CategoryID{Scheme: ComputeActionScheme, Term: "start"}
	ActionStop    = occi.CategoryID{Scheme: ComputeActionScheme, Term: "stop"}
	ActionRestart = occi.CategoryID{Scheme: ComputeActionScheme, Term: "restart"}
	ActionSuspend = occi.CategoryID{Scheme: ComputeActionScheme, Term: "suspend"}
	ActionSave    = occi.CategoryID{Scheme: ComputeActionScheme, Term: "save"}
	ActionOnline  = occi.CategoryID{Scheme: StorageActionScheme, Term: "online"}
	ActionOffline = occi.CategoryID{Scheme: StorageActionScheme, Term: "offline"}
	ActionUp      = occi.CategoryID{Scheme: NetworkActionScheme, Term: "up"}
	ActionDown    = occi.CategoryID{Scheme: NetworkActionScheme, Term: "down"}
)

// Attribute names.
const (
	AttrComputeArchitecture = "occi.compute.architecture"
	AttrComputeCores        = "occi.compute.cores"
	AttrComputeHostname     = "occi.compute.hostname"
	AttrComputeShare        = "occi.compute.share"
	AttrComputeMemory       = "occi.compute.memory"
	AttrComputeState        = "occi.compute.state"
	AttrComputeMessage      = "occi.compute.state.message"
	AttrStorageSize         = "occi.storage.size"
	AttrStorageState        = "occi.storage.state"
	AttrStorageMessage      = "occi.storage.state.message"
	AttrNetworkVLAN         = "occi.network.vlan"
	AttrNetworkLabel        = "occi.network.label"
	AttrNetworkState        = "occi.network.state"
	AttrNetworkMessage      = "occi.network.state.message"
	AttrNetworkAddress      = "occi.network.address"
	AttrNetworkGateway      = "occi.network.gateway"
	AttrNetworkAllocation   = "occi.network.allocation"
	AttrNIInterface         = "occi.networkinterface.interface"
	AttrNIMAC               = "occi.networkinterface.mac"
	AttrNIState             = "occi.networkinterface.state"
	AttrNIMessage           = "occi.networkinterface.state.message"
	AttrNIAddress           = "occi.networkinterface.address"
	AttrNIGateway           = "occi.networkinterface.gateway"
	AttrNIAllocation        = "occi.networkinterface.allocation"
	AttrSLDeviceID          = "occi.storagelink.deviceid"
	AttrSLMountpoint        = "occi.storagelink.mountpoint"
	AttrSLState             = "occi.storagelink.state"
	AttrSLMessage           = "occi.storagelink.state.message"
	AttrSSHPublicKey        = "occi.credentials.ssh.publickey"
	AttrUserData            = "occi.compute.userdata"
)

// Parameter names of the compute actions.
const (
	ParamMethod = "method"
	ParamName   = "name"
)

// Save methods.
const (
	SaveHot      = "hot"
	SaveDeferred = "deferred"
)

// SizeAttributes are the compute attributes a resource template overrides
// even when the client gives them (GFD.224 5.8).
var SizeAttributes = []string{AttrComputeCores, AttrComputeMemory, AttrComputeShare, AttrComputeArchitecture}

// IntRange is an inclusive range for an integer attribute.
type IntRange struct{ Min, Max int64 }

// Ranges gives the allowed range of integer attributes that have one.
var Ranges = map[string]IntRange{
	AttrNetworkVLAN:  {0, 4095},
	AttrComputeCores: {1, 4096},
	AttrComputeShare: {0, 1 << 30},
}

const tokenPattern = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"

func stateDef(name string, states []string, initial string, desc string) occi.AttributeDef {
	return occi.AttributeDef{Name: name, Type: occi.TypeEnum, Enum: states, Default: initial, Description: desc}
}

func messageDef(name string) occi.AttributeDef {
	return occi.AttributeDef{Name: name, Type: occi.TypeString, Description: "Human-readable explanation of the current state"}
}

// Kinds returns fresh copies of the five Infrastructure kinds, with their
// own attributes and actions and their collection locations ("/compute/",
// "/storage/", "/network/", "/networkinterface/", "/storagelink/").
func Kinds() []*occi.Kind {
	return []*occi.Kind{
		{
			ID: Compute, Title: "Compute Resource", Parent: occi.ResourceKind, Location: "/compute/",
			Attributes: []occi.AttributeDef{
				{Name: AttrComputeArchitecture, Type: occi.TypeEnum, Enum: []string{"x86", "x64"}, Mutable: true, Description: "CPU architecture of the instance"},
				{Name: AttrComputeCores, Type: occi.TypeInteger, Mutable: true, Description: "Number of virtual CPU cores assigned to the instance"},
				{Name: AttrComputeHostname, Type: occi.TypeString, Mutable: true, Description: "Fully qualified DNS hostname for the instance"},
				{Name: AttrComputeShare, Type: occi.TypeInteger, Mutable: true, Description: "Relative number of CPU shares for the instance"},
				{Name: AttrComputeMemory, Type: occi.TypeFloat, Mutable: true, Description: "Maximum RAM in gigabytes allocated to the instance"},
				stateDef(AttrComputeState, []string{"active", "inactive", "suspended", "error"}, "inactive", "Current state of the instance"),
				messageDef(AttrComputeMessage),
			},
			Actions: []occi.CategoryID{ActionStart, ActionStop, ActionRestart, ActionSuspend, ActionSave},
		},
		{
			ID: Storage, Title: "Storage Resource", Parent: occi.ResourceKind, Location: "/storage/",
			Attributes: []occi.AttributeDef{
				{Name: AttrStorageSize, Type: occi.TypeFloat, Mutable: true, Required: true, Description: "Storage size of the instance in gigabytes"},
				stateDef(AttrStorageState, []string{"online", "offline", "error"}, "offline", "Current status of the instance"),
				messageDef(AttrStorageMessage),
			},
			Actions: []occi.CategoryID{ActionOnline, ActionOffline},
		},
		{
			ID: Network, Title: "Network Resource", Parent: occi.ResourceKind, Location: "/network/",
			Attributes: []occi.AttributeDef{
				{Name: AttrNetworkVLAN, Type: occi.TypeInteger, Mutable: true, Description: "802.1q VLAN identifier (0-4095)"},
				{Name: AttrNetworkLabel, Type: occi.TypeString, Pattern: tokenPattern, Mutable: true, Description: "Tag based VLAN label, e.g. external-dmz"},
				stateDef(AttrNetworkState, []string{"active", "inactive", "error"}, "inactive", "Current state of the instance"),
				messageDef(AttrNetworkMessage),
			},
			Actions: []occi.CategoryID{ActionUp, ActionDown},
		},
		{
			ID: NetworkInterface, Title: "NetworkInterface Link", Parent: occi.LinkKind, Location: "/networkinterface/",
			Attributes: []occi.AttributeDef{
				{Name: AttrNIInterface, Type: occi.TypeString, Description: "Identifier of the device interface, assigned by the server, e.g. eth0"},
				{Name: AttrNIMAC, Type: occi.TypeString, Mutable: true, Pattern: "[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", Description: "MAC address associated with the link's device interface"},
				stateDef(AttrNIState, []string{"active", "inactive", "error"}, "inactive", "Current status of the instance"),
				messageDef(AttrNIMessage),
			},
		},
		{
			ID: StorageLink, Title: "StorageLink Link", Parent: occi.LinkKind, Location: "/storagelink/",
			Attributes: []occi.AttributeDef{
				{Name: AttrSLDeviceID, Type: occi.TypeString, Mutable: true, Description: "Device identifier as defined by the provider, e.g. /dev/vdb"},
				{Name: AttrSLMountpoint, Type: occi.TypeString, Mutable: true, Description: "Point to mount the storage inside the guest"},
				stateDef(AttrSLState, []string{"active", "inactive", "error"}, "inactive", "Current status of the instance"),
				messageDef(AttrSLMessage),
			},
		},
	}
}

// Mixins returns fresh copies of the six Infrastructure mixins with their
// locations ("/ipnetwork/", "/ipnetworkinterface/", "/os_tpl/",
// "/resource_tpl/", "/ssh_key/", "/user_data/"). os_tpl and resource_tpl
// apply to compute (GFD.224 leaves it unstated; digest I8).
func Mixins() []*occi.Mixin {
	return []*occi.Mixin{
		{
			ID: IPNetwork, Title: "IP Networking Mixin", Applies: []occi.CategoryID{Network}, Location: "/ipnetwork/",
			Attributes: []occi.AttributeDef{
				{Name: AttrNetworkAddress, Type: occi.TypeCIDR, Mutable: true, Description: "Internet Protocol (IP) network address, e.g. 192.168.0.1/24, fc00::/7"},
				{Name: AttrNetworkGateway, Type: occi.TypeIP, Mutable: true, Description: "Internet Protocol (IP) network address, e.g. 192.168.0.1, fc00::"},
				{Name: AttrNetworkAllocation, Type: occi.TypeEnum, Enum: []string{"dynamic", "static"}, Mutable: true, Description: "Address allocation mechanism: dynamic (DHCP) or static"},
			},
		},
		{
			ID: IPNetworkInterface, Title: "IP Network Interface Mixin", Applies: []occi.CategoryID{NetworkInterface}, Location: "/ipnetworkinterface/",
			Attributes: []occi.AttributeDef{
				{Name: AttrNIAddress, Type: occi.TypeIP, Mutable: true, Description: "Internet Protocol (IP) address of the link, e.g. 192.168.0.5"},
				{Name: AttrNIGateway, Type: occi.TypeIP, Mutable: true, Description: "Internet Protocol (IP) gateway address"},
				{Name: AttrNIAllocation, Type: occi.TypeEnum, Enum: []string{"dynamic", "static"}, Mutable: true, Default: "dynamic", Description: "Address allocation mechanism: dynamic (DHCP) or static"},
			},
		},
		{ID: OSTemplate, Title: "OS Template", Applies: []occi.CategoryID{Compute}, Location: "/os_tpl/"},
		{ID: ResourceTemplate, Title: "Resource Template", Applies: []occi.CategoryID{Compute}, Location: "/resource_tpl/"},
		{
			ID: SSHKey, Title: "Credentials Mixin", Applies: []occi.CategoryID{Compute}, Location: "/ssh_key/",
			Attributes: []occi.AttributeDef{
				{Name: AttrSSHPublicKey, Type: occi.TypeString, Mutable: true, Required: true, Description: "The contents of the public key file to be injected into the Compute Resource"},
			},
		},
		{
			ID: UserData, Title: "Contextualization Mixin", Applies: []occi.CategoryID{Compute}, Location: "/user_data/",
			Attributes: []occi.AttributeDef{
				{Name: AttrUserData, Type: occi.TypeString, Mutable: true, Required: true, Description: "Contextualization data (e.g. a cloud-init script), supplied once at creation"},
			},
		},
	}
}

// Actions returns fresh copies of the nine Infrastructure actions with
// their parameters. The method parameters have the defaults occid applies
// when a client omits them (stop/restart: graceful, suspend: suspend, save:
// hot).
func Actions() []*occi.Action {
	method := func(def string, values ...string) occi.AttributeDef {
		return occi.AttributeDef{Name: ParamMethod, Type: occi.TypeEnum, Enum: values, Mutable: true, Default: def, Description: "How to perform the action"}
	}
	return []*occi.Action{
		{ID: ActionStart, Title: "Start the compute instance"},
		{ID: ActionStop, Title: "Stop the compute instance", Attributes: []occi.AttributeDef{method("graceful", "graceful", "acpioff", "poweroff")}},
		{ID: ActionRestart, Title: "Restart the compute instance", Attributes: []occi.AttributeDef{method("graceful", "graceful", "warm", "cold")}},
		{ID: ActionSuspend, Title: "Suspend the compute instance", Attributes: []occi.AttributeDef{method("suspend", "hibernate", "suspend")}},
		{ID: ActionSave, Title: "Save the compute instance as a new OS template", Attributes: []occi.AttributeDef{
			method(SaveHot, SaveHot, SaveDeferred),
			{Name: ParamName, Type: occi.TypeString, Mutable: true, Description: "Name of the new OS template; the provider may change it to make it a unique term"},
		}},
		{ID: ActionOnline, Title: "Set the storage online"},
		{ID: ActionOffline, Title: "Set the storage offline"},
		{ID: ActionUp, Title: "Set the network up"},
		{ID: ActionDown, Title: "Set the network down"},
	}
}

// Register adds every Infrastructure kind, mixin and action to m. Those
// already registered are left as they are, so Register may be called twice.
func Register(m *occi.Model) {
	for _, a := range Actions() {
		if _, ok := m.Action(a.ID); !ok {
			must(m.AddAction(a))
		}
	}
	for _, k := range Kinds() {
		if _, ok := m.Kind(k.ID); !ok {
			must(m.AddKind(k))
		}
	}
	for _, x := range Mixins() {
		if _, ok := m.Mixin(x.ID); !ok {
			must(m.AddMixin(x))
		}
	}
}

func must(err error) {
	if err != nil {
		panic("infra: " + err.Error())
	}
}

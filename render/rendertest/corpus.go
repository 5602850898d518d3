// Package rendertest is the shared test corpus of occid's renderings: cases
// for every document the protocol carries (entities with every attribute
// type and hostile strings, links, mixins, action links, discovery, action
// invocations, mixin definitions, empty and large collections, location
// lists, errors), the round-trip harness every codec runs (Run), and a
// golden-file helper with an -update flag.
package rendertest

import (
	"fmt"

	"github.com/occid/occi"
)

// Base is the absolute URL prefix the corpus renders against.
const Base = "http://occi.example.org:8080"

// Well-known identifiers used by the corpus.
var (
	Infra       = "http://schemas.ogf.org/occi/infrastructure#"
	Compute     = occi.CategoryID{Scheme: Infra, Term: "compute"}
	Network     = occi.CategoryID{Scheme: Infra, Term: "network"}
	Storage     = occi.CategoryID{Scheme: Infra, Term: "storage"}
	NetIface    = occi.CategoryID{Scheme: Infra, Term: "networkinterface"}
	StorageLink = occi.CategoryID{Scheme: Infra, Term: "storagelink"}
	IPNetIface  = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/networkinterface#", Term: "ipnetworkinterface"}
	IPNetwork   = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/network#", Term: "ipnetwork"}
	OSTpl       = occi.CategoryID{Scheme: Infra, Term: "os_tpl"}
	ResTpl      = occi.CategoryID{Scheme: Infra, Term: "resource_tpl"}
	Ubuntu      = occi.CategoryID{Scheme: "http://occid.local/occi/os_tpl#", Term: "ubuntu-16.04"}
	Small       = occi.CategoryID{Scheme: "http://occid.local/occi/resource_tpl#", Term: "small"}
	SSHKey      = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/credentials#", Term: "ssh_key"}
	Tag         = occi.CategoryID{Scheme: "http://occid.local/occi/users/alice/tags#", Term: "web"}
	ActStart    = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/compute/action#", Term: "start"}
	ActStop     = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/compute/action#", Term: "stop"}
	ActRestart  = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/compute/action#", Term: "restart"}
	ActSave     = occi.CategoryID{Scheme: Infra[:len(Infra)-1] + "/compute/action#", Term: "save"}
)

// Hostile is a string with everything a rendering must escape or keep:
// quotes, backslashes, commas, semicolons, colons, equals signs, angle
// brackets, braces, a newline, a CR, a tab, a control character and
// non-ASCII text.
const Hostile = "say \"hi\", \\o/; a:b=c <x> {y} [z]\nline2\r\tend\x01 héllo — 日本語 🚀 ,;"

// NewCompute returns a fully populated compute resource: kind, three
// mixins, attributes of every type, an owned network interface with a mixin
// and attributes, and action links.
func NewCompute() *occi.Entity {
	return &occi.Entity{
		ID:       "urn:uuid:6a1f0e0c-4d7b-4a8e-9f3a-1c2d3e4f5a6b",
		Location: "/compute/6a1f0e0c-4d7b-4a8e-9f3a-1c2d3e4f5a6b",
		Kind:     Compute,
		Mixins:   []occi.CategoryID{Ubuntu, Small, SSHKey},
		Title:    "web-01",
		Summary:  "Front-end VM",
		Attributes: occi.Attributes{
			"occi.compute.architecture":      "x64",
			"occi.compute.cores":             int64(2),
			"occi.compute.memory":            4.0,
			"occi.compute.share":             int64(-3),
			"occi.compute.speed":             1.33,
			"occi.compute.hostname":          "web-01.example.org",
			"occi.compute.state":             "active",
			"occi.credentials.ssh.publickey": "ssh-ed25519 AAAAC3Nza alice@laptop",
			"example.flag.on":                true,
			"example.flag.off":               false,
			"example.zero":                   int64(0),
			"example.big":                    int64(9007199254740993),
			"example.tiny":                   0.000125,
			"example.list":                   []any{"a", int64(1), 2.5, true, []any{}, map[string]any{"k": "v"}},
			"example.hash":                   map[string]any{"rules": []any{map[string]any{"port": int64(22), "proto": "tcp"}}, "on": false},
			"example.empty":                  "",
		},
		Links: []*occi.Entity{{
			ID:         "urn:uuid:8e2c77a0-1b2d-4c3e-8f90-0a1b2c3d4e5f",
			Location:   "/networkinterface/8e2c77a0-1b2d-4c3e-8f90-0a1b2c3d4e5f",
			Kind:       NetIface,
			Mixins:     []occi.CategoryID{IPNetIface},
			Title:      "eth0 link",
			Source:     "/compute/6a1f0e0c-4d7b-4a8e-9f3a-1c2d3e4f5a6b",
			SourceKind: Compute,
			Target:     "/network/3f0b9b1e-5b1c-4c55-9d0e-7a2f2c1b4e10",
			TargetKind: Network,
			Attributes: occi.Attributes{
				"occi.networkinterface.interface":  "eth0",
				"occi.networkinterface.mac":        "02:00:0a:00:00:05",
				"occi.networkinterface.state":      "active",
				"occi.networkinterface.address":    "10.0.0.5",
				"occi.networkinterface.allocation": "dynamic",
				"example.mtu":                      int64(1500),
			},
		}},
		Actions: []occi.CategoryID{ActStop, ActRestart, ActSave},
	}
}

// EntityCase is one entity of the corpus.
type EntityCase struct {
	Name   string
	Entity *occi.Entity
}

// Entities returns the entity cases: a full compute, a partial update that
// unsets an attribute (nil), hostile strings, a link entity, a minimal
// resource, a link to a remote target, a resource with several links with
// hostile attributes.
func Entities() []EntityCase {
	hostile := &occi.Entity{
		ID:       "urn:uuid:00000000-0000-4000-8000-000000000001",
		Location: "/storage/00000000-0000-4000-8000-000000000001",
		Kind:     Storage,
		Mixins:   []occi.CategoryID{Tag},
		Title:    Hostile,
		Summary:  `C:\path\to\"file", ok; yes=no`,
		Attributes: occi.Attributes{
			"occi.storage.size":   int64(10),
			"example.hostile":     Hostile,
			"example.backslashes": `\\server\share\`,
			"example.quoteonly":   `"`,
			"example.unicode":     "Grüße, 你好, Привет, مرحبا",
			"example.json-like":   `{"not":"parsed"}`,
			"example.true-string": "true",
			"example.num-string":  "42",
			"example.hostilelist": []any{Hostile, `a"b`, `c\d`},
		},
		Actions: []occi.CategoryID{{Scheme: Infra[:len(Infra)-1] + "/storage/action#", Term: "offline"}},
	}
	link := &occi.Entity{
		ID:         "urn:uuid:c4d5e6f7-0a1b-4c2d-8e3f-112233445566",
		Location:   "/storagelink/c4d5e6f7-0a1b-4c2d-8e3f-112233445566",
		Kind:       StorageLink,
		Mixins:     []occi.CategoryID{Tag},
		Title:      "data disk, \"primary\"",
		Source:     "/compute/6a1f0e0c-4d7b-4a8e-9f3a-1c2d3e4f5a6b",
		SourceKind: Compute,
		Target:     "/storage/9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a",
		TargetKind: Storage,
		Attributes: occi.Attributes{
			"occi.storagelink.deviceid":   "/dev/vdb",
			"occi.storagelink.mountpoint": "/srv/data; x=1",
			"occi.storagelink.state":      "active",
		},
		Actions: []occi.CategoryID{{Scheme: "http://occid.local/occi/storagelink/action#", Term: "detach"}},
	}
	minimal := &occi.Entity{
		ID:       "n1",
		Location: "/network/n1",
		Kind:     Network,
	}
	remote := &occi.Entity{
		ID:         "urn:uuid:remote-link",
		Location:   "/link/remote",
		Kind:       occi.LinkKind,
		Source:     "/compute/c1",
		SourceKind: Compute,
		Target:     "http://other.example.com/occi/storage/s9",
		TargetKind: Storage,
	}
	multi := &occi.Entity{
		ID:       "urn:uuid:multi",
		Location: "/compute/multi",
		Kind:     Compute,
		Links: []*occi.Entity{
			{
				ID: "urn:uuid:l1", Location: "/storagelink/l1", Kind: StorageLink,
				Title:  Hostile,
				Source: "/compute/multi", SourceKind: Compute,
				Target: "/storage/s1", TargetKind: Storage,
				Attributes: occi.Attributes{
					"occi.storagelink.deviceid": "vd<a>,b;c",
					"example.weight":            0.5,
					"example.on":                true,
					"example.tags":              []any{"x", "y"},
				},
			},
			{
				ID: "urn:uuid:l2", Location: "/networkinterface/l2", Kind: NetIface,
				Source: "/compute/multi", SourceKind: Compute,
				Target: "http://other.example.com/network/public", TargetKind: Network,
			},
		},
		Actions: []occi.CategoryID{ActStart},
	}
	patch := &occi.Entity{
		Mixins:     []occi.CategoryID{SSHKey},
		Attributes: occi.Attributes{"occi.compute.hostname": nil, "occi.credentials.ssh.publickey": "ssh-ed25519 AAAA"},
	}
	return []EntityCase{
		{"compute", NewCompute()},
		{"hostile", hostile},
		{"storagelink", link},
		{"minimal", minimal},
		{"remote-target", remote},
		{"multi-link", multi},
		{"patch-unset", patch},
	}
}

// NewDiscovery returns a category collection with kinds (core#entity
// without location, attribute definitions of every type, actions), mixins
// (depends, applies, defaults, enum and pattern) and actions with
// parameters.
func NewDiscovery() *occi.Discovery {
	return &occi.Discovery{
		Kinds: []*occi.Kind{
			{ID: occi.EntityKind, Title: "Entity", Attributes: []occi.AttributeDef{
				{Name: "occi.core.id", Type: occi.TypeURI},
				{Name: "occi.core.title", Mutable: true},
			}},
			{ID: occi.ResourceKind, Title: "Resource", Parent: occi.EntityKind, Location: "/resource/",
				Attributes: []occi.AttributeDef{{Name: "occi.core.summary", Mutable: true}}},
			{ID: occi.LinkKind, Title: "Link", Parent: occi.EntityKind, Location: "/link/",
				Attributes: []occi.AttributeDef{
					{Name: "occi.core.source", Type: occi.TypeURI, Mutable: true, Required: true},
					{Name: "occi.core.target", Type: occi.TypeURI, Mutable: true, Required: true},
					{Name: "occi.core.target.kind", Type: occi.TypeURI},
				}},
			{ID: Compute, Title: "Compute Resource", Parent: occi.ResourceKind, Location: "/compute/",
				Attributes: []occi.AttributeDef{
					{Name: "occi.compute.architecture", Type: occi.TypeEnum, Mutable: true, Enum: []string{"x86", "x64"}, Description: "CPU architecture"},
					{Name: "occi.compute.cores", Type: occi.TypeInteger, Mutable: true, Default: int64(1)},
					{Name: "occi.compute.memory", Type: occi.TypeFloat, Mutable: true, Default: 1.0, Description: "RAM in GiB"},
					{Name: "occi.compute.hostname", Mutable: true, Pattern: `[a-z0-9.-]+`},
					{Name: "occi.compute.state", Type: occi.TypeEnum, Enum: []string{"active", "inactive", "suspended", "error"}, Default: "inactive"},
					{Name: "example.ip", Type: occi.TypeIP, Mutable: true},
					{Name: "example.cidr", Type: occi.TypeCIDR, Mutable: true},
					{Name: "example.when", Type: occi.TypeDatetime},
					{Name: "example.on", Type: occi.TypeBool, Mutable: true, Required: true, Default: true},
					{Name: "example.list", Type: occi.TypeList, Mutable: true, Default: []any{"a", int64(1)}},
					{Name: "example.hash", Type: occi.TypeHash, Mutable: true, Default: map[string]any{"k": "v"}},
					{Name: "example.hostile", Mutable: true, Description: Hostile, Default: Hostile},
				},
				Actions: []occi.CategoryID{ActStart, ActStop, ActRestart, ActSave}},
		},
		Mixins: []*occi.Mixin{
			{ID: OSTpl, Title: "OS Template", Location: "/os_tpl/"},
			{ID: Ubuntu, Title: "Ubuntu 16.04 LTS", Depends: []occi.CategoryID{OSTpl}, Applies: []occi.CategoryID{Compute}, Location: "/os_tpl/ubuntu-16.04/"},
			{ID: Small, Title: "Small, \"1 core\"", Depends: []occi.CategoryID{ResTpl, OSTpl}, Applies: []occi.CategoryID{Compute}, Location: "/resource_tpl/small/",
				Attributes: []occi.AttributeDef{
					{Name: "occi.compute.cores", Type: occi.TypeInteger, Default: int64(1)},
					{Name: "occi.compute.memory", Type: occi.TypeFloat, Default: 1.0},
				}},
			{ID: IPNetwork, Title: "IP Network", Applies: []occi.CategoryID{Network}, Location: "/mixin/ipnetwork/",
				Attributes: []occi.AttributeDef{
					{Name: "occi.network.address", Type: occi.TypeCIDR, Mutable: true},
					{Name: "occi.network.allocation", Type: occi.TypeEnum, Mutable: true, Enum: []string{"dynamic", "static"}},
				},
				Actions: []occi.CategoryID{{Scheme: "http://occid.local/occi/network/action#", Term: "flush"}}},
			{ID: Tag, Title: "Web tier", Location: "/users/alice/tags/web/", Owner: "alice"},
		},
		Actions: []*occi.Action{
			{ID: ActStart, Title: "Start the compute instance"},
			{ID: ActStop, Title: "Stop the compute instance", Attributes: []occi.AttributeDef{
				{Name: "method", Type: occi.TypeEnum, Mutable: true, Enum: []string{"graceful", "acpioff", "poweroff"}},
			}},
			{ID: ActSave, Title: "Save the compute instance as an OS template", Attributes: []occi.AttributeDef{
				{Name: "method", Type: occi.TypeEnum, Mutable: true, Enum: []string{"hot", "deferred"}},
				{Name: "name", Mutable: true, Required: true, Description: "Name of the new template"},
			}},
		},
	}
}

// DiscoveryCase is one category collection of the corpus.
type DiscoveryCase struct {
	Name      string
	Discovery *occi.Discovery
}

// Discoveries returns the discovery cases: the full one, an empty one and
// one with only actions.
func Discoveries() []DiscoveryCase {
	d := NewDiscovery()
	return []DiscoveryCase{
		{"full", d},
		{"empty", &occi.Discovery{}},
		{"actions-only", &occi.Discovery{Actions: d.Actions}},
	}
}

// ActionCase is one action invocation of the corpus.
type ActionCase struct {
	Name   string
	Action *occi.ActionInvocation
}

// Actions returns the action invocation cases.
func Actions() []ActionCase {
	return []ActionCase{
		{"stop", &occi.ActionInvocation{Action: ActStop, Attributes: occi.Attributes{"method": "graceful"}}},
		{"start-no-params", &occi.ActionInvocation{Action: ActStart}},
		{"save-hostile", &occi.ActionInvocation{Action: ActSave, Attributes: occi.Attributes{"method": "deferred", "name": Hostile}}},
		{"typed-params", &occi.ActionInvocation{Action: occi.CategoryID{Scheme: "http://occid.local/occi/action#", Term: "resize"},
			Attributes: occi.Attributes{"size": int64(20), "factor": 1.5, "force": true, "disks": []any{"vda", "vdb"}}}},
	}
}

// MixinCase is one mixin definition of the corpus.
type MixinCase struct {
	Name  string
	Mixin *occi.Mixin
}

// Mixins returns the mixin definition cases.
func Mixins() []MixinCase {
	d := NewDiscovery()
	return []MixinCase{
		{"tag", &occi.Mixin{ID: Tag, Title: "Web tier", Location: "/users/alice/tags/web/"}},
		{"template", d.Mixins[2]},
		{"ipnetwork", d.Mixins[3]},
		{"hostile-title", &occi.Mixin{ID: occi.CategoryID{Scheme: "http://occid.local/occi/tags#", Term: "t-1.x_y"}, Title: Hostile, Location: "/tags/t-1.x_y/"}},
	}
}

// CollectionCase is one entity collection of the corpus.
type CollectionCase struct {
	Name     string
	Entities []*occi.Entity
}

// Large returns n small compute resources.
func Large(n int) []*occi.Entity {
	es := make([]*occi.Entity, n)
	for i := range es {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		es[i] = &occi.Entity{
			ID:       "urn:uuid:" + id,
			Location: "/compute/" + id,
			Kind:     Compute,
			Title:    fmt.Sprintf("vm-%d", i),
			Attributes: occi.Attributes{
				"occi.compute.cores":  int64(1 + i%8),
				"occi.compute.memory": float64(i%16) + 0.5,
				"occi.compute.state":  "active",
			},
			Actions: []occi.CategoryID{ActStop},
		}
	}
	return es
}

// Collections returns the collection cases: empty, resources only, links
// only, mixed, and 10,000 resources.
func Collections() []CollectionCase {
	es := Entities()
	return []CollectionCase{
		{"empty", nil},
		{"resources", []*occi.Entity{es[0].Entity, es[1].Entity, es[3].Entity}},
		{"links", []*occi.Entity{es[2].Entity, es[4].Entity}},
		{"mixed", []*occi.Entity{es[0].Entity, es[2].Entity, es[3].Entity}},
		{"large-10k", Large(10000)},
	}
}

// LocationCase is one location list of the corpus.
type LocationCase struct {
	Name      string
	Locations []string
}

// Locations returns the location list cases.
func Locations() []LocationCase {
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("/compute/%06d", i)
	}
	return []LocationCase{
		{"empty", nil},
		{"one", []string{"/compute/6a1f0e0c-4d7b-4a8e-9f3a-1c2d3e4f5a6b"}},
		{"several", []string{"/compute/a", "/storage/b", "/users/alice/tags/web/c", "/network/with%20space"}},
		{"large-10k", many},
	}
}

// ErrorCase is one error of the corpus.
type ErrorCase struct {
	Name    string
	Code    occi.Code
	Message string
}

// Errors returns the error cases.
func Errors() []ErrorCase {
	return []ErrorCase{
		{"not-found", occi.NotFound, "compute /compute/x does not exist"},
		{"invalid", occi.InvalidArgument, `line 3 (X-OCCI-Attribute): attribute occi.compute.cores: "x\y" is not a number, ok?`},
		{"unicode", occi.Conflict, "Konflikt: Grüße; 日本語"},
		{"internal", occi.Internal, "internal error"},
	}
}

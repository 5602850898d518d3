package libvirtbackend

import (
	"encoding/xml"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// metadataNS is the XML namespace of occid's element in a domain's
// <metadata>; the element maps a domain back to its entity.
const metadataNS = "https://github.com/occid/occi/libvirt/1"

// instanceMeta is occid's metadata element in a domain.
type instanceMeta struct {
	XMLName  xml.Name `xml:"https://github.com/occid/occi/libvirt/1 instance"`
	Location string   `xml:"location"`
	Hostname string   `xml:"hostname,omitempty"`
	Root     string   `xml:"root,omitempty"` // root disk volume (in the volume pool)
	Seed     string   `xml:"seed,omitempty"` // cloud-init seed volume (in the volume pool)
	OSTpl    string   `xml:"ostpl,omitempty"`
}

// parseMeta reads occid's element from a domain's <metadata> inner XML.
func parseMeta(inner string) (instanceMeta, bool) {
	dec := xml.NewDecoder(strings.NewReader(inner))
	for {
		tok, err := dec.Token()
		if err != nil {
			return instanceMeta{}, false
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space == metadataNS && se.Name.Local == "instance" {
			var m instanceMeta
			if dec.DecodeElement(&m, &se) != nil {
				return instanceMeta{}, false
			}
			return m, true
		}
	}
}

func (m instanceMeta) xml() string {
	// A prefix keeps libvirt's re-serialisation readable.
	var b strings.Builder
	b.WriteString(`<occid:instance xmlns:occid="` + metadataNS + `">`)
	writeEl := func(name, v string) {
		if v == "" {
			return
		}
		b.WriteString("<occid:" + name + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</occid:" + name + ">")
	}
	writeEl("location", m.Location)
	writeEl("hostname", m.Hostname)
	writeEl("root", m.Root)
	writeEl("seed", m.Seed)
	writeEl("ostpl", m.OSTpl)
	b.WriteString(`</occid:instance>`)
	return b.String()
}

// computeSpec is what a domain is built from.
type computeSpec struct {
	Name       string
	DomainType string // "kvm" or "qemu"
	Arch       string // libvirt arch: "x86_64" or "i686"
	Cores      int
	MemoryKiB  uint64
	RootPath   string // root disk file ("" for none)
	RootFormat string
	SeedPath   string // cloud-init seed ISO file ("" for none)
	ConsoleLog string // serial console log file ("" for none)
	Meta       instanceMeta
}

// occiArch maps occi.compute.architecture onto libvirt's arch names.
func occiArch(a string) (string, bool) {
	switch a {
	case "", "x64":
		return "x86_64", true
	case "x86":
		return "i686", true
	}
	return "", false
}

// libvirtArch maps a libvirt arch back onto occi.compute.architecture.
func libvirtArch(a string) string {
	switch a {
	case "i686", "i386":
		return "x86"
	case "x86_64":
		return "x64"
	}
	return ""
}

// gibToKiB converts GiB (occi.compute.memory) to KiB, rounding up to whole
// MiB so that libvirt does not round it differently.
func gibToKiB(g float64) uint64 {
	mib := uint64(math.Ceil(g * 1024))
	return mib * 1024
}

// kibToGiB converts KiB to GiB.
func kibToGiB(k uint64) float64 { return float64(k) / (1024 * 1024) }

// gibToBytes converts GiB (occi.storage.size) to bytes, rounded up to MiB.
func gibToBytes(g float64) uint64 { return uint64(math.Ceil(g*1024)) * 1024 * 1024 }

// bytesToGiB converts bytes to GiB.
func bytesToGiB(b uint64) float64 { return float64(b) / (1 << 30) }

// domainXML builds the persistent definition of a new compute.
func domainXML(s computeSpec) (string, error) {
	uintp := func(v uint) *uint { return &v }
	d := &libvirtxml.Domain{
		Type: s.DomainType,
		Name: s.Name,
		Metadata: &libvirtxml.DomainMetadata{
			XML: s.Meta.xml(),
		},
		Memory:        &libvirtxml.DomainMemory{Value: uint(s.MemoryKiB), Unit: "KiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: uint(s.MemoryKiB), Unit: "KiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: uint(s.Cores)},
		OS: &libvirtxml.DomainOS{
			Type:        &libvirtxml.DomainOSType{Arch: s.Arch, Type: "hvm"},
			BootDevices: []libvirtxml.DomainBootDevice{{Dev: "hd"}},
		},
		Features: &libvirtxml.DomainFeatureList{
			ACPI: &libvirtxml.DomainFeature{},
			APIC: &libvirtxml.DomainFeatureAPIC{},
		},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices:    &libvirtxml.DomainDeviceList{},
	}
	if s.RootPath != "" {
		format := s.RootFormat
		if format == "" {
			format = "qcow2"
		}
		d.Devices.Disks = append(d.Devices.Disks, libvirtxml.DomainDisk{
			Device: "disk",
			Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: format},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: s.RootPath}},
			Target: &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"},
			Alias:  &libvirtxml.DomainAlias{Name: rootAlias},
		})
	}
	if s.SeedPath != "" {
		d.Devices.Disks = append(d.Devices.Disks, libvirtxml.DomainDisk{
			Device:   "cdrom",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: s.SeedPath}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: "hdc", Bus: "ide"},
			ReadOnly: &libvirtxml.DomainDiskReadOnly{},
			Alias:    &libvirtxml.DomainAlias{Name: seedAlias},
		})
	}
	serial := libvirtxml.DomainSerial{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainSerialTarget{Port: uintp(0)},
	}
	if s.ConsoleLog != "" {
		serial.Log = &libvirtxml.DomainChardevLog{File: s.ConsoleLog, Append: "on"}
	}
	d.Devices.Serials = []libvirtxml.DomainSerial{serial}
	d.Devices.Consoles = []libvirtxml.DomainConsole{{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: uintp(0)},
	}}
	return d.Marshal()
}

// Device aliases. libvirt keeps user aliases ("ua-" prefix) in the
// persistent definition, which is how links find their devices again.
const (
	rootAlias = "ua-occid-root"
	seedAlias = "ua-occid-seed"
)

// linkAlias returns the device alias of a link entity id.
func linkAlias(id string) string {
	var b strings.Builder
	b.WriteString("ua-")
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// interfaceXML builds the device of a network interface link.
func interfaceXML(network, mac, alias string) (string, error) {
	i := &libvirtxml.DomainInterface{
		Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: network}},
		Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		Alias:  &libvirtxml.DomainAlias{Name: alias},
	}
	if mac != "" {
		i.MAC = &libvirtxml.DomainInterfaceMAC{Address: mac}
	}
	return i.Marshal()
}

// diskXML builds the device of a storage link.
func diskXML(path, format, dev, alias string) (string, error) {
	if format == "" {
		format = "raw"
	}
	dk := &libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: format},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: path}},
		Target: &libvirtxml.DomainDiskTarget{Dev: dev, Bus: "virtio"},
		Alias:  &libvirtxml.DomainAlias{Name: alias},
	}
	return dk.Marshal()
}

// normDevice turns "/dev/vdb" or "vdb" into "vdb"; ok is false for anything
// that is not a virtio disk name vda..vdz.
func normDevice(s string) (string, bool) {
	s = strings.TrimPrefix(s, "/dev/")
	if len(s) != 3 || !strings.HasPrefix(s, "vd") || s[2] < 'b' || s[2] > 'z' {
		return "", false
	}
	return s, true
}

// nextDevice returns the first of vdb..vdz that is not in used.
func nextDevice(used map[string]bool) (string, bool) {
	for c := byte('b'); c <= 'z'; c++ {
		dev := "vd" + string(c)
		if !used[dev] {
			return dev, true
		}
	}
	return "", false
}

// netSpec is what an isolated network is built from.
type netSpec struct {
	Name    string
	Gateway netip.Addr   // the host's address on the bridge
	Prefix  netip.Prefix // the network's range
	DHCP    bool
}

// networkXML builds an isolated network: no <forward>, so libvirt routes
// and NATs nothing; guests reach only each other and the host's bridge
// address (DHCP and DNS from libvirt's dnsmasq).
func networkXML(s netSpec) (string, error) {
	n := &libvirtxml.Network{
		Name: s.Name,
		Bridge: &libvirtxml.NetworkBridge{
			STP:   "on",
			Delay: "0",
		},
		IPs: []libvirtxml.NetworkIP{{
			Address: s.Gateway.String(),
			Prefix:  uint(s.Prefix.Bits()),
		}},
	}
	if s.Prefix.Addr().Is6() {
		n.IPs[0].Family = "ipv6"
	}
	if s.DHCP {
		start, end, ok := dhcpRange(s.Prefix, s.Gateway)
		if ok {
			n.IPs[0].DHCP = &libvirtxml.NetworkDHCP{Ranges: []libvirtxml.NetworkDHCPRange{{Start: start.String(), End: end.String()}}}
		}
	}
	return n.Marshal()
}

// dhcpRange returns the addresses after the gateway up to the last usable
// one of an IPv4 prefix (at most 1000 addresses).
func dhcpRange(p netip.Prefix, gw netip.Addr) (netip.Addr, netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() > 29 {
		return netip.Addr{}, netip.Addr{}, false
	}
	first := p.Masked().Addr().Next()
	if gw == first {
		first = first.Next()
	}
	size := uint32(1) << (32 - p.Bits())
	b := p.Masked().Addr().As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := base + size - 2 // before the broadcast address
	f4 := first.As4()
	fi := uint32(f4[0])<<24 | uint32(f4[1])<<16 | uint32(f4[2])<<8 | uint32(f4[3])
	if last-fi > 1000 {
		last = fi + 1000
	}
	end := netip.AddrFrom4([4]byte{byte(last >> 24), byte(last >> 16), byte(last >> 8), byte(last)})
	if gw.Compare(first) > 0 && gw.Compare(end) <= 0 {
		// a gateway inside the range: start after it
		first = gw.Next()
	}
	if first.Compare(end) > 0 {
		return netip.Addr{}, netip.Addr{}, false
	}
	return first, end, true
}

// parseNetworkAddress reads occi.network.address (and the optional
// occi.network.gateway): a private IPv4 or IPv6 range in CIDR notation. The
// host takes the gateway address (default: the first address of the range).
func parseNetworkAddress(addr, gateway string) (netip.Prefix, netip.Addr, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(addr))
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("occi.network.address %q is not a range in CIDR notation such as 10.10.0.0/24", addr)
	}
	if !privateRange(p.Masked()) {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("occi.network.address %q is not a private range (10/8, 172.16/12, 192.168/16 or fc00::/7): isolated networks take private ranges only", addr)
	}
	if p.Addr().Is4() && p.Bits() > 30 || p.Addr().Is6() && p.Bits() > 126 {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("occi.network.address %q is too small for a network", addr)
	}
	var gw netip.Addr
	if gateway != "" {
		gw, err = netip.ParseAddr(strings.TrimSpace(strings.SplitN(gateway, "/", 2)[0]))
		if err != nil {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("occi.network.gateway %q is not an IP address", gateway)
		}
		if !p.Contains(gw) {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("occi.network.gateway %s is not in occi.network.address %s", gw, p)
		}
	} else if p.Addr() != p.Masked().Addr() {
		gw = p.Addr() // "192.168.0.1/24" names the host address
	} else {
		gw = p.Masked().Addr().Next()
	}
	return p.Masked(), gw, nil
}

// privateBlocks are the private address ranges of RFC 1918 and RFC 4193.
var privateBlocks = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
}

// privateRange reports whether all of p lies in one private block.
func privateRange(p netip.Prefix) bool {
	for _, b := range privateBlocks {
		if b.Contains(p.Addr()) && p.Bits() >= b.Bits() {
			return true
		}
	}
	return false
}

// volumeXML builds a new volume of capacity bytes.
func volumeXML(name, format string, capacity uint64) (string, error) {
	v := &libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: capacity},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}},
	}
	return v.Marshal()
}

// dirPoolXML builds a directory storage pool.
func dirPoolXML(name, path string) (string, error) {
	p := &libvirtxml.StoragePool{
		Type:   "dir",
		Name:   name,
		Target: &libvirtxml.StoragePoolTarget{Path: path},
	}
	return p.Marshal()
}

// backupXML builds a push-mode backup of the disk target dev to file (an
// existing qcow2 file); every other disk in disks is left out.
func backupXML(dev, file string, disks []string) (string, error) {
	b := &libvirtxml.DomainBackup{Push: &libvirtxml.DomainBackupPush{Disks: &libvirtxml.DomainBackupPushDisks{}}}
	for _, d := range disks {
		if d == dev {
			b.Push.Disks.Disks = append(b.Push.Disks.Disks, libvirtxml.DomainBackupPushDisk{
				Name:   d,
				Backup: "yes",
				Driver: &libvirtxml.DomainBackupDiskDriver{Type: "qcow2"},
				Target: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: file}},
			})
			continue
		}
		b.Push.Disks.Disks = append(b.Push.Disks.Disks, libvirtxml.DomainBackupPushDisk{Name: d, Backup: "no"})
	}
	return b.Marshal()
}

package libvirtbackend

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
	"libvirt.org/go/libvirtxml"
)

func TestDomainXML(t *testing.T) {
	meta := instanceMeta{Location: "/compute/abc", Hostname: "web-1", Root: "occid-abc-root.qcow2"}
	tests := []struct {
		name string
		spec computeSpec
		want func(t *testing.T, d *libvirtxml.Domain)
	}{
		{
			name: "full",
			spec: computeSpec{Name: "occid-abc", DomainType: "qemu", Arch: "i686", Cores: 2, MemoryKiB: gibToKiB(1.5),
				RootPath: "/pool/root.qcow2", SeedPath: "/pool/seed.iso", ConsoleLog: "/var/log/c.log", Meta: meta},
			want: func(t *testing.T, d *libvirtxml.Domain) {
				got := []any{d.Type, d.Name, d.VCPU.Value, d.Memory.Value, d.Memory.Unit, d.OS.Type.Arch, d.OnPoweroff}
				want := []any{"qemu", "occid-abc", uint(2), uint(1536 * 1024), "KiB", "i686", "destroy"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("domain fields (-want +got):\n%s", diff)
				}
				if n := len(d.Devices.Disks); n != 2 {
					t.Fatalf("got %d disks, want 2 (root and seed)", n)
				}
				root, seed := d.Devices.Disks[0], d.Devices.Disks[1]
				if got, want := []string{root.Target.Dev, root.Target.Bus, root.Driver.Type, root.Source.File.File, root.Alias.Name},
					[]string{"vda", "virtio", "qcow2", "/pool/root.qcow2", rootAlias}; !cmp.Equal(got, want) {
					t.Errorf("root disk: got %q, want %q", got, want)
				}
				if seed.Device != "cdrom" || seed.ReadOnly == nil || seed.Source.File.File != "/pool/seed.iso" {
					t.Errorf("seed disk: got device %q readonly %v source %q, want a read-only cdrom of /pool/seed.iso", seed.Device, seed.ReadOnly != nil, seed.Source.File.File)
				}
				if s := d.Devices.Serials; len(s) != 1 || s[0].Log == nil || s[0].Log.File != "/var/log/c.log" {
					t.Errorf("serial: got %+v, want one logged to /var/log/c.log", s)
				}
				m, ok := parseMeta(d.Metadata.XML)
				if !ok {
					t.Fatalf("metadata %q has no occid element", d.Metadata.XML)
				}
				if diff := cmp.Diff(meta, m, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "XMLName" }, cmp.Ignore())); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "no disks",
			spec: computeSpec{Name: "occid-x", DomainType: "kvm", Arch: "x86_64", Cores: 1, MemoryKiB: 512 * 1024, Meta: instanceMeta{Location: "/compute/x"}},
			want: func(t *testing.T, d *libvirtxml.Domain) {
				if d.Type != "kvm" || len(d.Devices.Disks) != 0 {
					t.Errorf("got type %q and %d disks, want kvm and none", d.Type, len(d.Devices.Disks))
				}
				if d.Devices.Serials[0].Log != nil {
					t.Errorf("got a console log, want none")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := domainXML(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var d libvirtxml.Domain
			if err := d.Unmarshal(x); err != nil {
				t.Fatalf("generated XML does not parse: %v\n%s", err, x)
			}
			tc.want(t, &d)
		})
	}
}

func TestMetaRoundTripWithOtherApplications(t *testing.T) {
	m := instanceMeta{Location: "/compute/a&b", Hostname: "h"}
	inner := `<other:x xmlns:other="urn:other">keep</other:x>` + m.xml()
	m2 := m
	m2.Hostname = "new"
	out := replaceMeta(&libvirtxml.DomainMetadata{XML: inner}, m2)
	if !strings.Contains(out, "keep") {
		t.Errorf("replaceMeta dropped another application's element: %s", out)
	}
	got, ok := parseMeta(out)
	if !ok || got.Hostname != "new" || got.Location != "/compute/a&b" {
		t.Errorf("got %+v (ok %v), want hostname new and location /compute/a&b", got, ok)
	}
}

func TestMapDomainState(t *testing.T) {
	tests := []struct {
		st      libvirt.DomainState
		reason  int32
		managed bool
		want    string
		msg     bool
	}{
		{libvirt.DomainRunning, 1, false, "active", false},
		{libvirt.DomainBlocked, 0, false, "active", false},
		{libvirt.DomainPaused, int32(libvirt.DomainPausedUser), false, "suspended", false},
		{libvirt.DomainPaused, int32(libvirt.DomainPausedIoerror), false, "error", true},
		{libvirt.DomainPaused, int32(libvirt.DomainPausedUnknown), false, "error", true},
		{libvirt.DomainPmsuspended, 0, false, "suspended", true},
		{libvirt.DomainShutoff, int32(libvirt.DomainShutoffShutdown), false, "inactive", false},
		{libvirt.DomainShutoff, int32(libvirt.DomainShutoffDestroyed), false, "inactive", false},
		{libvirt.DomainShutoff, int32(libvirt.DomainShutoffSaved), true, "suspended", true},
		{libvirt.DomainShutoff, int32(libvirt.DomainShutoffCrashed), false, "error", true},
		{libvirt.DomainShutoff, int32(libvirt.DomainShutoffFailed), false, "error", true},
		{libvirt.DomainCrashed, 0, false, "error", true},
		{libvirt.DomainShutdown, 0, false, "active", true},
		{libvirt.DomainNostate, 0, false, "error", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%d/%v", tc.st, tc.reason, tc.managed), func(t *testing.T) {
			got, msg := mapDomainState(tc.st, tc.reason, tc.managed)
			if got != tc.want || (msg != "") != tc.msg {
				t.Errorf("got (%q, %q), want state %q with a message: %v", got, msg, tc.want, tc.msg)
			}
		})
	}
}

func TestArchAndUnits(t *testing.T) {
	for _, tc := range []struct{ occi, libvirt string }{{"x86", "i686"}, {"x64", "x86_64"}} {
		if got, ok := occiArch(tc.occi); !ok || got != tc.libvirt {
			t.Errorf("occiArch(%q): got %q, want %q", tc.occi, got, tc.libvirt)
		}
		if got := libvirtArch(tc.libvirt); got != tc.occi {
			t.Errorf("libvirtArch(%q): got %q, want %q", tc.libvirt, got, tc.occi)
		}
	}
	if _, ok := occiArch("arm"); ok {
		t.Errorf("occiArch(arm): got ok, want refusal")
	}
	for _, tc := range []struct {
		gib float64
		kib uint64
	}{{0.5, 524288}, {1, 1048576}, {1.001, 1026 * 1024}} {
		if got := gibToKiB(tc.gib); got != tc.kib {
			t.Errorf("gibToKiB(%v): got %d, want %d", tc.gib, got, tc.kib)
		}
	}
	if got := kibToGiB(gibToKiB(2)); got != 2 {
		t.Errorf("kibToGiB(gibToKiB(2)): got %v, want 2", got)
	}
	if got := bytesToGiB(gibToBytes(1.5)); got != 1.5 {
		t.Errorf("bytesToGiB(gibToBytes(1.5)): got %v, want 1.5", got)
	}
	if got := memKiB(2, "GiB"); got != 2*1024*1024 {
		t.Errorf("memKiB(2, GiB): got %d", got)
	}
}

func TestComputeSizing(t *testing.T) {
	d := &Driver{opts: Options{ResourceTemplates: DefaultResourceTemplates}}
	tests := []struct {
		name  string
		attrs occi.Attributes
		tpl   string
		want  sizing
		code  occi.Code
	}{
		{"defaults", occi.Attributes{}, "", sizing{1, 0.5, "x64", "vm-abcdefgh"}, occi.OK},
		{"own", occi.Attributes{attrCores: int64(3), attrMemory: 1.25, attrArch: "x86", attrHostname: "db.example"}, "", sizing{3, 1.25, "x86", "db.example"}, occi.OK},
		{"template overrides", occi.Attributes{attrCores: int64(3)}, "medium", sizing{2, 2, "x64", "vm-abcdefgh"}, occi.OK},
		{"zero cores", occi.Attributes{attrCores: int64(0)}, "", sizing{}, occi.InvalidArgument},
		{"fractional cores", occi.Attributes{attrCores: 1.5}, "", sizing{}, occi.InvalidArgument},
		{"negative memory", occi.Attributes{attrMemory: -1.0}, "", sizing{}, occi.InvalidArgument},
		{"bad arch", occi.Attributes{attrArch: "sparc"}, "", sizing{}, occi.InvalidArgument},
		{"bad hostname", occi.Attributes{attrHostname: "a b"}, "", sizing{}, occi.InvalidArgument},
		{"unknown template", occi.Attributes{}, "huge", sizing{}, occi.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &occi.Entity{ID: "abcdefgh-1234", Attributes: tc.attrs}
			got, err := d.computeSizing(e, tc.tpl)
			if code := occi.ErrorCode(err); code != tc.code {
				t.Fatalf("got code %v (%v), want %v", code, err, tc.code)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestImageTerm(t *testing.T) {
	for _, tc := range []struct{ vol, term string }{
		{"tinyos.qcow2", "tinyos"},
		{"debian-12.img", "debian-12"},
		{"my image.raw", "my-image"},
		{"_hidden.qcow2", "imghidden"},
		{"a.b.qcow2", "a.b"},
		{"plain", "plain"},
	} {
		if got := imageTerm(tc.vol); got != tc.term {
			t.Errorf("imageTerm(%q): got %q, want %q", tc.vol, got, tc.term)
		}
	}
}

func TestParseNetworkAddress(t *testing.T) {
	tests := []struct {
		addr, gw       string
		prefix, gwWant string
		bad            bool
	}{
		{"10.213.5.0/24", "", "10.213.5.0/24", "10.213.5.1", false},
		{"192.168.7.1/24", "", "192.168.7.0/24", "192.168.7.1", false},
		{"10.1.0.0/16", "10.1.0.254", "10.1.0.0/16", "10.1.0.254", false},
		{"fd00:1::/64", "", "fd00:1::/64", "fd00:1::1", false},
		{"8.8.8.0/24", "", "", "", true},
		{"fc00::/0", "", "", "", true},
		{"10.0.0.0/7", "", "", "", true},
		{"10.1.0.0/31", "", "", "", true},
		{"10.1.0.0", "", "", "", true},
		{"10.1.0.0/24", "10.2.0.1", "", "", true},
		{"10.1.0.0/24", "x", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.addr+"/"+tc.gw, func(t *testing.T) {
			p, gw, err := parseNetworkAddress(tc.addr, tc.gw)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %v %v, want an error", p, gw)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.prefix || gw.String() != tc.gwWant {
				t.Errorf("got %v gateway %v, want %s gateway %s", p, gw, tc.prefix, tc.gwWant)
			}
		})
	}
}

func TestNetworkXMLIsIsolated(t *testing.T) {
	p := netip.MustParsePrefix("10.213.9.0/24")
	x, err := networkXML(netSpec{Name: "occid-n", Prefix: p, Gateway: netip.MustParseAddr("10.213.9.1"), DHCP: true})
	if err != nil {
		t.Fatal(err)
	}
	var n libvirtxml.Network
	if err := n.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	if n.Forward != nil {
		t.Errorf("network has <forward> %+v, want none (isolated)", n.Forward)
	}
	if len(n.IPs) != 1 || n.IPs[0].Address != "10.213.9.1" || n.IPs[0].Prefix != 24 {
		t.Fatalf("got IPs %+v, want 10.213.9.1/24", n.IPs)
	}
	r := n.IPs[0].DHCP.Ranges
	if len(r) != 1 || r[0].Start != "10.213.9.2" || r[0].End != "10.213.9.254" {
		t.Errorf("got DHCP ranges %+v, want 10.213.9.2-10.213.9.254", r)
	}
}

func TestDevices(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{{"/dev/vdb", "vdb", true}, {"vdc", "vdc", true}, {"vda", "", false}, {"/dev/sda", "", false}, {"vdbb", "", false}} {
		got, ok := normDevice(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normDevice(%q): got (%q, %v), want (%q, %v)", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, _ := nextDevice(map[string]bool{"vda": true, "vdb": true}); got != "vdc" {
		t.Errorf("nextDevice: got %q, want vdc", got)
	}
	if got := linkAlias("ab/c"); got != "ua-ab_c" {
		t.Errorf("linkAlias: got %q, want ua-ab_c", got)
	}
	for _, tc := range []struct {
		mac string
		ok  bool
	}{{"52:54:00:aa:bb:cc", true}, {"52:54:00:aa:bb", false}, {"52-54-00-aa-bb-cc", false}, {"zz:54:00:aa:bb:cc", false}} {
		if got := validMAC(tc.mac); got != tc.ok {
			t.Errorf("validMAC(%q): got %v, want %v", tc.mac, got, tc.ok)
		}
	}
}

func TestBackupXML(t *testing.T) {
	x, err := backupXML("vda", "/images/new.qcow2", []string{"vda", "hdc", "vdb"})
	if err != nil {
		t.Fatal(err)
	}
	var b libvirtxml.DomainBackup
	if err := b.Unmarshal(x); err != nil {
		t.Fatalf("%v\n%s", err, x)
	}
	var got []string
	for _, d := range b.Push.Disks.Disks {
		s := d.Name + "=" + d.Backup
		if d.Target != nil && d.Target.File != nil {
			s += ":" + d.Target.File.File
		}
		got = append(got, s)
	}
	want := []string{"vda=yes:/images/new.qcow2", "hdc=no", "vdb=no"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backup disks (-want +got):\n%s", diff)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want occi.Code
	}{
		{libvirt.Error{Code: uint32(libvirt.ErrNoDomain)}, occi.NotFound},
		{fmt.Errorf("x: %w", libvirt.Error{Code: uint32(libvirt.ErrNoStorageVol)}), occi.NotFound},
		{libvirt.Error{Code: uint32(libvirt.ErrOperationInvalid)}, occi.FailedPrecondition},
		{libvirt.Error{Code: uint32(libvirt.ErrStorageVolExist)}, occi.AlreadyExists},
		{libvirt.ErrInterrupted, occi.Unavailable},
		{syscall.EINVAL, occi.Unavailable},
		{io.EOF, occi.Unavailable},
		{syscall.ECONNREFUSED, occi.Unavailable},
		{occi.Errorf(occi.Conflict, "busy"), occi.Conflict},
		{errors.New("surprise"), occi.Internal},
		{nil, occi.OK},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSeedISO(t *testing.T) {
	e := &occi.Entity{ID: "i-1", Attributes: occi.Attributes{
		attrSSHKey:   "c3NoLWVkMjU1MTkgQUFBQSB1c2VyQGhvc3Q=", // Base64 of "ssh-ed25519 AAAA user@host"
		attrUserData: "#cloud-config\nruncmd: [echo hi]\n",
	}}
	s, ok := seedFor(e, "web-1")
	if !ok {
		t.Fatal("seedFor: got no seed, want one")
	}
	iso, err := s.iso()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := os.WriteFile(path, iso, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := file.OpenFromPath(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs, err := iso9660.Read(st, int64(len(iso)), 0, 2048)
	if err != nil {
		t.Fatalf("reading the seed ISO: %v", err)
	}
	if got := strings.TrimRight(fs.Label(), " \x00"); got != "cidata" {
		t.Errorf("volume label: got %q, want cidata", got)
	}
	want := map[string]string{
		"meta-data": "instance-id: \"i-1\"\nlocal-hostname: \"web-1\"\npublic-keys:\n  - \"ssh-ed25519 AAAA user@host\"\n",
		"user-data": "#cloud-config\nruncmd: [echo hi]\n",
	}
	for name, content := range want {
		f, err := fs.OpenFile("/"+name, os.O_RDONLY)
		if err != nil {
			t.Errorf("open %s: %v", name, err)
			continue
		}
		b, err := io.ReadAll(f)
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(content, string(b)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if _, ok := seedFor(&occi.Entity{ID: "x", Attributes: occi.Attributes{}}, "vm-x"); ok {
		t.Errorf("seedFor without key, user data or host name: got a seed, want none")
	}
}

func TestDecodeMaybeBase64(t *testing.T) {
	isKey := func(b []byte) bool { return strings.HasPrefix(string(b), "ssh-") }
	for _, tc := range []struct{ in, want string }{
		{"ssh-rsa AAAAB3 me", "ssh-rsa AAAAB3 me"},
		{"c3NoLXJzYSBBQUFBQjMgbWU=", "ssh-rsa AAAAB3 me"},
		{"aGVsbG8=", "aGVsbG8="}, // valid Base64, but not a key
	} {
		if got := decodeMaybeBase64(tc.in, isKey); got != tc.want {
			t.Errorf("decodeMaybeBase64(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseNetworkAddress(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "192.168.1.1/24", "fd00::/64", "", "1.2.3.4", "10.0.0.0/33"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, addr, gw string) {
		p, g, err := parseNetworkAddress(addr, gw)
		if err != nil {
			return
		}
		if !p.Contains(g) || !privateRange(p) {
			t.Errorf("parseNetworkAddress(%q, %q) = %v, %v: gateway outside the range or range not private", addr, gw, p, g)
		}
		if _, err := networkXML(netSpec{Name: "n", Prefix: p, Gateway: g, DHCP: true}); err != nil {
			t.Errorf("networkXML: %v", err)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	f.Add(instanceMeta{Location: "/compute/1", Hostname: "h"}.xml())
	f.Add(`<x/>`)
	f.Add(`<occid:instance xmlns:occid="` + metadataNS + `"><occid:location>`)
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parseMeta(s)
		if !ok {
			return
		}
		if m2, ok := parseMeta(m.xml()); !ok || m2.Location != m.Location || m2.Hostname != m.Hostname {
			t.Errorf("round trip of %+v: got %+v (ok %v)", m, m2, ok)
		}
	})
}

func FuzzImageTerm(f *testing.F) {
	for _, s := range []string{"tinyos.qcow2", "a b.img", "-x", ".qcow2", "ü.raw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if term := imageTerm(s); term != "" && !occi.ValidTerm(term) {
			t.Errorf("imageTerm(%q) = %q, not a valid term", s, term)
		}
	})
}

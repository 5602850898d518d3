package libvirtbackend

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/occid/occi"
)

// seed is the content of a cloud-init NoCloud seed: meta-data (instance id,
// host name, public keys) and user-data.
type seed struct {
	InstanceID string
	Hostname   string
	SSHKeys    []string
	UserData   []byte
}

// seedFor returns the seed of a compute when it has something for
// cloud-init: an ssh key, user data or a host name chosen by the client.
func seedFor(e *occi.Entity, hostname string) (seed, bool) {
	s := seed{InstanceID: entityID(e), Hostname: hostname}
	if k := strings.TrimSpace(stringAttr(e.Attributes, attrSSHKey)); k != "" {
		s.SSHKeys = []string{decodeMaybeBase64(k, func(b []byte) bool {
			return strings.HasPrefix(string(b), "ssh-") || strings.HasPrefix(string(b), "ecdsa-") || strings.HasPrefix(string(b), "sk-")
		})}
	}
	if u := stringAttr(e.Attributes, attrUserData); u != "" {
		s.UserData = []byte(decodeMaybeBase64(u, func(b []byte) bool { return utf8.Valid(b) }))
	}
	if len(s.SSHKeys) == 0 && s.UserData == nil && stringAttr(e.Attributes, attrHostname) == "" {
		return seed{}, false
	}
	return s, true
}

// decodeMaybeBase64 returns the Base64 decoding of s when s is valid Base64
// whose decoding passes ok (rOCCI sends Base64, ooi plain text); otherwise
// s itself.
func decodeMaybeBase64(s string, ok func([]byte) bool) string {
	compact := strings.Join(strings.Fields(s), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(compact); err == nil && len(b) > 0 && ok(b) {
			return string(b)
		}
	}
	return s
}

// metaData renders the NoCloud meta-data file (YAML).
func (s seed) metaData() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance-id: %s\n", yamlQuote(s.InstanceID))
	fmt.Fprintf(&b, "local-hostname: %s\n", yamlQuote(s.Hostname))
	if len(s.SSHKeys) > 0 {
		b.WriteString("public-keys:\n")
		for _, k := range s.SSHKeys {
			fmt.Fprintf(&b, "  - %s\n", yamlQuote(strings.TrimSpace(k)))
		}
	}
	return b.String()
}

// userData returns the user-data file: the client's, or an empty
// cloud-config.
func (s seed) userData() []byte {
	if s.UserData != nil {
		return s.UserData
	}
	return []byte("#cloud-config\n{}\n")
}

// yamlQuote quotes s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// iso builds the seed as an ISO 9660 image with the volume label "cidata"
// and Rock Ridge and Joliet names, so that cloud-init finds meta-data and
// user-data under those exact names.
func (s seed) iso() ([]byte, error) {
	dir, err := os.MkdirTemp("", "occid-seed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, err
	}
	files := map[string][]byte{"meta-data": []byte(s.metaData()), "user-data": s.userData()}
	size := int64(1 << 20)
	for _, c := range files {
		size += int64(len(c)) + 4096
	}
	img := filepath.Join(dir, "seed.iso")
	st, err := file.CreateFromPath(img, size)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	fs, err := iso9660.Create(st, size, 0, 2048, work)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"meta-data", "user-data"} {
		f, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(files[name]); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: "cidata"}); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(img)
	if err != nil {
		return nil, err
	}
	// The primary volume descriptor (sector 16) gives the image's size:
	// the volume space size (both-endian uint32 at 80) in logical blocks
	// (both-endian uint16 at 128).
	const pvd = 16 * 2048
	if len(b) < pvd+132 || b[pvd] != 1 || string(b[pvd+1:pvd+6]) != "CD001" {
		return nil, fmt.Errorf("the seed image has no primary volume descriptor")
	}
	blocks := int(binary.LittleEndian.Uint32(b[pvd+80:]))
	bsize := int(binary.LittleEndian.Uint16(b[pvd+128:]))
	if n := blocks * bsize; n > 0 && n <= len(b) {
		b = b[:n]
	}
	return b, nil
}

package libvirtbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// testEnv describes the libvirt the tests use; it is read from
// OCCID_TEST_LIBVIRT_URI and OCCID_TEST_TINYOS (scripts/setup/libvirt.sh).
type testEnv struct {
	uri    string // qemu:///system
	tinyos string // path of tinyos.qcow2
}

func needLibvirt(t *testing.T) testEnv {
	t.Helper()
	uri := os.Getenv("OCCID_TEST_LIBVIRT_URI")
	if uri == "" {
		t.Skip("no libvirtd to test against: set OCCID_TEST_LIBVIRT_URI (e.g. qemu:///system) and OCCID_TEST_TINYOS, e.g. by running scripts/test.sh")
	}
	return testEnv{uri: uri, tinyos: os.Getenv("OCCID_TEST_TINYOS")}
}

func needQEMU(t *testing.T) testEnv {
	t.Helper()
	env := needLibvirt(t)
	if env.tinyos == "" {
		t.Skip("no tiny guest image: set OCCID_TEST_TINYOS to the path of tinyos.qcow2 (made by ../shared/testbed/make-tinyos.sh), e.g. by running scripts/test.sh")
	}
	if testing.Short() {
		t.Skip("real QEMU guests are skipped in -short mode")
	}
	return env
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testOptions returns driver options with a unique prefix and pools of
// their own, whose cleanup removes the pools.
func testOptions(t *testing.T, uri string) Options {
	t.Helper()
	prefix := "occidt-" + randomHex(3) + "-"
	dir := t.TempDir()
	// QEMU runs as its own user and must reach the pools under dir.
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{
		URI:             uri,
		DataDir:         dir,
		ImagePool:       prefix + "images",
		VolumePool:      prefix + "volumes",
		Prefix:          prefix,
		GracefulTimeout: 30 * time.Second,
	}
	t.Cleanup(func() { purge(t, opts) })
	return opts
}

// purge removes everything with the options' prefix: domains, networks,
// volumes and the two pools.
func purge(t *testing.T, opts Options) {
	t.Helper()
	c, err := newConn(opts.URI)
	if err != nil {
		t.Errorf("purge: %v", err)
		return
	}
	l, err := c.get()
	if err != nil {
		t.Errorf("purge: %v", err)
		return
	}
	defer c.close()
	d := &Driver{opts: opts, conn: c}
	left, _ := d.Leftovers(context.Background())
	for _, x := range left {
		if x != "volume/"+opts.ImagePool+"/tinyos.qcow2" {
			t.Errorf("purge: left behind by the test: %s", x)
		}
	}
	doms, _, _ := l.ConnectListAllDomains(1, 0)
	for _, dom := range doms {
		if len(dom.Name) > len(opts.Prefix) && dom.Name[:len(opts.Prefix)] == opts.Prefix {
			_ = l.DomainDestroy(dom)
			_ = l.DomainUndefineFlags(dom, libvirt.DomainUndefineManagedSave|libvirt.DomainUndefineSnapshotsMetadata)
		}
	}
	nets, _, _ := l.ConnectListAllNetworks(1, 0)
	for _, n := range nets {
		if len(n.Name) > len(opts.Prefix) && n.Name[:len(opts.Prefix)] == opts.Prefix {
			_ = l.NetworkDestroy(n)
			_ = l.NetworkUndefine(n)
		}
	}
	for _, pool := range []string{opts.ImagePool, opts.VolumePool} {
		p, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			continue
		}
		vols, _, _ := l.StoragePoolListAllVolumes(p, 1, 0)
		for _, v := range vols {
			_ = l.StorageVolDelete(v, 0)
		}
		_ = l.StoragePoolDestroy(p)
		_ = l.StoragePoolDelete(p, 0)
		if err := l.StoragePoolUndefine(p); err != nil {
			t.Errorf("purge: undefining pool %s: %v", pool, err)
		}
	}
}

// openTest opens a driver with opts and imports the tiny guest as the
// "tinyos" OS template (an empty volume on libvirt's test driver).
func openTest(t *testing.T, opts Options, tinyos string) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.URI, err)
	}
	src := tinyos
	if src == "" {
		src = filepath.Join(t.TempDir(), "empty.qcow2")
		if err := os.WriteFile(src, make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.ImportImage(ctx, "tinyos.qcow2", src); err != nil && occi.ErrorCode(err) != occi.AlreadyExists {
		d.Close()
		t.Fatalf("ImportImage: %v", err)
	}
	return d
}

var bootsRE = regexp.MustCompile(`TINYOS: disk mounted, boots=(\d+)`)

// bootCounter reads the boot counter of the last boot of e from its serial
// console log; it fails until the guest has printed BOOTED after it.
func bootCounter(d *Driver, e *occi.Entity) (int, error) {
	b, err := os.ReadFile(d.ConsoleLog(e))
	if err != nil {
		return 0, err
	}
	all := bootsRE.FindAllSubmatchIndex(b, -1)
	if len(all) == 0 {
		return 0, errors.New("the guest has not mounted its disk yet")
	}
	last := all[len(all)-1]
	if !regexp.MustCompile(`TINYOS: BOOTED`).Match(b[last[1]:]) {
		return 0, errors.New("the guest has not finished booting yet")
	}
	return strconv.Atoi(string(b[last[2]:last[3]]))
}

// diskProbe is the backendtest DiskProbe for tinyos guests.
func diskProbe(ctx context.Context, d backend.Driver, e *occi.Entity) (int, error) {
	return bootCounter(d.(*Driver), e)
}

// powerOffOutOfBand presses the guest's ACPI power button through virsh,
// a connection of its own, so the driver is not asked.
func powerOffOutOfBand(t *testing.T, d *Driver, e *occi.Entity) {
	t.Helper()
	out, err := exec.Command("virsh", "-c", d.URI(), "shutdown", "--mode", "acpi", d.domainName(e)).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh shutdown: %v: %s", err, out)
	}
}

func fmtErr(d backend.Driver, err error) string {
	return fmt.Sprintf("%v (code %v)", err, d.ErrorCode(err))
}

// keepTestDriver holds a connection to test:///default for the rest of the
// test: libvirtd drops the test driver's state when its last connection
// closes, and the Reopen case closes the driver's.
func keepTestDriver(t *testing.T) {
	t.Helper()
	c, err := newConn("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(); err != nil {
		t.Fatalf("connecting to test:///default: %v", err)
	}
	t.Cleanup(func() { c.close() })
}

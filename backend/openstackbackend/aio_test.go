package openstackbackend

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// The tests in this file run against a real OpenStack, the all-in-one that
// scripts/setup/openstack.sh brings up, and skip without it.

const skipAIO = "no OpenStack: set OCCID_TEST_OPENSTACK_RC to an openrc file, e.g. by running scripts/test.sh (scripts/setup/openstack.sh brings up the all-in-one)"

// loadOpenRC puts the OS_* variables of $OCCID_TEST_OPENSTACK_RC into the
// test's environment, or skips the test.
func loadOpenRC(t *testing.T) {
	t.Helper()
	rc := os.Getenv("OCCID_TEST_OPENSTACK_RC")
	if rc == "" {
		t.Skip(skipAIO)
	}
	f, err := os.Open(rc)
	if err != nil {
		t.Fatalf("OCCID_TEST_OPENSTACK_RC: %v", err)
	}
	defer f.Close()
	for _, k := range []string{"OS_CLOUD", "OS_PROJECT_ID", "OS_TOKEN", "OS_USER_ID", "OS_CACERT", "OS_INSECURE", "OS_INTERFACE"} {
		t.Setenv(k, "")
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "export ")
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "OS_") {
				t.Setenv(k, strings.Trim(v, `"'`))
			}
		}
	}
}

func openAIO(t *testing.T) *Driver {
	t.Helper()
	loadOpenRC(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := Open(ctx, Options{Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func randomID(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newServer creates a compute from the os_tpl and deletes it when the test
// ends.
func newServer(t *testing.T, ctx context.Context, d *Driver, osTpl string) *occi.Entity {
	t.Helper()
	id := randomID(t)
	e := &occi.Entity{ID: id, Kind: kindCompute, Location: "/compute/" + id, Title: "occitest-" + id, Owner: "tester", Attributes: occi.Attributes{}}
	start := time.Now()
	o, err := d.Create(ctx, backend.CreateRequest{Entity: e, OSTemplate: osTpl, ResourceTemplate: "m1.tiny"})
	if err != nil {
		t.Fatalf("Create from %s: %v", osTpl, err)
	}
	t.Logf("create from %s: %s in %v", osTpl, o.State, time.Since(start).Round(time.Millisecond))
	e.BackendRef = o.Ref
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		if err := d.Delete(ctx, e); err != nil {
			t.Errorf("Delete %s: %v", e.BackendRef, err)
		}
		t.Logf("delete %s took %v", e.BackendRef, time.Since(start).Round(time.Millisecond))
	})
	if o.State != stateActive {
		t.Fatalf("after Create: state %q (%s), want active", o.State, o.Message)
	}
	if got, want := o.Attributes[attrCores], int64(1); got != want {
		t.Errorf("after Create: cores %v, want %v", got, want)
	}
	if got, want := o.Attributes[attrMemory], 0.125; got != want {
		t.Errorf("after Create: memory %v, want %v", got, want)
	}
	return e
}

var bootsRE = regexp.MustCompile(`TINYOS: disk mounted, boots=(\d+)`)

// waitBooted waits for the guest's n-th "TINYOS: BOOTED" on its console and
// returns the last boot counter it printed.
func waitBooted(t *testing.T, ctx context.Context, d *Driver, e *occi.Entity, n int) int {
	t.Helper()
	start := time.Now()
	defer func() {
		t.Logf("guest %s booted (%d) after %v", e.BackendRef, n, time.Since(start).Round(time.Millisecond))
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := d.ConsoleOutput(ctx, e)
		if err == nil && strings.Count(out, "TINYOS: BOOTED") >= n {
			m := bootsRE.FindAllStringSubmatch(out, -1)
			if len(m) == 0 {
				t.Fatalf("console of %s has BOOTED but no boot counter:\n%s", e.BackendRef, out)
			}
			b, _ := strconv.Atoi(m[len(m)-1][1])
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest %s did not print BOOTED %d times within 2m (err %v); console:\n%s", e.BackendRef, n, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func findTemplate(ts []backend.Template, typ backend.TemplateType, name string) *backend.Template {
	for i := range ts {
		if ts[i].Type == typ && ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

func TestAIOTemplates(t *testing.T) {
	d := openAIO(t)
	ctx := context.Background()
	ts, err := d.Templates(ctx)
	if err != nil {
		t.Fatalf("Templates: %v", err)
	}
	os := findTemplate(ts, backend.OSTemplate, "tinyos")
	if os == nil || os.State != backend.TemplateReady {
		t.Fatalf("Templates: os_tpl tinyos = %+v, want a ready template", os)
	}
	rt := findTemplate(ts, backend.ResourceTemplate, "m1.tiny")
	if rt == nil {
		t.Fatalf("Templates: no resource_tpl m1.tiny in %+v", ts)
	}
	if got, want := rt.Attributes[attrCores], int64(1); got != want {
		t.Errorf("m1.tiny cores = %v, want %v", got, want)
	}
	if got, want := rt.Attributes[attrMemory], 0.125; got != want {
		t.Errorf("m1.tiny memory = %v, want %v", got, want)
	}
	caps := d.Capabilities()
	for _, k := range caps.Kinds {
		if k != kindCompute {
			t.Errorf("Capabilities offers %s; the all-in-one has no Cinder and no real Neutron", k)
		}
	}
}

// TestAIOSaveCarriesDisk is the scenario: a VM booted from the tiny
// guest, saved hot, and a new VM from the saved image boots with the boot
// counter carried over.
func TestAIOSaveCarriesDisk(t *testing.T) {
	d := openAIO(t)
	ctx := context.Background()
	src := newServer(t, ctx, d, "tinyos")
	if got := waitBooted(t, ctx, d, src, 1); got != 1 {
		t.Fatalf("first boot of the source: boots=%d, want 1", got)
	}
	name := "occitest-saved-" + randomID(t)
	start := time.Now()
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: src, Method: saveHot, Name: name, Title: "saved by the test"}, nil)
	if err != nil {
		t.Fatalf("Save hot: %v", err)
	}
	t.Logf("save hot returned %s in %v", tpl.State, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { deleteImageNamed(t, d, name) })
	if tpl.Name != name || tpl.Type != backend.OSTemplate || tpl.Source != src.Location || tpl.Owner != "tester" || tpl.Title != "saved by the test" {
		t.Errorf("Save returned %+v, want os_tpl %s from %s owned by tester titled %q", tpl, name, src.Location, "saved by the test")
	}
	if tpl.State != backend.TemplateSaving && tpl.State != backend.TemplateReady {
		t.Errorf("Save returned state %q, want saving or ready", tpl.State)
	}
	ready := waitTemplateReady(t, ctx, d, name)
	t.Logf("saved image ready %v after save", time.Since(start).Round(time.Millisecond))
	if ready.Source != src.Location || ready.Owner != "tester" || ready.Title != "saved by the test" {
		t.Errorf("Templates shows %+v, want source %s, owner tester, title from the save", ready, src.Location)
	}
	if o, err := d.Observe(ctx, src); err != nil || o.State != stateActive {
		t.Errorf("source after hot save: %+v, %v; want active", o, err)
	}
	dst := newServer(t, ctx, d, name)
	if got := waitBooted(t, ctx, d, dst, 1); got != 2 {
		t.Errorf("VM from the saved image: boots=%d, want 2 (the source's boot carried over)", got)
	}
}

func waitTemplateReady(t *testing.T, ctx context.Context, d *Driver, name string) backend.Template {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ts, err := d.Templates(ctx)
		if err != nil {
			t.Fatalf("Templates: %v", err)
		}
		if tp := findTemplate(ts, backend.OSTemplate, name); tp != nil {
			switch tp.State {
			case backend.TemplateReady:
				return *tp
			case backend.TemplateError:
				t.Fatalf("saved template %s: error %s", name, tp.Message)
			}
		} else {
			t.Fatalf("Templates lacks the saved %s", name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("saved template %s not ready within 2m", name)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func deleteImageNamed(t *testing.T, d *Driver, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pages, err := images.List(d.svc.image, images.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		t.Errorf("list images named %s: %v", name, err)
		return
	}
	all, _ := images.ExtractImages(pages)
	for _, i := range all {
		if err := images.Delete(ctx, d.svc.image, i.ID).ExtractErr(); err != nil && !isNotFound(err) {
			t.Errorf("delete image %s: %v", i.ID, err)
		}
	}
}

// TestAIOErrorState asks the real Nova for a server no host can take: the
// compute must show error with Nova's fault message, not a guessed state.
func TestAIOErrorState(t *testing.T) {
	d := openAIO(t)
	ctx := context.Background()
	name := "occitest-huge-" + randomID(t)
	fl, err := flavors.Create(ctx, d.svc.compute, flavors.CreateOpts{Name: name, RAM: 48000, VCPUs: 1, Disk: gophercloud.IntToPointer(1)}).Extract()
	if err != nil {
		t.Fatalf("create flavor %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := flavors.Delete(context.Background(), d.svc.compute, fl.ID).ExtractErr(); err != nil {
			t.Errorf("delete flavor %s: %v", name, err)
		}
	})
	id := randomID(t)
	e := &occi.Entity{ID: id, Kind: kindCompute, Location: "/compute/" + id, Attributes: occi.Attributes{}}
	o, err := d.Create(ctx, backend.CreateRequest{Entity: e, OSTemplate: "tinyos", ResourceTemplate: name})
	if err != nil {
		t.Fatalf("Create with a flavor of 48000 MiB RAM (within the quota, beyond the host): %v, want an observation in error", err)
	}
	e.BackendRef = o.Ref
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), e); err != nil {
			t.Errorf("Delete %s: %v", e.BackendRef, err)
		}
	})
	if o.State != stateError || !strings.Contains(o.Message, "No valid host") {
		t.Errorf("Create with a flavor no host can take: state %q message %q, want error with Nova's \"No valid host\" fault", o.State, o.Message)
	}
	if got, err := d.Observe(ctx, e); err != nil || got.State != stateError || got.Message != o.Message {
		t.Errorf("Observe: %+v, %v; want the same error", got, err)
	}
	_, err = d.Act(ctx, e, &occi.ActionInvocation{Action: actionRestart}, nil)
	if got := d.ErrorCode(err); got != occi.FailedPrecondition {
		t.Errorf("restart in error: code %v (%v), want FailedPrecondition", got, err)
	}
}

// TestAIOTokenPassThrough acts with a caller's Keystone token in a driver
// that holds no credentials.
func TestAIOTokenPassThrough(t *testing.T) {
	svc := openAIO(t)
	ctx := context.Background()
	token, err := svc.svc.provider.GetAuthResult().ExtractTokenID()
	if err != nil {
		t.Fatalf("service token: %v", err)
	}
	d, err := Open(ctx, Options{TokenOnly: true})
	if err != nil {
		t.Fatalf("Open token-only: %v", err)
	}
	defer d.Close()
	if _, err := d.Templates(ctx); d.ErrorCode(err) != occi.Unauthenticated {
		t.Errorf("Templates without a token: %v, want Unauthenticated", err)
	}
	ts, err := d.Templates(WithToken(ctx, token))
	if err != nil || findTemplate(ts, backend.OSTemplate, "tinyos") == nil {
		t.Errorf("Templates with the caller's token: %d templates, %v; want tinyos among them", len(ts), err)
	}
	id, err := d.Authenticate(ctx, token)
	if err != nil || id.User == "" || len(id.Groups) != 1 {
		t.Errorf("Authenticate: %+v, %v; want a user and its project", id, err)
	}
	if _, err := d.Templates(WithToken(ctx, "gAAAAA-not-a-token")); d.ErrorCode(err) != occi.Unauthenticated {
		t.Errorf("Templates with a bad token: %v, want Unauthenticated", err)
	}
}

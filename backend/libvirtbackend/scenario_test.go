package libvirtbackend

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

const infra = "http://schemas.ogf.org/occi/infrastructure#"

func newEntity(kind string) *occi.Entity {
	id := randomHex(4) + "-" + randomHex(4)
	return &occi.Entity{ID: id, Location: "/" + kind + "/" + id, Kind: occi.CategoryID{Scheme: infra, Term: kind}, Attributes: occi.Attributes{}, Owner: "tester"}
}

// waitBoots waits until the guest of c has booted with the boot counter
// want.
func waitBoots(t *testing.T, d *Driver, c *occi.Entity, want int) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	var got int
	var err error
	for time.Now().Before(deadline) {
		if got, err = bootCounter(d, c); err == nil && got == want {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("boot counter of %s: got %d (%v) after 3m, want %d", c.Location, got, err, want)
	return 0
}

func mustObserve(t *testing.T, d *Driver, e *occi.Entity, want string) backend.Observation {
	t.Helper()
	obs, err := d.Observe(context.Background(), e)
	if err != nil {
		t.Fatalf("Observe(%s): %s", e.Location, fmtErr(d, err))
	}
	if obs.State != want {
		t.Fatalf("Observe(%s): got state %q (%q), want %q", e.Location, obs.State, obs.Message, want)
	}
	return obs
}

func act(t *testing.T, d *Driver, e *occi.Entity, term string, params occi.Attributes) backend.Observation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	obs, err := d.Act(ctx, e, &occi.ActionInvocation{Action: occi.CategoryID{Scheme: computeActionScheme, Term: term}, Attributes: params}, nil)
	if err != nil {
		t.Fatalf("Act(%s, %s): %s", e.Location, term, fmtErr(d, err))
	}
	return obs
}

// bootFrom creates and starts a compute from an OS template and returns it
// with its deletion registered.
func bootFrom(t *testing.T, d *Driver, tpl string) *occi.Entity {
	t.Helper()
	c := newEntity("compute")
	if _, err := d.Create(context.Background(), backend.CreateRequest{Entity: c, OSTemplate: tpl}); err != nil {
		t.Fatalf("Create from %s: %s", tpl, fmtErr(d, err))
	}
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), c); err != nil {
			t.Errorf("Delete(%s): %v", c.Location, err)
		}
	})
	act(t, d, c, "start", nil)
	return c
}

func waitTemplateReady(t *testing.T, d *Driver, name string) (backend.Template, []backend.Template) {
	t.Helper()
	var seen []backend.Template
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		tpls, err := d.Templates(context.Background())
		if err != nil {
			t.Fatalf("Templates: %v", err)
		}
		for _, tp := range tpls {
			if tp.Name != name {
				continue
			}
			seen = append(seen, tp)
			switch tp.State {
			case backend.TemplateReady:
				return tp, seen
			case backend.TemplateError:
				t.Fatalf("template %s ended in error: %s", name, tp.Message)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("template %s not ready after 2m (seen %+v)", name, seen)
	return backend.Template{}, nil
}

// TestSaveScenario is the seed's scenario on real VMs: boot a VM from the
// tiny template, let it write its boot counter, save it hot and deferred,
// boot new VMs from both templates and see the source's disk state in them
// (the counter carried over), while the source keeps running (hot) or is
// running again (deferred). The deferred save comes first, so the two
// images hold different counters: 1 (copied while the source was off) and 2
// (copied live after the source's restart).
func TestSaveScenario(t *testing.T) {
	env := needQEMU(t)
	t.Parallel()
	d := openTest(t, testOptions(t, env.uri), env.tinyos)
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()

	t0 := time.Now()
	src := bootFrom(t, d, "tinyos")
	t.Logf("source booted (boots=1) in %v", waitBoots(t, d, src, 1))

	// deferred: the source is shut down, copied (boots=1) and running
	// again (boots=2).
	uuidBefore := mustObserve(t, d, src, stateActive).Ref
	defName := "scenario-deferred-" + randomHex(3)
	start := time.Now()
	var progress []backend.Observation
	var mu sync.Mutex
	tpl, err := d.Save(ctx, backend.SaveRequest{Entity: src, Method: "deferred", Name: defName}, func(o backend.Observation) {
		mu.Lock()
		progress = append(progress, o)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Save deferred: %s", fmtErr(d, err))
	}
	t.Cleanup(func() { _ = d.DeleteTemplate(context.Background(), defName) })
	waitTemplateReady(t, d, defName)
	t.Logf("deferred save: returned %s in %v with progress %v", tpl.State, time.Since(start), progress)
	mustObserve(t, d, src, stateActive)
	waitBoots(t, d, src, 2) // stopped and started again
	if obs := mustObserve(t, d, src, stateActive); obs.Ref != uuidBefore {
		t.Errorf("source after deferred save: got ref %q, want the same domain %q", obs.Ref, uuidBefore)
	}

	// hot: the source keeps running, its QEMU process untouched.
	uuidBefore = mustObserve(t, d, src, stateActive).Ref
	hotName := "scenario-hot-" + randomHex(3)
	start = time.Now()
	tpl, err = d.Save(ctx, backend.SaveRequest{Entity: src, Method: "hot", Name: hotName}, nil)
	if err != nil {
		t.Fatalf("Save hot: %s", fmtErr(d, err))
	}
	t.Cleanup(func() { _ = d.DeleteTemplate(context.Background(), hotName) })
	if tpl.State != backend.TemplateSaving && tpl.State != backend.TemplateReady {
		t.Errorf("Save hot: got template state %q, want saving or ready", tpl.State)
	}
	ready, seen := waitTemplateReady(t, d, hotName)
	t.Logf("hot save: ready in %v (states seen: %d, first %q %d%%)", time.Since(start), len(seen), seen[0].State, seen[0].Progress)
	if ready.Source != src.Location || ready.Owner != "tester" {
		t.Errorf("hot template: got source %q owner %q, want %q tester", ready.Source, ready.Owner, src.Location)
	}
	if obs := mustObserve(t, d, src, stateActive); obs.Ref != uuidBefore {
		t.Errorf("source after hot save: got ref %q, want %q", obs.Ref, uuidBefore)
	}
	if got, _ := bootCounter(d, src); got != 2 {
		t.Errorf("source after hot save: boot counter %d, want 2 (it must not have rebooted)", got)
	}

	// New VMs from both templates carry the source's counter over.
	var wg sync.WaitGroup
	for _, c := range []struct {
		tpl  string
		want int
	}{{defName, 2}, {hotName, 3}} {
		vm := bootFrom(t, d, c.tpl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			deadline := time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				var err error
				if got, err = bootCounter(d, vm); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got != c.want {
				t.Errorf("VM from %s: got boot counter %d, want %d (the source's counter + 1)", c.tpl, got, c.want)
			}
		}()
	}
	wg.Wait()
	mustObserve(t, d, src, stateActive)
	t.Logf("scenario took %v", time.Since(t0))
}

// privateLibvirtd runs an unprivileged session-mode libvirtd as the user
// occidtest (made by scripts/setup/libvirt.sh), so that the test can kill
// it without disturbing the system daemon other tests use.
type privateLibvirtd struct {
	t       *testing.T
	runDir  string
	uid     int
	gid     int
	home    string
	URI     string
	DataDir string
}

func newPrivateLibvirtd(t *testing.T) *privateLibvirtd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the libvirtd-killed test starts a private libvirtd as the user occidtest and needs root")
	}
	u, err := user.Lookup("occidtest") // its home is not used
	if err != nil {
		t.Skip("no user occidtest for the private libvirtd: run scripts/setup/libvirt.sh")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// A short path: QEMU's monitor socket lives below it (at most 108
	// bytes).
	base, err := os.MkdirTemp("", "lvk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// A home of its own keeps the daemon's configuration (pools,
	// domains) to this test.
	p := &privateLibvirtd{t: t, runDir: filepath.Join(base, "run"), uid: uid, gid: gid, home: filepath.Join(base, "home"), DataDir: filepath.Join(base, "data")}
	for _, dir := range []string{base, p.runDir, p.home, p.DataDir, filepath.Join(p.DataDir, "console")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(p.runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	p.URI = "qemu+unix:///session?socket=" + filepath.Join(p.runDir, "libvirt", "libvirt-sock")
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *privateLibvirtd) pid() int {
	b, err := os.ReadFile(filepath.Join(p.runDir, "libvirt", "libvirtd.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// start starts the daemon (again) and waits until it answers.
func (p *privateLibvirtd) start() {
	p.t.Helper()
	cmd := exec.Command("libvirtd", "-d")
	cmd.Dir = p.home
	cmd.Env = []string{"XDG_RUNTIME_DIR=" + p.runDir, "HOME=" + p.home, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("starting the private libvirtd: %v: %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if out, err := exec.Command("virsh", "-c", p.URI, "version").CombinedOutput(); err == nil {
			return
		} else if time.Now().Add(100 * time.Millisecond).After(deadline) {
			p.t.Fatalf("the private libvirtd does not answer: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill kills the daemon with SIGKILL, as a crash would.
func (p *privateLibvirtd) kill() {
	p.t.Helper()
	pid := p.pid()
	if pid == 0 {
		p.t.Fatal("the private libvirtd has no pid file")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		p.t.Fatalf("killing libvirtd %d: %v", pid, err)
	}
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// stop removes every domain and stops the daemon and its QEMU processes.
func (p *privateLibvirtd) stop() {
	out, _ := exec.Command("virsh", "-c", p.URI, "list", "--all", "--name").Output()
	for _, name := range strings.Fields(string(out)) {
		_ = exec.Command("virsh", "-c", p.URI, "destroy", name).Run()
		_ = exec.Command("virsh", "-c", p.URI, "undefine", "--managed-save", name).Run()
	}
	if pid := p.pid(); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	// The session's virtlogd would end with its idle timeout; end it now
	// (only this daemon's: its pid file is under our runtime directory).
	if b, err := os.ReadFile(filepath.Join(p.runDir, "libvirt", "virtlogd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// TestLibvirtdKilledMidAction kills libvirtd while the driver waits for a
// graceful stop: the action fails with Unavailable (occid answers 503 or
// shows error with the message), calls fail with Unavailable while libvirtd
// is away, and once libvirtd is back the driver reconnects by itself, the
// watcher reports again, and nothing was lost.
func TestLibvirtdKilledMidAction(t *testing.T) {
	env := needQEMU(t)
	t.Parallel()
	p := newPrivateLibvirtd(t)
	opts := Options{URI: p.URI, DataDir: p.DataDir, Prefix: "occidk-" + randomHex(3) + "-", DomainType: "qemu", GracefulTimeout: 60 * time.Second}
	d := openTest(t, opts, env.tinyos)
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()

	events := make(chan backend.Event, 64)
	wctx, wcancel := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		_ = d.Watch(wctx, func(ev backend.Event) {
			select {
			case events <- ev:
			default:
			}
		})
	}()
	defer func() { wcancel(); <-wdone }()

	st := newEntity("storage")
	st.Attributes[attrStorageSize] = 1.0
	if _, err := d.Create(ctx, backend.CreateRequest{Entity: st}); err != nil {
		t.Fatalf("Create storage: %s", fmtErr(d, err))
	}
	defer d.Delete(ctx, st)
	c := bootFrom(t, d, "tinyos")
	waitBoots(t, d, c, 1)

	// Kill libvirtd while the driver waits for the guest to power off. The
	// "acpioff" request is sent; the kill comes before tinyos has powered
	// off.
	errc := make(chan error, 1)
	go func() {
		_, err := d.Act(ctx, c, &occi.ActionInvocation{Action: occi.CategoryID{Scheme: computeActionScheme, Term: "stop"}, Attributes: occi.Attributes{"method": "acpioff"}}, nil)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	killedAt := time.Now()
	p.kill()
	var actErr error
	select {
	case actErr = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("Act(stop) did not return within 30s of libvirtd's death")
	}
	if actErr == nil {
		t.Logf("the stop completed before libvirtd died (the guest was quick); checking the rest")
	} else if code := d.ErrorCode(actErr); code != occi.Unavailable {
		t.Errorf("Act(stop) with libvirtd killed: got %v (code %v), want Unavailable", actErr, code)
	} else {
		t.Logf("Act(stop) failed %v after the kill: %v", time.Since(killedAt), occi.ErrorMessage(actErr))
	}
	for _, call := range []struct {
		name string
		run  func() error
	}{
		{"Observe", func() error { _, err := d.Observe(ctx, c); return err }},
		{"Templates", func() error { _, err := d.Templates(ctx); return err }},
		{"Create", func() error {
			_, err := d.Create(ctx, backend.CreateRequest{Entity: newEntity("storage")})
			return err
		}},
	} {
		if err := call.run(); d.ErrorCode(err) != occi.Unavailable && !(call.name == "Create" && d.ErrorCode(err) == occi.InvalidArgument) {
			t.Errorf("%s while libvirtd is down: got %v (code %v), want Unavailable", call.name, err, d.ErrorCode(err))
		}
	}

	restart := time.Now()
	p.start()
	var obs backend.Observation
	var err error
	for i := 0; i < 100; i++ {
		if obs, err = d.Observe(ctx, c); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Observe after libvirtd came back: %s", fmtErr(d, err))
	}
	t.Logf("reconnected %v after the restart; compute %s (%s)", time.Since(restart), obs.State, obs.Message)
	// When the guest powers off while libvirtd is down, libvirtd misses
	// the guest's shutdown notice: on its return it finds the QEMU process
	// stopped without one and records the domain as shut off because it
	// crashed. The driver reports what libvirt says, an error; anything
	// else than active, inactive or that is wrong.
	crashedMeanwhile := actErr != nil && obs.State == stateError && obs.Message == "the guest crashed"
	if obs.Gone || (obs.State != stateActive && obs.State != stateInactive && !crashedMeanwhile) {
		t.Errorf("compute after libvirtd came back: got %+v, want it active or inactive (or, the stop having been cut off, shut off as crashed)", obs)
	}
	if sobs, err := d.Observe(ctx, st); err != nil || sobs.Gone {
		t.Errorf("storage after libvirtd came back: got %+v, %v; want it to exist", sobs, err)
	}
	// The watcher is back too: it reports the compute again.
	select {
	case ev := <-events:
		t.Logf("watch event after reconnecting: %s %s", ev.Location, ev.Observation.State)
	case <-time.After(30 * time.Second):
		t.Errorf("Watch: no event within 30s after libvirtd came back")
	}
	// The compute works as before: stop it (if the guest is still up) and
	// start it again. A guest still shutting down from the cut-off stop is
	// waited for first: stopping it could race its own power-off.
	for i := 0; i < 300 && obs.State == stateActive && obs.Message == "shutting down"; i++ {
		time.Sleep(100 * time.Millisecond)
		if obs, err = d.Observe(ctx, c); err != nil {
			t.Fatalf("Observe while the guest shuts down: %s", fmtErr(d, err))
		}
	}
	if obs.State == stateActive {
		act(t, d, c, "stop", occi.Attributes{"method": "poweroff"})
	}
	act(t, d, c, "start", nil)
	waitBoots(t, d, c, 2)
}

// TestSaveFailureLeavesNothing makes a deferred save fail (the guest is
// still booting and ignores the ACPI button until the bounded wait ends)
// and checks that no half image is left and the compute runs on.
func TestSaveFailureLeavesNothing(t *testing.T) {
	env := needQEMU(t)
	t.Parallel()
	opts := testOptions(t, env.uri)
	opts.GracefulTimeout = 500 * time.Millisecond
	d := openTest(t, opts, env.tinyos)
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	src := bootFrom(t, d, "tinyos")
	before, err := d.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := "failing-" + randomHex(3)
	_, err = d.Save(ctx, backend.SaveRequest{Entity: src, Method: "deferred", Name: name}, nil)
	if err == nil {
		t.Cleanup(func() { _ = d.DeleteTemplate(context.Background(), name) })
		t.Skip("the guest powered off within 500ms of starting; cannot make the save fail")
	}
	if code := d.ErrorCode(err); code != occi.FailedPrecondition {
		t.Errorf("Save: got %v (code %v), want FailedPrecondition", err, code)
	}
	tpls, err := d.Templates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range tpls {
		if tp.Name == name {
			t.Errorf("Templates after a failed save: got %+v, want no template %s", tp, name)
		}
	}
	after, err := d.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("objects after a failed save (-before +after):\n%s", diff)
	}
	mustObserve(t, d, src, stateActive)
	// A save of the same name works once the guest has booted.
	waitBoots(t, d, src, 1)
	if _, err := d.Save(ctx, backend.SaveRequest{Entity: src, Method: "hot", Name: name}, nil); err != nil {
		t.Fatalf("Save hot after the failure: %s", fmtErr(d, err))
	}
	t.Cleanup(func() { _ = d.DeleteTemplate(context.Background(), name) })
	waitTemplateReady(t, d, name)
}

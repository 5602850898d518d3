// Package occitest is the conformance suite of occi.Service: every rule of
// OCCI Core and Infrastructure that occid enforces, checked through the
// Service interface only, with positive and negative cases. It runs against
// the engine with in-memory parts and, through occihttp.Client, over HTTP in
// every rendering, so it learns templates through Discover and never
// assumes more than the interface carries.
//
// The suite acts as two users, "alice" and "bob" (occi.WithIdentity); the
// service under test must keep their entities and mixins apart. A server
// may know them by other names (RunNamed). It needs a
// backend that supports every Infrastructure kind and action and deletes
// saved OS templates (the sim backend does) with at least two OS templates
// and two resource templates.
//
// Where a rendering cannot carry something (text renderings lose mixin
// applies and attribute defaults, digest T4/T5), the suite checks it only
// when it is present. It relies on occid's conventions for what users own:
// a user's tag scheme is <provider>users/<user>/tags#, and the OS templates a
// user saves are in <provider>users/<user>/os_tpl#, where <provider> is the
// scheme of the provider OS templates without its "os_tpl#" suffix. Of a
// saved template it checks no scheme, only that it is its owner's alone.
package occitest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/occid/occi"
)

// T is what the suite needs of a test: *testing.T has every method. A T
// that is not a *testing.T must also implement Runner, so that the suite
// can run named sub-checks. Fatalf, Fatal and Skip end the calling check
// (runtime.Goexit, as the testing package does), so each sub-check must
// run on its own goroutine.
type T interface {
	Helper()
	Name() string
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Cleanup(f func())
	Failed() bool
}

// Runner is a T that runs a named sub-check f and reports whether it
// passed, as (*testing.T).Run does.
type Runner interface {
	T
	RunCheck(name string, f func(t T)) bool
}

// run runs f as the sub-check name of t.
func run(t T, name string, f func(t T)) bool {
	switch r := t.(type) {
	case *testing.T:
		return r.Run(name, func(t *testing.T) { f(t) })
	case Runner:
		return r.RunCheck(name, f)
	}
	t.Helper()
	t.Fatalf("occitest: %T runs no sub-checks: it must be a *testing.T or implement occitest.Runner", t)
	return false
}

// Identifiers the suite uses, spelled out so the suite depends on the
// occi package only.
const (
	infraScheme   = "http://schemas.ogf.org/occi/infrastructure#"
	computeAction = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
	networkAction = "http://schemas.ogf.org/occi/infrastructure/network/action#"
	storageAction = "http://schemas.ogf.org/occi/infrastructure/storage/action#"
)

var (
	kCompute   = occi.CategoryID{Scheme: infraScheme, Term: "compute"}
	kStorage   = occi.CategoryID{Scheme: infraScheme, Term: "storage"}
	kNetwork   = occi.CategoryID{Scheme: infraScheme, Term: "network"}
	kNetIface  = occi.CategoryID{Scheme: infraScheme, Term: "networkinterface"}
	kStorLink  = occi.CategoryID{Scheme: infraScheme, Term: "storagelink"}
	mOSTpl     = occi.CategoryID{Scheme: infraScheme, Term: "os_tpl"}
	mResTpl    = occi.CategoryID{Scheme: infraScheme, Term: "resource_tpl"}
	mIPNetwork = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
	mIPIface   = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/networkinterface#", Term: "ipnetworkinterface"}
	mSSHKey    = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"}
	mUserData  = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute#", Term: "user_data"}
	aStart     = occi.CategoryID{Scheme: computeAction, Term: "start"}
	aStop      = occi.CategoryID{Scheme: computeAction, Term: "stop"}
	aRestart   = occi.CategoryID{Scheme: computeAction, Term: "restart"}
	aSuspend   = occi.CategoryID{Scheme: computeAction, Term: "suspend"}
	aSave      = occi.CategoryID{Scheme: computeAction, Term: "save"}
	aUp        = occi.CategoryID{Scheme: networkAction, Term: "up"}
	aDown      = occi.CategoryID{Scheme: networkAction, Term: "down"}
	aOnline    = occi.CategoryID{Scheme: storageAction, Term: "online"}
	aOffline   = occi.CategoryID{Scheme: storageAction, Term: "offline"}
)

// Run runs the suite under go test. newService returns a fresh, empty
// service for one group of checks; it may register cleanups with t.
func Run(t *testing.T, newService func(t *testing.T) occi.Service) {
	RunT(t, func(t T) occi.Service { return newService(t.(*testing.T)) })
}

// RunT runs the suite under any T: a *testing.T, or a runner of its own
// that implements Runner (cmd/occi's selftest does). newService returns
// the service for one group of checks (fresh and empty under go test; a
// runner against a live server must make sure each group starts with
// nothing of the suite's users and cleans up after it); it may register
// cleanups with t.
func RunT(t T, newService func(t T) occi.Service) {
	RunNamed(t, "alice", "bob", newService)
}

// RunNamed is RunT against a server that knows the suite's two users,
// alice and bob (the identities its requests carry), by other names:
// first and second. The names matter where a server puts a user's name in
// what it renders: the scheme and location of the user's tags.
func RunNamed(t T, first, second string, newService func(t T) occi.Service) {
	groups := []struct {
		name string
		fn   func(t T, h *harness)
	}{
		{"Discovery", testDiscovery},
		{"Resolve", testResolve},
		{"Create", testCreate},
		{"Values", testValues},
		{"Templates", testTemplates},
		{"PutCreate", testPutCreate},
		{"Update", testUpdate},
		{"Replace", testReplace},
		{"Links", testLinks},
		{"UserMixins", testUserMixins},
		{"MixinCollections", testMixinCollections},
		{"Actions", testActions},
		{"Save", testSave},
		{"Collections", testCollections},
		{"InvokeAll", testInvokeAll},
		{"Revisions", testRevisions},
		{"Concurrency", testConcurrency},
		{"Tenancy", testTenancy},
		{"Rules", testRules},
	}
	for _, g := range groups {
		run(t, g.name, func(t T) {
			g.fn(t, &harness{newService: newService, names: map[string]string{"alice": first, "bob": second}})
		})
	}
}

// harness hands out fresh services and holds the suite's helpers.
type harness struct {
	newService func(t T) occi.Service
	names      map[string]string // the server's name of each of the suite's users
}

// name returns the server's name of the suite's user (alice or bob).
func (h *harness) name(user string) string {
	if n := h.names[user]; n != "" {
		return n
	}
	return user
}

// tagPrefix returns the location below which occid keeps user's tags.
func (h *harness) tagPrefix(user string) string {
	return "/users/" + occi.UserSegment(h.name(user)) + "/tags/"
}

func (h *harness) svc(t T) occi.Service {
	t.Helper()
	return h.newService(t)
}

// Alice and Bob are the suite's two users.
func alice() context.Context {
	return occi.WithIdentity(context.Background(), occi.Identity{User: "alice"})
}

func bob() context.Context {
	return occi.WithIdentity(context.Background(), occi.Identity{User: "bob"})
}

// wantCode fails t unless err has code and its message mentions every
// string in mentions.
func wantCode(t T, err error, code occi.Code, mentions ...string) {
	t.Helper()
	if got := occi.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %v), want code %v", err, got, code)
	}
	msg := occi.ErrorMessage(err)
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			t.Errorf("error message %q does not mention %q", msg, m)
		}
	}
}

// must returns a function that fails t if err is set and returns v.
// wantCodeIn fails t unless err has one of codes (for cases where HTTP
// maps the operation to a different method, e.g. POST to a kind collection
// is a create).
func wantCodeIn(t T, err error, codes ...occi.Code) {
	t.Helper()
	if !slices.Contains(codes, occi.ErrorCode(err)) {
		t.Fatalf("got error %v (code %v), want one of %v", err, occi.ErrorCode(err), codes)
	}
}

func must[V any](v V, err error) func(t T) V {
	return func(t T) V {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v (code %v)", err, occi.ErrorCode(err))
		}
		return v
	}
}

func ok(t T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v (code %v)", err, occi.ErrorCode(err))
	}
}

// num returns v as a float64 if it is a number (or a numeric string, as a
// text rendering may deliver it).
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case string:
		var f float64
		_, err := fmt.Sscan(x, &f)
		return f, err == nil
	}
	return 0, false
}

func wantNum(t T, e *occi.Entity, attr string, want float64) {
	t.Helper()
	got, ok := num(e.Attributes[attr])
	if !ok || got != want {
		t.Errorf("%s of %s: got %v, want %v", attr, e.Location, e.Attributes[attr], want)
	}
}

func wantAttr(t T, e *occi.Entity, attr string, want any) {
	t.Helper()
	got, has := e.Attributes[attr]
	if want == nil {
		if has {
			t.Errorf("%s of %s: got %v, want it unset", attr, e.Location, got)
		}
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s of %s: got %v, want %v", attr, e.Location, got, want)
	}
}

func state(e *occi.Entity) string {
	for _, k := range []string{"occi.compute.state", "occi.storage.state", "occi.network.state", "occi.networkinterface.state", "occi.storagelink.state"} {
		if s, ok := e.Attributes[k].(string); ok {
			return s
		}
	}
	return ""
}

func hasAction(e *occi.Entity, a occi.CategoryID) bool { return slices.Contains(e.Actions, a) }

func locations(es []*occi.Entity) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Location)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// templates returns the provider OS and resource templates in discovery,
// not the caller's saved ones: those have a source attribute and live in a
// scheme of the caller's (a rendering may not carry the attributes).
func (h *harness) templates(t T, svc occi.Service, ctx context.Context) (os, res []*occi.Mixin) {
	t.Helper()
	d := must(svc.Discover(ctx, nil))(t)
	for _, m := range d.Mixins {
		saved := strings.Contains(m.ID.Scheme, "/users/")
		for _, a := range m.Attributes {
			if strings.HasSuffix(a.Name, ".template.source") {
				saved = true
			}
		}
		if saved {
			continue
		}
		switch {
		case slices.Contains(m.Depends, mOSTpl):
			os = append(os, m)
		case slices.Contains(m.Depends, mResTpl):
			res = append(res, m)
		}
	}
	if len(os) < 2 || len(res) < 2 {
		t.Fatalf("the service offers %d OS and %d resource templates; the suite needs two of each", len(os), len(res))
	}
	return os, res
}

// tag returns a tag definition in user's scheme, which the suite derives
// from the provider OS templates' scheme (see the package documentation).
func (h *harness) tag(t T, svc occi.Service, user, term string) *occi.Mixin {
	t.Helper()
	ctx := occi.WithIdentity(context.Background(), occi.Identity{User: user})
	os, _ := h.templates(t, svc, ctx)
	provider := strings.TrimSuffix(os[0].ID.Scheme, "os_tpl#")
	return &occi.Mixin{ID: occi.CategoryID{Scheme: provider + "users/" + occi.UserSegment(h.name(user)) + "/tags#", Term: term}}
}

// appliesTo reports whether m may apply to kind as far as the rendering
// shows: an empty applies (not rendered, or "any") counts as yes.
func appliesTo(m *occi.Mixin, kind occi.CategoryID) bool {
	return len(m.Applies) == 0 || slices.Contains(m.Applies, kind)
}

// resTplValue returns the default of attr in resource template m.
func resTplValue(m *occi.Mixin, attr string) (float64, bool) {
	for _, a := range m.Attributes {
		if a.Name == attr {
			return num(a.Default)
		}
	}
	return 0, false
}

func compute(mixins ...occi.CategoryID) *occi.Entity {
	return &occi.Entity{Kind: kCompute, Mixins: mixins, Attributes: occi.Attributes{}}
}

func mkCompute(t T, svc occi.Service, ctx context.Context, mixins ...occi.CategoryID) *occi.Entity {
	t.Helper()
	return must(svc.Create(ctx, "/compute/", compute(mixins...)))(t)
}

func mkNetwork(t T, svc occi.Service, ctx context.Context) *occi.Entity {
	t.Helper()
	return must(svc.Create(ctx, "/network/", &occi.Entity{Kind: kNetwork}))(t)
}

func mkStorage(t T, svc occi.Service, ctx context.Context, size float64) *occi.Entity {
	t.Helper()
	return must(svc.Create(ctx, "/storage/", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": size}}))(t)
}

func invoke(t T, svc occi.Service, ctx context.Context, loc string, a occi.CategoryID, params occi.Attributes) *occi.ActionResult {
	t.Helper()
	return must(svc.Invoke(ctx, loc, &occi.ActionInvocation{Action: a, Attributes: params}))(t)
}

// eventually polls f until it returns true or 30 seconds pass.
func eventually(t T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

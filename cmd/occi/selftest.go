package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/occid/occi"
	"github.com/occid/occi/occiclient"
	"github.com/occid/occi/occitest"
)

var cmdSelftest = &command{
	name: "selftest", args: "[URL] [--rendering text|occi|json] [--second-token T | --second-user U --second-password P] [--names FIRST,SECOND] [--run REGEXP]",
	summary:  "check an OCCI 1.2 server with the conformance suite; prints PASS/FAIL per check and \"N passed, N failed\"",
	maxArgs:  1,
	noClient: true,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.secondToken, "second-token", "", "bearer token of a second user, for the checks that two users do not see each other's entities")
		fs.StringVar(&o.secondUser, "second-user", "", "HTTP Basic user name of the second user")
		fs.StringVar(&o.secondPassword, "second-password", "", "HTTP Basic password of the second user")
		fs.StringVar(&o.run, "run", "", "run only the checks matching this expression (like go test -run: one expression per level, split at '/')")
		fs.StringVar(&o.names, "names", "", "the server's user names of the two accounts, FIRST,SECOND (default: the Basic user names, else alice,bob); on occid a user's tags are in …/users/NAME/tags#")
	},
	run: runSelftest,
}

// selftestNames returns the server's names of the two accounts: from
// --names (flag, "FIRST,SECOND"), else each Basic user name, else alice
// and bob.
func selftestNames(flag string, first, second credential) ([2]string, error) {
	if flag != "" {
		a, b, ok := strings.Cut(flag, ",")
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if !ok || a == "" || b == "" || strings.Contains(b, ",") {
			return [2]string{}, usageErrorf("--names %q: want two user names, FIRST,SECOND", flag)
		}
		return [2]string{a, b}, nil
	}
	names := [2]string{"alice", "bob"}
	if first.token == "" && first.user != "" {
		names[0] = first.user
	}
	if second.token == "" && second.user != "" {
		names[1] = second.user
	}
	return names, nil
}

// credential is how one user authenticates.
type credential struct {
	token, user, password string
}

func (c credential) apply(r *http.Request) {
	switch {
	case c.token != "":
		r.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		r.SetBasicAuth(c.user, c.password)
	}
}

// identityTransport sends each request with the credentials of the user
// its context names (occi.IdentityFrom): the suite acts as two users.
type identityTransport struct {
	creds map[string]credential
	next  http.RoundTripper
}

func (t identityTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c, ok := t.creds[occi.IdentityFrom(r.Context()).User]
	if !ok {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	c.apply(r)
	return t.next.RoundTrip(r)
}

func runSelftest(ctx context.Context, x *execution, args []string) error {
	endpoint := x.g.Endpoint
	if len(args) == 1 {
		endpoint = args[0]
	}
	// The suite acts as users it calls alice and bob; the server may know
	// the two accounts by other names, which occitest needs for the
	// schemes of their tags (on occid …/users/NAME/tags#).
	users := []string{"alice", "bob"}
	filter, err := compileFilter(x.o.run)
	if err != nil {
		return err
	}
	first := credential{token: x.g.Token, user: x.g.User, password: x.g.Password}
	second := credential{token: x.o.secondToken, user: x.o.secondUser, password: x.o.secondPassword}
	names, err := selftestNames(x.o.names, first, second)
	if err != nil {
		return err
	}
	if second == (credential{}) {
		// Without a second credential both users are the same to the
		// server: the tenancy checks fail, and say so.
		second = first
		fmt.Fprintln(x.stderr, "occi selftest: no second user given (--second-token or --second-user): the checks that users are kept apart will fail")
	}
	hc := &http.Client{Transport: identityTransport{
		creds: map[string]credential{users[0]: first, users[1]: second},
		next:  http.DefaultTransport,
	}}
	client, err := occiclient.New(endpoint, occiclient.Options{
		Rendering: x.g.Rendering, HTTPClient: hc,
		UserAgent: "occi-selftest/" + clientVersion() + " OCCI/1.2",
	})
	if err != nil {
		return err
	}
	// Reach the server first: a suite against nothing fails every check.
	probe := occi.WithIdentity(ctx, occi.Identity{User: users[0]})
	if _, err := client.Discover(probe, nil); err != nil {
		return err
	}
	for _, u := range users {
		es, err := client.List(occi.WithIdentity(ctx, occi.Identity{User: u}), occi.ListQuery{Collection: "/"})
		if err == nil && len(es) > 0 {
			n := fmt.Sprintf("%d entities", len(es))
			if len(es) == 1 {
				n = "1 entity"
			}
			fmt.Fprintf(x.stderr, "occi selftest: user %s already owns %s; the checks that count entities will fail (use users that own nothing)\n", u, n)
		}
	}
	fmt.Fprintf(x.stderr, "occi selftest: %s in %s\n", endpoint, client.MediaType())

	r := &runner{out: x.stdout, filter: filter}
	root := r.root()
	var saved []string
	var savedMu sync.Mutex
	occitest.RunNamed(root, names[0], names[1], func(ot occitest.T) occi.Service {
		t := ot.(*check)
		tr := &tracker{Service: client.Client, ctx: ctx}
		t.Cleanup(func() {
			if err := tr.cleanup(); err != nil {
				t.Errorf("cleaning up: %v", err)
			}
			savedMu.Lock()
			saved = append(saved, tr.saved...)
			savedMu.Unlock()
		})
		return tr
	})
	root.runCleanups()
	if len(saved) > 0 {
		fmt.Fprintf(x.stderr, "occi selftest: the server refused to delete these saved OS templates, which remain: %s\n", strings.Join(saved, " "))
	}
	if r.skip > 0 {
		fmt.Fprintf(x.stdout, "%d skipped\n", r.skip)
	}
	fmt.Fprintf(x.stdout, "%d passed, %d failed\n", r.passed, r.failed)
	if r.failed > 0 {
		return errChecksFailed
	}
	return nil
}

// tracker is the service under test as the suite sees it: it records what
// the suite creates, as whom, so that cleanup deletes it all again.
type tracker struct {
	occi.Service
	ctx context.Context

	mu       sync.Mutex
	entities []owned
	mixins   []ownedMixin
	savedIDs []ownedMixin
	// saved lists the saved templates that cleanup could not delete.
	saved []string
}

type owned struct {
	id  occi.Identity
	loc string
}

type ownedMixin struct {
	id occi.Identity
	m  occi.CategoryID
}

func (t *tracker) addEntity(ctx context.Context, e *occi.Entity) {
	if e == nil || e.Location == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entities = append(t.entities, owned{occi.IdentityFrom(ctx), e.Location})
}

// Create creates and records.
func (t *tracker) Create(ctx context.Context, collection string, e *occi.Entity) (*occi.Entity, error) {
	out, err := t.Service.Create(ctx, collection, e)
	t.addEntity(ctx, out)
	return out, err
}

// Put creates or replaces and records.
func (t *tracker) Put(ctx context.Context, location string, e *occi.Entity) (*occi.Entity, bool, error) {
	out, created, err := t.Service.Put(ctx, location, e)
	if created {
		t.addEntity(ctx, out)
	}
	return out, created, err
}

// DefineMixin defines and records.
func (t *tracker) DefineMixin(ctx context.Context, m *occi.Mixin) (*occi.Mixin, error) {
	out, err := t.Service.DefineMixin(ctx, m)
	if err == nil && out != nil {
		t.mu.Lock()
		t.mixins = append(t.mixins, ownedMixin{occi.IdentityFrom(ctx), out.ID})
		t.mu.Unlock()
	}
	return out, err
}

// Invoke runs the action and records a saved template.
func (t *tracker) Invoke(ctx context.Context, location string, inv *occi.ActionInvocation) (*occi.ActionResult, error) {
	res, err := t.Service.Invoke(ctx, location, inv)
	if err == nil && res != nil && res.Mixin != nil {
		t.mu.Lock()
		t.savedIDs = append(t.savedIDs, ownedMixin{occi.IdentityFrom(ctx), res.Mixin.ID})
		t.mu.Unlock()
	}
	return res, err
}

// cleanup deletes what the suite created, newest first; what is already
// gone is fine.
func (t *tracker) cleanup() error {
	t.mu.Lock()
	entities := slices.Clone(t.entities)
	mixins := slices.Clone(t.mixins)
	t.mu.Unlock()
	var errs []error
	ctx := context.WithoutCancel(t.ctx)
	for i := len(entities) - 1; i >= 0; i-- {
		o := entities[i]
		err := t.Service.Delete(occi.WithIdentity(ctx, o.id), o.loc)
		if err != nil && occi.ErrorCode(err) != occi.NotFound {
			errs = append(errs, fmt.Errorf("deleting %s: %w", o.loc, err))
		}
	}
	for i := len(mixins) - 1; i >= 0; i-- {
		o := mixins[i]
		err := t.Service.DeleteMixin(occi.WithIdentity(ctx, o.id), o.m)
		if err != nil && occi.ErrorCode(err) != occi.NotFound {
			errs = append(errs, fmt.Errorf("deleting mixin %s: %w", o.m, err))
		}
	}
	// Saved OS templates: deleted where the server allows it (occid
	// refuses while computes use them), listed otherwise.
	t.mu.Lock()
	savedIDs := slices.Clone(t.savedIDs)
	t.mu.Unlock()
	for _, o := range savedIDs {
		if err := t.Service.DeleteMixin(occi.WithIdentity(ctx, o.id), o.m); err != nil && occi.ErrorCode(err) != occi.NotFound {
			t.mu.Lock()
			t.saved = append(t.saved, o.m.String())
			t.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// RunCheck runs f as the sub-check name of c; it makes *check an
// occitest.Runner, so that the conformance suite runs under it.
func (c *check) RunCheck(name string, f func(t occitest.T)) bool {
	return c.run(name, func(c *check) { f(c) })
}

var _ occitest.Runner = (*check)(nil)

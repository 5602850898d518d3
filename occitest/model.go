package occitest

import (
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

func findKind(d *occi.Discovery, id occi.CategoryID) *occi.Kind {
	for _, k := range d.Kinds {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func findMixin(d *occi.Discovery, id occi.CategoryID) *occi.Mixin {
	for _, m := range d.Mixins {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func findAction(d *occi.Discovery, id occi.CategoryID) *occi.Action {
	for _, a := range d.Actions {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func testDiscovery(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	d := must(svc.Discover(ctx, nil))(t)

	run(t, "kinds and parents", func(t T) {
		for _, tc := range []struct {
			kind, parent occi.CategoryID
			location     string
		}{
			{occi.EntityKind, occi.CategoryID{}, ""},
			{occi.ResourceKind, occi.EntityKind, "/resource/"},
			{occi.LinkKind, occi.EntityKind, "/link/"},
			{kCompute, occi.ResourceKind, "/compute/"},
			{kStorage, occi.ResourceKind, "/storage/"},
			{kNetwork, occi.ResourceKind, "/network/"},
			{kNetIface, occi.LinkKind, "/networkinterface/"},
			{kStorLink, occi.LinkKind, "/storagelink/"},
		} {
			run(t, tc.kind.Term, func(t T) {
				k := findKind(d, tc.kind)
				if k == nil {
					t.Fatalf("kind %s not in discovery", tc.kind)
				}
				if k.Parent != tc.parent {
					t.Errorf("parent of %s: got %s, want %s", tc.kind, k.Parent, tc.parent)
				}
				if k.Location != tc.location {
					t.Errorf("location of %s: got %q, want %q", tc.kind, k.Location, tc.location)
				}
			})
		}
	})
	run(t, "attribute definitions", func(t T) {
		for _, tc := range []struct {
			kind     occi.CategoryID
			name     string
			mutable  bool
			required bool
		}{
			{kCompute, "occi.compute.cores", true, false},
			{kCompute, "occi.compute.memory", true, false},
			{kCompute, "occi.compute.state", false, false},
			{kCompute, "occi.compute.state.message", false, false},
			{kStorage, "occi.storage.size", true, true},
			{kStorage, "occi.storage.state", false, false},
			{kStorage, "occi.storage.state.message", false, false},
			{kNetwork, "occi.network.vlan", true, false},
			{kNetwork, "occi.network.state", false, false},
			{kNetwork, "occi.network.state.message", false, false},
			{kNetIface, "occi.networkinterface.interface", false, false},
			{kNetIface, "occi.networkinterface.state", false, false},
			{kNetIface, "occi.networkinterface.state.message", false, false},
			{kStorLink, "occi.storagelink.deviceid", true, false},
			{kStorLink, "occi.storagelink.state", false, false},
			{kStorLink, "occi.storagelink.state.message", false, false},
		} {
			k := findKind(d, tc.kind)
			i := slices.IndexFunc(k.Attributes, func(a occi.AttributeDef) bool { return a.Name == tc.name })
			if i < 0 {
				t.Errorf("kind %s does not define %s", tc.kind.Term, tc.name)
				continue
			}
			a := k.Attributes[i]
			if a.Mutable != tc.mutable || a.Required != tc.required {
				t.Errorf("%s: got mutable=%v required=%v, want %v and %v", tc.name, a.Mutable, a.Required, tc.mutable, tc.required)
			}
			if strings.HasSuffix(tc.name, ".state") && len(a.Enum) > 0 && !slices.Contains(a.Enum, "error") {
				t.Errorf("%s allows %v, want the 1.2 error state among them", tc.name, a.Enum)
			}
		}
		for _, tc := range []struct {
			mixin occi.CategoryID
			name  string
		}{{mSSHKey, "occi.credentials.ssh.publickey"}, {mUserData, "occi.compute.userdata"}} {
			m := findMixin(d, tc.mixin)
			i := slices.IndexFunc(m.Attributes, func(a occi.AttributeDef) bool { return a.Name == tc.name })
			if i < 0 || !m.Attributes[i].Required {
				t.Errorf("mixin %s: %s missing or not required", tc.mixin.Term, tc.name)
			}
		}
	})
	run(t, "kind actions exist", func(t T) {
		for _, tc := range []struct {
			kind    occi.CategoryID
			actions []occi.CategoryID
		}{
			{kCompute, []occi.CategoryID{aStart, aStop, aRestart, aSuspend, aSave}},
			{kStorage, []occi.CategoryID{aOnline, aOffline}},
			{kNetwork, []occi.CategoryID{aUp, aDown}},
		} {
			k := findKind(d, tc.kind)
			for _, a := range tc.actions {
				if !slices.Contains(k.Actions, a) {
					t.Errorf("kind %s does not list action %s", tc.kind, a)
				}
				if findAction(d, a) == nil {
					t.Errorf("action %s is not in discovery", a)
				}
			}
		}
	})
	run(t, "action parameters", func(t T) {
		for _, tc := range []struct {
			action occi.CategoryID
			param  string
			values []string
		}{
			{aStop, "method", []string{"graceful", "acpioff", "poweroff"}},
			{aRestart, "method", []string{"graceful", "warm", "cold"}},
			{aSuspend, "method", []string{"hibernate", "suspend"}},
			{aSave, "method", []string{"hot", "deferred"}},
			{aSave, "name", nil},
		} {
			a := findAction(d, tc.action)
			if a == nil {
				t.Fatalf("action %s missing", tc.action)
			}
			i := slices.IndexFunc(a.Attributes, func(p occi.AttributeDef) bool { return p.Name == tc.param })
			if i < 0 {
				t.Errorf("action %s has no parameter %s", tc.action, tc.param)
				continue
			}
			if tc.values != nil && len(a.Attributes[i].Enum) > 0 {
				for _, v := range a.Attributes[i].Enum {
					if !slices.Contains(tc.values, v) {
						t.Errorf("parameter %s of %s allows %q, which the spec does not define", tc.param, tc.action, v)
					}
				}
			}
		}
	})
	run(t, "infrastructure mixins", func(t T) {
		for _, tc := range []struct {
			id      occi.CategoryID
			applies occi.CategoryID
		}{
			{mIPNetwork, kNetwork}, {mIPIface, kNetIface}, {mSSHKey, kCompute}, {mUserData, kCompute},
			{mOSTpl, kCompute}, {mResTpl, kCompute},
		} {
			m := findMixin(d, tc.id)
			if m == nil {
				t.Errorf("mixin %s not in discovery", tc.id)
				continue
			}
			if !appliesTo(m, tc.applies) {
				t.Errorf("mixin %s applies to %v, want it to include %s", tc.id, m.Applies, tc.applies)
			}
			if m.Location == "" {
				t.Errorf("mixin %s has no location", tc.id)
			}
		}
	})
	run(t, "templates", func(t T) {
		os, res := h.templates(t, svc, ctx)
		for _, m := range append(os, res...) {
			if !appliesTo(m, kCompute) {
				t.Errorf("template %s applies to %v, want compute", m.ID, m.Applies)
			}
			if !strings.HasPrefix(m.Location, "/") || !strings.HasSuffix(m.Location, "/") {
				t.Errorf("template %s location %q is not a collection path", m.ID, m.Location)
			}
			if strings.HasPrefix(m.ID.Scheme, "http://schemas.ogf.org/") {
				t.Errorf("template %s uses the OGF scheme; providers must use their own", m.ID)
			}
		}
	})
	run(t, "filter", func(t T) {
		f := must(svc.Discover(ctx, []occi.CategoryID{kNetwork}))(t)
		var got []string
		for _, k := range f.Kinds {
			got = append(got, k.ID.String())
		}
		for _, m := range f.Mixins {
			got = append(got, m.ID.String())
		}
		for _, a := range f.Actions {
			got = append(got, a.ID.String())
		}
		want := sorted(kNetwork.String(), aUp.String(), aDown.String())
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("filter by network (-want +got):\n%s", diff)
		}
		f = must(svc.Discover(ctx, []occi.CategoryID{mSSHKey}))(t)
		if len(f.Mixins) != 1 || f.Mixins[0].ID != mSSHKey || len(f.Kinds) != 0 {
			t.Errorf("filter by ssh_key: got %d kinds, %d mixins, want only ssh_key", len(f.Kinds), len(f.Mixins))
		}
		_, err := svc.Discover(ctx, []occi.CategoryID{{Scheme: "http://example.com/x#", Term: "nothing"}})
		wantCode(t, err, occi.NotFound, "http://example.com/x#nothing")
	})
}

func testResolve(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	c := mkCompute(t, svc, ctx)
	tag := must(svc.DefineMixin(ctx, h.tag(t, svc, "alice", "resolvetag")))(t)
	for _, tc := range []struct {
		path string
		want occi.Target
	}{
		{"/-/", occi.Target{Type: occi.TargetQueryInterface, Path: "/-/"}},
		{"/.well-known/org/ogf/occi/-/", occi.Target{Type: occi.TargetQueryInterface, Path: "/.well-known/org/ogf/occi/-/"}},
		{"/compute/", occi.Target{Type: occi.TargetKindCollection, Category: kCompute, Path: "/compute/"}},
		{"/compute", occi.Target{Type: occi.TargetKindCollection, Category: kCompute, Path: "/compute/"}},
		{"/resource/", occi.Target{Type: occi.TargetKindCollection, Category: occi.ResourceKind, Path: "/resource/"}},
		{"/os_tpl/", occi.Target{Type: occi.TargetMixinCollection, Category: mOSTpl, Path: "/os_tpl/"}},
		{tag.Location, occi.Target{Type: occi.TargetMixinCollection, Category: tag.ID, Path: tag.Location}},
		{c.Location, occi.Target{Type: occi.TargetEntity, Path: c.Location}},
		{"/", occi.Target{Type: occi.TargetUnbound, Path: "/"}},
		{"/users/", occi.Target{Type: occi.TargetUnbound, Path: "/users/"}},
	} {
		run(t, tc.path, func(t T) {
			got := must(svc.Resolve(ctx, tc.path))(t)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tc.path, diff)
			}
		})
	}
	for _, p := range []string{"/nothing/", "/nothing", "/compute/nope", "/compute/nope/", "/users/nobody/"} {
		run(t, "missing "+p, func(t T) {
			_, err := svc.Resolve(ctx, p)
			wantCode(t, err, occi.NotFound)
		})
	}
	run(t, "invisible to others", func(t T) {
		_, err := svc.Resolve(bob(), c.Location)
		wantCode(t, err, occi.NotFound)
		_, err = svc.Resolve(bob(), tag.Location)
		wantCode(t, err, occi.NotFound)
	})
}

func testCreate(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	os, _ := h.templates(t, svc, ctx)

	run(t, "compute defaults", func(t T) {
		c := mkCompute(t, svc, ctx)
		if !strings.HasPrefix(c.Location, "/compute/") {
			t.Errorf("location: got %q, want it under /compute/", c.Location)
		}
		if want := "urn:uuid:" + strings.TrimPrefix(c.Location, "/compute/"); c.ID != want {
			t.Errorf("id: got %q, want %q", c.ID, want)
		}
		if c.Kind != kCompute {
			t.Errorf("kind: got %s, want %s", c.Kind, kCompute)
		}
		if got := state(c); got != "inactive" {
			t.Errorf("initial state: got %q, want inactive", got)
		}
		if !hasAction(c, aStart) || hasAction(c, aStop) || hasAction(c, aSave) {
			t.Errorf("actions of an inactive compute: got %v, want start and not stop or save", c.Actions)
		}
		got := must(svc.Get(ctx, c.Location))(t)
		if got.ID != c.ID || got.Location != c.Location {
			t.Errorf("Get: got %s at %s, want %s at %s", got.ID, got.Location, c.ID, c.Location)
		}
	})
	run(t, "initial states", func(t T) {
		for _, tc := range []struct {
			e     *occi.Entity
			coll  string
			state string
		}{
			{&occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": 1.0}}, "/storage/", "offline"},
			{&occi.Entity{Kind: kNetwork}, "/network/", "inactive"},
		} {
			e := must(svc.Create(ctx, tc.coll, tc.e))(t)
			if got := state(e); got != tc.state {
				t.Errorf("initial state of a %s: got %q, want %q", tc.e.Kind.Term, got, tc.state)
			}
		}
	})
	run(t, "title and summary", func(t T) {
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Title: "web 1", Summary: "front end"}))(t)
		if c.Title != "web 1" || c.Summary != "front end" {
			t.Errorf("got title %q summary %q, want %q and %q", c.Title, c.Summary, "web 1", "front end")
		}
	})
	run(t, "core resource", func(t T) {
		r := must(svc.Create(ctx, "/resource/", &occi.Entity{Kind: occi.ResourceKind, Title: "plain"}))(t)
		if !strings.HasPrefix(r.Location, "/resource/") {
			t.Errorf("location: got %q, want it under /resource/", r.Location)
		}
	})
	for _, tc := range []struct {
		name     string
		coll     string
		e        *occi.Entity
		code     occi.Code
		mentions []string
	}{
		{"no kind", "/compute/", &occi.Entity{}, occi.InvalidArgument, []string{"kind"}},
		{"kind of another collection", "/compute/", &occi.Entity{Kind: kNetwork}, occi.InvalidArgument, []string{kNetwork.String()}},
		{"unknown collection", "/nothing/", &occi.Entity{Kind: kCompute}, occi.NotFound, nil},
		{"mixin collection", "/os_tpl/", &occi.Entity{Kind: kCompute}, occi.MethodNotAllowed, nil},
		{"unknown mixin", "/compute/", compute(occi.CategoryID{Scheme: "http://example.com/x#", Term: "nope"}), occi.NotFound, []string{"http://example.com/x#nope"}},
		{"mixin that does not apply", "/compute/", compute(mIPNetwork), occi.InvalidArgument, []string{mIPNetwork.String()}},
		{"kind as mixin", "/compute/", compute(kStorage), occi.InvalidArgument, []string{kStorage.String()}},
		{"unknown attribute", "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"com.example.colour": "red"}}, occi.InvalidArgument, []string{"com.example.colour"}},
		{"attribute of a mixin not given", "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA"}}, occi.InvalidArgument, []string{"occi.credentials.ssh.publickey"}},
		{"server-owned attribute", "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.state": "active"}}, occi.PermissionDenied, []string{"occi.compute.state"}},
		{"server-owned message", "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.state.message": "hi"}}, occi.PermissionDenied, []string{"occi.compute.state.message"}},
		{"missing storage size", "/storage/", &occi.Entity{Kind: kStorage}, occi.InvalidArgument, []string{"occi.storage.size"}},
		{"missing ssh key", "/compute/", compute(mSSHKey), occi.InvalidArgument, []string{"occi.credentials.ssh.publickey"}},
		{"missing user data", "/compute/", compute(mUserData), occi.InvalidArgument, []string{"occi.compute.userdata"}},
		{"ssh key on storage", "/storage/", &occi.Entity{Kind: kStorage, Mixins: []occi.CategoryID{mSSHKey}, Attributes: occi.Attributes{"occi.storage.size": 1.0, "occi.credentials.ssh.publickey": "k"}}, occi.InvalidArgument, []string{mSSHKey.String()}},
		{"two os templates", "/compute/", compute(os[0].ID, os[1].ID), occi.InvalidArgument, []string{os[0].ID.String(), os[1].ID.String()}},
		{"source on a resource", "/compute/", &occi.Entity{Kind: kCompute, Target: "http://example.com/"}, occi.InvalidArgument, []string{"source"}},
		{"bad id", "/compute/", &occi.Entity{Kind: kCompute, ID: "a b"}, occi.InvalidArgument, []string{"a b"}},
	} {
		run(t, tc.name, func(t T) {
			_, err := svc.Create(ctx, tc.coll, tc.e)
			wantCode(t, err, tc.code, tc.mentions...)
		})
	}
	run(t, "required mixin attributes given", func(t T) {
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Mixins: []occi.CategoryID{mSSHKey, mUserData},
			Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAAC3 alice", "occi.compute.userdata": "#cloud-config\n"}}))(t)
		wantAttr(t, c, "occi.credentials.ssh.publickey", "ssh-ed25519 AAAAC3 alice")
		if !c.HasMixin(mSSHKey) || !c.HasMixin(mUserData) {
			t.Errorf("mixins: got %v, want ssh_key and user_data", c.Mixins)
		}
	})
	run(t, "client id on create", func(t T) {
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, ID: "urn:uuid:6f1f3d2e-6c4b-4d7e-9a59-1c1b5d9f0a11"}))(t)
		if c.Location != "/compute/6f1f3d2e-6c4b-4d7e-9a59-1c1b5d9f0a11" {
			t.Errorf("location: got %q, want /compute/6f1f3d2e-6c4b-4d7e-9a59-1c1b5d9f0a11", c.Location)
		}
		_, err := svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, ID: "6f1f3d2e-6c4b-4d7e-9a59-1c1b5d9f0a11"})
		wantCode(t, err, occi.AlreadyExists)
	})
}

func testValues(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	for _, tc := range []struct {
		name  string
		coll  string
		kind  occi.CategoryID
		mix   []occi.CategoryID
		attrs occi.Attributes
		check map[string]float64
		code  occi.Code
		names string
	}{
		{name: "integer memory widened", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.memory": int64(2)}, check: map[string]float64{"occi.compute.memory": 2}},
		{name: "fractional memory", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.memory": 0.5}, check: map[string]float64{"occi.compute.memory": 0.5}},
		{name: "integral float cores", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.cores": 2.0}, check: map[string]float64{"occi.compute.cores": 2}},
		{name: "numeric string cores", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.cores": "3"}, check: map[string]float64{"occi.compute.cores": 3}},
		{name: "fractional cores", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.cores": 1.5}, code: occi.InvalidArgument, names: "occi.compute.cores"},
		{name: "word cores", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.cores": "many"}, code: occi.InvalidArgument, names: "occi.compute.cores"},
		{name: "memory as word", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.memory": "lots"}, code: occi.InvalidArgument, names: "occi.compute.memory"},
		{name: "architecture enum", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.architecture": "x64"}},
		{name: "architecture outside enum", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.architecture": "arm"}, code: occi.InvalidArgument, names: "occi.compute.architecture"},
		{name: "hostname not a string", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.hostname": true}, code: occi.InvalidArgument, names: "occi.compute.hostname"},
		{name: "vlan in range", coll: "/network/", kind: kNetwork, attrs: occi.Attributes{"occi.network.vlan": int64(42)}, check: map[string]float64{"occi.network.vlan": 42}},
		{name: "vlan out of range", coll: "/network/", kind: kNetwork, attrs: occi.Attributes{"occi.network.vlan": int64(5000)}, code: occi.InvalidArgument, names: "occi.network.vlan"},
		{name: "label token", coll: "/network/", kind: kNetwork, attrs: occi.Attributes{"occi.network.label": "a b"}, code: occi.InvalidArgument, names: "occi.network.label"},
		{name: "cidr", coll: "/network/", kind: kNetwork, mix: []occi.CategoryID{mIPNetwork}, attrs: occi.Attributes{"occi.network.address": "10.9.0.0/24", "occi.network.gateway": "10.9.0.1", "occi.network.allocation": "static"}},
		{name: "ipv6 cidr", coll: "/network/", kind: kNetwork, mix: []occi.CategoryID{mIPNetwork}, attrs: occi.Attributes{"occi.network.address": "fc00::/7"}},
		{name: "bad cidr", coll: "/network/", kind: kNetwork, mix: []occi.CategoryID{mIPNetwork}, attrs: occi.Attributes{"occi.network.address": "10.9.0.0"}, code: occi.InvalidArgument, names: "occi.network.address"},
		{name: "bad gateway", coll: "/network/", kind: kNetwork, mix: []occi.CategoryID{mIPNetwork}, attrs: occi.Attributes{"occi.network.gateway": "10.9.0.300"}, code: occi.InvalidArgument, names: "occi.network.gateway"},
		{name: "bad allocation", coll: "/network/", kind: kNetwork, mix: []occi.CategoryID{mIPNetwork}, attrs: occi.Attributes{"occi.network.allocation": "dhcp"}, code: occi.InvalidArgument, names: "occi.network.allocation"},
		{name: "storage size string", coll: "/storage/", kind: kStorage, attrs: occi.Attributes{"occi.storage.size": "2.5"}, check: map[string]float64{"occi.storage.size": 2.5}},
		{name: "null is unset", coll: "/compute/", kind: kCompute, attrs: occi.Attributes{"occi.compute.hostname": nil}},
	} {
		run(t, tc.name, func(t T) {
			e, err := svc.Create(ctx, tc.coll, &occi.Entity{Kind: tc.kind, Mixins: tc.mix, Attributes: tc.attrs})
			if tc.code != occi.OK {
				wantCode(t, err, tc.code, tc.names)
				return
			}
			ok(t, err)
			for k, v := range tc.check {
				wantNum(t, e, k, v)
			}
		})
	}
}

func testTemplates(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	os, res := h.templates(t, svc, ctx)
	small, large := res[0], res[1]
	cores, hasCores := resTplValue(small, "occi.compute.cores")

	run(t, "resource template defaults", func(t T) {
		c := mkCompute(t, svc, ctx, os[0].ID, small.ID)
		if !c.HasMixin(small.ID) || !c.HasMixin(os[0].ID) {
			t.Fatalf("mixins: got %v, want %s and %s", c.Mixins, os[0].ID, small.ID)
		}
		if hasCores {
			wantNum(t, c, "occi.compute.cores", cores)
		}
	})
	run(t, "resource template overrides client size", func(t T) {
		if !hasCores {
			t.Skip("the resource template does not advertise occi.compute.cores")
		}
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Mixins: []occi.CategoryID{small.ID},
			Attributes: occi.Attributes{"occi.compute.cores": int64(cores + 7)}}))(t)
		wantNum(t, c, "occi.compute.cores", cores)
	})
	run(t, "two resource templates", func(t T) {
		_, err := svc.Create(ctx, "/compute/", compute(small.ID, large.ID))
		wantCode(t, err, occi.InvalidArgument, small.ID.String())
	})
	run(t, "depends followed", func(t T) {
		c := mkCompute(t, svc, ctx, os[0].ID)
		got := must(svc.List(ctx, occi.ListQuery{Collection: "/os_tpl/"}))(t)
		if !slices.Contains(locations(got), c.Location) {
			t.Errorf("the os_tpl collection %v does not hold %s, whose template depends on os_tpl", locations(got), c.Location)
		}
		plain := mkCompute(t, svc, ctx)
		got = must(svc.List(ctx, occi.ListQuery{Collection: "/compute/", Categories: []occi.CategoryID{mOSTpl}}))(t)
		if !slices.Contains(locations(got), c.Location) || slices.Contains(locations(got), plain.Location) {
			t.Errorf("computes filtered by os_tpl: got %v, want %s and not %s", locations(got), c.Location, plain.Location)
		}
	})
	run(t, "resource template replacement", func(t T) {
		c := mkCompute(t, svc, ctx, small.ID)
		u := must(svc.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{large.ID}}))(t)
		if u.HasMixin(small.ID) || !u.HasMixin(large.ID) {
			t.Errorf("mixins after replacing %s by %s: got %v", small.ID, large.ID, u.Mixins)
		}
		if lc, ok := resTplValue(large, "occi.compute.cores"); ok {
			wantNum(t, u, "occi.compute.cores", lc)
		}
	})
	run(t, "os template replacement", func(t T) {
		c := mkCompute(t, svc, ctx, os[0].ID)
		u, err := svc.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{os[1].ID}})
		switch occi.ErrorCode(err) {
		case occi.OK:
			if u.HasMixin(os[0].ID) || !u.HasMixin(os[1].ID) {
				t.Errorf("mixins after re-imaging: got %v, want %s only", u.Mixins, os[1].ID)
			}
		case occi.Unimplemented:
			wantCode(t, err, occi.Unimplemented, "re-image")
			g := must(svc.Get(ctx, c.Location))(t)
			if !g.HasMixin(os[0].ID) {
				t.Errorf("a refused re-image changed the mixins to %v", g.Mixins)
			}
		default:
			t.Fatalf("replacing the OS template: got %v, want success or Unimplemented", err)
		}
	})
	run(t, "second os template in one update", func(t T) {
		c := mkCompute(t, svc, ctx)
		_, err := svc.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{os[0].ID, os[1].ID}})
		wantCode(t, err, occi.InvalidArgument)
	})
}

func testPutCreate(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	for _, seg := range []string{"my-vm", "my.vm", "vm_1", "a~b", "x:y@z", "v1.2.3"} {
		run(t, "create "+seg, func(t T) {
			loc := "/compute/" + seg
			e, created, err := svc.Put(ctx, loc, &occi.Entity{Kind: kCompute, Title: seg})
			ok(t, err)
			if !created {
				t.Errorf("created: got false, want true")
			}
			if e.Location != loc {
				t.Errorf("location: got %q, want %q", e.Location, loc)
			}
			g := must(svc.Get(ctx, loc))(t)
			if g.Title != seg {
				t.Errorf("title: got %q, want %q", g.Title, seg)
			}
			e, created, err = svc.Put(ctx, loc, &occi.Entity{Kind: kCompute, Title: "again"})
			ok(t, err)
			if created || e.Title != "again" {
				t.Errorf("second PUT: got created=%v title=%q, want false and %q", created, e.Title, "again")
			}
		})
	}
	run(t, "uuid id", func(t T) {
		e, _, err := svc.Put(ctx, "/network/0d3c8f9e-1b0c-4a8e-8c1e-7b1d9c2f3a4b", &occi.Entity{Kind: kNetwork, ID: "urn:uuid:0d3c8f9e-1b0c-4a8e-8c1e-7b1d9c2f3a4b"})
		ok(t, err)
		if e.ID != "urn:uuid:0d3c8f9e-1b0c-4a8e-8c1e-7b1d9c2f3a4b" {
			t.Errorf("id: got %q, want urn:uuid:0d3c8f9e-…", e.ID)
		}
	})
	for _, tc := range []struct {
		name string
		loc  string
		e    *occi.Entity
		code occi.Code
	}{
		{"dot", "/compute/.", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"dot dot", "/compute/..", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"space", "/compute/a b", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"control", "/compute/a\x01", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"query", "/compute/a?b", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"nested", "/compute/a/b", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"collection", "/compute/", &occi.Entity{Kind: kCompute}, occi.MethodNotAllowed},
		{"outside kinds", "/elsewhere/x", &occi.Entity{Kind: kCompute}, occi.InvalidArgument},
		{"wrong kind", "/compute/n1", &occi.Entity{Kind: kNetwork}, occi.InvalidArgument},
		{"no kind", "/compute/n2", &occi.Entity{}, occi.InvalidArgument},
		{"id mismatch", "/compute/n3", &occi.Entity{Kind: kCompute, ID: "n4"}, occi.InvalidArgument},
	} {
		run(t, tc.name, func(t T) {
			_, _, err := svc.Put(ctx, tc.loc, tc.e)
			wantCode(t, err, tc.code)
		})
	}
}

func testUpdate(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Title: "one", Attributes: occi.Attributes{"occi.compute.hostname": "one.example", "occi.compute.cores": int64(1)}}))(t)

	run(t, "merge attributes", func(t T) {
		u := must(svc.Update(ctx, c.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.cores": int64(2)}}))(t)
		wantNum(t, u, "occi.compute.cores", 2)
		wantAttr(t, u, "occi.compute.hostname", "one.example")
		if u.Title != "one" {
			t.Errorf("title: got %q, want it kept as %q", u.Title, "one")
		}
	})
	run(t, "title", func(t T) {
		u := must(svc.Update(ctx, c.Location, &occi.Entity{Title: "two"}))(t)
		if u.Title != "two" {
			t.Errorf("title: got %q, want two", u.Title)
		}
	})
	run(t, "unset with null", func(t T) {
		n := must(svc.Create(ctx, "/network/", &occi.Entity{Kind: kNetwork, Attributes: occi.Attributes{"occi.network.label": "dmz", "occi.network.vlan": int64(7)}}))(t)
		u := must(svc.Update(ctx, n.Location, &occi.Entity{Attributes: occi.Attributes{"occi.network.label": nil}}))(t)
		wantAttr(t, u, "occi.network.label", nil)
		wantNum(t, u, "occi.network.vlan", 7)
	})
	run(t, "same state is no change", func(t T) {
		cur := must(svc.Get(ctx, c.Location))(t)
		_, err := svc.Update(ctx, c.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.state": state(cur)}})
		ok(t, err)
	})
	run(t, "add a mixin", func(t T) {
		u := must(svc.Update(ctx, c.Location, &occi.Entity{Mixins: []occi.CategoryID{mSSHKey}, Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA"}}))(t)
		if !u.HasMixin(mSSHKey) {
			t.Errorf("mixins: got %v, want ssh_key", u.Mixins)
		}
	})
	for _, tc := range []struct {
		name     string
		patch    *occi.Entity
		code     occi.Code
		mentions []string
	}{
		{"change state", &occi.Entity{Attributes: occi.Attributes{"occi.compute.state": "suspended"}}, occi.PermissionDenied, []string{"occi.compute.state"}},
		{"unknown attribute", &occi.Entity{Attributes: occi.Attributes{"org.example.x": int64(1)}}, occi.InvalidArgument, []string{"org.example.x"}},
		{"bad value", &occi.Entity{Attributes: occi.Attributes{"occi.compute.cores": "x"}}, occi.InvalidArgument, []string{"occi.compute.cores"}},
		{"change kind", &occi.Entity{Kind: kNetwork}, occi.InvalidArgument, []string{"kind"}},
		{"change id (immutable)", &occi.Entity{ID: "urn:uuid:0b0e7d9e-1d2c-4f5a-9b8c-7d6e5f4a3b2c"}, occi.PermissionDenied, []string{"occi.core.id"}},
		{"mixin that does not apply", &occi.Entity{Mixins: []occi.CategoryID{mIPNetwork}}, occi.InvalidArgument, []string{mIPNetwork.String()}},
		{"required attribute removed", &occi.Entity{Attributes: occi.Attributes{"occi.credentials.ssh.publickey": nil}}, occi.InvalidArgument, []string{"occi.credentials.ssh.publickey"}},
		{"add user data later", &occi.Entity{Mixins: []occi.CategoryID{mUserData}, Attributes: occi.Attributes{"occi.compute.userdata": "x"}}, occi.PermissionDenied, []string{"user_data"}},
	} {
		run(t, tc.name, func(t T) {
			before := must(svc.Get(ctx, c.Location))(t)
			_, err := svc.Update(ctx, c.Location, tc.patch)
			wantCode(t, err, tc.code, tc.mentions...)
			after := must(svc.Get(ctx, c.Location))(t)
			if after.Revision != before.Revision {
				t.Errorf("a refused update changed the revision from %d to %d", before.Revision, after.Revision)
			}
		})
	}
	run(t, "user data is immutable", func(t T) {
		u := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Mixins: []occi.CategoryID{mUserData}, Attributes: occi.Attributes{"occi.compute.userdata": "#!/bin/sh\necho hi\n"}}))(t)
		_, err := svc.Update(ctx, u.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.userdata": "#!/bin/sh\necho bye\n"}})
		wantCode(t, err, occi.PermissionDenied, "occi.compute.userdata")
		_, err = svc.Update(ctx, u.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.userdata": nil}})
		wantCode(t, err, occi.PermissionDenied, "occi.compute.userdata")
		_, err = svc.Update(ctx, u.Location, &occi.Entity{Attributes: occi.Attributes{"occi.compute.userdata": "#!/bin/sh\necho hi\n"}})
		ok(t, err)
		_, _, err = svc.Put(ctx, u.Location, &occi.Entity{Kind: kCompute, Mixins: []occi.CategoryID{mUserData}, Attributes: occi.Attributes{"occi.compute.userdata": "other"}})
		wantCode(t, err, occi.PermissionDenied, "occi.compute.userdata")
		g := must(svc.Get(ctx, u.Location))(t)
		wantAttr(t, g, "occi.compute.userdata", "#!/bin/sh\necho hi\n")
	})
	run(t, "missing entity", func(t T) {
		_, err := svc.Update(ctx, "/compute/none", &occi.Entity{Title: "x"})
		wantCode(t, err, occi.NotFound, "/compute/none")
	})
}

func testReplace(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	n := mkNetwork(t, svc, ctx)
	c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Title: "full", Summary: "s",
		Attributes: occi.Attributes{"occi.compute.hostname": "full.example", "occi.compute.cores": int64(2)},
		Links:      []*occi.Entity{{Kind: kNetIface, Target: n.Location}}}))(t)
	if len(c.Links) != 1 {
		t.Fatalf("inline links: got %d, want 1", len(c.Links))
	}
	r, created, err := svc.Put(ctx, c.Location, &occi.Entity{Kind: kCompute, Title: "replaced", Attributes: occi.Attributes{"occi.compute.cores": int64(4)}})
	ok(t, err)
	if created {
		t.Errorf("created: got true for a replacement")
	}
	if r.Title != "replaced" || r.Summary != "" {
		t.Errorf("title/summary: got %q/%q, want %q/%q", r.Title, r.Summary, "replaced", "")
	}
	wantNum(t, r, "occi.compute.cores", 4)
	if got := state(r); got != "inactive" {
		t.Errorf("state after replacement: got %q, want inactive (server-owned, kept)", got)
	}
	if len(r.Links) != 1 || r.Links[0].Location != c.Links[0].Location {
		t.Errorf("links after PUT: got %v, want the link %s left intact", locations(r.Links), c.Links[0].Location)
	}
	_, _, err = svc.Put(ctx, c.Location, &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.state": "active"}})
	wantCode(t, err, occi.PermissionDenied, "occi.compute.state")

	run(t, "mixins not given are removed with their attributes", func(t T) {
		k := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Mixins: []occi.CategoryID{mSSHKey}, Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA"}}))(t)
		r, _, err := svc.Put(ctx, k.Location, &occi.Entity{Kind: kCompute})
		ok(t, err)
		if r.HasMixin(mSSHKey) {
			t.Errorf("mixins after a PUT without ssh_key: got %v", r.Mixins)
		}
		wantAttr(t, r, "occi.credentials.ssh.publickey", nil)
	})
	run(t, "attributes not given are removed", func(t T) {
		n2 := must(svc.Create(ctx, "/network/", &occi.Entity{Kind: kNetwork, Title: "net", Attributes: occi.Attributes{"occi.network.label": "dmz", "occi.network.vlan": int64(7)}}))(t)
		r, _, err := svc.Put(ctx, n2.Location, &occi.Entity{Kind: kNetwork, Attributes: occi.Attributes{"occi.network.vlan": int64(8)}})
		ok(t, err)
		wantAttr(t, r, "occi.network.label", nil)
		wantNum(t, r, "occi.network.vlan", 8)
		if r.Title != "" {
			t.Errorf("title after a replacement without one: got %q, want empty", r.Title)
		}
	})
}

func testLinks(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	n := mkNetwork(t, svc, ctx)
	s := mkStorage(t, svc, ctx, 1)

	run(t, "inline", func(t T) {
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Links: []*occi.Entity{
			{Kind: kNetIface, Target: n.Location, Mixins: []occi.CategoryID{mIPIface}},
			{Kind: kStorLink, Target: s.Location, Attributes: occi.Attributes{"occi.storagelink.mountpoint": "/data"}},
			{Target: n.Location},
		}}))(t)
		if len(c.Links) != 3 {
			t.Fatalf("links: got %d, want 3", len(c.Links))
		}
		kinds := map[occi.CategoryID]int{}
		for _, l := range c.Links {
			kinds[l.Kind]++
			if l.Source != c.Location {
				t.Errorf("source of %s: got %q, want %q", l.Location, l.Source, c.Location)
			}
			if !strings.HasPrefix(l.Location, "/"+l.Kind.Term+"/") {
				t.Errorf("link location %q is not in the %s collection", l.Location, l.Kind.Term)
			}
			g := must(svc.Get(ctx, l.Location))(t)
			if g.Target != l.Target || g.TargetKind != l.TargetKind {
				t.Errorf("Get %s: target %s (%s), want %s (%s)", l.Location, g.Target, g.TargetKind, l.Target, l.TargetKind)
			}
		}
		for _, l := range c.Links {
			if st := state(l); st != "inactive" && st != "active" {
				t.Errorf("state of the new link %s: got %q, want inactive or active", l.Location, st)
			}
		}
		if kinds[kNetIface] != 2 || kinds[kStorLink] != 1 {
			t.Errorf("link kinds: got %v, want 2 networkinterface (one inferred from its target) and 1 storagelink", kinds)
		}
		for _, l := range c.Links {
			if l.Kind == kNetIface && l.TargetKind != kNetwork {
				t.Errorf("target kind of %s: got %s, want %s", l.Location, l.TargetKind, kNetwork)
			}
		}
		g := must(svc.Get(ctx, c.Location))(t)
		if diff := cmp.Diff(locations(c.Links), locations(g.Links)); diff != "" {
			t.Errorf("Get shows other links than Create returned (-create +get):\n%s", diff)
		}
		ok(t, svc.Delete(ctx, c.Location))
		for _, l := range c.Links {
			_, err := svc.Get(ctx, l.Location)
			wantCode(t, err, occi.NotFound)
		}
	})
	run(t, "inline failure creates nothing", func(t T) {
		before := must(svc.List(ctx, occi.ListQuery{Collection: "/compute/"}))(t)
		_, err := svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Links: []*occi.Entity{
			{Kind: kNetIface, Target: n.Location}, {Kind: kNetIface, Target: "/network/missing"}}})
		wantCode(t, err, occi.NotFound, "/network/missing")
		after := must(svc.List(ctx, occi.ListQuery{Collection: "/compute/"}))(t)
		if len(after) != len(before) {
			t.Errorf("computes: got %d after a failed create, want %d", len(after), len(before))
		}
		links := must(svc.List(ctx, occi.ListQuery{Collection: "/networkinterface/"}))(t)
		if len(links) != 0 {
			t.Errorf("network interfaces after a failed create: got %v, want none", locations(links))
		}
	})
	run(t, "direct", func(t T) {
		c := mkCompute(t, svc, ctx)
		l := must(svc.Create(ctx, "/storagelink/", &occi.Entity{Kind: kStorLink, Source: c.Location, Target: s.Location}))(t)
		if l.Source != c.Location || l.Target != s.Location || l.TargetKind != kStorage {
			t.Errorf("link: got %s -> %s (%s), want %s -> %s (storage)", l.Source, l.Target, l.TargetKind, c.Location, s.Location)
		}
		g := must(svc.Get(ctx, c.Location))(t)
		if !slices.Contains(locations(g.Links), l.Location) {
			t.Errorf("links of the source: got %v, want %s among them", locations(g.Links), l.Location)
		}
		ok(t, svc.Delete(ctx, l.Location))
		g = must(svc.Get(ctx, c.Location))(t)
		if slices.Contains(locations(g.Links), l.Location) {
			t.Errorf("a deleted link is still listed on its source")
		}
	})
	run(t, "link by update", func(t T) {
		c := mkCompute(t, svc, ctx)
		u := must(svc.Update(ctx, c.Location, &occi.Entity{Links: []*occi.Entity{{Kind: kNetIface, Target: n.Location}}}))(t)
		if len(u.Links) != 1 {
			t.Errorf("links after update: got %d, want 1", len(u.Links))
		}
	})
	run(t, "core link to any uri", func(t T) {
		r := must(svc.Create(ctx, "/resource/", &occi.Entity{Kind: occi.ResourceKind}))(t)
		l := must(svc.Create(ctx, "/link/", &occi.Entity{Kind: occi.LinkKind, Source: r.Location, Target: "https://example.org/things/1"}))(t)
		if l.Target != "https://example.org/things/1" {
			t.Errorf("target: got %q, want the URI kept", l.Target)
		}
	})
	c := mkCompute(t, svc, ctx)
	other := mkNetwork(t, svc, bob())
	for _, tc := range []struct {
		name string
		coll string
		e    *occi.Entity
		code occi.Code
	}{
		{"no source", "/networkinterface/", &occi.Entity{Kind: kNetIface, Target: n.Location}, occi.InvalidArgument},
		{"missing source", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: "/compute/none", Target: n.Location}, occi.NotFound},
		{"foreign source", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: "http://elsewhere.example/compute/1", Target: n.Location}, occi.InvalidArgument},
		{"other tenant's target", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: other.Location}, occi.NotFound},
		{"no target", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location}, occi.InvalidArgument},
		{"interface to storage", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: s.Location}, occi.InvalidArgument},
		{"storage link to network", "/storagelink/", &occi.Entity{Kind: kStorLink, Source: c.Location, Target: n.Location}, occi.InvalidArgument},
		{"interface from network", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: n.Location, Target: n.Location}, occi.InvalidArgument},
		{"bad mac", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location, Attributes: occi.Attributes{"occi.networkinterface.mac": "02:00:zz:00:00:01"}}, occi.InvalidArgument},
		{"server-owned interface name", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location, Attributes: occi.Attributes{"occi.networkinterface.interface": "eth7"}}, occi.PermissionDenied},
		{"bad interface address", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location, Mixins: []occi.CategoryID{mIPIface}, Attributes: occi.Attributes{"occi.networkinterface.address": "10.0.0.300"}}, occi.InvalidArgument},
		{"target kind mismatch", "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location, TargetKind: kStorage}, occi.InvalidArgument},
		{"inline link with other source", "/compute/", &occi.Entity{Kind: kCompute, Links: []*occi.Entity{{Kind: kNetIface, Source: c.Location, Target: n.Location}}}, occi.InvalidArgument},
		{"inline resource kind", "/compute/", &occi.Entity{Kind: kCompute, Links: []*occi.Entity{{Kind: kStorage, Target: n.Location}}}, occi.InvalidArgument},
	} {
		run(t, tc.name, func(t T) {
			_, err := svc.Create(ctx, tc.coll, tc.e)
			wantCode(t, err, tc.code)
		})
	}
	run(t, "source and target are fixed", func(t T) {
		l := must(svc.Create(ctx, "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n.Location}))(t)
		n2 := mkNetwork(t, svc, ctx)
		_, err := svc.Update(ctx, l.Location, &occi.Entity{Target: n2.Location})
		wantCode(t, err, occi.PermissionDenied, "occi.core.target")
	})
	run(t, "deleting a linked-to target is refused until the links go", func(t T) {
		n3 := mkNetwork(t, svc, ctx)
		l := must(svc.Create(ctx, "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c.Location, Target: n3.Location}))(t)
		wantCode(t, svc.Delete(ctx, n3.Location), occi.FailedPrecondition, l.Location)
		wantCode(t, svc.DeleteAll(ctx, "/network/"), occi.FailedPrecondition, "delete those links first")
		must(svc.Get(ctx, n3.Location))(t)
		must(svc.Get(ctx, l.Location))(t)
		ok(t, svc.Delete(ctx, l.Location))
		ok(t, svc.Delete(ctx, n3.Location))
		_, err := svc.Get(ctx, n3.Location)
		wantCode(t, err, occi.NotFound)
	})
	run(t, "deleting a source deletes its own links", func(t T) {
		c2 := mkCompute(t, svc, ctx)
		n4 := mkNetwork(t, svc, ctx)
		l := must(svc.Create(ctx, "/networkinterface/", &occi.Entity{Kind: kNetIface, Source: c2.Location, Target: n4.Location}))(t)
		ok(t, svc.Delete(ctx, c2.Location))
		_, err := svc.Get(ctx, l.Location)
		wantCode(t, err, occi.NotFound)
		ok(t, svc.Delete(ctx, n4.Location))
	})
}

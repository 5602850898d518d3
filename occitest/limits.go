package occitest

import (
	"strings"

	"github.com/occid/occi"
)

// testRules covers request rules that hold over every front end: create
// only, full replace without links, size limits and value rules.
func testRules(t T, h *harness) {
	svc := h.svc(t)
	ctx := alice()
	run(t, "put with must-not-exist over an entity is refused", func(t T) {
		c := mkCompute(t, svc, ctx)
		_, _, err := svc.Put(occi.WithMustNotExist(ctx), c.Location, compute())
		wantCode(t, err, occi.PreconditionFailed, c.Location)
		_, created, err := svc.Put(occi.WithMustNotExist(ctx), "/compute/fresh-create-only", compute())
		ok(t, err)
		if !created {
			t.Errorf("got created %v, want true", created)
		}
	})
	run(t, "full replace carrying links is refused", func(t T) {
		c := mkCompute(t, svc, ctx)
		n := mkNetwork(t, svc, ctx)
		in := compute()
		in.Links = []*occi.Entity{{Kind: kNetIface, Target: n.Location}}
		_, _, err := svc.Put(ctx, c.Location, in)
		wantCode(t, err, occi.InvalidArgument, "cannot carry links")
		got := must(svc.Get(ctx, c.Location))(t)
		if len(got.Links) != 0 {
			t.Errorf("got %d links, want 0", len(got.Links))
		}
	})
	big := strings.Repeat("x", 900<<10)
	cases := []struct {
		name    string
		in      *occi.Entity
		mention string
	}{
		{"huge title", &occi.Entity{Kind: kCompute, Title: big}, "occi.core.title"},
		{"huge summary", &occi.Entity{Kind: kCompute, Summary: strings.Repeat("s", 2000)}, "occi.core.summary"},
		{"huge hostname", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.hostname": big}}, "occi.compute.hostname"},
		{"bad hostname", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.hostname": "-bad_host"}}, "occi.compute.hostname"},
		{"zero memory", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.memory": 0.0}}, "occi.compute.memory"},
		{"huge memory", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.memory": 1e12}}, "occi.compute.memory"},
		{"zero cores", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.cores": 0}}, "occi.compute.cores"},
		{"huge cores", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.cores": 1 << 30}}, "occi.compute.cores"},
		{"zero size", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": 0.0}}, "occi.storage.size"},
		{"huge size", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": 1e9}}, "occi.storage.size"},
		{"size as infinity string", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": "Inf"}}, "occi.storage.size"},
		{"size as NaN string", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": "NaN"}}, "occi.storage.size"},
	}
	for _, tc := range cases {
		run(t, tc.name, func(t T) {
			coll := "/compute/"
			if tc.in.Kind == kStorage {
				coll = "/storage/"
			}
			_, err := svc.Create(ctx, coll, tc.in)
			wantCode(t, err, occi.InvalidArgument, tc.mention)
		})
	}
	run(t, "numbers as strings are accepted losslessly", func(t T) {
		s := must(svc.Create(ctx, "/storage/", &occi.Entity{Kind: kStorage, Attributes: occi.Attributes{"occi.storage.size": "2"}}))(t)
		wantNum(t, s, "occi.storage.size", 2)
		c := must(svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.cores": "2"}}))(t)
		wantNum(t, c, "occi.compute.cores", 2)
		_, err := svc.Create(ctx, "/compute/", &occi.Entity{Kind: kCompute, Attributes: occi.Attributes{"occi.compute.cores": "2.5"}})
		wantCode(t, err, occi.InvalidArgument, "occi.compute.cores")
	})
	run(t, "unknown categories in a create are NotFound", func(t T) {
		_, err := svc.Create(ctx, "/compute/", &occi.Entity{Kind: occi.CategoryID{Scheme: "http://example.org/nope#", Term: "nokind"}})
		wantCode(t, err, occi.NotFound, "nokind")
		_, err = svc.Create(ctx, "/compute/", compute(occi.CategoryID{Scheme: "http://example.org/nope#", Term: "nomixin"}))
		wantCode(t, err, occi.NotFound, "nomixin")
		_, _, err = svc.Put(ctx, "/compute/unknown-kind", &occi.Entity{Kind: occi.CategoryID{Scheme: "http://example.org/nope#", Term: "nokind"}})
		wantCode(t, err, occi.NotFound, "nokind")
	})
	run(t, "huge title on update is refused", func(t T) {
		c := mkCompute(t, svc, ctx)
		_, err := svc.Update(ctx, c.Location, &occi.Entity{Title: big})
		wantCode(t, err, occi.InvalidArgument, "occi.core.title")
	})
	run(t, "storage links", func(t T) {
		c := mkCompute(t, svc, ctx)
		s1 := mkStorage(t, svc, ctx, 1)
		s2 := mkStorage(t, svc, ctx, 1)
		link := func(target, dev, mount string) *occi.Entity {
			a := occi.Attributes{}
			if dev != "" {
				a["occi.storagelink.deviceid"] = dev
			}
			if mount != "" {
				a["occi.storagelink.mountpoint"] = mount
			}
			return &occi.Entity{Kind: kStorLink, Source: c.Location, Target: target, Attributes: a}
		}
		l1 := must(svc.Create(ctx, "/storagelink/", link(s1.Location, "/dev/vdb", "/mnt/data")))(t)
		_, err := svc.Create(ctx, "/storagelink/", link(s2.Location, "/dev/vdb", ""))
		wantCode(t, err, occi.AlreadyExists, "/dev/vdb", l1.Location)
		for _, mp := range []string{"relative/path", "/mnt/../etc", "/mnt/./x"} {
			_, err := svc.Create(ctx, "/storagelink/", link(s2.Location, "/dev/vdc", mp))
			wantCode(t, err, occi.InvalidArgument, "occi.storagelink.mountpoint")
		}
		l2 := must(svc.Create(ctx, "/storagelink/", link(s2.Location, "/dev/vdc", "/mnt/b")))(t)
		_, err = svc.Update(ctx, l2.Location, &occi.Entity{Attributes: occi.Attributes{"occi.storagelink.deviceid": "/dev/vdb"}})
		wantCode(t, err, occi.AlreadyExists, "/dev/vdb")
	})
	run(t, "user mixin locations outside the term alphabet are refused", func(t T) {
		scheme := h.tag(t, svc, "alice", "probe").ID.Scheme
		p := h.tagPrefix("alice")
		for _, loc := range []string{
			p + "%2e%2e/%2e%2e/", p + "a%00/", p + "a%2Fb/", p + "a%25/", p + "a b/", p + "a:b/",
		} {
			_, err := svc.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Scheme: scheme, Term: "odd"}, Location: loc})
			wantCode(t, err, occi.InvalidArgument)
		}
		_, err := svc.DefineMixin(ctx, &occi.Mixin{ID: occi.CategoryID{Scheme: scheme, Term: "long"}, Title: big})
		wantCode(t, err, occi.InvalidArgument, "title")
	})
}

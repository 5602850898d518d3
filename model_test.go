package occi_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

const ex = "http://example.com/occi#"

var (
	vm     = occi.CategoryID{Scheme: ex, Term: "vm"}
	conn   = occi.CategoryID{Scheme: ex, Term: "conn"}
	base   = occi.CategoryID{Scheme: ex, Term: "base"}
	tpl    = occi.CategoryID{Scheme: ex, Term: "tpl"}
	vmOnly = occi.CategoryID{Scheme: ex, Term: "vmonly"}
	boot   = occi.CategoryID{Scheme: ex + "action/", Term: "boot"}
	flash  = occi.CategoryID{Scheme: ex + "action/", Term: "flash"}
)

func testModel(t *testing.T) *occi.Model {
	t.Helper()
	m := occi.NewModel()
	for _, err := range []error{
		m.AddAction(&occi.Action{ID: boot}),
		m.AddAction(&occi.Action{ID: flash}),
		m.AddKind(&occi.Kind{ID: vm, Parent: occi.ResourceKind, Location: "/vm/", Actions: []occi.CategoryID{boot},
			Attributes: []occi.AttributeDef{{Name: "com.example.size", Type: occi.TypeInteger, Mutable: true, Default: int64(1)}}}),
		m.AddKind(&occi.Kind{ID: conn, Parent: occi.LinkKind, Location: "/conn/"}),
		m.AddMixin(&occi.Mixin{ID: base, Location: "/base/", Actions: []occi.CategoryID{flash},
			Attributes: []occi.AttributeDef{{Name: "com.example.colour", Type: occi.TypeString, Mutable: true}}}),
		m.AddMixin(&occi.Mixin{ID: tpl, Depends: []occi.CategoryID{base}, Location: "/tpl/",
			Attributes: []occi.AttributeDef{{Name: "com.example.size", Type: occi.TypeInteger, Mutable: true, Default: int64(4)}}}),
		m.AddMixin(&occi.Mixin{ID: vmOnly, Applies: []occi.CategoryID{vm}, Location: "/vmonly/"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestCoreKinds(t *testing.T) {
	m := occi.NewModel()
	for _, tc := range []struct {
		kind   occi.CategoryID
		parent occi.CategoryID
		loc    string
	}{
		{occi.EntityKind, occi.CategoryID{}, ""},
		{occi.ResourceKind, occi.EntityKind, "/resource/"},
		{occi.LinkKind, occi.EntityKind, "/link/"},
	} {
		k, ok := m.Kind(tc.kind)
		if !ok {
			t.Fatalf("kind %s missing", tc.kind)
		}
		if k.Parent != tc.parent || k.Location != tc.loc {
			t.Errorf("%s: got parent %s location %q, want %s %q", tc.kind, k.Parent, k.Location, tc.parent, tc.loc)
		}
	}
}

func TestParentsAndLinks(t *testing.T) {
	m := testModel(t)
	if diff := cmp.Diff([]occi.CategoryID{vm, occi.ResourceKind, occi.EntityKind}, m.Parents(vm)); diff != "" {
		t.Errorf("Parents(vm) (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		kind occi.CategoryID
		link bool
	}{{vm, false}, {conn, true}, {occi.LinkKind, true}, {occi.ResourceKind, false}, {occi.EntityKind, false}, {base, false}} {
		if got := m.IsLink(tc.kind); got != tc.link {
			t.Errorf("IsLink(%s): got %v, want %v", tc.kind, got, tc.link)
		}
	}
	if diff := cmp.Diff([]occi.CategoryID{vm, occi.ResourceKind}, m.SubKinds(occi.ResourceKind)); diff != "" {
		t.Errorf("SubKinds(resource) (-want +got):\n%s", diff)
	}
}

func TestAttributesThroughMixins(t *testing.T) {
	m := testModel(t)
	defs, err := m.Attributes(vm, []occi.CategoryID{tpl})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{occi.AttrID, occi.AttrTitle, occi.AttrSummary, "com.example.size", "com.example.colour"} {
		if _, ok := defs[name]; !ok {
			t.Errorf("attribute %s missing from vm+tpl", name)
		}
	}
	if _, ok := defs[occi.AttrSource]; ok {
		t.Errorf("a resource has the link attribute %s", occi.AttrSource)
	}
	if got := defs["com.example.size"].Default; got != int64(4) {
		t.Errorf("default of com.example.size: got %v, want the template's 4", got)
	}
	if _, err := m.Attributes(vm, []occi.CategoryID{{Scheme: ex, Term: "nope"}}); occi.ErrorCode(err) != occi.NotFound {
		t.Errorf("unknown mixin: got %v, want NotFound", err)
	}
	acts, err := m.EntityActions(vm, []occi.CategoryID{tpl})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]occi.CategoryID{boot, flash}, acts); diff != "" {
		t.Errorf("EntityActions (-want +got):\n%s", diff)
	}
	if owner, _ := m.ActionOwner(flash); owner != base {
		t.Errorf("ActionOwner(flash): got %s, want %s", owner, base)
	}
}

func TestDependsAndApplies(t *testing.T) {
	m := testModel(t)
	if !m.DependsOn(tpl, base) || m.DependsOn(base, tpl) || !m.DependsOn(tpl, tpl) {
		t.Errorf("DependsOn: wrong answers for tpl/base")
	}
	c, err := m.MixinClosure([]occi.CategoryID{tpl, base})
	if err != nil || len(c) != 2 {
		t.Errorf("MixinClosure: got %v, %v; want tpl and base once each", c, err)
	}
	for _, tc := range []struct {
		mixin, kind occi.CategoryID
		want        bool
	}{{vmOnly, vm, true}, {vmOnly, conn, false}, {base, conn, true}, {base, vm, true}, {occi.CategoryID{Scheme: ex, Term: "x"}, vm, false}} {
		if got := m.Applies(tc.mixin, tc.kind); got != tc.want {
			t.Errorf("Applies(%s, %s): got %v, want %v", tc.mixin, tc.kind, got, tc.want)
		}
	}
}

func TestLocations(t *testing.T) {
	m := testModel(t)
	for _, tc := range []struct {
		loc   string
		id    occi.CategoryID
		class occi.Class
		ok    bool
	}{{"/vm/", vm, occi.ClassKind, true}, {"/vm", vm, occi.ClassKind, true}, {"/tpl/", tpl, occi.ClassMixin, true}, {"/nope/", occi.CategoryID{}, "", false}} {
		id, class, ok := m.ByLocation(tc.loc)
		if id != tc.id || class != tc.class || ok != tc.ok {
			t.Errorf("ByLocation(%q): got %s %q %v, want %s %q %v", tc.loc, id, class, ok, tc.id, tc.class, tc.ok)
		}
	}
}

func TestRegistrationErrors(t *testing.T) {
	m := testModel(t)
	for _, tc := range []struct {
		name string
		err  error
		code occi.Code
	}{
		{"duplicate id", m.AddMixin(&occi.Mixin{ID: vm}), occi.AlreadyExists},
		{"duplicate location", m.AddMixin(&occi.Mixin{ID: occi.CategoryID{Scheme: ex, Term: "m2"}, Location: "/vm/"}), occi.AlreadyExists},
		{"bad location", m.AddMixin(&occi.Mixin{ID: occi.CategoryID{Scheme: ex, Term: "m3"}, Location: "/a/../b/"}), occi.InvalidArgument},
		{"unknown parent", m.AddKind(&occi.Kind{ID: occi.CategoryID{Scheme: ex, Term: "k"}, Parent: occi.CategoryID{Scheme: ex, Term: "p"}}), occi.InvalidArgument},
		{"no parent", m.AddKind(&occi.Kind{ID: occi.CategoryID{Scheme: ex, Term: "k2"}}), occi.InvalidArgument},
		{"unknown depends", m.AddMixin(&occi.Mixin{ID: occi.CategoryID{Scheme: ex, Term: "m4"}, Depends: []occi.CategoryID{{Scheme: ex, Term: "zz"}}}), occi.InvalidArgument},
		{"bad term", m.AddAction(&occi.Action{ID: occi.CategoryID{Scheme: ex, Term: "-a"}}), occi.InvalidArgument},
	} {
		if got := occi.ErrorCode(tc.err); got != tc.code {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.code)
		}
	}
	if !m.RemoveMixin(vmOnly) || m.RemoveMixin(vmOnly) {
		t.Errorf("RemoveMixin: want true then false")
	}
	if _, _, ok := m.ByLocation("/vmonly/"); ok {
		t.Errorf("a removed mixin's location still resolves")
	}
	if err := m.ReplaceMixin(&occi.Mixin{ID: tpl, Location: "/tpl2/"}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := m.ByLocation("/tpl/"); ok {
		t.Errorf("ReplaceMixin left the old location")
	}
}

func TestModelConcurrency(t *testing.T) {
	m := testModel(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := occi.CategoryID{Scheme: ex, Term: fmt.Sprintf("c%d", i)}
			for j := 0; j < 50; j++ {
				_ = m.AddMixin(&occi.Mixin{ID: id, Location: fmt.Sprintf("/c%d/", i)})
				_, _ = m.Attributes(vm, []occi.CategoryID{tpl})
				_ = m.Mixins()
				m.RemoveMixin(id)
			}
		}()
	}
	wg.Wait()
}

// TestReplaceMixinIsAtomic: while a mixin is replaced again and again (a
// saved template's state and progress change so), readers always find it,
// by id and by location; the old code removed it, unlocked, and added the
// new one, so a reader could meet neither.
func TestReplaceMixinIsAtomic(t *testing.T) {
	m := testModel(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.ReplaceMixin(&occi.Mixin{ID: tpl, Depends: []occi.CategoryID{base}, Location: "/tpl/", Title: fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	missing := 0
	for range 200000 {
		if _, ok := m.Mixin(tpl); !ok {
			missing++
		}
		if _, _, ok := m.ByLocation("/tpl/"); !ok {
			missing++
		}
	}
	close(stop)
	wg.Wait()
	if missing > 0 {
		t.Errorf("%d reads found no mixin %s while it was being replaced", missing, tpl)
	}
}

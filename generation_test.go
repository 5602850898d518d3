package occi_test

import (
	"testing"

	"github.com/occid/occi"
)

func TestModelGeneration(t *testing.T) {
	m := occi.NewModel()
	tag := &occi.Mixin{ID: occi.CategoryID{Scheme: "http://example.org/tags#", Term: "web"}, Location: "/tags/web/"}
	act := &occi.Action{ID: occi.CategoryID{Scheme: "http://example.org/act#", Term: "go"}}
	kind := &occi.Kind{ID: occi.CategoryID{Scheme: "http://example.org/k#", Term: "thing"}, Parent: occi.ResourceKind, Location: "/thing/"}
	steps := []struct {
		name       string
		do         func() error
		wantChange bool
	}{
		{"read", func() error { m.Kinds(); m.Mixins(); m.Mixin(tag.ID); return nil }, false},
		{"add kind", func() error { return m.AddKind(kind) }, true},
		{"add mixin", func() error { return m.AddMixin(tag) }, true},
		{"add action", func() error { return m.AddAction(act) }, true},
		{"replace mixin", func() error { x := *tag; x.Title = "Web"; return m.ReplaceMixin(&x) }, true},
		{"failed add", func() error {
			if err := m.AddMixin(tag); err == nil {
				t.Errorf("adding %s twice: got no error", tag.ID)
			}
			return nil
		}, false},
		{"remove mixin", func() error { m.RemoveMixin(tag.ID); return nil }, true},
		{"remove it again", func() error { m.RemoveMixin(tag.ID); return nil }, false},
	}
	for _, st := range steps {
		before := m.Generation()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if changed := m.Generation() != before; changed != st.wantChange {
			t.Errorf("%s: generation changed %v, want %v", st.name, changed, st.wantChange)
		}
	}
}

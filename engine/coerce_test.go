package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

func TestCoerce(t *testing.T) {
	for _, tc := range []struct {
		name string
		def  occi.AttributeDef
		in   any
		want any
		code occi.Code
	}{
		{"string", occi.AttributeDef{Type: occi.TypeString}, "a", "a", occi.OK},
		{"string from number", occi.AttributeDef{Type: occi.TypeString}, int64(1), nil, occi.InvalidArgument},
		{"integer", occi.AttributeDef{Type: occi.TypeInteger}, int64(3), int64(3), occi.OK},
		{"integer from int", occi.AttributeDef{Type: occi.TypeInteger}, 3, int64(3), occi.OK},
		{"integer from integral float", occi.AttributeDef{Type: occi.TypeInteger}, 3.0, int64(3), occi.OK},
		{"integer from fraction", occi.AttributeDef{Type: occi.TypeInteger}, 3.5, nil, occi.InvalidArgument},
		{"integer from string", occi.AttributeDef{Type: occi.TypeInteger}, "42", int64(42), occi.OK},
		{"integer from word", occi.AttributeDef{Type: occi.TypeInteger}, "four", nil, occi.InvalidArgument},
		{"integer from bool", occi.AttributeDef{Type: occi.TypeInteger}, true, nil, occi.InvalidArgument},
		{"vlan range", occi.AttributeDef{Name: "occi.network.vlan", Type: occi.TypeInteger}, int64(4096), nil, occi.InvalidArgument},
		{"float from int64", occi.AttributeDef{Type: occi.TypeFloat}, int64(2), 2.0, occi.OK},
		{"float from string", occi.AttributeDef{Type: occi.TypeFloat}, "0.5", 0.5, occi.OK},
		{"float NaN", occi.AttributeDef{Type: occi.TypeFloat}, "NaN", nil, occi.InvalidArgument},
		{"negative memory", occi.AttributeDef{Name: "occi.compute.memory", Type: occi.TypeFloat}, -1.0, nil, occi.InvalidArgument},
		{"bool", occi.AttributeDef{Type: occi.TypeBool}, false, false, occi.OK},
		{"bool from string", occi.AttributeDef{Type: occi.TypeBool}, "true", true, occi.OK},
		{"bool from other string", occi.AttributeDef{Type: occi.TypeBool}, "yes", nil, occi.InvalidArgument},
		{"bool from number", occi.AttributeDef{Type: occi.TypeBool}, int64(1), nil, occi.InvalidArgument},
		{"enum", occi.AttributeDef{Type: occi.TypeEnum, Enum: []string{"a", "b"}}, "b", "b", occi.OK},
		{"enum outside", occi.AttributeDef{Type: occi.TypeEnum, Enum: []string{"a", "b"}}, "c", nil, occi.InvalidArgument},
		{"ip", occi.AttributeDef{Type: occi.TypeIP}, "192.168.0.5", "192.168.0.5", occi.OK},
		{"ip with prefix", occi.AttributeDef{Type: occi.TypeIP}, "192.168.0.5/24", "192.168.0.5/24", occi.OK},
		{"ipv6", occi.AttributeDef{Type: occi.TypeIP}, "fc00::1", "fc00::1", occi.OK},
		{"bad ip", occi.AttributeDef{Type: occi.TypeIP}, "192.168.0", nil, occi.InvalidArgument},
		{"cidr", occi.AttributeDef{Type: occi.TypeCIDR}, "10.0.0.0/8", "10.0.0.0/8", occi.OK},
		{"cidr without prefix", occi.AttributeDef{Type: occi.TypeCIDR}, "10.0.0.0", nil, occi.InvalidArgument},
		{"uri", occi.AttributeDef{Type: occi.TypeURI}, "http://example.com/a", "http://example.com/a", occi.OK},
		{"uri with space", occi.AttributeDef{Type: occi.TypeURI}, "http://a b/", nil, occi.InvalidArgument},
		{"datetime", occi.AttributeDef{Type: occi.TypeDatetime}, "2026-12-03T17:00:00Z", "2026-12-03T17:00:00Z", occi.OK},
		{"bad datetime", occi.AttributeDef{Type: occi.TypeDatetime}, "yesterday", nil, occi.InvalidArgument},
		{"list", occi.AttributeDef{Type: occi.TypeList}, []any{"a"}, []any{"a"}, occi.OK},
		{"list from string", occi.AttributeDef{Type: occi.TypeList}, "a", nil, occi.InvalidArgument},
		{"hash", occi.AttributeDef{Type: occi.TypeHash}, map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}, occi.OK},
		{"pattern", occi.AttributeDef{Type: occi.TypeString, Pattern: "[a-z]+"}, "abc", "abc", occi.OK},
		{"pattern is anchored", occi.AttributeDef{Type: occi.TypeString, Pattern: "[a-z]+"}, "abc1", nil, occi.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.def.Name == "" {
				tc.def.Name = "com.example.x"
			}
			got, err := coerce(tc.def, tc.in, "attribute")
			if code := occi.ErrorCode(err); code != tc.code {
				t.Fatalf("got error %v (code %v), want code %v", err, code, tc.code)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateTerm(t *testing.T) {
	newEngine := func() *Engine {
		return &Engine{model: occi.NewModel(), scheme: "http://x/", osScheme: "http://x/os_tpl#", rtScheme: "http://x/resource_tpl#"}
	}
	for _, tc := range []struct{ in, want string }{
		{"My Web Server", "My-Web-Server"},
		{"  ---weird///name!!", "weird-name"},
		{"ubuntu 24.04 golden", "ubuntu-24.04-golden"},
		{"ünïcode", "n-code"},
	} {
		if got := newEngine().templateTerm("alice", tc.in); got != tc.want {
			t.Errorf("templateTerm(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
	e := newEngine()
	for _, m := range []*occi.Mixin{
		{ID: occi.CategoryID{Scheme: "http://x/users/alice/os_tpl#", Term: "img"}, Location: "/users/alice/os_tpl/img/", Owner: "alice"},
		{ID: occi.CategoryID{Scheme: "http://x/os_tpl#", Term: "old"}, Location: "/os_tpl/old/", Owner: "alice"},
		{ID: occi.CategoryID{Scheme: "http://x/os_tpl#", Term: "provided"}, Location: "/os_tpl/provided/"},
	} {
		if err := e.model.AddMixin(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ user, in, want string }{
		{"alice", "img", "img-2"},
		{"bob", "img", "img"},
		{"alice", "old", "old"},
		{"bob", "provided", "provided"},
	} {
		if got := e.templateTerm(tc.user, tc.in); got != tc.want {
			t.Errorf("templateTerm(%q, %q) with alice's img: got %q, want %q", tc.user, tc.in, got, tc.want)
		}
	}
	if got := e.templateTerm("alice", "!!!"); !occi.ValidTerm(got) {
		t.Errorf("templateTerm of a name without letters: got %q, want a valid generated term", got)
	}
}

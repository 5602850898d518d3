package occiclient

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  occi.AttrType
		raw  string
		want any
		err  bool
	}{
		{"string keeps digits", occi.TypeString, "42", "42", false},
		{"string unquotes", occi.TypeString, `"a b"`, "a b", false},
		{"enum", occi.TypeEnum, "x64", "x64", false},
		{"integer", occi.TypeInteger, "-3", int64(-3), false},
		{"integer refuses decimals", occi.TypeInteger, "2.5", nil, true},
		{"float widens integers", occi.TypeFloat, "4", 4.0, false},
		{"float refuses words", occi.TypeFloat, "Inf", nil, true},
		{"bool", occi.TypeBool, "true", true, false},
		{"bool refuses yes", occi.TypeBool, "yes", nil, true},
		{"list", occi.TypeList, `[1,"a"]`, []any{int64(1), "a"}, false},
		{"list refuses objects", occi.TypeList, `{"a":1}`, nil, true},
		{"hash", occi.TypeHash, `{"a":1.5}`, map[string]any{"a": 1.5}, false},
		{"hash refuses bad JSON", occi.TypeHash, `{"a":}`, nil, true},
		{"null unsets any type", occi.TypeInteger, "null", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Value(occi.AttributeDef{Name: "x", Type: tc.typ}, tc.raw)
			if tc.err {
				if occi.ErrorCode(err) != occi.InvalidArgument {
					t.Errorf("got %v, %v; want an InvalidArgument error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Value(%v, %q) (-want +got):\n%s", tc.typ, tc.raw, diff)
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want any
		err  bool
	}{
		{"7", int64(7), false},
		{"-0.5", -0.5, false},
		{"1e3", 1000.0, false},
		{"NaN", "NaN", false},
		{"false", false, false},
		{`"true"`, "true", false},
		{`"\q"`, nil, true},
		{"[1,", nil, true},
		{"[1] 2", nil, true},
		{"", "", false},
		{"a=b", "a=b", false},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseValue(tc.raw)
			if tc.err {
				if occi.ErrorCode(err) != occi.InvalidArgument {
					t.Errorf("got %v, %v; want an InvalidArgument error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseValue(%q) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestFindAmbiguous(t *testing.T) {
	d := &occi.Discovery{
		Kinds:  []*occi.Kind{{ID: occi.CategoryID{Scheme: "http://a#", Term: "web"}}},
		Mixins: []*occi.Mixin{{ID: occi.CategoryID{Scheme: "http://b#", Term: "web"}}},
	}
	_, err := one(Find(d, "web"), "web", "category")
	if occi.ErrorCode(err) != occi.InvalidArgument || FromServer(err) {
		t.Fatalf("got %v, want a client-side InvalidArgument error", err)
	}
	if got, want := err.Error(), `category "web" is ambiguous: it may be http://a#web or http://b#web; give the full type identifier`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err := one(Find(d, "http://b#web"), "http://b#web", "category")
	if err != nil || got.Class != occi.ClassMixin {
		t.Errorf("by type identifier: got %+v, %v; want the mixin", got, err)
	}
}

func TestCredentials(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	for _, o := range []Options{{Token: "tok"}, {User: "alice", Password: "pw"}, {Token: "tok", User: "alice"}, {}} {
		c, err := New(srv.URL, o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Get(t.Context(), "/compute/1")
		if occi.ErrorCode(err) != occi.Unauthenticated || Status(err) != http.StatusUnauthorized {
			t.Errorf("got %v, want Unauthenticated (401)", err)
		}
	}
	want := []string{"Bearer tok", "Basic YWxpY2U6cHc=", "Bearer tok", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
}

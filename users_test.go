package occi_test

import (
	"net/url"
	"testing"

	"github.com/occid/occi"
)

func TestUserSegment(t *testing.T) {
	for _, c := range []struct{ user, want string }{
		{"alice", "alice"}, {"alice@example.org", "alice@example.org"}, {"a.b-c_d", "a.b-c_d"},
		{"", "~"}, {".", "~2e"}, {"..", "~2e2e"}, {"a/b", "~612f62"}, {"a%2Fb", "~6125324662"},
		{"alice#x", "~616c6963652378"}, {"~x", "~7e78"}, {"é", "~c3a9"}, {"a b", "~612062"},
	} {
		got := occi.UserSegment(c.user)
		if got != c.want {
			t.Errorf("UserSegment(%q) = %q, want %q", c.user, got, c.want)
		}
		if url.PathEscape(got) != got {
			t.Errorf("UserSegment(%q) = %q changes when escaped", c.user, got)
		}
	}
}

package auth

import (
	"os"
	"strings"
	"testing"

	"github.com/occid/occi"
	"golang.org/x/crypto/bcrypt"
)

func bcryptHash(t testing.TB, password, prefix string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + string(h[len("$2a$"):])
}

func TestParseHtpasswd(t *testing.T) {
	h2y := bcryptHash(t, "pw-y", "$2y$")
	h2a := bcryptHash(t, "pw-a", "$2a$")
	h2b := bcryptHash(t, "pw-b", "$2b$")
	tests := []struct {
		name    string
		in      string
		checks  map[[2]string]*occi.Identity // {user, password} → identity, nil for refused
		wantErr string
	}{
		{
			name: "bcrypt variants, groups, comments",
			in:   "# users\nyves:" + h2y + "\n\nanna:" + h2a + ":staff,ops\nbert:" + h2b + "\n",
			checks: map[[2]string]*occi.Identity{
				{"yves", "pw-y"}: {User: "yves"},
				{"anna", "pw-a"}: {User: "anna", Groups: []string{"staff", "ops"}},
				{"bert", "pw-b"}: {User: "bert"},
				{"bert", "pw-a"}: nil,
				{"zed", "pw-a"}:  nil,
				{"", ""}:         nil,
			},
		},
		{name: "MD5 apr1 refused", in: "u1:$apr1$salt$8mMfYnQ7K1f0C7kN7S4Yd1\n", wantErr: `line 1: user "u1": unsupported hash type MD5; only bcrypt is accepted (create the entry with htpasswd -B)`},
		{name: "SHA refused", in: "u1:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", wantErr: `line 1: user "u1": unsupported hash type SHA-1; only bcrypt is accepted (create the entry with htpasswd -B)`},
		{name: "SHA-512 crypt refused", in: "u1:$6$salt$abc\n", wantErr: `line 1: user "u1": unsupported hash type SHA-crypt; only bcrypt is accepted (create the entry with htpasswd -B)`},
		{name: "crypt or plain refused", in: "# c\nu1:plainpassword\n", wantErr: `line 2: user "u1": unsupported hash type (crypt or plain text?); only bcrypt is accepted (create the entry with htpasswd -B)`},
		{name: "truncated bcrypt", in: "u1:" + h2y[:40] + "\n", wantErr: `line 1: user "u1": malformed bcrypt hash`},
		{name: "no colon", in: "u1\n", wantErr: "line 1: want USER:HASH[:GROUP,...]"},
		{name: "empty user", in: ":" + h2y + "\n", wantErr: "line 1: empty user name"},
		{name: "duplicate user", in: "u1:" + h2y + "\nu1:" + h2a + "\n", wantErr: `line 2: user "u1" appears again`},
		{name: "empty group", in: "u1:" + h2y + ":a,\n", wantErr: `line 1: user "u1": empty group name at position 2 of the group list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHtpasswd([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "$apr1$salt") || strings.Contains(err.Error(), "plainpassword") {
					t.Errorf("error %q contains the hash or password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			for up, want := range tt.checks {
				id, ok := got.Check(up[0], up[1])
				switch {
				case want == nil && ok:
					t.Errorf("Check(%q, %q) = %v, want refused", up[0], up[1], id)
				case want != nil && !ok:
					t.Errorf("Check(%q, %q) refused, want %v", up[0], up[1], *want)
				case want != nil:
					checkOutcome(t, outcome{Identity: id}, outcome{Identity: *want})
				}
			}
		})
	}
}

func TestBasicAuthenticator(t *testing.T) {
	path := writeFile(t, "htpasswd", "alice:"+bcryptHash(t, "alice-pw", "$2y$")+":staff\nbob:"+bcryptHash(t, "bob-pw", "$2y$")+"\n")
	a, err := NewBasicAuthenticator(path, "occid", FileOptions{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, pw string) []string {
		r := request()
		r.SetBasicAuth(user, pw)
		return []string{"Authorization", r.Header.Get("Authorization")}
	}
	alice := outcome{Identity: occi.Identity{User: "alice", Groups: []string{"staff"}}}
	tests := []struct {
		name    string
		headers []string
		want    outcome
	}{
		{"good", basic("alice", "alice-pw"), alice},
		{"good again (cached)", basic("alice", "alice-pw"), alice},
		{"good other user", basic("bob", "bob-pw"), outcome{Identity: occi.Identity{User: "bob"}}},
		{"forged password", basic("alice", "bob-pw"), unauth("invalid user name or password")},
		{"forged password after a cached success", basic("alice", "alice-pw2"), unauth("invalid user name or password")},
		{"unknown user", basic("mallory", "alice-pw"), unauth("invalid user name or password")},
		{"malformed base64", []string{"Authorization", "Basic !!!"}, unauth("malformed Basic credentials")},
		{"missing", nil, noCreds},
		{"bearer is not mine", []string{"Authorization", "Bearer abc"}, noCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, outcomeOf(a.Authenticate(request(tt.headers...))), tt.want)
		})
	}

	// A user removed from the file (an expired account) is refused after a
	// reload, even with a cached success.
	t.Run("removed user", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("bob:"+bcryptHash(t, "bob-pw", "$2b$")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := a.Reload(); err != nil {
			t.Fatal(err)
		}
		checkOutcome(t, outcomeOf(a.Authenticate(request(basic("alice", "alice-pw")...))), unauth("invalid user name or password"))
		checkOutcome(t, outcomeOf(a.Authenticate(request(basic("bob", "bob-pw")...))), outcome{Identity: occi.Identity{User: "bob"}})
	})
}

func TestNewBasicAuthenticatorRefusesOtherHashes(t *testing.T) {
	path := writeFile(t, "htpasswd", "carol:$apr1$x$y\n")
	_, err := NewBasicAuthenticator(path, "occid", FileOptions{})
	if err == nil || !strings.Contains(err.Error(), `user "carol": unsupported hash type MD5`) {
		t.Errorf("got error %v, want one saying MD5 is unsupported for carol", err)
	}
}

package auth

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
)

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lookups map[string]*occi.Identity // nil: not found
		wantErr string
	}{
		{
			name: "users, groups, comments and blank lines",
			in:   "# static tokens\n\ns3cret-alice alice\n  s3cret-bob\tbob  staff,ops  \n# s3cret-carol carol\n",
			lookups: map[string]*occi.Identity{
				"s3cret-alice": {User: "alice"},
				"s3cret-bob":   {User: "bob", Groups: []string{"staff", "ops"}},
				"s3cret-carol": nil,
				"s3cret":       nil,
				"":             nil,
			},
		},
		{name: "empty file", in: "", lookups: map[string]*occi.Identity{"x": nil}},
		{name: "token without user", in: "alice-token-1\n", wantErr: "line 1: want TOKEN USER [GROUP,...], got 1 fields"},
		{name: "too many fields", in: "# c\nt1 alice staff extra\n", wantErr: "line 2: want TOKEN USER [GROUP,...], got 4 fields"},
		{name: "empty group", in: "t1 alice staff,,ops\n", wantErr: "line 1: empty group name at position 2 of the group list"},
		{name: "duplicate token", in: "dup-token-x alice\ndup-token-x bob\n", wantErr: "line 2: the token of line 1 appears again"},
		{name: "invalid UTF-8 user", in: "t1 \xff\n", wantErr: "line 1: user name is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokens([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "token-x") || strings.Contains(err.Error(), "t1") {
					t.Errorf("error %q contains a token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			for tok, want := range tt.lookups {
				id, ok := got.Lookup(tok)
				if want == nil {
					if ok {
						t.Errorf("Lookup(%q) = %v, want not found", tok, id)
					}
					continue
				}
				if !ok {
					t.Errorf("Lookup(%q) not found, want %v", tok, *want)
				} else if diff := cmp.Diff(*want, id); diff != "" {
					t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", tok, diff)
				}
			}
		})
	}
}

func TestTokenAuthenticator(t *testing.T) {
	path := writeFile(t, "tokens", "good-token-alice alice staff\ngood-token-bob bob\n")
	a, err := NewTokenAuthenticator(path, "occid", FileOptions{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		headers []string
		want    outcome
	}{
		{"good bearer", []string{"Authorization", "Bearer good-token-alice"}, outcome{Identity: occi.Identity{User: "alice", Groups: []string{"staff"}}}},
		{"good bearer lower-case scheme", []string{"Authorization", "bearer good-token-bob"}, outcome{Identity: occi.Identity{User: "bob"}}},
		{"good X-Auth-Token", []string{"X-Auth-Token", "good-token-bob"}, outcome{Identity: occi.Identity{User: "bob"}}},
		{"forged token", []string{"X-Auth-Token", "good-token-mallory"}, declinedWith("invalid token")},
		{"prefix of a good token", []string{"Authorization", "Bearer good-token"}, declinedWith("invalid token")},
		{"unknown bearer, good X-Auth-Token", []string{"Authorization", "Bearer eyJ.x.y", "X-Auth-Token", "good-token-bob"}, outcome{Identity: occi.Identity{User: "bob"}}},
		{"missing", nil, noCreds},
		{"basic is not mine", []string{"Authorization", "Basic YWxpY2U6eA=="}, noCreds},
		{"empty bearer", []string{"Authorization", "Bearer "}, noCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, outcomeOf(a.Authenticate(request(tt.headers...))), tt.want)
		})
	}
	if got, want := a.Challenge(), `Bearer realm="occid"`; got != want {
		t.Errorf("Challenge() = %q, want %q", got, want)
	}
}

// A token removed from the file (revoked or expired) stops working after a
// reload, whether explicit or noticed from the file's change.
func TestTokenAuthenticatorReload(t *testing.T) {
	for _, explicit := range []bool{true, false} {
		name := map[bool]string{true: "Reload", false: "file change noticed"}[explicit]
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "tokens", "old-token alice\n")
			interval := time.Nanosecond
			if explicit {
				interval = -1
			}
			a, err := NewTokenAuthenticator(path, "occid", FileOptions{CheckInterval: interval})
			if err != nil {
				t.Fatal(err)
			}
			checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "old-token"))), outcome{Identity: occi.Identity{User: "alice"}})
			if err := os.WriteFile(path, []byte("new-token-longer alice\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, future, future); err != nil {
				t.Fatal(err)
			}
			if explicit {
				if err := a.Reload(); err != nil {
					t.Fatalf("Reload: %v", err)
				}
			}
			checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "old-token"))), declinedWith("invalid token"))
			checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "new-token-longer"))), outcome{Identity: occi.Identity{User: "alice"}})

			// A broken file keeps the previous contents.
			if err := os.WriteFile(path, []byte("broken-secret-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			later := future.Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
			if explicit {
				err := a.Reload()
				if err == nil || !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "broken-secret-token") {
					t.Errorf("Reload of a broken file: got error %v, want one naming line 1 and not the token", err)
				}
			}
			checkOutcome(t, outcomeOf(a.Authenticate(request("X-Auth-Token", "new-token-longer"))), outcome{Identity: occi.Identity{User: "alice"}})
		})
	}
}

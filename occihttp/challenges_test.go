package occihttp

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

// TestServerChallenges checks the WWW-Authenticate headers of a 401 the
// service answers, with and without Options.Challenges.
func TestServerChallenges(t *testing.T) {
	tests := []struct {
		name       string
		challenges []string
		want       []string
	}{
		{name: "default", want: []string{`Basic realm="occid"`}},
		{name: "configured", challenges: []string{`Bearer realm="occid"`, `Keystone uri="https://ks.example:5000"`},
			want: []string{`Bearer realm="occid"`, `Keystone uri="https://ks.example:5000"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := seeded()
			svc.hook = func(op, path string) error { return occi.Errorf(occi.Unauthenticated, "token expired") }
			resp := serve(newTestServer(svc, Options{Challenges: tt.challenges}), "GET", "/compute/1", nil, "")
			if resp.StatusCode != 401 {
				t.Fatalf("got status %d, want 401", resp.StatusCode)
			}
			if diff := cmp.Diff(tt.want, resp.Header.Values("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
		})
	}
}

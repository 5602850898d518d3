package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
)

// writeFile writes content to a new file in t's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// outcome is what an authenticator said, as a test compares it.
type outcome struct {
	Identity occi.Identity
	Declined bool      // matches ErrNoCredentials
	Code     occi.Code // OK on success
	Message  string
}

func outcomeOf(id occi.Identity, err error) outcome {
	if err == nil {
		return outcome{Identity: id}
	}
	o := outcome{Declined: errors.Is(err, ErrNoCredentials), Code: occi.ErrorCode(err), Message: occi.ErrorMessage(err)}
	if err == ErrNoCredentials {
		o.Code, o.Message = occi.OK, ""
	}
	return o
}

func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/compute/", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func checkOutcome(t *testing.T, got, want outcome) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}

var noCreds = outcome{Declined: true}

func unauth(msg string) outcome { return outcome{Code: occi.Unauthenticated, Message: msg} }

func declinedWith(msg string) outcome {
	return outcome{Declined: true, Code: occi.Unauthenticated, Message: msg}
}

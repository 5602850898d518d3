package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestCredentialsAndAuthErrors checks that the credentials reach the
// server from flags, environment and config file, and that a 401 exits 6
// with the server's X-OCCI-Error message and the status.
func TestCredentialsAndAuthErrors(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("X-OCCI-Error", "invalid user name or password")
		w.Header().Set("WWW-Authenticate", `Basic realm="occid"`)
		http.Error(w, "invalid user name or password", http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, dir+"/occi/config", "user = carol\npassword = \"file pw\"\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"token flag", nil, []string{"--token", "t1"}, "Bearer t1"},
		{"token env", map[string]string{"OCCI_TOKEN": "t2"}, nil, "Bearer t2"},
		{"basic flags", nil, []string{"--user", "alice", "--password", "pw"}, "Basic YWxpY2U6cHc="},
		{"basic env", map[string]string{"OCCI_USER": "bob", "OCCI_PASSWORD": "x"}, nil, "Basic Ym9iOng="},
		{"basic config file", map[string]string{"XDG_CONFIG_HOME": dir}, nil, "Basic Y2Fyb2w6ZmlsZSBwdw=="},
		{"token beats basic", map[string]string{"XDG_CONFIG_HOME": dir}, []string{"--token", "t3"}, "Bearer t3"},
		{"none", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"OCCI_ENDPOINT": srv.URL}
			for k, v := range tc.env {
				env[k] = v
			}
			mu.Lock()
			seen = nil
			mu.Unlock()
			r := cli(t, env, append([]string{"describe", "/compute/1"}, tc.args...)...)
			wantCode(t, r, exitAuth, "occi describe: invalid user name or password (401 Unauthorized)")
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 || seen[0] != tc.want {
				t.Errorf("Authorization: got %q, want %q", seen, tc.want)
			}
			if strings.Contains(r.stderr, "pw") && tc.want != "" {
				t.Errorf("stderr shows the password: %q", r.stderr)
			}
		})
	}
}

package occihttp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/store/memstore"
)

// TestBatchRequestsAreAtomic checks that requests naming several entities
// or mixins go to the engine's batch operations: all or nothing, within
// the per-request limit.
func TestBatchRequestsAreAtomic(t *testing.T) {
	drv, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Store: memstore.New(), Driver: drv, MaxBatch: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(occihttp.NewServer(e, occihttp.Options{Negotiator: render.NewNegotiator(codecs()...)}))
	t.Cleanup(func() { srv.Close(); e.Close(); drv.Close() })
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/occi+json")
		req.Header.Set("Accept", "application/occi+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	computes := func(n int, extra string) string {
		var rs []string
		for i := 0; i < n; i++ {
			rs = append(rs, `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`)
		}
		if extra != "" {
			rs = append(rs, extra)
		}
		return `{"resources":[` + strings.Join(rs, ",") + `]}`
	}
	count := func() int {
		t.Helper()
		_, body := do(http.MethodGet, "/compute/", "")
		var got struct{ Resources []json.RawMessage }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("listing %q: %v", body, err)
		}
		return len(got.Resources)
	}
	const tags = "http://occid.local/occi/users/anonymous/tags#"
	cases := []struct {
		name, method, path, body string
		status                   int
		mention                  string
	}{
		{"too many entities", http.MethodPost, "/compute/", computes(6, ""), http.StatusRequestEntityTooLarge, "the limit is 5"},
		{"one bad entity", http.MethodPost, "/compute/", computes(2, `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","attributes":{"occi.compute.cores":0}}`), http.StatusBadRequest, "entity 3 of 3"},
		{"delete a tag and a provider mixin", http.MethodDelete, "/-/", `{"mixins":[{"scheme":"` + tags + `","term":"keep"},{"scheme":"http://schemas.ogf.org/occi/infrastructure#","term":"os_tpl"}]}`, http.StatusForbidden, "os_tpl"},
		{"delete a tag and an unknown mixin", http.MethodDelete, "/-/", `{"mixins":[{"scheme":"` + tags + `","term":"keep"},{"scheme":"http://example.org/x#","term":"nope"}]}`, http.StatusNotFound, "nope"},
		{"define a tag twice", http.MethodPost, "/-/", `{"mixins":[{"scheme":"` + tags + `","term":"fresh"},{"scheme":"` + tags + `","term":"fresh"}]}`, http.StatusConflict, "twice"},
	}
	if status, body := do(http.MethodPost, "/-/", `{"mixins":[{"scheme":"`+tags+`","term":"keep"}]}`); status != http.StatusOK {
		t.Fatalf("defining a tag: got %d %s", status, body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.body)
			if status != tc.status || !strings.Contains(body, tc.mention) {
				t.Errorf("got %d %s, want %d mentioning %q", status, body, tc.status, tc.mention)
			}
			if n := count(); n != 0 {
				t.Errorf("got %d computes after a failed request, want 0", n)
			}
			if status, _ := do(http.MethodGet, "/users/anonymous/tags/keep/", ""); status != http.StatusOK {
				t.Errorf("the tag keep: got status %d, want 200 (still defined)", status)
			}
			if status, _ := do(http.MethodGet, "/users/anonymous/tags/fresh/", ""); status != http.StatusNotFound {
				t.Errorf("the tag fresh: got status %d, want 404 (never defined)", status)
			}
		})
	}
	if status, body := do(http.MethodPost, "/compute/", computes(5, "")); status != http.StatusCreated {
		t.Fatalf("creating 5: got %d %s", status, body)
	}
	if n := count(); n != 5 {
		t.Errorf("got %d computes, want 5", n)
	}
}

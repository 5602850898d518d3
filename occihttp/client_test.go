package occihttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

func newTestClient(t *testing.T, svc occi.Service) *Client {
	t.Helper()
	srv := httptest.NewServer(newTestServer(svc, Options{}))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, ClientOptions{MediaType: fakeType, HTTPClient: srv.Client(), Codecs: []render.Codec{fakeCodec{}}})
}

func TestClientOperations(t *testing.T) {
	ctx := context.Background()
	svc := seeded()
	c := newTestClient(t, svc)
	ignore := cmpopts.IgnoreFields(occi.Entity{}, "Actions")

	t.Run("Resolve", func(t *testing.T) {
		tests := []struct {
			path string
			want occi.Target
		}{
			{"/-/", occi.Target{Type: occi.TargetQueryInterface, Path: "/-/"}},
			{"/compute", occi.Target{Type: occi.TargetKindCollection, Category: kindCompute, Path: "/compute/"}},
			{"/tags/web/", occi.Target{Type: occi.TargetMixinCollection, Category: mixinTag, Path: "/tags/web/"}},
			{"/compute/1", occi.Target{Type: occi.TargetEntity, Path: "/compute/1"}},
			{"/", occi.Target{Type: occi.TargetUnbound, Path: "/"}},
		}
		for _, tt := range tests {
			got, err := c.Resolve(ctx, tt.path)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.path, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tt.path, diff)
			}
		}
		if _, err := c.Resolve(ctx, "/nothing"); occi.ErrorCode(err) != occi.NotFound {
			t.Errorf("Resolve(/nothing): got %v, want NotFound", err)
		}
	})
	t.Run("Discover", func(t *testing.T) {
		d, err := c.Discover(ctx, []occi.CategoryID{kindCompute})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Kinds) != 1 || d.Kinds[0].ID != kindCompute {
			t.Errorf("got kinds %v, want compute", d.Kinds)
		}
		if diff := cmp.Diff([]occi.CategoryID{kindCompute}, svc.lastCall().Arg); diff != "" {
			t.Errorf("filter sent (-want +got):\n%s", diff)
		}
	})
	t.Run("DefineMixin and DeleteMixin", func(t *testing.T) {
		m := &occi.Mixin{ID: occi.CategoryID{Scheme: "http://example.org/tags#", Term: "db"}, Location: "/tags/db/"}
		got, err := c.DefineMixin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("defined mixin (-want +got):\n%s", diff)
		}
		if _, err := c.DefineMixin(ctx, m); occi.ErrorCode(err) != occi.AlreadyExists {
			t.Errorf("defining it again: got %v, want AlreadyExists", err)
		}
		if err := c.DeleteMixin(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteMixin(ctx, mixinTag); occi.ErrorCode(err) != occi.PermissionDenied {
			t.Errorf("deleting a provider mixin: got %v, want PermissionDenied", err)
		}
	})
	t.Run("Create, Get, Update, Put, Delete", func(t *testing.T) {
		e, err := c.Create(ctx, "/compute/", &occi.Entity{Kind: kindCompute, Title: "new"})
		if err != nil {
			t.Fatal(err)
		}
		want := &occi.Entity{ID: "3", Location: "/compute/3", Kind: kindCompute, Title: "new", Revision: 1}
		if diff := cmp.Diff(want, e, ignore); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		e, err = c.Update(occi.WithExpectedRevision(ctx, 1), "/compute/3", &occi.Entity{Title: "renamed"})
		if err != nil {
			t.Fatal(err)
		}
		if e.Title != "renamed" || e.Revision != 2 {
			t.Errorf("got title %q revision %d, want renamed 2", e.Title, e.Revision)
		}
		if _, err := c.Update(occi.WithExpectedRevision(ctx, 1), "/compute/3", &occi.Entity{Title: "x"}); occi.ErrorCode(err) != occi.PreconditionFailed {
			t.Errorf("stale update: got %v, want PreconditionFailed", err)
		}
		_, created, err := c.Put(ctx, "/compute/mine", &occi.Entity{Kind: kindCompute, Title: "mine"})
		if err != nil || !created {
			t.Errorf("Put new: got created=%v err=%v, want created", created, err)
		}
		_, created, err = c.Put(ctx, "/compute/mine", &occi.Entity{Kind: kindCompute, Title: "mine2"})
		if err != nil || created {
			t.Errorf("Put again: got created=%v err=%v, want replaced", created, err)
		}
		if err := c.Delete(ctx, "/compute/mine"); err != nil {
			t.Fatal(err)
		}
		_, err = c.Get(ctx, "/compute/mine")
		if occi.ErrorCode(err) != occi.NotFound || occi.ErrorMessage(err) != "no entity at /compute/mine" {
			t.Errorf("Get after Delete: got %v (%s), want NotFound with the server's message", err, occi.ErrorCode(err))
		}
	})
	t.Run("List, Associate, ReplaceMembers, Dissociate", func(t *testing.T) {
		es, err := c.List(ctx, occi.ListQuery{Collection: "/compute/", Page: 1, Number: 10,
			Attributes: occi.Attributes{"occi.compute.state": "active"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 3 {
			t.Errorf("got %d entities, want 3", len(es))
		}
		wantQ := occi.ListQuery{Collection: "/compute/", Page: 1, Number: 10, Attributes: occi.Attributes{"occi.compute.state": "active"}}
		if diff := cmp.Diff(wantQ, svc.lastCall().Arg); diff != "" {
			t.Errorf("query sent (-want +got):\n%s", diff)
		}
		if _, err := c.List(ctx, occi.ListQuery{Collection: "/compute/", Number: 1000}); occi.ErrorCode(err) != occi.TooLarge {
			t.Errorf("List number 1000: got %v, want TooLarge", err)
		}
		es, err = c.Associate(ctx, "/tags/web/", []string{"/compute/2"})
		if err != nil || len(es) != 2 {
			t.Errorf("Associate: got %d members, err %v, want 2", len(es), err)
		}
		es, err = c.ReplaceMembers(ctx, "/tags/web/", []string{"/compute/3"})
		if err != nil || len(es) != 1 || es[0].Location != "/compute/3" {
			t.Errorf("ReplaceMembers: got %v, err %v, want /compute/3", es, err)
		}
		if err := c.Dissociate(ctx, "/tags/web/", []string{"/compute/3"}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"/compute/3"}, svc.lastCall().Arg); diff != "" {
			t.Errorf("dissociated (-want +got):\n%s", diff)
		}
		if err := c.Dissociate(ctx, "/tags/web/", nil); err != nil {
			t.Fatal(err)
		}
		es, err = c.List(ctx, occi.ListQuery{Collection: "/tags/web/"})
		if err != nil || len(es) != 0 || es == nil {
			t.Errorf("empty mixin collection: got %#v, err %v, want an empty non-nil list", es, err)
		}
	})
	t.Run("Invoke and InvokeAll", func(t *testing.T) {
		res, err := c.Invoke(ctx, "/compute/1", &occi.ActionInvocation{Action: actionStart})
		if err != nil {
			t.Fatal(err)
		}
		if res.Entity == nil || res.Entity.Attributes["occi.compute.state"] != "active" || res.Mixin != nil {
			t.Errorf("start: got %+v, want the active entity", res)
		}
		res, err = c.Invoke(ctx, "/compute/1", &occi.ActionInvocation{Action: actionSave})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mixin == nil || res.Mixin.ID.Term != "saved1" || res.Entity != nil {
			t.Errorf("save: got %+v, want the saved1 mixin", res)
		}
		if _, err := c.InvokeAll(ctx, "/compute/", &occi.ActionInvocation{Action: actionStart}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Invoke(ctx, "/compute/1", &occi.ActionInvocation{}); occi.ErrorCode(err) != occi.InvalidArgument {
			t.Errorf("Invoke without action: got %v, want InvalidArgument", err)
		}
	})
	t.Run("DeleteAll", func(t *testing.T) {
		if err := c.DeleteAll(ctx, "/compute/"); err != nil {
			t.Fatal(err)
		}
		es, err := c.List(ctx, occi.ListQuery{Collection: "/compute/"})
		if err != nil || len(es) != 0 {
			t.Errorf("after DeleteAll: got %d entities, err %v, want none", len(es), err)
		}
	})
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no codec for the media type", func(t *testing.T) {
		c := NewClient("http://127.0.0.1:1", ClientOptions{MediaType: "text/nope", Codecs: []render.Codec{fakeCodec{}}})
		if _, err := c.Get(ctx, "/compute/1"); occi.ErrorCode(err) != occi.InvalidArgument {
			t.Errorf("got %v, want InvalidArgument", err)
		}
	})
	t.Run("server unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := NewClient(url, ClientOptions{MediaType: fakeType, Codecs: []render.Codec{fakeCodec{}}})
		if _, err := c.Get(ctx, "/compute/1"); occi.ErrorCode(err) != occi.Unavailable {
			t.Errorf("got %v, want Unavailable", err)
		}
	})
	t.Run("status without occid headers", func(t *testing.T) {
		tests := []struct {
			status int
			want   occi.Code
		}{
			{400, occi.InvalidArgument}, {401, occi.Unauthenticated}, {403, occi.PermissionDenied},
			{404, occi.NotFound}, {405, occi.MethodNotAllowed}, {406, occi.InvalidArgument},
			{409, occi.Conflict}, {412, occi.PreconditionFailed}, {413, occi.TooLarge},
			{415, occi.InvalidArgument}, {431, occi.TooLarge}, {500, occi.Internal},
			{501, occi.Unimplemented}, {502, occi.Unavailable}, {503, occi.Unavailable},
		}
		for _, tt := range tests {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-OCCI-Error", "plain failure")
				w.WriteHeader(tt.status)
			}))
			c := NewClient(srv.URL, ClientOptions{MediaType: fakeType, Codecs: []render.Codec{fakeCodec{}}})
			_, err := c.Get(ctx, "/compute/1")
			srv.Close()
			if occi.ErrorCode(err) != tt.want || occi.ErrorMessage(err) != "plain failure" {
				t.Errorf("status %d: got %v (%s), want %s with the X-OCCI-Error message", tt.status, err, occi.ErrorCode(err), tt.want)
			}
		}
	})
	t.Run("token and user agent sent", func(t *testing.T) {
		var auth, ua string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth, ua = r.Header.Get("Authorization"), r.Header.Get("User-Agent")
			w.WriteHeader(404)
		}))
		defer srv.Close()
		c := NewClient(srv.URL, ClientOptions{MediaType: fakeType, Codecs: []render.Codec{fakeCodec{}}, Token: "t0k"})
		_, _ = c.Get(ctx, "/compute/1")
		if auth != "Bearer t0k" || ua != "occid-client OCCI/1.2" {
			t.Errorf("got Authorization %q User-Agent %q, want Bearer t0k and occid-client OCCI/1.2", auth, ua)
		}
	})
}

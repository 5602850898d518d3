package occiclient_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend/simbackend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occiclient"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/urilist"
	"github.com/occid/occi/store/memstore"
)

// startServer runs an occid-like server (the engine over an in-memory store
// and the simulated backend) for an example and returns its URL and a
// function that stops it. Real programs talk to a running occid instead.
func startServer() (string, func()) {
	drv, err := simbackend.Open(simbackend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	st := memstore.New()
	eng, err := engine.New(engine.Config{Store: st, Driver: drv, ObserveInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(occihttp.NewServer(eng, occihttp.Options{
		Negotiator: render.NewNegotiator(occitext.Plain(), occitext.Headers(), occijson.New(), urilist.New()),
	}))
	return srv.URL, func() {
		srv.Close()
		eng.Close()
		drv.Close()
		st.Close()
	}
}

// newClient starts a server and returns a client of it in rendering.
func newClient(rendering string) (*occiclient.Client, func()) {
	url, stop := startServer()
	c, err := occiclient.New(url, occiclient.Options{Rendering: rendering})
	if err != nil {
		log.Fatal(err)
	}
	return c, stop
}

// mustCompute creates a compute from the ubuntu-24.04 and small templates.
func mustCompute(ctx context.Context, c *occiclient.Client) *occi.Entity {
	e, err := c.CreateEntity(ctx, &occi.Entity{
		Kind:   occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"},
		Mixins: []occi.CategoryID{{Scheme: "http://occid.local/occi/os_tpl#", Term: "ubuntu-24.04"}, {Scheme: "http://occid.local/occi/resource_tpl#", Term: "small"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	return e
}

func ExampleNew() {
	url, stop := startServer()
	defer stop()
	// Rendering is "text" (text/plain), "occi" (text/occi) or "json"
	// (application/occi+json). Token or User and Password authenticate.
	c, err := occiclient.New(url, occiclient.Options{Rendering: "json", Token: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.MediaType())
	_, err = occiclient.New("ftp://example.org", occiclient.Options{})
	fmt.Println(err)
	// Output:
	// application/occi+json
	// endpoint "ftp://example.org": want an absolute http or https URL such as http://127.0.0.1:8080
}

func ExampleMediaType() {
	for _, r := range []string{"text", "occi", "json", "yaml"} {
		mt, err := occiclient.MediaType(r)
		fmt.Println(mt, err)
	}
	// Output:
	// text/plain <nil>
	// text/occi <nil>
	// application/occi+json <nil>
	//  rendering "yaml": want text (text/plain), occi (text/occi) or json (application/occi+json)
}

func ExampleClient_Discover() {
	c, stop := newClient("text")
	defer stop()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	d, err := c.Discover(context.Background(), []occi.CategoryID{compute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Kinds[0].ID.Term, d.Kinds[0].Location, len(d.Actions))
	// Output: compute /compute/ 5
}

func ExampleClient_Category() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	cat, err := c.Category(ctx, "ssh_key")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cat.Class, cat.ID(), cat.Location())
	_, err = c.Category(ctx, "nothing")
	fmt.Println(occi.ErrorCode(err), err)
	// Output:
	// mixin http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key /ssh_key/
	// NotFound the server has no kind, mixin or action "nothing"
}

func ExampleClient_Kind() {
	c, stop := newClient("text")
	defer stop()
	k, err := c.Kind(context.Background(), "storage")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.ID, k.Location)
	// Output: http://schemas.ogf.org/occi/infrastructure#storage /storage/
}

func ExampleClient_Mixin() {
	c, stop := newClient("text")
	defer stop()
	m, err := c.Mixin(context.Background(), "http://schemas.ogf.org/occi/infrastructure#os_tpl")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.ID.Term, m.Location)
	// Output: os_tpl /os_tpl/
}

func ExampleClient_Template() {
	c, stop := newClient("json")
	defer stop()
	m, err := c.Template(context.Background(), "medium", occiclient.ResourceTemplate)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range m.Attributes {
		fmt.Println(a.Name, a.Default)
	}
	// Output:
	// occi.compute.cores 2
	// occi.compute.memory 4
}

func ExampleClient_Collection() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	for _, name := range []string{"compute", "os_tpl", c.Endpoint() + "/network/", "/"} {
		p, err := c.Collection(ctx, name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p)
	}
	// Output:
	// /compute/
	// /os_tpl/
	// /network/
	// /
}

func ExampleClient_Path() {
	c, err := occiclient.New("http://127.0.0.1:8080", occiclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, loc := range []string{"/compute/1", "http://127.0.0.1:8080/compute/1", "http://elsewhere/compute/1"} {
		p, err := c.Path(loc)
		fmt.Printf("%q %v\n", p, err)
	}
	fmt.Println(c.URL("/compute/1"))
	// Output:
	// "/compute/1" <nil>
	// "/compute/1" <nil>
	// "" location http://elsewhere/compute/1 is not on the server http://127.0.0.1:8080
	// http://127.0.0.1:8080/compute/1
}

func ExampleClient_CreateEntity() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	attrs, err := c.Attributes(ctx, []string{"occi.storage.size=2.5"})
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.CreateEntity(ctx, &occi.Entity{
		Kind:       occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "storage"},
		Title:      "data",
		Attributes: attrs,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(e.Location, "/storage/"), e.Title, e.Attributes["occi.storage.size"], e.Attributes["occi.storage.state"])
	// Output: true data 2.5 offline
}

func ExampleClient_Create() {
	c, stop := newClient("occi")
	defer stop()
	e, err := c.Create(context.Background(), "/network/", &occi.Entity{
		Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "network"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Kind.Term, e.Attributes["occi.network.state"])
	// Output: network inactive
}

func ExampleClient_Describe() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	e, err := c.Describe(ctx, c.URL(vm.Location))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Attributes["occi.compute.state"], e.Attributes["occi.compute.cores"], e.Actions[0].Term)
	// Output: inactive 1 start
}

func ExampleClient_Get() {
	c, stop := newClient("text")
	defer stop()
	_, err := c.Get(context.Background(), "/compute/none")
	fmt.Println(occi.ErrorCode(err), occiclient.Status(err))
	fmt.Println(occiclient.ErrorText(err))
	// Output:
	// NotFound 404
	// nothing at /compute/none (404 Not Found)
}

func ExampleClient_Modify() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	attrs, err := c.Attributes(ctx, []string{"occi.compute.hostname=web1"})
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.Modify(ctx, vm.Location, &occi.Entity{Title: "web", Attributes: attrs})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Title, e.Attributes["occi.compute.hostname"])
	// Output: web web1
}

func ExampleClient_Update() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	ssh := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"}
	e, err := c.Update(ctx, vm.Location, &occi.Entity{Mixins: []occi.CategoryID{ssh},
		Attributes: occi.Attributes{"occi.credentials.ssh.publickey": "ssh-ed25519 AAAA me"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.HasMixin(ssh))
	// Output: true
}

func ExampleClient_Put() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	network := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "network"}
	_, created, err := c.Put(ctx, "/network/lan", &occi.Entity{Kind: network, Title: "lan"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(created)
	e, created, err := c.Put(ctx, "/network/lan", &occi.Entity{Kind: network, Title: "office lan"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(created, e.Title)
	// Output:
	// true
	// false office lan
}

func ExampleClient_Remove() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	if err := c.Remove(ctx, c.URL(vm.Location)); err != nil {
		log.Fatal(err)
	}
	err := c.Delete(ctx, vm.Location)
	fmt.Println(occi.ErrorCode(err))
	// Output: NotFound
}

func ExampleClient_List() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	mustCompute(ctx, c)
	mustCompute(ctx, c)
	es, err := c.List(ctx, occi.ListQuery{Collection: "/compute/", Attributes: occi.Attributes{"occi.compute.state": "inactive"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(es), es[0].Kind.Term)
	// Output: 2 compute
}

func ExampleClient_DeleteAll() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	mustCompute(ctx, c)
	if err := c.DeleteAll(ctx, "/compute/"); err != nil {
		log.Fatal(err)
	}
	es, _ := c.List(ctx, occi.ListQuery{Collection: "/compute/"})
	fmt.Println(len(es))
	// Output: 0
}

func ExampleClient_AddMixin() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	if _, err := c.DefineTag(ctx, "web", "web servers", "", "anonymous"); err != nil {
		log.Fatal(err)
	}
	vm := mustCompute(ctx, c)
	members, err := c.AddMixin(ctx, "web", vm.Location)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(members), members[0].Location == vm.Location)
	// Output: 1 true
}

func ExampleClient_Associate() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	tag, err := c.DefineTag(ctx, "db", "", "", "anonymous")
	if err != nil {
		log.Fatal(err)
	}
	vm := mustCompute(ctx, c)
	members, err := c.Associate(ctx, tag.Location, []string{vm.Location})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tag.Location, len(members))
	// Output: /users/anonymous/tags/db/ 1
}

func ExampleClient_ReplaceMembers() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	tag, err := c.DefineTag(ctx, "batch", "", "", "anonymous")
	if err != nil {
		log.Fatal(err)
	}
	a, b := mustCompute(ctx, c), mustCompute(ctx, c)
	if _, err := c.Associate(ctx, tag.Location, []string{a.Location}); err != nil {
		log.Fatal(err)
	}
	members, err := c.ReplaceMembers(ctx, tag.Location, []string{b.Location})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(members), members[0].Location == b.Location)
	// Output: 1 true
}

func ExampleClient_RemoveMixin() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	if _, err := c.DefineTag(ctx, "web", "", "", "anonymous"); err != nil {
		log.Fatal(err)
	}
	vm := mustCompute(ctx, c)
	if _, err := c.AddMixin(ctx, "web", vm.Location); err != nil {
		log.Fatal(err)
	}
	if err := c.RemoveMixin(ctx, "web", vm.Location); err != nil {
		log.Fatal(err)
	}
	e, _ := c.Get(ctx, vm.Location)
	fmt.Println(len(e.Mixins))
	// Output: 2
}

func ExampleClient_Dissociate() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	tag, err := c.DefineTag(ctx, "web", "", "", "anonymous")
	if err != nil {
		log.Fatal(err)
	}
	vm := mustCompute(ctx, c)
	if _, err := c.Associate(ctx, tag.Location, []string{vm.Location}); err != nil {
		log.Fatal(err)
	}
	// No locations: every member leaves the mixin.
	if err := c.Dissociate(ctx, tag.Location, nil); err != nil {
		log.Fatal(err)
	}
	es, _ := c.List(ctx, occi.ListQuery{Collection: tag.Location})
	fmt.Println(len(es))
	// Output: 0
}

func ExampleClient_DefineTag() {
	c, stop := newClient("text")
	defer stop()
	// The scheme is learnt from the server (occid's convention); give one
	// to override it.
	m, err := c.DefineTag(context.Background(), "web", "web servers", "", "anonymous")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.ID, m.Location)
	// Output: http://occid.local/occi/users/anonymous/tags#web /users/anonymous/tags/web/
}

func ExampleClient_DefineMixin() {
	c, stop := newClient("json")
	defer stop()
	m, err := c.DefineMixin(context.Background(), &occi.Mixin{
		ID:    occi.CategoryID{Scheme: "http://occid.local/occi/users/anonymous/tags#", Term: "prod"},
		Title: "production",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Title, m.Location)
	// Output: production /users/anonymous/tags/prod/
}

func ExampleClient_DeleteTag() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	if _, err := c.DefineTag(ctx, "old", "", "", "anonymous"); err != nil {
		log.Fatal(err)
	}
	if err := c.DeleteTag(ctx, "old"); err != nil {
		log.Fatal(err)
	}
	_, err := c.Mixin(ctx, "old")
	fmt.Println(occi.ErrorCode(err))
	// Output: NotFound
}

func ExampleClient_DeleteMixin() {
	c, stop := newClient("text")
	defer stop()
	err := c.DeleteMixin(context.Background(), occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/credentials#", Term: "ssh_key"})
	fmt.Println(occi.ErrorCode(err), occiclient.Status(err))
	// Output: PermissionDenied 403
}

func ExampleClient_Act() {
	c, stop := newClient("occi")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	res, err := c.Act(ctx, vm.Location, "start", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Entity.Attributes["occi.compute.state"])
	res, err = c.Act(ctx, vm.Location, "stop", occi.Attributes{"method": "acpioff"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Entity.Attributes["occi.compute.state"])
	_, err = c.Act(ctx, vm.Location, "stop", nil)
	fmt.Println(occi.ErrorCode(err), occiclient.Status(err))
	// Output:
	// active
	// inactive
	// FailedPrecondition 409
}

func ExampleClient_Invoke() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	n, err := c.Create(ctx, "/network/", &occi.Entity{Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "network"}})
	if err != nil {
		log.Fatal(err)
	}
	up := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network/action#", Term: "up"}
	res, err := c.Invoke(ctx, n.Location, &occi.ActionInvocation{Action: up})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Entity.Attributes["occi.network.state"])
	// Output: active
}

func ExampleClient_InvokeAll() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	mustCompute(ctx, c)
	mustCompute(ctx, c)
	start := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute/action#", Term: "start"}
	es, err := c.InvokeAll(ctx, "/compute/", &occi.ActionInvocation{Action: start})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range es {
		fmt.Println(e.Attributes["occi.compute.state"])
	}
	// Output:
	// active
	// active
}

func ExampleClient_Save() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	if _, err := c.Act(ctx, vm.Location, "start", nil); err != nil {
		log.Fatal(err)
	}
	tpl, err := c.Save(ctx, vm.Location, "web server", "hot")
	if err != nil {
		log.Fatal(err)
	}
	// Wait until the copy is done, then create a compute from it.
	ready, err := c.WaitTemplate(ctx, tpl.ID, 10*time.Millisecond, func(st occiclient.TemplateStatus) {})
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.CreateEntity(ctx, &occi.Entity{Kind: vm.Kind, Mixins: []occi.CategoryID{ready.ID}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tpl.Title, e.HasMixin(ready.ID))
	// Output: web server true
}

func ExampleClient_TemplateStatus() {
	c, stop := newClient("text")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	if _, err := c.Act(ctx, vm.Location, "start", nil); err != nil {
		log.Fatal(err)
	}
	tpl, err := c.Save(ctx, vm.Location, "", "deferred")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.WaitTemplate(ctx, tpl.ID, 10*time.Millisecond, nil); err != nil {
		log.Fatal(err)
	}
	// The state is read from the JSON rendering even by a text client.
	_, st, err := c.TemplateStatus(ctx, tpl.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Known, st.State, st.Ready())
	// Output: true ready true
}

func ExampleClient_Link() {
	c, stop := newClient("json")
	defer stop()
	ctx := context.Background()
	vm := mustCompute(ctx, c)
	n, err := c.Create(ctx, "/network/", &occi.Entity{Kind: occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "network"}})
	if err != nil {
		log.Fatal(err)
	}
	l, err := c.Link(ctx, "networkinterface", c.URL(vm.Location), n.Location, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Kind.Term, l.Source == vm.Location, l.Target == n.Location)
	if err := c.Unlink(ctx, l.Location); err != nil {
		log.Fatal(err)
	}
	fmt.Println(occi.ErrorCode(c.Unlink(ctx, vm.Location)))
	// Output:
	// networkinterface true true
	// InvalidArgument
}

func ExampleClient_Resolve() {
	c, stop := newClient("text")
	defer stop()
	t, err := c.Resolve(context.Background(), "/compute")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Type == occi.TargetKindCollection, t.Category.Term, t.Path)
	// Output: true compute /compute/
}

func ExampleClient_Attributes() {
	c, stop := newClient("text")
	defer stop()
	// Types come from the server's definitions: the hostname is a string
	// even if it looks like a number; cores is an integer, memory a float.
	attrs, err := c.Attributes(context.Background(), []string{
		"occi.compute.hostname=42", "occi.compute.cores=2", "occi.compute.memory=4", "com.example.tags=[\"a\",\"b\"]",
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range []string{"occi.compute.hostname", "occi.compute.cores", "occi.compute.memory", "com.example.tags"} {
		fmt.Printf("%s %T %v\n", k, attrs[k], attrs[k])
	}
	// Output:
	// occi.compute.hostname string 42
	// occi.compute.cores int64 2
	// occi.compute.memory float64 4
	// com.example.tags []interface {} [a b]
}

func ExampleParseValue() {
	for _, s := range []string{"2", "2.5", "true", "null", `"2"`, "web 1", `{"a":1}`} {
		v, _ := occiclient.ParseValue(s)
		fmt.Printf("%T %v\n", v, v)
	}
	// Output:
	// int64 2
	// float64 2.5
	// bool true
	// <nil> <nil>
	// string 2
	// string web 1
	// map[string]interface {} map[a:1]
}

func ExampleParseAttribute() {
	name, v, err := occiclient.ParseAttribute("occi.compute.cores=4")
	fmt.Printf("%s %T %v %v\n", name, v, v, err)
	_, _, err = occiclient.ParseAttribute("cores")
	fmt.Println(err)
	// Output:
	// occi.compute.cores int64 4 <nil>
	// attribute "cores": want name=value
}

func ExampleFormatValue() {
	for _, v := range []any{int64(2), 2.5, true, nil, "text", []any{int64(1), "a"}} {
		fmt.Println(occiclient.FormatValue(v))
	}
	// Output:
	// 2
	// 2.5
	// true
	// null
	// text
	// [1,"a"]
}

func ExampleErrorText() {
	c, stop := newClient("text")
	defer stop()
	_, err := c.Get(context.Background(), "/compute/none")
	fmt.Println(occiclient.FromServer(err), occiclient.ErrorText(err))
	_, err = c.Kind(context.Background(), "nothing")
	fmt.Println(occiclient.FromServer(err), occiclient.ErrorText(err))
	// Output:
	// true nothing at /compute/none (404 Not Found)
	// false the server has no kind "nothing"
}

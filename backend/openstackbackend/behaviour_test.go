package openstackbackend

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// These tests drive the driver against the fake cloud and check what
// OpenStack was asked and what a user of the driver sees.

func computeEntity(id string) *occi.Entity {
	return &occi.Entity{ID: id, Kind: kindCompute, Location: "/compute/" + id, Owner: "alice", Attributes: occi.Attributes{}}
}

func mustCreate(t *testing.T, d *Driver, req backend.CreateRequest) backend.Observation {
	t.Helper()
	o, err := d.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("Create(%s): %v", req.Entity.Location, err)
	}
	req.Entity.BackendRef = o.Ref
	return o
}

func TestCreateServerRequest(t *testing.T) {
	f := newFakeCloud(t)
	d := openFake(t, f, Options{})
	e := computeEntity("c1")
	e.Title = "web"
	e.Mixins = []occi.CategoryID{mixinSSHKey, mixinUserData}
	e.Attributes[attrUserData] = "#!/bin/sh\necho hi\n"
	e.Attributes[attrSSHKey] = "ssh-ed25519 AAAAC3Nza alice@host"
	o := mustCreate(t, d, backend.CreateRequest{Entity: e, OSTemplate: "tinyos", ResourceTemplate: "m1.small"})
	if o.State != stateActive || o.Attributes[attrCores] != int64(1) || o.Attributes[attrMemory] != 2.0 {
		t.Errorf("Create: got %+v, want active with 1 core and 2 GiB", o)
	}
	body := f.lastBody["POST /compute/v2.1/servers"]["server"].(map[string]any)
	want := map[string]any{
		"name": "web", "imageRef": "11111111-1111-1111-1111-111111111111", "flavorRef": "2", "networks": "none",
		"user_data": base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n")),
		"key_name":  "occi-c1",
		"metadata":  map[string]any{"occi_id": "c1", "occi_location": "/compute/c1"},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("Nova create body (-want +got):\n%s", diff)
	}
	if f.keypairs["occi-c1"] != "ssh-ed25519 AAAAC3Nza alice@host" {
		t.Errorf("keypair occi-c1 = %q, want the entity's key", f.keypairs["occi-c1"])
	}
	if err := d.Delete(context.Background(), e); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := f.keypairs["occi-c1"]; ok {
		t.Errorf("keypair occi-c1 still exists after Delete")
	}
	if o, err := d.Observe(context.Background(), e); err != nil || !o.Gone {
		t.Errorf("Observe after Delete: %+v, %v; want Gone", o, err)
	}
}

func TestCreateServerChoices(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		osTpl, res string
		attrs      occi.Attributes
		wantFlavor string
		wantCode   occi.Code
	}{
		{name: "smallest that fits", osTpl: "tinyos", attrs: occi.Attributes{attrCores: int64(2), attrMemory: 3.0}, wantFlavor: "3"},
		{name: "smallest overall", osTpl: "tinyos", wantFlavor: "1"},
		{name: "default flavor", opts: Options{DefaultFlavor: "m1.small"}, osTpl: "tinyos", wantFlavor: "2"},
		{name: "default image", opts: Options{DefaultImage: "tinyos"}, wantFlavor: "1"},
		{name: "flavor by id when its name is no term", osTpl: "tinyos", res: "4", wantFlavor: "4"},
		{name: "too big", osTpl: "tinyos", attrs: occi.Attributes{attrCores: int64(64)}, wantCode: occi.InvalidArgument},
		{name: "unknown flavor", osTpl: "tinyos", res: "m9.huge", wantCode: occi.InvalidArgument},
		{name: "unknown image", osTpl: "nothing", wantCode: occi.InvalidArgument},
		{name: "no image", wantCode: occi.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			d := openFake(t, f, tt.opts)
			e := computeEntity("c")
			for k, v := range tt.attrs {
				e.Attributes[k] = v
			}
			_, err := d.Create(context.Background(), backend.CreateRequest{Entity: e, OSTemplate: tt.osTpl, ResourceTemplate: tt.res})
			if got := d.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Create: code %v (%v), want %v", got, err, tt.wantCode)
			}
			if err != nil {
				if len(f.servers) != 0 {
					t.Errorf("a refused Create left %d servers", len(f.servers))
				}
				return
			}
			body := f.lastBody["POST /compute/v2.1/servers"]["server"].(map[string]any)
			if body["flavorRef"] != tt.wantFlavor {
				t.Errorf("flavorRef %v, want %v", body["flavorRef"], tt.wantFlavor)
			}
		})
	}
}

func TestCreateServerError(t *testing.T) {
	f := newFakeCloud(t)
	f.failAction["create"] = "No valid host was found. There are not enough hosts available."
	d := openFake(t, f, Options{})
	o := mustCreate(t, d, backend.CreateRequest{Entity: computeEntity("c"), OSTemplate: "tinyos"})
	if o.State != stateError || o.Message != "No valid host was found. There are not enough hosts available." || o.Ref == "" {
		t.Errorf("Create into ERROR: got %+v, want state error with Nova's fault and the server's ref", o)
	}
}

func TestActServer(t *testing.T) {
	tests := []struct {
		name      string
		prep      []occi.CategoryID // actions run first
		action    occi.CategoryID
		method    string
		fail      string // fake action that ends in ERROR
		conflict  string // fake action answered 409
		wantState string
		wantCode  occi.Code
		wantCall  string
	}{
		{name: "stop", action: actionStop, wantState: stateInactive, wantCall: "os-stop"},
		{name: "start", prep: []occi.CategoryID{actionStop}, action: actionStart, wantState: stateActive, wantCall: "os-start"},
		{name: "restart warm", action: actionRestart, method: "warm", wantState: stateActive, wantCall: "reboot"},
		{name: "suspend", action: actionSuspend, wantState: stateSuspended, wantCall: "suspend"},
		{name: "hibernate shelves", action: actionSuspend, method: "hibernate", wantState: stateSuspended, wantCall: "shelve"},
		{name: "start resumes", prep: []occi.CategoryID{actionSuspend}, action: actionStart, wantState: stateActive, wantCall: "resume"},
		{name: "stop refused when inactive", prep: []occi.CategoryID{actionStop}, action: actionStop, wantCode: occi.FailedPrecondition},
		{name: "start refused when active", action: actionStart, wantCode: occi.FailedPrecondition},
		{name: "restart refused when inactive", prep: []occi.CategoryID{actionStop}, action: actionRestart, wantCode: occi.FailedPrecondition},
		{name: "failed stop is error with fault", action: actionStop, fail: "os-stop", wantState: stateError, wantCall: "os-stop"},
		{name: "nova conflict", action: actionStop, conflict: "os-stop", wantCode: occi.FailedPrecondition},
		{name: "network action on compute", action: actionUp, wantCode: occi.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			d := openFake(t, f, Options{})
			e := computeEntity("c")
			mustCreate(t, d, backend.CreateRequest{Entity: e, OSTemplate: "tinyos"})
			ctx := context.Background()
			for _, p := range tt.prep {
				if _, err := d.Act(ctx, e, &occi.ActionInvocation{Action: p}, nil); err != nil {
					t.Fatalf("Act(%s) to prepare: %v", p.Term, err)
				}
			}
			if tt.fail != "" {
				f.failAction[tt.fail] = "Unexpected error while stopping"
			}
			if tt.conflict != "" {
				f.conflict[tt.conflict] = true
			}
			var progress []string
			o, err := d.Act(ctx, e, &occi.ActionInvocation{Action: tt.action, Attributes: occi.Attributes{paramMethod: tt.method}},
				func(o backend.Observation) { progress = append(progress, o.State+"/"+o.Message) })
			if got := d.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Act(%s): code %v (%v), want %v", tt.action.Term, got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if o.State != tt.wantState {
				t.Errorf("Act(%s): state %q (%s), want %q", tt.action.Term, o.State, o.Message, tt.wantState)
			}
			if tt.fail != "" && o.Message != "Unexpected error while stopping" {
				t.Errorf("Act(%s) into ERROR: message %q, want Nova's fault", tt.action.Term, o.Message)
			}
			if len(progress) == 0 || !strings.Contains(progress[0], "ing") {
				t.Errorf("Act(%s): progress %q, want the task in progress shown in the message", tt.action.Term, progress)
			}
			last := f.lastBody["POST /compute/v2.1/servers/"+e.BackendRef+"/action"]
			if _, ok := last[tt.wantCall]; !ok {
				t.Errorf("Act(%s): last Nova action %v, want %s", tt.action.Term, last, tt.wantCall)
			}
			if tt.method == "warm" {
				if got := last["reboot"].(map[string]any)["type"]; got != "SOFT" {
					t.Errorf("restart warm: reboot type %v, want SOFT", got)
				}
			}
		})
	}
}

func TestSave(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		saveName  string
		upload    string
		wantState string
		wantCode  occi.Code
	}{
		{name: "hot", method: "hot", saveName: "snap1", wantState: backend.TemplateReady},
		{name: "deferred", method: "deferred", saveName: "snap2", wantState: backend.TemplateReady},
		{name: "misspelt deferred", method: "deffered", saveName: "snap3", wantState: backend.TemplateReady},
		{name: "upload killed", method: "hot", saveName: "snap4", upload: "boom", wantState: backend.TemplateError},
		{name: "name taken", method: "hot", saveName: "tinyos", wantCode: occi.AlreadyExists},
		{name: "bad method", method: "lukewarm", saveName: "snap5", wantCode: occi.InvalidArgument},
		{name: "bad name", method: "hot", saveName: "-x", wantCode: occi.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			d := openFake(t, f, Options{})
			e := computeEntity("c")
			mustCreate(t, d, backend.CreateRequest{Entity: e, OSTemplate: "tinyos"})
			f.failAction["upload"] = tt.upload
			f.requests = nil
			ctx := context.Background()
			tpl, err := d.Save(ctx, backend.SaveRequest{Entity: e, Method: tt.method, Name: tt.saveName, Title: "my snapshot"}, nil)
			if got := d.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Save: code %v (%v), want %v", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if tpl.Name != tt.saveName || tpl.Source != e.Location || tpl.Owner != "alice" || tpl.Title != "my snapshot" || tpl.Type != backend.OSTemplate {
				t.Errorf("Save returned %+v, want os_tpl %s from %s owned by alice", tpl, tt.saveName, e.Location)
			}
			body := f.lastBody["POST /compute/v2.1/servers/"+e.BackendRef+"/action"]
			if ci, ok := body["createImage"].(map[string]any); ok {
				want := map[string]any{"name": tt.saveName, "metadata": map[string]any{"occi_source": e.Location, "occi_owner": "alice", "occi_title": "my snapshot"}}
				if diff := cmp.Diff(want, ci); diff != "" {
					t.Errorf("createImage body (-want +got):\n%s", diff)
				}
			} else if tt.method == "hot" {
				t.Errorf("last Nova action %v, want createImage", body)
			}
			actions := slices.DeleteFunc(slices.Clone(f.requests), func(r string) bool { return !strings.HasSuffix(r, "/action") })
			wantActions := 1
			if tt.method != "hot" {
				wantActions = 3 // os-stop, createImage, os-start
			}
			if len(actions) != wantActions {
				t.Errorf("Nova actions %q, want %d", actions, wantActions)
			}
			var got backend.Template
			for range 10 {
				ts, err := d.Templates(ctx)
				if err != nil {
					t.Fatalf("Templates: %v", err)
				}
				if p := findTemplate(ts, backend.OSTemplate, tt.saveName); p != nil {
					got = *p
				}
				if got.State != backend.TemplateSaving {
					break
				}
			}
			if got.State != tt.wantState || got.Source != e.Location || got.Owner != "alice" || got.Title != "my snapshot" {
				t.Errorf("Templates shows %+v, want state %s with source, owner and title", got, tt.wantState)
			}
			if o, err := d.Observe(ctx, e); err != nil || o.State != stateActive {
				t.Errorf("compute after save: %+v, %v; want active", o, err)
			}
			if err := d.DeleteTemplate(ctx, tt.saveName); err != nil {
				t.Errorf("DeleteTemplate: %v", err)
			}
			if err := d.DeleteTemplate(ctx, "tinyos"); d.ErrorCode(err) != occi.PermissionDenied {
				t.Errorf("DeleteTemplate(tinyos): %v, want PermissionDenied for a provider image", err)
			}
		})
	}
}

func TestTemplatesNames(t *testing.T) {
	f := newFakeCloud(t)
	f.images["44444444-4444-4444-4444-444444444444"] = map[string]any{"id": "44444444-4444-4444-4444-444444444444", "name": "tinyos", "status": "queued"}
	d := openFake(t, f, Options{})
	ts, err := d.Templates(context.Background())
	if err != nil {
		t.Fatalf("Templates: %v", err)
	}
	var got []string
	for _, tp := range ts {
		got = append(got, tp.Name+"="+tp.State)
	}
	wantSet := []string{
		"m1.tiny=ready", "m1.small=ready", "m1.medium=ready", "4=ready", // "bad name" is no term: its ID
		"11111111-1111-1111-1111-111111111111=ready", "44444444-4444-4444-4444-444444444444=saving", // two "tinyos": IDs
		"22222222-2222-2222-2222-222222222222=ready", // "Debian 12" is no term
	}
	slices.Sort(got)
	slices.Sort(wantSet)
	if diff := cmp.Diff(wantSet, got); diff != "" {
		t.Errorf("template names (-want +got), the shelved snapshot hidden:\n%s", diff)
	}
}

func TestUpdateServer(t *testing.T) {
	resTpl := func(term string) occi.CategoryID {
		return occi.CategoryID{Scheme: "http://occid.local/occi/resource_tpl#", Term: term}
	}
	osTpl := func(term string) occi.CategoryID {
		return occi.CategoryID{Scheme: "http://occid.local/occi/os_tpl#", Term: term}
	}
	tests := []struct {
		name      string
		change    func(e *occi.Entity)
		wantCall  string
		wantCores any
		wantCode  occi.Code
	}{
		{name: "new resource_tpl resizes", change: func(e *occi.Entity) { e.Mixins = []occi.CategoryID{osTpl("tinyos"), resTpl("m1.medium")} }, wantCall: "confirmResize", wantCores: int64(2)},
		{name: "more cores resize", change: func(e *occi.Entity) { e.Attributes[attrCores] = int64(2) }, wantCall: "confirmResize", wantCores: int64(2)},
		{name: "new os_tpl rebuilds", change: func(e *occi.Entity) {
			e.Mixins = []occi.CategoryID{osTpl("22222222-2222-2222-2222-222222222222"), resTpl("m1.tiny")}
		}, wantCall: "rebuild", wantCores: int64(1)},
		{name: "userdata is once", change: func(e *occi.Entity) { e.Attributes[attrUserData] = "new" }, wantCode: occi.FailedPrecondition},
		{name: "ssh key is once", change: func(e *occi.Entity) { e.Attributes[attrSSHKey] = "ssh-rsa AAAA" }, wantCode: occi.FailedPrecondition},
		{name: "rename", change: func(e *occi.Entity) { e.Title = "renamed" }, wantCores: int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			d := openFake(t, f, Options{})
			e := computeEntity("c")
			e.Mixins = []occi.CategoryID{osTpl("tinyos"), resTpl("m1.tiny")}
			mustCreate(t, d, backend.CreateRequest{Entity: e, OSTemplate: "tinyos", ResourceTemplate: "m1.tiny"})
			upd := e.Clone()
			tt.change(upd)
			o, err := d.Update(context.Background(), e, upd)
			if got := d.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Update: code %v (%v), want %v", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if o.State != stateActive || o.Attributes[attrCores] != tt.wantCores {
				t.Errorf("Update: %+v, want active with %v cores", o, tt.wantCores)
			}
			if tt.wantCall != "" {
				if _, ok := f.lastBody["POST /compute/v2.1/servers/"+e.BackendRef+"/action"][tt.wantCall]; !ok {
					t.Errorf("last Nova action %v, want %s", f.lastBody["POST /compute/v2.1/servers/"+e.BackendRef+"/action"], tt.wantCall)
				}
			}
			if tt.name == "rename" && f.servers[e.BackendRef].body["name"] != "renamed" {
				t.Errorf("server name %v, want renamed", f.servers[e.BackendRef].body["name"])
			}
		})
	}
}

func TestStorage(t *testing.T) {
	f := newFakeCloud(t)
	d := openFake(t, f, Options{})
	ctx := context.Background()
	st := &occi.Entity{ID: "s", Kind: kindStorage, Location: "/storage/s", Title: "data", Attributes: occi.Attributes{attrStorageSize: 1.5}}
	o := mustCreate(t, d, backend.CreateRequest{Entity: st})
	if o.State != stateOnline || o.Attributes[attrStorageSize] != 2.0 {
		t.Errorf("Create storage: %+v, want online with 2 GiB (1.5 rounded up)", o)
	}
	if got := f.lastBody["POST /volume/v3/proj1/volumes"]["volume"].(map[string]any)["name"]; got != "data" {
		t.Errorf("volume name %v, want data", got)
	}
	grow := st.Clone()
	grow.Attributes[attrStorageSize] = 5.0
	if o, err := d.Update(ctx, st, grow); err != nil || o.Attributes[attrStorageSize] != 5.0 {
		t.Errorf("grow to 5 GiB: %+v, %v", o, err)
	}
	shrink := grow.Clone()
	shrink.Attributes[attrStorageSize] = 1.0
	if _, err := d.Update(ctx, grow, shrink); d.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("shrink: %v, want FailedPrecondition", err)
	}
	bad := &occi.Entity{ID: "b", Kind: kindStorage, Location: "/storage/b", Attributes: occi.Attributes{attrStorageSize: -1.0}}
	if _, err := d.Create(ctx, backend.CreateRequest{Entity: bad}); d.ErrorCode(err) != occi.InvalidArgument {
		t.Errorf("negative size: %v, want InvalidArgument", err)
	}

	c := computeEntity("c")
	mustCreate(t, d, backend.CreateRequest{Entity: c, OSTemplate: "tinyos"})
	link := &occi.Entity{ID: "l", Kind: kindStorageLink, Location: "/storagelink/l", Source: c.Location, Target: st.Location, Attributes: occi.Attributes{attrDeviceID: "/dev/vdc"}}
	lo := mustCreate(t, d, backend.CreateRequest{Entity: link, Source: c, Target: st})
	if lo.State != stateActive || lo.Attributes[attrDeviceID] != "/dev/vdc" {
		t.Errorf("attach: %+v, want active on /dev/vdc", lo)
	}
	if err := d.Delete(ctx, st); d.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("delete an attached volume: %v, want FailedPrecondition", err)
	}
	if err := d.Delete(ctx, link); err != nil {
		t.Fatalf("detach: %v", err)
	}
	if o, err := d.Observe(ctx, link); err != nil || !o.Gone {
		t.Errorf("Observe a detached link: %+v, %v; want Gone", o, err)
	}
	if err := d.Delete(ctx, st); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, ok := f.volumes[st.BackendRef]; ok {
		t.Errorf("volume %s still exists after Delete", st.BackendRef)
	}
}

func TestNetwork(t *testing.T) {
	f := newFakeCloud(t)
	d := openFake(t, f, Options{})
	ctx := context.Background()
	n := &occi.Entity{ID: "n", Kind: kindNetwork, Location: "/network/n", Mixins: []occi.CategoryID{mixinIPNetwork}, Attributes: occi.Attributes{
		attrNetAddress: "192.168.7.0/24", attrNetGateway: "192.168.7.254", attrNetAllocation: "static"}}
	o := mustCreate(t, d, backend.CreateRequest{Entity: n})
	want := occi.Attributes{attrNetAddress: "192.168.7.0/24", attrNetGateway: "192.168.7.254", attrNetAllocation: "static"}
	if o.State != stateInactive {
		t.Errorf("Create network: state %q, want inactive (OCCI's initial state)", o.State)
	}
	if diff := cmp.Diff(want, o.Attributes); diff != "" {
		t.Errorf("network attributes (-want +got):\n%s", diff)
	}
	sb := f.lastBody["POST /network/v2.0/subnets"]["subnet"].(map[string]any)
	if sb["cidr"] != "192.168.7.0/24" || sb["gateway_ip"] != "192.168.7.254" || sb["enable_dhcp"] != false || sb["ip_version"] != 4.0 {
		t.Errorf("subnet body %v, want the CIDR, gateway, DHCP off, IPv4", sb)
	}
	if o, err := d.Act(ctx, n, &occi.ActionInvocation{Action: actionUp}, nil); err != nil || o.State != stateActive {
		t.Errorf("up: %+v, %v; want active", o, err)
	}
	if _, err := d.Act(ctx, n, &occi.ActionInvocation{Action: actionUp}, nil); d.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("up when active: %v, want FailedPrecondition", err)
	}
	c := computeEntity("c")
	mustCreate(t, d, backend.CreateRequest{Entity: c, OSTemplate: "tinyos"})
	ni := &occi.Entity{ID: "i", Kind: kindNetworkInterface, Location: "/networkinterface/i", Mixins: []occi.CategoryID{mixinIPNetworkInterface},
		Attributes: occi.Attributes{attrIfaceAddress: "192.168.7.20", attrIfaceAllocation: "static"}}
	io := mustCreate(t, d, backend.CreateRequest{Entity: ni, Source: c, Target: n})
	if io.State != stateActive || io.Attributes[attrIfaceAddress] != "192.168.7.20" || io.Attributes[attrIfaceGateway] != "192.168.7.254" || io.Attributes[attrIfaceMAC] == "" {
		t.Errorf("interface: %+v, want active with its address, the gateway and a MAC", io)
	}
	pb := f.lastBody["POST /network/v2.0/ports"]["port"].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"ip_address": "192.168.7.20"}}, pb["fixed_ips"]); diff != "" {
		t.Errorf("port fixed_ips (-want +got):\n%s", diff)
	}
	if err := d.Delete(ctx, n); d.ErrorCode(err) != occi.FailedPrecondition {
		t.Errorf("delete a network in use: %v, want FailedPrecondition", err)
	}
	if err := d.Delete(ctx, ni); err != nil {
		t.Fatalf("delete interface: %v", err)
	}
	if len(f.ports) != 0 {
		t.Errorf("%d ports left after deleting the interface", len(f.ports))
	}
	if err := d.Delete(ctx, n); err != nil {
		t.Errorf("delete network: %v", err)
	}
	vlan := &occi.Entity{ID: "v", Kind: kindNetwork, Location: "/network/v", Attributes: occi.Attributes{attrVLAN: int64(42)}}
	if _, err := d.Create(ctx, backend.CreateRequest{Entity: vlan}); d.ErrorCode(err) != occi.PermissionDenied {
		t.Errorf("a provider VLAN as a plain user: %v, want PermissionDenied", err)
	}
	overlap := &occi.Entity{ID: "o", Kind: kindNetwork, Location: "/network/o", Attributes: occi.Attributes{attrNetAddress: "10.99.0.0/16"}}
	if _, err := d.Create(ctx, backend.CreateRequest{Entity: overlap}); d.ErrorCode(err) != occi.InvalidArgument {
		t.Errorf("an overlapping subnet: %v, want InvalidArgument", err)
	}
	if len(f.networks) != 0 {
		t.Errorf("a failed subnet left %d networks", len(f.networks))
	}
}

func TestCapabilitiesFromCatalog(t *testing.T) {
	tests := []struct {
		name                  string
		volume, net, exts     bool
		opts                  Options
		wantStorage, wantNets bool
	}{
		{name: "all", volume: true, net: true, exts: true, wantStorage: true, wantNets: true},
		{name: "no cinder", net: true, exts: true, wantNets: true},
		{name: "no neutron", volume: true, wantStorage: true},
		{name: "neutron stand-in without extensions", volume: true, net: true, wantStorage: true},
		{name: "disabled", volume: true, net: true, exts: true, opts: Options{DisableVolumes: true, DisableNetworks: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.withVolume, f.withNet, f.netExts = tt.volume, tt.net, tt.exts
			d := openFake(t, f, tt.opts)
			c := d.Capabilities()
			if got := slices.Contains(c.Kinds, kindStorage) && slices.Contains(c.Kinds, kindStorageLink); got != tt.wantStorage {
				t.Errorf("storage offered %v, want %v", got, tt.wantStorage)
			}
			if got := slices.Contains(c.Kinds, kindNetwork) && slices.Contains(c.Mixins, mixinIPNetwork) && slices.Contains(c.Actions, actionUp); got != tt.wantNets {
				t.Errorf("network offered %v, want %v", got, tt.wantNets)
			}
			if !slices.Contains(c.Kinds, kindCompute) || !slices.Contains(c.Actions, actionSave) {
				t.Errorf("compute or save not offered: %+v", c)
			}
			if !tt.wantStorage {
				_, err := d.Create(context.Background(), backend.CreateRequest{Entity: &occi.Entity{ID: "s", Kind: kindStorage, Location: "/storage/s", Attributes: occi.Attributes{attrStorageSize: 1.0}}})
				if d.ErrorCode(err) != occi.Unimplemented {
					t.Errorf("create storage where not offered: %v, want Unimplemented", err)
				}
			}
		})
	}
}

func TestKeystone(t *testing.T) {
	f := newFakeCloud(t)
	t.Run("bad password", func(t *testing.T) {
		t.Setenv("OS_AUTH_URL", f.authURL())
		t.Setenv("OS_USERNAME", "alice")
		t.Setenv("OS_PASSWORD", "wrong")
		t.Setenv("OS_PROJECT_NAME", "p")
		_, err := Open(context.Background(), Options{})
		if got := occi.ErrorCode(err); got != occi.Unauthenticated {
			t.Errorf("Open with a bad password: code %v (%v), want Unauthenticated", got, err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("OS_AUTH_URL", "")
		_, err := Open(context.Background(), Options{})
		if got := occi.ErrorCode(err); got != occi.InvalidArgument || !strings.Contains(err.Error(), "OS_AUTH_URL") {
			t.Errorf("Open without OS_AUTH_URL: code %v (%v), want InvalidArgument naming OS_AUTH_URL", got, err)
		}
	})
	t.Run("keystone down", func(t *testing.T) {
		t.Setenv("OS_AUTH_URL", "http://127.0.0.1:1/v3")
		t.Setenv("OS_USERNAME", "alice")
		t.Setenv("OS_PASSWORD", "secret")
		_, err := Open(context.Background(), Options{})
		if got := occi.ErrorCode(err); got != occi.Unavailable {
			t.Errorf("Open with Keystone down: code %v (%v), want Unavailable", got, err)
		}
	})
	t.Run("token pass-through", func(t *testing.T) {
		svc := openFake(t, f, Options{})
		tok, _ := svc.svc.provider.GetAuthResult().ExtractTokenID()
		d, err := Open(context.Background(), Options{TokenOnly: true, AuthURL: f.authURL(), Services: []string{"volumev3"}, PollInterval: 1})
		if err != nil {
			t.Fatalf("Open token-only: %v", err)
		}
		defer d.Close()
		if !slices.Contains(d.Capabilities().Kinds, kindStorage) || slices.Contains(d.Capabilities().Kinds, kindNetwork) {
			t.Errorf("token-only capabilities %v, want storage (from Services) and no network", d.Capabilities().Kinds)
		}
		ctx := context.Background()
		if _, err := d.Templates(ctx); d.ErrorCode(err) != occi.Unauthenticated {
			t.Errorf("no token: %v, want Unauthenticated", err)
		}
		f.requests = nil
		if _, err := d.Templates(WithToken(ctx, tok)); err != nil {
			t.Errorf("with the caller's token: %v", err)
		}
		if !slices.Contains(f.requests, "GET /identity/v3/auth/tokens") {
			t.Errorf("the caller's token was not validated with Keystone: requests %q", f.requests)
		}
		if _, err := d.Templates(WithToken(ctx, "forged")); d.ErrorCode(err) != occi.Unauthenticated {
			t.Errorf("forged token: %v, want Unauthenticated", err)
		}
		f.forbidden[tok] = true
		if _, err := d.Templates(WithToken(ctx, tok)); d.ErrorCode(err) != occi.PermissionDenied {
			t.Errorf("a token the services refuse: %v, want PermissionDenied", err)
		}
		id, err := d.Authenticate(ctx, tok)
		if diff := cmp.Diff(occi.Identity{User: "user1", Groups: []string{"proj1"}}, id); err != nil || diff != "" {
			t.Errorf("Authenticate: %v, identity (-want +got):\n%s", err, diff)
		}
	})
	t.Run("service down", func(t *testing.T) {
		d := openFake(t, f, Options{})
		f.mu.Lock()
		f.down = true
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.down = false; f.mu.Unlock() }()
		_, err := d.Templates(context.Background())
		if got := d.ErrorCode(err); got != occi.Unavailable {
			t.Errorf("Templates with Nova down: code %v (%v), want Unavailable", got, err)
		}
	})
}

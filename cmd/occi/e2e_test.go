package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var renderings = []struct{ name, flag, mediaType string }{
	{"text-plain", "text", "text/plain"},
	{"text-occi", "occi", "text/occi"},
	{"json", "json", "application/occi+json"},
}

// jsonObject parses stdout as one JSON object.
func jsonObject(t *testing.T, r result) map[string]any {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r)
	}
	return o
}

// jsonEntities parses stdout as an OCCI JSON collection.
func jsonEntities(t *testing.T, r result) []map[string]any {
	t.Helper()
	var o struct {
		Resources []map[string]any `json:"resources"`
		Links     []map[string]any `json:"links"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("stdout is not a JSON collection: %v\n%s", err, r)
	}
	return append(o.Resources, o.Links...)
}

func locationsOf(es []map[string]any) []string {
	var out []string
	for _, e := range es {
		if l, ok := e["location"].(string); ok {
			out = append(out, l)
		}
	}
	return out
}

// line returns the first stdout line of a quiet run.
func line(t *testing.T, r result) string {
	t.Helper()
	l, _, _ := strings.Cut(strings.TrimSpace(r.stdout), "\n")
	if l == "" {
		t.Fatalf("no output: %s", r)
	}
	return l
}

// wantMatch fails unless s matches the regular expression.
func wantMatch(t *testing.T, what, s, expr string) {
	t.Helper()
	if !regexp.MustCompile(expr).MatchString(s) {
		t.Errorf("%s: got\n%s\nwant a match for %q", what, s, expr)
	}
}

func wantCode(t *testing.T, r result, code int, stderrMentions ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("got exit code %d, want %d\n%s", r.code, code, r)
	}
	for _, m := range stderrMentions {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("stderr %q does not mention %q", r.stderr, m)
		}
	}
}

// TestEndToEnd runs every command against a live occid (the sim backend
// with operations that take time, so that save --wait shows progress), in
// each rendering.
func TestEndToEnd(t *testing.T) {
	srv := startOccid(t, "--backend", "sim://?delay=100ms")
	for _, rd := range renderings {
		t.Run(rd.name, func(t *testing.T) {
			env := map[string]string{"OCCI_ENDPOINT": srv.url, "OCCI_RENDERING": rd.flag}
			endToEnd(t, srv, env)
		})
	}
}

func endToEnd(t *testing.T, srv *server, env map[string]string) {
	abs := func(p string) string { return srv.url + p }
	path := func(u string) string { return strings.TrimPrefix(u, srv.url) }

	t.Run("model", func(t *testing.T) {
		r := ok(t, env, "model", "--kinds")
		wantMatch(t, "model --kinds", r.stdout, `(?m)^CLASS\s+TERM\s+SCHEME\s+LOCATION\s+TITLE$`)
		wantMatch(t, "model --kinds", r.stdout, `(?m)^kind\s+compute\s+http://schemas.ogf.org/occi/infrastructure#\s+/compute/\s+Compute Resource$`)
		if strings.Contains(r.stdout, "mixin ") || strings.Contains(r.stdout, "action ") {
			t.Errorf("model --kinds shows mixins or actions:\n%s", r.stdout)
		}
		r = ok(t, env, "model", "compute", "--actions", "-q")
		got := strings.Fields(r.stdout)
		for _, a := range []string{"start", "stop", "restart", "suspend", "save"} {
			if !slices.Contains(got, "http://schemas.ogf.org/occi/infrastructure/compute/action#"+a) {
				t.Errorf("model compute --actions: got %v, want action %s", got, a)
			}
		}
		if len(got) != 5 {
			t.Errorf("model compute --actions: got %d actions, want 5", len(got))
		}
		o := jsonObject(t, ok(t, env, "model", "--mixins", "--output", "json"))
		if _, has := o["kinds"]; has {
			t.Errorf("model --mixins --output json has kinds")
		}
		found := false
		for _, m := range o["mixins"].([]any) {
			mm := m.(map[string]any)
			if mm["term"] == "ubuntu-24.04" && mm["location"] == abs("/os_tpl/ubuntu-24.04/") {
				found = true
			}
		}
		if !found {
			t.Errorf("model --mixins --output json: no ubuntu-24.04 OS template at %s", abs("/os_tpl/ubuntu-24.04/"))
		}
		r = ok(t, env, "model", "ssh_key", "--output", "text")
		wantMatch(t, "model ssh_key --output text", r.stdout, `^Category: ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"; class="mixin"`)
	})

	net := line(t, ok(t, env, "create", "network", "--title", "net1", "--mixin", "ipnetwork",
		"--attr", "occi.network.address=10.1.0.0/24", "-q"))
	disk := line(t, ok(t, env, "create", "storage", "--title", "disk1", "--attr", "occi.storage.size=2", "-q"))
	if !strings.HasPrefix(net, srv.url+"/network/") || !strings.HasPrefix(disk, srv.url+"/storage/") {
		t.Fatalf("create -q printed %q and %q, want absolute locations of a network and a storage", net, disk)
	}

	var vm string
	t.Run("create compute", func(t *testing.T) {
		r := ok(t, env, "create", "compute", "--os-tpl", "ubuntu-24.04", "--resource-tpl", "small",
			"--title", "web 1", "--attr", "occi.compute.hostname=42", "--mixin", "ssh_key",
			"--attr", "occi.credentials.ssh.publickey=ssh-ed25519 AAAAC3 test",
			"--link", "networkinterface:"+net+",mixin=ipnetworkinterface,occi.networkinterface.address=10.1.0.5",
			"--link", "storagelink:"+path(disk)+",occi.storagelink.deviceid=vdb",
			"--output", "json")
		o := jsonObject(t, r)
		vm, _ = o["location"].(string)
		if !strings.HasPrefix(vm, srv.url+"/compute/") {
			t.Fatalf("location: got %q, want a compute under %s", vm, srv.url)
		}
		if o["kind"] != "http://schemas.ogf.org/occi/infrastructure#compute" || o["title"] != "web 1" {
			t.Errorf("kind %v title %v, want compute titled web 1", o["kind"], o["title"])
		}
		attrs, _ := o["attributes"].(map[string]any)
		// The server defines the hostname as a string: 42 stays "42".
		if attrs["occi.compute.hostname"] != "42" || attrs["occi.compute.cores"] != 1.0 || attrs["occi.compute.state"] != "inactive" {
			t.Errorf("attributes: got hostname %#v cores %#v state %#v, want \"42\", 1 (from small), inactive",
				attrs["occi.compute.hostname"], attrs["occi.compute.cores"], attrs["occi.compute.state"])
		}
		var mixins []string
		for _, m := range o["mixins"].([]any) {
			mixins = append(mixins, m.(string))
		}
		for _, want := range []string{"http://occid.local/occi/os_tpl#ubuntu-24.04", "http://occid.local/occi/resource_tpl#small",
			"http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key"} {
			if !slices.Contains(mixins, want) {
				t.Errorf("mixins: got %v, want %s", mixins, want)
			}
		}
		links, _ := o["links"].([]any)
		if len(links) != 2 {
			t.Fatalf("links: got %d, want 2: %v", len(links), links)
		}
	})
	if vm == "" {
		t.FailNow()
	}

	t.Run("describe", func(t *testing.T) {
		r := ok(t, env, "describe", vm)
		for _, expr := range []string{
			`(?m)^LOCATION\s+` + regexp.QuoteMeta(vm) + `$`,
			`(?m)^KIND\s+http://schemas.ogf.org/occi/infrastructure#compute$`,
			`(?m)^TITLE\s+web 1$`,
			`(?m)^STATE\s+inactive$`,
			`(?m)^ACTIONS\s+start$`,
			`(?m)^\s+occi.compute.hostname\s+42$`,
			`(?m)^LINKS\s+/networkinterface/\S+\s+networkinterface -> /network/\S+\s+\S+$`,
			`(?m)^\s+/storagelink/\S+\s+storagelink -> ` + regexp.QuoteMeta(path(disk)),
		} {
			wantMatch(t, "describe", r.stdout, expr)
		}
		r = ok(t, env, "describe", path(vm), "--output", "text")
		for _, want := range []string{
			`Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"`,
			`X-OCCI-Attribute: occi.compute.hostname="42"`,
			`X-OCCI-Attribute: occi.core.title="web 1"`,
			`Link: <` + srv.url + `/compute/`,
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("describe --output text: no %q in\n%s", want, r.stdout)
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		o := jsonObject(t, ok(t, env, "update", vm, "--title", "web 2", "--attr", "occi.compute.hostname=web2.example.org", "--output", "json"))
		attrs, _ := o["attributes"].(map[string]any)
		if o["title"] != "web 2" || attrs["occi.compute.hostname"] != "web2.example.org" {
			t.Errorf("after update: title %v hostname %v, want web 2 and web2.example.org", o["title"], attrs["occi.compute.hostname"])
		}
		wantCode(t, cli(t, env, "update", vm), exitUsage, "nothing to update")
		wantCode(t, cli(t, env, "update", vm, "--attr", "occi.compute.cores=many"), exitUsage, "occi.compute.cores", "whole number")
	})

	t.Run("list", func(t *testing.T) {
		r := ok(t, env, "list", "compute")
		wantMatch(t, "list compute", r.stdout, `(?m)^LOCATION\s+KIND\s+TITLE\s+STATE\s+DETAILS$`)
		wantMatch(t, "list compute", r.stdout, `(?m)^`+regexp.QuoteMeta(path(vm))+`\s+compute\s+web 2\s+inactive\s+ubuntu-24.04 small ssh_key cores=1 memory=1$`)
		got := locationsOf(jsonEntities(t, ok(t, env, "list", "/compute/", "--output", "json")))
		if !slices.Contains(got, vm) {
			t.Errorf("list /compute/ --output json: got %v, want %s among them", got, vm)
		}
		r = ok(t, env, "list", "os_tpl", "-q")
		if !slices.Contains(strings.Fields(r.stdout), vm) {
			t.Errorf("list os_tpl -q: got %q, want %s", r.stdout, vm)
		}
		r = ok(t, env, "list", "network", "--attr", "occi.core.title=net1", "-q")
		if got := strings.Fields(r.stdout); !slices.Equal(got, []string{net}) {
			t.Errorf("list network --attr occi.core.title=net1: got %v, want [%s]", got, net)
		}
		r = ok(t, env, "list", "--output", "text")
		if !strings.Contains(r.stdout, "X-OCCI-Location: "+vm+"\n") {
			t.Errorf("list --output text: no X-OCCI-Location line for %s in\n%s", vm, r.stdout)
		}
		wantCode(t, cli(t, env, "list", "nothing"), exitNotFound, `"nothing"`)
	})

	t.Run("actions", func(t *testing.T) {
		for _, step := range []struct {
			args  []string
			state string
		}{
			{[]string{"start"}, "active"},
			{[]string{"suspend", "--method", "suspend"}, "suspended"},
			{[]string{"start"}, "active"},
			{[]string{"restart", "--method", "warm"}, "active"},
			{[]string{"stop", "--method", "acpioff"}, "inactive"},
			{[]string{"start"}, "active"},
		} {
			r := ok(t, env, append([]string{"action", vm}, step.args...)...)
			wantMatch(t, "action "+strings.Join(step.args, " "), r.stdout, `(?m)^STATE\s+`+step.state+`$`)
		}
		wantCode(t, cli(t, env, "action", vm, "start"), exitConflict, "409 Conflict")
		wantCode(t, cli(t, env, "action", vm, "stop", "--method", "yank"), exitRejected, "method", "400 Bad Request")
		wantCode(t, cli(t, env, "action", vm, "explode"), exitNotFound, "explode")
		wantCode(t, cli(t, env, "action", net, "up"), exitOK)
	})

	t.Run("save and create from the template", func(t *testing.T) {
		name := "web-" + env["OCCI_RENDERING"]
		r := ok(t, env, "save", vm, "--name", name, "--method", "hot", "--wait", "--interval", "20ms")
		wantMatch(t, "save --wait progress on stderr", r.stderr, `(?m)^saving \S+: saving \d+%`)
		wantMatch(t, "save --wait progress on stderr", r.stderr, `(?m)^saving \S+: ready$`)
		wantMatch(t, "save --wait", r.stdout, `(?m)^STATE\s+ready$`)
		wantMatch(t, "save --wait", r.stdout, `(?m)^TITLE\s+`+name+`$`)
		m := regexp.MustCompile(`(?m)^ID\s+(\S+)$`).FindStringSubmatch(r.stdout)
		loc := regexp.MustCompile(`(?m)^LOCATION\s+(\S+)$`).FindStringSubmatch(r.stdout)
		if m == nil || loc == nil {
			t.Fatalf("save --wait printed no ID or LOCATION:\n%s", r)
		}
		if !strings.HasPrefix(loc[1], srv.url+"/") || !strings.HasSuffix(loc[1], "/") {
			t.Errorf("template location %q: want a collection on %s", loc[1], srv.url)
		}
		id := m[1]
		term := id[strings.LastIndexByte(id, '#')+1:]
		o := jsonObject(t, ok(t, env, "create", "compute", "--os-tpl", term, "--title", "from "+name, "--output", "json"))
		mixins, _ := o["mixins"].([]any)
		if !slices.Contains(mixins, any(id)) || slices.Contains(mixins, any("http://occid.local/occi/os_tpl#ubuntu-24.04")) {
			t.Errorf("compute created from %s has mixins %v, want the saved template and not its source's", id, mixins)
		}
		made, _ := o["location"].(string)
		ok(t, env, "delete", made)

		// Deferred, quiet: only the location on stdout.
		r = ok(t, env, "save", vm, "--method", "deferred", "--wait", "--interval", "20ms", "-q")
		if got := strings.Fields(r.stdout); len(got) != 1 || !strings.HasPrefix(got[0], srv.url+"/users/anonymous/os_tpl/") {
			t.Errorf("save --wait -q: got %q, want one template location below /users/anonymous/os_tpl/", r.stdout)
		}
		wantCode(t, cli(t, env, "save", vm, "--method", "cold"), exitRejected, "method")
		// JSON output of a save without waiting is the new mixin.
		o = jsonObject(t, ok(t, env, "save", vm, "--name", name+"-2", "--output", "json"))
		if o["title"] != name+"-2" || !strings.HasPrefix(o["location"].(string), srv.url) {
			t.Errorf("save --output json: got %v, want the template titled %s-2", o, name)
		}
	})

	t.Run("link and unlink", func(t *testing.T) {
		net2 := line(t, ok(t, env, "create", "network", "-q"))
		r := ok(t, env, "link", vm, net2, "--kind", "networkinterface", "--mixin", "ipnetworkinterface",
			"--attr", "occi.networkinterface.address=10.2.0.7")
		wantMatch(t, "link", r.stdout, `(?m)^KIND\s+http://schemas.ogf.org/occi/infrastructure#networkinterface$`)
		wantMatch(t, "link", r.stdout, `(?m)^SOURCE\s+`+regexp.QuoteMeta(path(vm))+`$`)
		wantMatch(t, "link", r.stdout, `(?m)^TARGET\s+`+regexp.QuoteMeta(path(net2))+`$`)
		loc := regexp.MustCompile(`(?m)^LOCATION\s+(\S+)$`).FindStringSubmatch(r.stdout)
		if loc == nil {
			t.Fatalf("link printed no location:\n%s", r)
		}
		wantMatch(t, "describe after link", ok(t, env, "describe", vm).stdout, regexp.QuoteMeta(path(net2)))
		wantCode(t, cli(t, env, "unlink", vm), exitUsage, "not a link")
		r = ok(t, env, "unlink", loc[1])
		if r.stdout != "deleted "+loc[1]+"\n" {
			t.Errorf("unlink: got %q, want %q", r.stdout, "deleted "+loc[1]+"\n")
		}
		wantCode(t, cli(t, env, "describe", loc[1]), exitNotFound, "404 Not Found")
		wantCode(t, cli(t, env, "link", vm, net2), exitUsage, "--kind")
		sl := line(t, ok(t, env, "link", vm, disk, "--kind", "storagelink", "--attr", "occi.storagelink.mountpoint=/data", "-q"))
		ok(t, env, "unlink", sl)
		// A link is also created with create and --source/--target.
		r = ok(t, env, "create", "networkinterface", "--source", vm, "--target", path(net2))
		wantMatch(t, "create networkinterface", r.stdout, `(?m)^TARGET\s+`+regexp.QuoteMeta(path(net2))+`$`)
		nic := regexp.MustCompile(`(?m)^LOCATION\s+(\S+)$`).FindStringSubmatch(r.stdout)
		if nic == nil {
			t.Fatalf("create networkinterface printed no location:\n%s", r)
		}
		wantCode(t, cli(t, env, "create", "storagelink", "--source", vm), exitUsage, "--source and --target")
		// A network that a link still targets cannot go (409).
		wantCode(t, cli(t, env, "delete", net2), exitConflict, "409 Conflict")
		ok(t, env, "unlink", nic[1])
		ok(t, env, "delete", net2)
	})

	t.Run("mixins", func(t *testing.T) {
		tag := "tag-" + env["OCCI_RENDERING"]
		r := ok(t, env, "mixin", "define", tag, "--title", "web servers")
		wantMatch(t, "mixin define", r.stdout, `(?m)^ID\s+http://occid.local/occi/users/anonymous/tags#`+tag+`$`)
		wantMatch(t, "mixin define", r.stdout, `(?m)^LOCATION\s+`+regexp.QuoteMeta(srv.url)+`/users/anonymous/tags/`+tag+`/$`)
		wantCode(t, cli(t, env, "mixin", "define", tag), exitConflict, "409 Conflict")
		got := locationsOf(jsonEntities(t, ok(t, env, "mixin", "add", tag, vm, path(net), "--output", "json")))
		slices.Sort(got)
		want := []string{vm, net}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("mixin add: members %v, want %v", got, want)
		}
		r = ok(t, env, "mixin", "remove", tag, net)
		if r.stdout != "removed from "+tag+": "+net+"\n" {
			t.Errorf("mixin remove: got %q", r.stdout)
		}
		if got := strings.Fields(ok(t, env, "list", tag, "-q").stdout); !slices.Equal(got, []string{vm}) {
			t.Errorf("list %s after remove: got %v, want [%s]", tag, got, vm)
		}
		ok(t, env, "mixin", "delete", tag)
		wantCode(t, cli(t, env, "list", tag), exitNotFound, tag)
		wantCode(t, cli(t, env, "mixin", "delete", "ssh_key"), exitAuth, "403 Forbidden")
		wantCode(t, cli(t, env, "mixin", "frob", tag), exitUsage, "add, remove, define or delete")
	})

	t.Run("errors", func(t *testing.T) {
		wantCode(t, cli(t, env, "create", "compute", "--attr", "com.example.colour=red"), exitRejected, "com.example.colour", "400 Bad Request")
		wantCode(t, cli(t, env, "create", "compute", "--os-tpl", "nosuch"), exitNotFound, `"nosuch"`)
		wantCode(t, cli(t, env, "describe", srv.url+"/compute/none"), exitNotFound, "404 Not Found")
		wantCode(t, cli(t, env, "describe", "http://elsewhere.example/compute/1"), exitUsage, "not on the server")
		wantCode(t, cli(t, env, "create"), exitUsage, "want arguments")
		wantCode(t, cli(t, env, "frobnicate"), exitUsage, "unknown command")
		wantCode(t, cli(t, env, "list", "--output", "yaml"), exitUsage, "yaml")
		wantCode(t, cli(t, env, "list", "--endpoint", "http://127.0.0.1:1"), exitServer, "127.0.0.1:1")
		wantCode(t, cli(t, env, "create", "compute", "--link", "nocolon"), exitUsage, "KIND:TARGET")
	})

	t.Run("delete", func(t *testing.T) {
		r := ok(t, env, "delete", vm, path(disk))
		if want := "deleted " + vm + "\ndeleted " + disk + "\n"; r.stdout != want {
			t.Errorf("delete: got %q, want %q", r.stdout, want)
		}
		wantCode(t, cli(t, env, "describe", vm), exitNotFound, "404 Not Found")
		ok(t, env, "delete", net, "-q")
		wantCode(t, cli(t, env, "delete", net), exitNotFound, "404 Not Found")
	})
}

// TestConfigSources checks that the endpoint and rendering come from the
// flag, else the environment, else the config file, else the default.
func TestConfigSources(t *testing.T) {
	srv := startOccid(t, "--backend", "sim://")
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "occi"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "occi", "config"), []byte("# test\nendpoint = "+srv.url+"\noutput = \"json\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("endpoint = http://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := "http://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"file", map[string]string{"XDG_CONFIG_HOME": home}, nil, 0},
		{"env beats file", map[string]string{"XDG_CONFIG_HOME": home, "OCCI_ENDPOINT": bad}, nil, exitServer},
		{"flag beats env", map[string]string{"XDG_CONFIG_HOME": home, "OCCI_ENDPOINT": bad}, []string{"--endpoint", srv.url}, 0},
		{"--config names another file", map[string]string{"XDG_CONFIG_HOME": home}, []string{"--config", other}, exitServer},
		{"OCCI_CONFIG names another file", map[string]string{"XDG_CONFIG_HOME": home, "OCCI_CONFIG": other}, nil, exitServer},
		{"missing --config file", map[string]string{}, []string{"--config", filepath.Join(home, "none")}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, append([]string{"model", "--kinds"}, tc.args...)...)
			wantCode(t, r, tc.code)
			if tc.code == 0 && tc.env["XDG_CONFIG_HOME"] != "" && !strings.HasPrefix(r.stdout, "{") {
				t.Errorf("output = json in the config file: got %q, want JSON", r.stdout)
			}
		})
	}
	t.Run("version", func(t *testing.T) {
		r := ok(t, map[string]string{"OCCI_ENDPOINT": srv.url}, "version")
		wantMatch(t, "version", r.stdout, `^occi \S+ \(OCCI/1.2\)\nserver `+regexp.QuoteMeta(srv.url)+`: occid/\S+ OCCI/1.2\n$`)
	})
}

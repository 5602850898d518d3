package openstackbackend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCloud is a hand-written OpenStack in the shape of the real APIs:
// Keystone v3 (password and token auth, token validation, a catalog),
// Nova (servers with vm_state/task_state transitions, actions, flavors,
// keypairs, volume attachments, interfaces), Glance v2 images, Cinder v3
// volumes and Neutron networks, subnets and ports. Transitions complete
// after a given number of reads, so tests see the intermediate states.
type fakeCloud struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	withVolume bool
	withNet    bool
	netExts    bool // Neutron lists extensions (a real one does)
	steps      int  // reads before a transition completes
	tokens     map[string]string
	forbidden  map[string]bool // tokens the services answer 403
	servers    map[string]*fakeServer
	images     map[string]map[string]any
	flavors    []map[string]any
	keypairs   map[string]string
	volumes    map[string]map[string]any
	attach     map[string]string // volume → server
	networks   map[string]map[string]any
	subnets    map[string]map[string]any
	ports      map[string]map[string]any
	failAction map[string]string // Nova action → fault message it ends in
	conflict   map[string]bool   // Nova action → answer 409
	requests   []string
	lastBody   map[string]map[string]any // "METHOD path" → last JSON body
	seq        int
	down       bool // answer 503 everywhere except Keystone
}

type fakeServer struct {
	body    map[string]any
	vm      string
	task    string
	power   int
	pending int
	then    func()
	fault   string
}

func newFakeCloud(t *testing.T) *fakeCloud {
	f := &fakeCloud{
		t: t, withVolume: true, withNet: true, netExts: true, steps: 2,
		tokens:     map[string]string{},
		forbidden:  map[string]bool{},
		servers:    map[string]*fakeServer{},
		images:     map[string]map[string]any{},
		keypairs:   map[string]string{},
		volumes:    map[string]map[string]any{},
		attach:     map[string]string{},
		networks:   map[string]map[string]any{},
		subnets:    map[string]map[string]any{},
		ports:      map[string]map[string]any{},
		failAction: map[string]string{},
		conflict:   map[string]bool{},
		lastBody:   map[string]map[string]any{},
	}
	f.flavors = []map[string]any{
		{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 128, "disk": 1},
		{"id": "2", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20},
		{"id": "3", "name": "m1.medium", "vcpus": 2, "ram": 4096, "disk": 40},
		{"id": "4", "name": "bad name", "vcpus": 4, "ram": 8192, "disk": 80},
	}
	f.images["11111111-1111-1111-1111-111111111111"] = map[string]any{"id": "11111111-1111-1111-1111-111111111111", "name": "tinyos", "status": "active", "visibility": "public"}
	f.images["22222222-2222-2222-2222-222222222222"] = map[string]any{"id": "22222222-2222-2222-2222-222222222222", "name": "Debian 12", "status": "active", "visibility": "public"}
	f.images["33333333-3333-3333-3333-333333333333"] = map[string]any{"id": "33333333-3333-3333-3333-333333333333", "name": "web-shelved", "status": "active", "instance_uuid": "x", "image_type": "snapshot"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloud) authURL() string { return f.srv.URL + "/identity/v3" }

func (f *fakeCloud) newID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%04d-0000-4000-8000-%012d", prefix, f.seq, f.seq)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func novaError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, map[string]any{kind: map[string]any{"code": code, "message": msg}})
}

func (f *fakeCloud) catalog() []any {
	u := f.srv.URL
	ep := func(typ, name, url string) map[string]any {
		return map[string]any{"type": typ, "name": name, "endpoints": []any{
			map[string]any{"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": url},
		}}
	}
	c := []any{
		ep("identity", "keystone", u+"/identity/v3"),
		ep("compute", "nova", u+"/compute/v2.1"),
		ep("image", "glance", u+"/image"),
	}
	if f.withVolume {
		c = append(c, ep("volumev3", "cinderv3", u+"/volume/v3/proj1"))
	}
	if f.withNet {
		c = append(c, ep("network", "neutron", u+"/network"))
	}
	return c
}

func (f *fakeCloud) tokenBody() map[string]any {
	return map[string]any{"token": map[string]any{
		"expires_at": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": "user1", "name": "alice", "domain": map[string]any{"id": "default"}},
		"project":    map[string]any{"id": "proj1", "name": "alice-project", "domain": map[string]any{"id": "default"}},
		"catalog":    f.catalog(),
		"methods":    []string{"password"},
	}}
}

func (f *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	p := r.URL.Path
	f.requests = append(f.requests, r.Method+" "+p)
	f.lastBody[r.Method+" "+p] = body
	if strings.HasPrefix(p, "/identity/") {
		f.keystone(w, r, p, body)
		return
	}
	tok := r.Header.Get("X-Auth-Token")
	if _, ok := f.tokens[tok]; !ok {
		writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})
		return
	}
	if f.forbidden[tok] {
		novaError(w, 403, "forbidden", "Policy doesn't allow this to be performed.")
		return
	}
	if f.down {
		http.Error(w, "503 Service Unavailable", 503)
		return
	}
	switch {
	case p == "/image" || p == "/image/":
		writeJSON(w, 300, map[string]any{"versions": []any{map[string]any{"id": "v2.15", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": f.srv.URL + "/image/v2/"}}}}})
	case p == "/network" || p == "/network/":
		writeJSON(w, 200, map[string]any{"versions": []any{map[string]any{"id": "v2.0", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": f.srv.URL + "/network/v2.0/"}}}}})
	case strings.HasPrefix(p, "/compute/v2.1"):
		f.nova(w, r, strings.TrimPrefix(p, "/compute/v2.1"), body)
	case strings.HasPrefix(p, "/image"):
		f.glance(w, r, strings.TrimPrefix(p, "/image"))
	case strings.HasPrefix(p, "/volume/v3/proj1"):
		f.cinder(w, r, strings.TrimPrefix(p, "/volume/v3/proj1"), body)
	case strings.HasPrefix(p, "/network/v2.0"):
		f.neutron(w, r, strings.TrimPrefix(p, "/network/v2.0"), body)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCloud) keystone(w http.ResponseWriter, r *http.Request, p string, body map[string]any) {
	switch {
	case p == "/identity/v3/auth/tokens" && r.Method == "POST":
		auth, _ := body["auth"].(map[string]any)
		ident, _ := auth["identity"].(map[string]any)
		pw, _ := ident["password"].(map[string]any)
		user, _ := pw["user"].(map[string]any)
		if user["name"] != "alice" || user["password"] != "secret" {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})
			return
		}
		tok := fmt.Sprintf("tok-%d", len(f.tokens)+1)
		f.tokens[tok] = "alice"
		w.Header().Set("X-Subject-Token", tok)
		writeJSON(w, 201, f.tokenBody())
	case p == "/identity/v3/auth/tokens" && r.Method == "GET":
		sub := r.Header.Get("X-Subject-Token")
		if _, ok := f.tokens[r.Header.Get("X-Auth-Token")]; !ok {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "unauthorized", "title": "Unauthorized"}})
			return
		}
		if _, ok := f.tokens[sub]; !ok {
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "Could not find token: " + sub, "title": "Not Found"}})
			return
		}
		w.Header().Set("X-Subject-Token", sub)
		writeJSON(w, 200, f.tokenBody())
	default:
		http.NotFound(w, r)
	}
}

// serverJSON renders a server as Nova 2.47+ does, and advances a pending
// transition by one read.
func (f *fakeCloud) serverJSON(s *fakeServer, advance bool) map[string]any {
	if advance && s.pending > 0 {
		s.pending--
		if s.pending == 0 && s.then != nil {
			s.then()
			s.then = nil
		}
	}
	out := map[string]any{}
	for k, v := range s.body {
		out[k] = v
	}
	status := map[string]string{"active": "ACTIVE", "stopped": "SHUTOFF", "suspended": "SUSPENDED", "paused": "PAUSED", "building": "BUILD",
		"error": "ERROR", "shelved_offloaded": "SHELVED_OFFLOADED", "resized": "VERIFY_RESIZE"}[s.vm]
	out["status"] = status
	out["OS-EXT-STS:vm_state"] = s.vm
	if s.task != "" {
		out["OS-EXT-STS:task_state"] = s.task
	} else {
		out["OS-EXT-STS:task_state"] = nil
	}
	out["OS-EXT-STS:power_state"] = s.power
	if s.fault != "" {
		out["fault"] = map[string]any{"code": 500, "message": s.fault, "created": "2026-01-01T00:00:00Z"}
	}
	return out
}

// transition sets a task now and the end state after f.steps reads.
func (f *fakeCloud) transition(s *fakeServer, action, task, vm string, power int) {
	s.task = task
	s.pending = f.steps
	fault := f.failAction[action]
	s.then = func() {
		s.task = ""
		if fault != "" {
			s.vm, s.fault, s.power = "error", fault, 0
			return
		}
		s.vm, s.power = vm, power
	}
}

func (f *fakeCloud) flavorByID(id string) map[string]any {
	for _, fl := range f.flavors {
		if fl["id"] == id {
			return fl
		}
	}
	return nil
}

func (f *fakeCloud) nova(w http.ResponseWriter, r *http.Request, p string, body map[string]any) {
	if mv := r.Header.Get("X-OpenStack-Nova-API-Version"); mv != "" {
		w.Header().Set("X-OpenStack-Nova-API-Version", mv)
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "" || p == "/":
		writeJSON(w, 200, map[string]any{"version": map[string]any{"id": "v2.1", "status": "CURRENT", "version": "2.93", "min_version": "2.1"}})
	case p == "/servers/detail" && r.Method == "GET":
		out := []any{}
		for _, sv := range f.servers {
			if sv.vm != "deleted" {
				out = append(out, f.serverJSON(sv, false))
			}
		}
		writeJSON(w, 200, map[string]any{"servers": out})
	case p == "/os-keypairs" && r.Method == "GET":
		out := []any{}
		for name, key := range f.keypairs {
			out = append(out, map[string]any{"keypair": map[string]any{"name": name, "public_key": key}})
		}
		writeJSON(w, 200, map[string]any{"keypairs": out})
	case p == "/flavors/detail":
		writeJSON(w, 200, map[string]any{"flavors": f.flavors})
	case p == "/os-keypairs" && r.Method == "POST":
		kp, _ := body["keypair"].(map[string]any)
		name, _ := kp["name"].(string)
		key, _ := kp["public_key"].(string)
		if !strings.HasPrefix(key, "ssh-") {
			novaError(w, 400, "badRequest", "Keypair data is invalid: failed to generate fingerprint")
			return
		}
		if _, ok := f.keypairs[name]; ok {
			novaError(w, 409, "conflictingRequest", "Key pair '"+name+"' already exists.")
			return
		}
		f.keypairs[name] = key
		writeJSON(w, 200, map[string]any{"keypair": map[string]any{"name": name, "public_key": key}})
	case len(parts) == 2 && parts[0] == "os-keypairs" && r.Method == "DELETE":
		if _, ok := f.keypairs[parts[1]]; !ok {
			novaError(w, 404, "itemNotFound", "Keypair "+parts[1]+" not found")
			return
		}
		delete(f.keypairs, parts[1])
		w.WriteHeader(202)
	case p == "/servers" && r.Method == "POST":
		sb, _ := body["server"].(map[string]any)
		fl := f.flavorByID(fmt.Sprint(sb["flavorRef"]))
		if fl == nil {
			novaError(w, 400, "badRequest", "Flavor could not be found")
			return
		}
		if _, ok := f.images[fmt.Sprint(sb["imageRef"])]; !ok {
			novaError(w, 400, "badRequest", "Image could not be found")
			return
		}
		if kn, ok := sb["key_name"].(string); ok {
			if _, ok := f.keypairs[kn]; !ok {
				novaError(w, 400, "badRequest", "Invalid key_name provided.")
				return
			}
		}
		id := f.newID("5e")
		s := &fakeServer{vm: "building", task: "spawning", body: map[string]any{
			"id": id, "name": sb["name"], "metadata": sb["metadata"],
			"flavor": map[string]any{"original_name": fl["name"], "vcpus": fl["vcpus"], "ram": fl["ram"], "disk": fl["disk"]},
			"image":  map[string]any{"id": sb["imageRef"]},
		}}
		s.pending = f.steps
		fault := f.failAction["create"]
		s.then = func() {
			s.task = ""
			if fault != "" {
				s.vm, s.fault = "error", fault
				return
			}
			s.vm, s.power = "active", 1
		}
		f.servers[id] = s
		writeJSON(w, 202, map[string]any{"server": map[string]any{"id": id, "adminPass": "x"}})
	case len(parts) == 2 && parts[0] == "servers":
		s, ok := f.servers[parts[1]]
		if !ok {
			novaError(w, 404, "itemNotFound", "Instance "+parts[1]+" could not be found.")
			return
		}
		switch r.Method {
		case "GET":
			if s.vm == "deleted" {
				if s.pending > 0 {
					s.pending--
					writeJSON(w, 200, map[string]any{"server": f.serverJSON(s, false)})
					return
				}
				delete(f.servers, parts[1])
				novaError(w, 404, "itemNotFound", "Instance "+parts[1]+" could not be found.")
				return
			}
			writeJSON(w, 200, map[string]any{"server": f.serverJSON(s, true)})
		case "DELETE":
			s.vm, s.task, s.pending = "deleted", "deleting", f.steps
			for vid, sid := range f.attach {
				if sid == parts[1] {
					delete(f.attach, vid)
					f.volumes[vid]["status"] = "available"
				}
			}
			for _, port := range f.ports {
				if port["device_id"] == parts[1] {
					port["device_id"], port["status"] = "", "DOWN"
				}
			}
			w.WriteHeader(204)
		case "PUT":
			sb, _ := body["server"].(map[string]any)
			if n, ok := sb["name"]; ok {
				s.body["name"] = n
			}
			out := f.serverJSON(s, false)
			delete(out, "OS-EXT-STS:vm_state")
			writeJSON(w, 200, map[string]any{"server": out})
		}
	case len(parts) == 3 && parts[0] == "servers" && parts[2] == "action":
		s, ok := f.servers[parts[1]]
		if !ok {
			novaError(w, 404, "itemNotFound", "Instance "+parts[1]+" could not be found.")
			return
		}
		var action string
		for k := range body {
			action = k
		}
		if f.conflict[action] || (s.task != "" && action != "os-getConsoleOutput") {
			novaError(w, 409, "conflictingRequest", fmt.Sprintf("Cannot '%s' instance %s while it is in task_state %s", action, parts[1], s.task))
			return
		}
		switch action {
		case "os-stop":
			f.transition(s, action, "powering-off", "stopped", 4)
		case "os-start":
			f.transition(s, action, "powering-on", "active", 1)
		case "reboot":
			rb, _ := body["reboot"].(map[string]any)
			task := "rebooting"
			if rb["type"] == "HARD" {
				task = "rebooting_hard"
			}
			f.transition(s, action+"-"+fmt.Sprint(rb["type"]), task, "active", 1)
		case "suspend":
			f.transition(s, action, "suspending", "suspended", 4)
		case "resume":
			f.transition(s, action, "resuming", "active", 1)
		case "unpause":
			f.transition(s, action, "unpausing", "active", 1)
		case "shelve":
			f.transition(s, action, "shelving", "shelved_offloaded", 4)
		case "unshelve":
			f.transition(s, action, "unshelving", "active", 1)
		case "resize":
			rs, _ := body["resize"].(map[string]any)
			fl := f.flavorByID(fmt.Sprint(rs["flavorRef"]))
			vm := s.vm
			f.transition(s, action, "resize_prep", "resized", 1)
			then := s.then
			s.then = func() {
				then()
				if s.vm == "resized" {
					s.body["flavor"] = map[string]any{"original_name": fl["name"], "vcpus": fl["vcpus"], "ram": fl["ram"], "disk": fl["disk"]}
					s.body["prior_vm"] = vm
				}
			}
		case "confirmResize":
			vm, _ := s.body["prior_vm"].(string)
			power := 1
			if vm == "stopped" {
				power = 4
			}
			f.transition(s, action, "resize_confirming", vm, power)
		case "rebuild":
			rb, _ := body["rebuild"].(map[string]any)
			s.body["image"] = map[string]any{"id": rb["imageRef"]}
			vm := s.vm
			f.transition(s, action, "rebuilding", vm, s.power)
			out := f.serverJSON(s, false)
			writeJSON(w, 202, map[string]any{"server": out})
			return
		case "createImage":
			ci, _ := body["createImage"].(map[string]any)
			id := f.newID("1a")
			img := map[string]any{"id": id, "name": ci["name"], "status": "queued", "visibility": "private", "image_type": "snapshot", "instance_uuid": parts[1]}
			if md, ok := ci["metadata"].(map[string]any); ok {
				for k, v := range md {
					img[k] = v
				}
			}
			f.images[id] = img
			vm, power := s.vm, s.power
			f.transition(s, action, "image_snapshot", vm, power)
			img["status"] = "saving"
			img["pending"] = f.steps
			writeJSON(w, 202, map[string]any{"image_id": id})
			return
		case "os-getConsoleOutput":
			writeJSON(w, 200, map[string]any{"output": "TINYOS: disk mounted, boots=1\nTINYOS: BOOTED in 1.7s\n"})
			return
		default:
			novaError(w, 400, "badRequest", "unknown action "+action)
			return
		}
		w.WriteHeader(202)
	case len(parts) == 3 && parts[0] == "servers" && parts[2] == "os-volume_attachments" && r.Method == "POST":
		va, _ := body["volumeAttachment"].(map[string]any)
		vid := fmt.Sprint(va["volumeId"])
		v, ok := f.volumes[vid]
		if !ok {
			novaError(w, 404, "itemNotFound", "Volume "+vid+" could not be found.")
			return
		}
		if v["status"] != "available" {
			novaError(w, 400, "badRequest", "Invalid volume: volume "+vid+" status must be available")
			return
		}
		dev := "/dev/vdb"
		if d, ok := va["device"].(string); ok && d != "" {
			dev = d
		}
		v["status"] = "attaching"
		v["attach_device"] = dev
		f.attach[vid] = parts[1]
		writeJSON(w, 200, map[string]any{"volumeAttachment": map[string]any{"id": vid, "volumeId": vid, "serverId": parts[1], "device": dev}})
	case len(parts) == 4 && parts[0] == "servers" && parts[2] == "os-volume_attachments":
		vid := parts[3]
		if f.attach[vid] != parts[1] {
			novaError(w, 404, "itemNotFound", "Volume "+vid+" is not attached to "+parts[1])
			return
		}
		v := f.volumes[vid]
		if r.Method == "DELETE" {
			delete(f.attach, vid)
			v["status"] = "available"
			w.WriteHeader(202)
			return
		}
		writeJSON(w, 200, map[string]any{"volumeAttachment": map[string]any{"id": vid, "volumeId": vid, "serverId": parts[1], "device": v["attach_device"]}})
	case len(parts) == 3 && parts[0] == "servers" && parts[2] == "os-interface" && r.Method == "POST":
		ia, _ := body["interfaceAttachment"].(map[string]any)
		pid := fmt.Sprint(ia["port_id"])
		port, ok := f.ports[pid]
		if !ok {
			novaError(w, 404, "itemNotFound", "Port "+pid+" could not be found.")
			return
		}
		port["device_id"] = parts[1]
		port["status"] = "BUILD"
		port["pending"] = f.steps
		writeJSON(w, 200, map[string]any{"interfaceAttachment": map[string]any{"port_id": pid, "net_id": port["network_id"], "mac_addr": port["mac_address"], "port_state": "BUILD"}})
	case len(parts) == 4 && parts[0] == "servers" && parts[2] == "os-interface" && r.Method == "DELETE":
		port, ok := f.ports[parts[3]]
		if !ok || port["device_id"] != parts[1] {
			novaError(w, 404, "itemNotFound", "Port "+parts[3]+" is not attached")
			return
		}
		port["device_id"] = ""
		port["status"] = "DOWN"
		w.WriteHeader(202)
	default:
		novaError(w, 404, "itemNotFound", "no route "+r.Method+" "+p)
	}
}

// advanceImage moves a saving image one read closer to active (or killed).
func (f *fakeCloud) advanceImage(img map[string]any) map[string]any {
	if n, _ := img["pending"].(int); n > 0 {
		img["pending"] = n - 1
		if n == 1 {
			img["status"] = "active"
			if f.failAction["upload"] != "" {
				img["status"] = "killed"
			}
		}
	}
	out := map[string]any{}
	for k, v := range img {
		if k != "pending" {
			out[k] = v
		}
	}
	return out
}

func (f *fakeCloud) glance(w http.ResponseWriter, r *http.Request, p string) {
	switch {
	case p == "/v2/images" && r.Method == "GET":
		name := r.URL.Query().Get("name")
		out := []any{}
		for _, img := range f.images {
			if name == "" || img["name"] == name {
				out = append(out, f.advanceImage(img))
			}
		}
		writeJSON(w, 200, map[string]any{"images": out})
	case strings.HasPrefix(p, "/v2/images/"):
		id := strings.TrimPrefix(p, "/v2/images/")
		img, ok := f.images[id]
		if !ok {
			w.WriteHeader(404)
			fmt.Fprintf(w, "404 Not Found\n\nNo image found with ID %s\n\n", id)
			return
		}
		if r.Method == "DELETE" {
			delete(f.images, id)
			w.WriteHeader(204)
			return
		}
		writeJSON(w, 200, f.advanceImage(img))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCloud) cinder(w http.ResponseWriter, r *http.Request, p string, body map[string]any) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/volumes/detail" && r.Method == "GET":
		out := []any{}
		for _, v := range f.volumes {
			out = append(out, v)
		}
		writeJSON(w, 200, map[string]any{"volumes": out})
	case p == "/volumes" && r.Method == "POST":
		vb, _ := body["volume"].(map[string]any)
		id := f.newID("7c")
		size, _ := vb["size"].(float64)
		v := map[string]any{"id": id, "name": vb["name"], "size": size, "status": "creating", "pending": f.steps, "metadata": vb["metadata"]}
		if f.failAction["volume"] != "" {
			v["fail"] = true
		}
		f.volumes[id] = v
		writeJSON(w, 202, map[string]any{"volume": v})
	case len(parts) == 2 && parts[0] == "volumes":
		v, ok := f.volumes[parts[1]]
		if !ok {
			novaError(w, 404, "itemNotFound", "Volume "+parts[1]+" could not be found.")
			return
		}
		switch r.Method {
		case "GET":
			if n, _ := v["pending"].(int); n > 0 {
				v["pending"] = n - 1
				if n == 1 {
					switch v["status"] {
					case "creating":
						v["status"] = "available"
						if v["fail"] == true {
							v["status"] = "error"
						}
					case "extending":
						v["status"] = "available"
					case "deleting":
						delete(f.volumes, parts[1])
						novaError(w, 404, "itemNotFound", "Volume "+parts[1]+" could not be found.")
						return
					}
				}
			}
			if v["status"] == "attaching" {
				v["status"] = "in-use"
			}
			writeJSON(w, 200, map[string]any{"volume": v})
		case "DELETE":
			if v["status"] == "in-use" {
				novaError(w, 400, "badRequest", "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.")
				return
			}
			v["status"], v["pending"] = "deleting", f.steps
			w.WriteHeader(202)
		case "PUT":
			vb, _ := body["volume"].(map[string]any)
			if n, ok := vb["name"]; ok {
				v["name"] = n
			}
			writeJSON(w, 200, map[string]any{"volume": v})
		}
	case len(parts) == 3 && parts[0] == "volumes" && parts[2] == "action":
		v, ok := f.volumes[parts[1]]
		if !ok {
			novaError(w, 404, "itemNotFound", "Volume "+parts[1]+" could not be found.")
			return
		}
		ext, _ := body["os-extend"].(map[string]any)
		ns, _ := ext["new_size"].(float64)
		if ns <= v["size"].(float64) {
			novaError(w, 400, "badRequest", "New size for extend must be greater than current size.")
			return
		}
		v["size"], v["status"], v["pending"] = ns, "extending", f.steps
		w.WriteHeader(202)
	default:
		novaError(w, 404, "itemNotFound", "no route")
	}
}

func neutronError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"NeutronError": map[string]any{"type": typ, "message": msg, "detail": ""}})
}

func (f *fakeCloud) neutron(w http.ResponseWriter, r *http.Request, p string, body map[string]any) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	coll := parts[0]
	store := map[string]map[string]map[string]any{"networks": f.networks, "subnets": f.subnets, "ports": f.ports}[coll]
	single := strings.TrimSuffix(coll, "s")
	switch {
	case coll == "extensions":
		exts := []any{}
		if f.netExts {
			exts = append(exts, map[string]any{"alias": "provider", "name": "Provider Network", "description": "Expose mapping of virtual networks to physical networks", "updated": "2012-09-07T10:00:00-00:00", "links": []any{}})
		}
		writeJSON(w, 200, map[string]any{"extensions": exts})
	case store == nil:
		neutronError(w, 404, "HTTPNotFound", "no route")
	case len(parts) == 1 && r.Method == "GET":
		out := []any{}
		for _, o := range store {
			if nid := r.URL.Query().Get("network_id"); nid != "" && o["network_id"] != nid {
				continue
			}
			out = append(out, o)
		}
		writeJSON(w, 200, map[string]any{coll: out})
	case len(parts) == 1 && r.Method == "POST":
		ob, _ := body[single].(map[string]any)
		id := f.newID(map[string]string{"networks": "4e", "subnets": "5b", "ports": "90"}[coll])
		o := map[string]any{"id": id, "project_id": "proj1"}
		for k, v := range ob {
			o[k] = v
		}
		switch coll {
		case "networks":
			if _, ok := ob["provider:segmentation_id"]; ok {
				neutronError(w, 403, "PolicyNotAuthorized", "(rule:create_network and rule:create_network:provider:network_type) is disallowed by policy")
				return
			}
			o["status"] = "ACTIVE"
			if up, ok := ob["admin_state_up"].(bool); ok && !up {
				o["status"] = "DOWN"
			}
			o["subnets"] = []any{}
		case "subnets":
			if _, ok := f.networks[fmt.Sprint(ob["network_id"])]; !ok {
				neutronError(w, 404, "NetworkNotFound", "Network could not be found.")
				return
			}
			if cidr, _ := ob["cidr"].(string); cidr == "10.99.0.0/16" {
				neutronError(w, 400, "InvalidInput", "Invalid input for operation: Requested subnet with cidr: 10.99.0.0/16 overlaps with another subnet.")
				return
			}
			if _, ok := o["gateway_ip"]; !ok {
				o["gateway_ip"] = strings.TrimSuffix(fmt.Sprint(ob["cidr"]), "0/24") + "1"
			}
		case "ports":
			if _, ok := f.networks[fmt.Sprint(ob["network_id"])]; !ok {
				neutronError(w, 404, "NetworkNotFound", "Network could not be found.")
				return
			}
			if _, ok := o["mac_address"]; !ok {
				o["mac_address"] = fmt.Sprintf("fa:16:3e:00:00:%02x", f.seq%256)
			}
			var subnet map[string]any
			for _, s := range f.subnets {
				if s["network_id"] == ob["network_id"] {
					subnet = s
				}
			}
			ip := "10.0.0.5"
			if fx, ok := ob["fixed_ips"].([]any); ok && len(fx) > 0 {
				ip = fmt.Sprint(fx[0].(map[string]any)["ip_address"])
			}
			if subnet != nil {
				o["fixed_ips"] = []any{map[string]any{"subnet_id": subnet["id"], "ip_address": ip}}
			} else {
				o["fixed_ips"] = []any{}
			}
			o["status"] = "DOWN"
			o["device_id"] = ""
		}
		store[id] = o
		writeJSON(w, 201, map[string]any{single: o})
	case len(parts) == 2:
		o, ok := store[parts[1]]
		if !ok {
			neutronError(w, 404, strings.ToUpper(single[:1])+single[1:]+"NotFound", single+" "+parts[1]+" could not be found.")
			return
		}
		switch r.Method {
		case "GET":
			if n, _ := o["pending"].(int); n > 0 {
				o["pending"] = n - 1
				if n == 1 {
					o["status"] = "ACTIVE"
				}
			}
			writeJSON(w, 200, map[string]any{single: o})
		case "PUT":
			ob, _ := body[single].(map[string]any)
			for k, v := range ob {
				o[k] = v
			}
			if coll == "networks" {
				if up, ok := ob["admin_state_up"].(bool); ok {
					o["status"] = "DOWN"
					if up {
						o["status"] = "ACTIVE"
					}
				}
			}
			writeJSON(w, 200, map[string]any{single: o})
		case "DELETE":
			if coll == "networks" {
				for _, port := range f.ports {
					if port["network_id"] == parts[1] && port["device_id"] != "" {
						neutronError(w, 409, "NetworkInUse", "Unable to complete operation on network "+parts[1]+". There are one or more ports still in use on the network.")
						return
					}
				}
				for id, s := range f.subnets {
					if s["network_id"] == parts[1] {
						delete(f.subnets, id)
					}
				}
			}
			delete(store, parts[1])
			w.WriteHeader(204)
		}
	default:
		neutronError(w, 404, "HTTPNotFound", "no route")
	}
}

// openFake opens a driver with the service account of the fake cloud.
func openFake(t *testing.T, f *fakeCloud, o Options) *Driver {
	t.Helper()
	for _, k := range []string{"OS_CLOUD", "OS_PROJECT_ID", "OS_TOKEN", "OS_USER_ID", "OS_CACERT", "OS_INSECURE", "OS_INTERFACE", "OS_REGION_NAME"} {
		t.Setenv(k, "")
	}
	t.Setenv("OS_AUTH_URL", f.authURL())
	t.Setenv("OS_USERNAME", "alice")
	t.Setenv("OS_PASSWORD", "secret")
	t.Setenv("OS_PROJECT_NAME", "alice-project")
	t.Setenv("OS_USER_DOMAIN_NAME", "Default")
	t.Setenv("OS_PROJECT_DOMAIN_NAME", "Default")
	if o.PollInterval == 0 {
		o.PollInterval = time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	d, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open against the fake cloud: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

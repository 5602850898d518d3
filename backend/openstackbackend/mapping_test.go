package openstackbackend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

func TestServerObservation(t *testing.T) {
	flavor := map[string]any{"vcpus": float64(2), "ram": float64(1536)}
	tests := []struct {
		name       string
		s          servers.Server
		state, msg string
		gone       bool
	}{
		{"active", servers.Server{Status: "ACTIVE", VmState: "active"}, "active", "", false},
		{"stopped", servers.Server{Status: "SHUTOFF", VmState: "stopped"}, "inactive", "", false},
		{"suspended", servers.Server{Status: "SUSPENDED", VmState: "suspended"}, "suspended", "", false},
		{"paused", servers.Server{Status: "PAUSED", VmState: "paused"}, "suspended", "paused", false},
		{"shelved", servers.Server{Status: "SHELVED_OFFLOADED", VmState: "shelved_offloaded"}, "suspended", "shelved offloaded", false},
		{"error with fault", servers.Server{Status: "ERROR", VmState: "error", Fault: servers.Fault{Message: "No valid host was found."}}, "error", "No valid host was found.", false},
		{"error without fault", servers.Server{Status: "ERROR", VmState: "error"}, "error", "Nova reports the server in ERROR without a fault message", false},
		{"building", servers.Server{Status: "BUILD", VmState: "building", TaskState: "spawning"}, "inactive", "building; spawning", false},
		{"powering off", servers.Server{Status: "ACTIVE", VmState: "active", TaskState: "powering-off"}, "active", "powering-off", false},
		{"imaging", servers.Server{Status: "ACTIVE", VmState: "active", TaskState: "image_uploading"}, "active", "image_uploading", false},
		{"resized", servers.Server{Status: "VERIFY_RESIZE", VmState: "resized", PowerState: servers.RUNNING}, "active", "resized, waiting for confirmation", false},
		{"deleted", servers.Server{Status: "DELETED", VmState: "deleted"}, "", "", true},
		{"status only: reboot", servers.Server{Status: "HARD_REBOOT"}, "active", "rebooting_hard", false},
		{"status only: shutoff", servers.Server{Status: "SHUTOFF"}, "inactive", "", false},
		{"status only: build", servers.Server{Status: "BUILD"}, "inactive", "building; spawning", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.ID = "srv"
			tt.s.Flavor = flavor
			o := serverObservation(&tt.s)
			if o.Gone != tt.gone || o.State != tt.state || o.Message != tt.msg {
				t.Errorf("got gone=%v state %q message %q, want gone=%v %q %q", o.Gone, o.State, o.Message, tt.gone, tt.state, tt.msg)
			}
			if tt.gone {
				return
			}
			want := occi.Attributes{attrCores: int64(2), attrMemory: 1.5}
			if diff := cmp.Diff(want, o.Attributes); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if o.Ref != "srv" {
				t.Errorf("got Ref %q, want srv", o.Ref)
			}
		})
	}
}

func TestImageState(t *testing.T) {
	tests := []struct {
		status images.ImageStatus
		want   string
	}{
		{images.ImageStatusQueued, backend.TemplateSaving},
		{images.ImageStatusSaving, backend.TemplateSaving},
		{images.ImageStatusUploading, backend.TemplateSaving},
		{images.ImageStatusImporting, backend.TemplateSaving},
		{images.ImageStatusActive, backend.TemplateReady},
		{images.ImageStatusKilled, backend.TemplateError},
		{images.ImageStatusDeleted, backend.TemplateError},
		{images.ImageStatusDeactivated, backend.TemplateError},
		{"weird", backend.TemplateError},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			got, msg := imageState(tt.status)
			if got != tt.want {
				t.Errorf("imageState(%s) = %q, want %q", tt.status, got, tt.want)
			}
			if got != backend.TemplateReady && msg == "" {
				t.Errorf("imageState(%s): empty message for a template that is not ready", tt.status)
			}
		})
	}
}

func TestVolumeObservation(t *testing.T) {
	tests := []struct{ status, state, msg string }{
		{"available", "online", ""},
		{"in-use", "online", ""},
		{"creating", "offline", "creating"},
		{"extending", "online", "extending"},
		{"error", "error", "cinder volume status error"},
		{"error_extending", "error", "cinder volume status error_extending"},
		{"deleting", "offline", "deleting"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			o := volumeObservation(&volumes.Volume{ID: "v", Status: tt.status, Size: 3})
			if o.State != tt.state || o.Message != tt.msg || o.Attributes[attrStorageSize] != 3.0 {
				t.Errorf("got %q %q size %v, want %q %q size 3", o.State, o.Message, o.Attributes[attrStorageSize], tt.state, tt.msg)
			}
		})
	}
}

func TestNetworkState(t *testing.T) {
	tests := []struct{ status, state, msg string }{
		{"ACTIVE", "active", ""}, {"DOWN", "inactive", ""}, {"BUILD", "inactive", "building"}, {"ERROR", "error", "neutron status ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			if s, m := networkState(tt.status); s != tt.state || m != tt.msg {
				t.Errorf("networkState(%s) = %q %q, want %q %q", tt.status, s, m, tt.state, tt.msg)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	status := func(code int) error {
		return gophercloud.ErrUnexpectedResponseCode{Actual: code, Body: []byte(`{"itemNotFound": {"message": "m"}}`)}
	}
	tests := []struct {
		name string
		err  error
		want occi.Code
	}{
		{"nil", nil, occi.OK},
		{"400", status(400), occi.InvalidArgument},
		{"401", status(401), occi.Unauthenticated},
		{"403", status(403), occi.PermissionDenied},
		{"404", status(404), occi.NotFound},
		{"409", status(409), occi.FailedPrecondition},
		{"413", status(413), occi.Unavailable},
		{"429", status(429), occi.Unavailable},
		{"500", status(500), occi.Unavailable},
		{"503", status(503), occi.Unavailable},
		{"501", status(501), occi.Unimplemented},
		{"wrapped 404", &occi.Error{Code: occi.NotFound, Message: "x"}, occi.NotFound},
		{"connection refused", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, occi.Unavailable},
		{"deadline", context.DeadlineExceeded, occi.Unavailable},
		{"missing input", gophercloud.ErrMissingInput{Argument: "x"}, occi.InvalidArgument},
		{"other", errors.New("boom"), occi.Internal},
	}
	d := &Driver{}
	d.opts.setDefaults()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if tt.err == nil {
				return
			}
			if got := d.ErrorCode(d.wrap(tt.err, "nova", "op")); got != tt.want {
				t.Errorf("ErrorCode(wrap(%v)) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestAPIMessage(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"nova", `{"conflictingRequest": {"code": 409, "message": "Cannot 'stop' instance while it is in vm_state stopped"}}`, "Cannot 'stop' instance while it is in vm_state stopped"},
		{"neutron", `{"NeutronError": {"type": "NetworkInUse", "message": "ports in use", "detail": ""}}`, "ports in use"},
		{"keystone", `{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}`, "The request you have made requires authentication."},
		{"glance text", "404 Not Found\n\nNo image found with ID x\n\n", "404 Not Found"},
		{"html", "<html><body>", ""},
		{"empty json", `{}`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apiMessage([]byte(tt.body)); got != tt.want {
				t.Errorf("apiMessage(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func FuzzAPIMessage(f *testing.F) {
	f.Add([]byte(`{"itemNotFound": {"message": "x"}}`))
	f.Add([]byte("409 Conflict\n\nImage x"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if m := apiMessage(body); len(m) > 304 {
			t.Errorf("apiMessage returned %d bytes, want at most 300 plus an ellipsis", len(m))
		}
	})
}

func TestOptionsFromURL(t *testing.T) {
	tests := []struct {
		in      string
		want    Options
		wantErr bool
	}{
		{in: "openstack", want: Options{}},
		{in: "openstack://", want: Options{}},
		{in: "openstack://mycloud", want: Options{Cloud: "mycloud"}},
		{in: "openstack://mycloud?token_only=true&networks=auto&timeout=2m&services=volumev3,network", want: Options{Cloud: "mycloud", TokenOnly: true, ServerNetworks: "auto", Timeout: 120e9, Services: []string{"volumev3", "network"}}},
		{in: "openstack://?auth_url=http://k:5000/v3&token_only=1&region=R&default_image=tinyos&default_flavor=m1.tiny", want: Options{TokenOnly: true, AuthURL: "http://k:5000/v3", Region: "R", DefaultImage: "tinyos", DefaultFlavor: "m1.tiny"}},
		{in: "openstack://c?timeout=soon", wantErr: true},
		{in: "openstack://c?colour=blue", wantErr: true},
		{in: "sim://", wantErr: true},
		{in: "%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := OptionsFromURL(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("OptionsFromURL(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Options{})); diff != "" {
					t.Errorf("OptionsFromURL(%q) (-want +got):\n%s", tt.in, diff)
				}
			}
		})
	}
}

func FuzzOptionsFromURL(f *testing.F) {
	f.Add("openstack://mycloud?token_only=true&timeout=1m")
	f.Add("openstack")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := OptionsFromURL(s)
		if err == nil && o.Timeout < 0 {
			t.Errorf("OptionsFromURL(%q) accepted a negative timeout", s)
		}
	})
}

func TestUserDataAndKeys(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"raw text is encoded", "#cloud-config\n", "I2Nsb3VkLWNvbmZpZwo="},
		{"base64 is kept", "I2Nsb3VkLWNvbmZpZwo=", "I2Nsb3VkLWNvbmZpZwo="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userDataForNova(tt.in); got != tt.want {
				t.Errorf("userDataForNova(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	keys := []struct{ name, in, want string }{
		{"openssh", "ssh-ed25519 AAAA k", "ssh-ed25519 AAAA k"},
		{"base64 of openssh", "c3NoLWVkMjU1MTkgQUFBQSBr", "ssh-ed25519 AAAA k"},
		{"other", "not a key", "not a key"},
	}
	for _, tt := range keys {
		t.Run(tt.name, func(t *testing.T) {
			if got := sshPublicKey(tt.in); got != tt.want {
				t.Errorf("sshPublicKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	tests := []struct{ name, header, value, want string }{
		{"x-auth-token", "X-Auth-Token", "abc", "abc"},
		{"bearer", "Authorization", "Bearer xyz", "xyz"},
		{"basic is ignored", "Authorization", "Basic eHl6", ""},
		{"none", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = TokenFrom(r.Context()) }))
			req := httptest.NewRequest("GET", "/-/", nil)
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tt.want {
				t.Errorf("token in context %q, want %q", got, tt.want)
			}
		})
	}
}

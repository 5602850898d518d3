package render_test

import (
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

func TestAbsoluteURL(t *testing.T) {
	tests := []struct{ base, loc, want string }{
		{"http://h:8080", "/compute/1", "http://h:8080/compute/1"},
		{"http://h:8080/", "/compute/1", "http://h:8080/compute/1"},
		{"http://h/occi", "/compute/1", "http://h/occi/compute/1"},
		{"http://h", "compute/1", "http://h/compute/1"},
		{"http://h", "https://other/x", "https://other/x"},
		{"http://h", "urn:uuid:1", "urn:uuid:1"},
		// A network-path reference names another authority: kept, as
		// LocalPath does not take it for a path here (FuzzJSON found
		// "//#" turning into "//" on a round trip).
		{"http://h", "//other/x", "//other/x"},
		{"http://h", "//#", "//#"},
		{"http://h", "", ""},
		{"", "/compute/1", "/compute/1"},
	}
	for _, tc := range tests {
		if got := render.AbsoluteURL(tc.base, tc.loc); got != tc.want {
			t.Errorf("AbsoluteURL(%q, %q): got %q, want %q", tc.base, tc.loc, got, tc.want)
		}
	}
}

func TestOwnPath(t *testing.T) {
	tests := []struct {
		base, loc, want string
		foreign         bool
	}{
		{"http://h:8080", "/compute/1", "/compute/1", false},
		{"http://h:8080", "compute/1", "/compute/1", false},
		{"http://h:8080", "http://h:8080/compute/1", "/compute/1", false},
		{"http://h:8080", "HTTP://H:8080/compute/1", "/compute/1", false},
		{"http://h", "http://h:80/compute/1", "/compute/1", false},
		{"https://h", "https://h:443/compute/1?x=1#f", "/compute/1", false},
		{"http://h/occi", "http://h/occi/compute/1", "/compute/1", false},
		{"http://h/occi", "/occi/compute/1", "/compute/1", false},
		{"http://h/occi", "/compute/1", "/compute/1", false},
		{"http://h:8080", "  /compute/1  ", "/compute/1", false},
		{"http://h:8080", "http://other:8080/compute/1", "", true},
		{"http://h:8080", "http://h:9090/compute/1", "", true},
		{"http://h:8080", "https://h:8080/compute/1", "", true},
		{"http://h:8080", "//h:8080/compute/1", "", true},
		{"http://h:8080", "urn:uuid:1", "", true},
	}
	for _, tc := range tests {
		got, err := render.OwnPath(tc.base, tc.loc, "X-OCCI-Location line 2")
		if tc.foreign {
			if occi.ErrorCode(err) != occi.InvalidArgument {
				t.Errorf("OwnPath(%q, %q): got %q, %v; want InvalidArgument", tc.base, tc.loc, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("OwnPath(%q, %q): got %q, %v; want %q", tc.base, tc.loc, got, err, tc.want)
		}
	}
	if got := render.TargetPath("http://h", "http://other/network/1"); got != "http://other/network/1" {
		t.Errorf("TargetPath kept a foreign URL as %q, want it unchanged", got)
	}
	if got := render.TargetPath("http://h", "http://h/network/1"); got != "/network/1" {
		t.Errorf("TargetPath got %q, want /network/1", got)
	}
}

func TestOwnPathMessage(t *testing.T) {
	_, err := render.OwnPath("http://h", "http://evil/x", "line 3")
	want := `line 3: location "http://evil/x" is not on this server (expected a path or a URL under "http://h")`
	if occi.ErrorMessage(err) != want {
		t.Errorf("got %q, want %q", occi.ErrorMessage(err), want)
	}
}

func TestLegacy(t *testing.T) {
	for old, want := range map[string]string{
		"org.openstack.compute.user_data":          "occi.compute.userdata",
		"org.openstack.credentials.publickey.data": "occi.credentials.ssh.publickey",
		"occi.crendentials.ssh.publickey":          "occi.credentials.ssh.publickey",
		"occi.compute.cores":                       "occi.compute.cores",
	} {
		if got := render.CanonicalAttribute(old); got != want {
			t.Errorf("CanonicalAttribute(%q): got %q, want %q", old, got, want)
		}
	}
	old := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetworking"}
	want := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"}
	if got := render.CanonicalCategory(old); got != want {
		t.Errorf("CanonicalCategory: got %v, want %v", got, want)
	}
}

func TestAppendFloat(t *testing.T) {
	for f, want := range map[float64]string{4: "4.0", 1.33: "1.33", -0.5: "-0.5", 0: "0.0", 1e21: "1000000000000000000000.0", 0.000125: "0.000125"} {
		got, err := render.AppendFloat(nil, f)
		if err != nil || string(got) != want {
			t.Errorf("AppendFloat(%v): got %q, %v; want %q", f, got, err, want)
		}
	}
}

package simbackend

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, dataDir string
		want         Options
	}{
		{url: "sim://", want: Options{}},
		{url: "sim:", want: Options{}},
		{url: "sim://", dataDir: "/var/lib/occid", want: Options{Dir: "/var/lib/occid/sim"}},
		{url: "sim:///srv/sim/", dataDir: "/var/lib/occid", want: Options{Dir: "/srv/sim"}},
		{url: "sim://?memory=true", dataDir: "/var/lib/occid", want: Options{}},
		{url: "sim://?memory=false", dataDir: "/d", want: Options{Dir: "/d/sim"}},
		{url: "sim://?delay=2s", want: Options{Delay: 2 * time.Second}},
		{url: "sim://?delay=150ms&seed=42", want: Options{Delay: 150 * time.Millisecond, Seed: 42}},
		{url: "sim:///x?delay=0s&memory=1", want: Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := parseURL(tt.url, tt.dataDir)
			if err != nil {
				t.Fatalf("parseURL(%q, %q): %v", tt.url, tt.dataDir, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseURL(%q, %q) (-want +got):\n%s", tt.url, tt.dataDir, diff)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	d := &Driver{}
	tests := []string{
		"libvirt:///system",
		"sim://host",
		"sim://user@/",
		"sim:opaque",
		"sim://?delay=fast",
		"sim://?delay=-1s",
		"sim://?seed=-3",
		"sim://?memory=maybe",
		"sim://?colour=blue",
		"sim://?delay=%zz",
		"://",
	}
	for _, raw := range tests {
		t.Run(raw, func(t *testing.T) {
			_, err := parseURL(raw, "")
			if err == nil {
				t.Fatalf("parseURL(%q): no error, want InvalidArgument", raw)
			}
			if got := d.ErrorCode(err); got != occi.InvalidArgument {
				t.Errorf("parseURL(%q): got code %v (%v), want InvalidArgument", raw, got, err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sim://", "sim:///tmp/x?delay=1s&seed=7", "sim://?memory=true", "sim://h?x=y", "%"} {
		f.Add(s)
	}
	d := &Driver{}
	f.Fuzz(func(t *testing.T, raw string) {
		opts, err := parseURL(raw, "")
		if err != nil {
			if got := d.ErrorCode(err); got != occi.InvalidArgument {
				t.Fatalf("parseURL(%q): got code %v (%v), want InvalidArgument", raw, got, err)
			}
			return
		}
		if opts.Delay < 0 {
			t.Fatalf("parseURL(%q): negative delay %v", raw, opts.Delay)
		}
	})
}

func FuzzOpenState(f *testing.F) {
	f.Add([]byte(`{"version":1,"objects":{"sim-1":{"location":"/compute/a","kind":"compute","state":"active","boots":2}},"templates":[{"name":"img","state":"saving","boots":2}]}`))
	f.Add([]byte(`{"version":1,"objects":{"x":null}}`))
	f.Add([]byte(`{"version":1,"templates":[null]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, state []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stateFile), state, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := Open(Options{Dir: dir})
		if err != nil {
			return
		}
		defer d.Close()
		for _, o := range d.st.Objects {
			e := &occi.Entity{Location: o.Location}
			if _, err := d.Observe(context.Background(), e); err != nil {
				t.Fatalf("Observe(%s) after loading %q: %v", o.Location, state, err)
			}
		}
		if _, err := d.Templates(context.Background()); err != nil {
			t.Fatalf("Templates after loading %q: %v", state, err)
		}
	})
}

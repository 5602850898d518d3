package main

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseConfig checks that any config file is read or refused with a
// usage error, never a panic, and that what is read has only known keys.
func FuzzParseConfig(f *testing.F) {
	f.Add("endpoint = http://127.0.0.1:8080\n")
	f.Add("# comment\n\ntoken = \"a b\"\nrendering=json\n")
	f.Add("endpoint\n")
	f.Add("output = \"unterminated\n")
	f.Fuzz(func(t *testing.T, data string) {
		got, err := parseConfig("fuzz", []byte(data))
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		for k := range got {
			known := false
			for _, s := range settings {
				known = known || s.name == k
			}
			if !known {
				t.Fatalf("unknown key %q accepted", k)
			}
		}
	})
}

// FuzzLinkSpec checks that any --link value is read or refused with a
// usage error, and that what is read has a kind and a target.
func FuzzLinkSpec(f *testing.F) {
	f.Add("networkinterface:/network/1")
	f.Add("storagelink:http://h/storage/1,occi.storagelink.deviceid=vdb,mixin=x")
	f.Add("http://schemas.ogf.org/occi/infrastructure#networkinterface:/n/1")
	f.Add("#:")
	f.Fuzz(func(t *testing.T, s string) {
		kind, target, _, attrs, err := linkSpec(s)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if kind == "" || target == "" {
			t.Fatalf("linkSpec(%q): kind %q target %q, want both set", s, kind, target)
		}
		for _, a := range attrs {
			if !strings.Contains(a, "=") {
				t.Fatalf("attribute %q has no '='", a)
			}
		}
	})
}

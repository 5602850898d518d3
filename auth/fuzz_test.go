package auth

import (
	"strings"
	"testing"
)

// longFields returns the fields of data (split at blanks and sep) that are
// at least 16 bytes long: candidate secrets that no error may echo.
func longFields(data []byte, sep string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || strings.ContainsRune(sep, r)
	}) {
		if len(f) >= 16 {
			out = append(out, f)
		}
	}
	return out
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("# tokens\nsecret-token-0001 alice staff,ops\n\nsecret-token-0002 bob\n"))
	f.Add([]byte("a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := ParseTokens(data)
		if err != nil {
			for _, s := range longFields(data, ",") {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q echoes input field %q", err, s)
				}
			}
			return
		}
		if n := strings.Count(string(data), "\n") + 1; toks.Len() > n {
			t.Fatalf("got %d tokens from %d lines", toks.Len(), n)
		}
	})
}

func FuzzParseHtpasswd(f *testing.F) {
	f.Add([]byte("alice:$2y$04$6YzGqkFJ8ZqWgC6r9d3bSOqJz3mH0n1n9S1x6m3yS8Xb1zq2qv8Fi:staff\n# c\n"))
	f.Add([]byte("bob:$apr1$abc$def\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHtpasswd(data)
		if err != nil {
			// The hash field (second of a line) is never echoed.
			for _, line := range strings.Split(string(data), "\n") {
				parts := strings.Split(strings.TrimSpace(line), ":")
				if len(parts) >= 2 && len(parts[1]) >= 16 && strings.Contains(err.Error(), parts[1]) {
					t.Fatalf("error %q echoes the hash %q", err, parts[1])
				}
			}
			return
		}
		for user := range h.users {
			if user == "" || strings.Contains(user, ":") {
				t.Fatalf("accepted user name %q", user)
			}
		}
	})
}

func FuzzParseDNMap(f *testing.F) {
	f.Add([]byte("\"CN=alice,O=Example,C=DE\" alice staff\n# c\n\"CN=a\\\"b\" b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseDNMap(data)
		if err != nil {
			return
		}
		for dn, id := range m.m {
			if dn == "" || id.User == "" {
				t.Fatalf("accepted an empty DN or user: %q → %v", dn, id)
			}
		}
	})
}

package occi

import (
	"strings"
	"testing"
)

func TestLessIDMatchesString(t *testing.T) {
	parts := []string{"", "a", "b", "ab", "a#", "a#b", "http://x#", "http://x/y#", "z", "é"}
	for _, s1 := range parts {
		for _, t1 := range parts {
			for _, s2 := range parts {
				for _, t2 := range parts {
					a, b := CategoryID{s1, t1}, CategoryID{s2, t2}
					want := strings.Compare(a.String(), b.String()) < 0
					if got := lessID(a, b); got != want {
						t.Errorf("lessID(%q+%q, %q+%q): got %v, want %v", s1, t1, s2, t2, got, want)
					}
				}
			}
		}
	}
}

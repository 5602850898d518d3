package occi

import (
	"encoding/hex"
	"strings"
)

// UserSegment returns the path segment that names the user u in the
// locations and schemes of u's own categories on an occid server (tags at
// /users/<segment>/tags/, saved OS templates at /users/<segment>/os_tpl/):
// u itself when it is made of ASCII letters, digits and "-._@" only and is
// not "." or "..", so that it reads the same escaped and unescaped;
// otherwise "~" followed by u's bytes in lower-case hex, which no segment
// of the first form can be. It never returns "", "." or "..".
func UserSegment(u string) string {
	plain := u != "" && u != "." && u != ".."
	for i := 0; plain && i < len(u); i++ {
		c := u[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._@", c) >= 0
	}
	if plain {
		return u
	}
	return "~" + hex.EncodeToString([]byte(u))
}

package render

import (
	"strings"

	"github.com/occid/occi"
)

// legacyAttributes maps attribute names that clients still send to their
// OCCI 1.2 names. It is the one table every decoder consults.
var legacyAttributes = map[string]string{
	"org.openstack.compute.user_data":          "occi.compute.userdata",
	"org.openstack.credentials.publickey.data": "occi.credentials.ssh.publickey",
	"occi.crendentials.ssh.publickey":          "occi.credentials.ssh.publickey",
}

// legacyCategories maps category identifiers of OCCI 1.1 (and of widely
// used clients) to their OCCI 1.2 identifiers.
var legacyCategories = map[occi.CategoryID]occi.CategoryID{
	{Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetworking"}: {Scheme: "http://schemas.ogf.org/occi/infrastructure/network#", Term: "ipnetwork"},
}

// CanonicalAttribute returns the OCCI 1.2 name of an attribute name a client
// sent: legacy names (org.openstack.compute.user_data,
// org.openstack.credentials.publickey.data, the misspelt
// occi.crendentials.ssh.publickey) are mapped; every other name is returned
// unchanged.
func CanonicalAttribute(name string) string {
	if n, ok := legacyAttributes[name]; ok {
		return n
	}
	return name
}

// CanonicalCategory returns the OCCI 1.2 identifier of a category a client
// sent: the 1.1 mixin …/infrastructure/network#ipnetworking becomes
// #ipnetwork; every other identifier is returned unchanged.
func CanonicalCategory(id occi.CategoryID) occi.CategoryID {
	if n, ok := legacyCategories[id]; ok {
		return n
	}
	return id
}

// LegacyAttributes returns a copy of the legacy attribute name table, legacy
// name to 1.2 name, for documentation and tests.
func LegacyAttributes() map[string]string {
	m := make(map[string]string, len(legacyAttributes))
	for k, v := range legacyAttributes {
		m[k] = v
	}
	return m
}

// Limits on what a decoder accepts from one request. Inputs beyond them are
// an InvalidArgument error that says which limit was hit.
const (
	// MaxItems caps the lines, header values, entities, locations or
	// array elements one document may hold.
	MaxItems = 100000
	// MaxDepth caps the nesting of JSON values.
	MaxDepth = 64
)

// ValidScheme reports whether s can be a category scheme: a URI reference
// without white space, control characters or any of "<>\\{}|^` + "`" + `. Text
// renderings separate type identifiers by spaces and quote them, so such
// characters could not round-trip.
func ValidScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("\"<>\\{}|^`", c) >= 0 {
			return false
		}
	}
	return true
}

// ParseCategoryID is occi.ParseCategoryID with the scheme checked by
// ValidScheme and legacy identifiers mapped by CanonicalCategory.
func ParseCategoryID(s string) (occi.CategoryID, error) {
	id, err := occi.ParseCategoryID(s)
	if err != nil {
		return id, err
	}
	if !ValidScheme(id.Scheme) {
		return occi.CategoryID{}, occi.Errorf(occi.InvalidArgument, "type identifier %q has an invalid scheme", s)
	}
	return CanonicalCategory(id), nil
}

// Package occi is the OCCI 1.2 Core model: category identity, kinds, mixins,
// actions, attribute definitions, entities, the model registry, the error
// codes and the service interface that the engine and the HTTP client both
// implement. It uses the standard library only and does no I/O.
package occi

import (
	"strings"
)

// Well-known schemes of OCCI Core.
const (
	CoreScheme = "http://schemas.ogf.org/occi/core#"
)

// Type identifiers of the Core kinds.
var (
	EntityKind   = CategoryID{CoreScheme, "entity"}
	ResourceKind = CategoryID{CoreScheme, "resource"}
	LinkKind     = CategoryID{CoreScheme, "link"}
)

// Core attribute names.
const (
	AttrID         = "occi.core.id"
	AttrTitle      = "occi.core.title"
	AttrSummary    = "occi.core.summary"
	AttrSource     = "occi.core.source"
	AttrSourceKind = "occi.core.source.kind"
	AttrTarget     = "occi.core.target"
	AttrTargetKind = "occi.core.target.kind"
)

// CategoryID identifies a kind, mixin or action: its scheme (normally ending
// in '#') and its term. The type identifier is the two concatenated.
type CategoryID struct {
	Scheme string
	Term   string
}

// String returns the type identifier, scheme followed by term.
func (c CategoryID) String() string { return c.Scheme + c.Term }

// IsZero reports whether c is the zero CategoryID.
func (c CategoryID) IsZero() bool { return c.Scheme == "" && c.Term == "" }

// ParseCategoryID splits a type identifier at its last '#', which stays with
// the scheme. It returns an InvalidArgument error if s has no '#', an empty
// term, or a term that is not a valid OCCI term.
func ParseCategoryID(s string) (CategoryID, error) {
	i := strings.LastIndexByte(s, '#')
	if i < 0 {
		return CategoryID{}, Errorf(InvalidArgument, "type identifier %q has no '#' between scheme and term", s)
	}
	id := CategoryID{Scheme: s[:i+1], Term: s[i+1:]}
	if !ValidTerm(id.Term) {
		return CategoryID{}, Errorf(InvalidArgument, "type identifier %q has an invalid term %q", s, id.Term)
	}
	return id, nil
}

// ValidTerm reports whether t matches the OCCI 1.2 term grammar
// ( ALPHA / DIGIT ) *( ALPHA / DIGIT / "-" / "_" / "." ).
func ValidTerm(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Class is the class of a category: kind, mixin or action.
type Class string

// The three category classes, spelled as the renderings spell them.
const (
	ClassKind   Class = "kind"
	ClassMixin  Class = "mixin"
	ClassAction Class = "action"
)

// AttrType is the concrete type of an attribute. Renderings map it to their
// own types: JSON to string/number/boolean/array/object, text to quoted
// strings, bare numbers and booleans.
type AttrType int

// Attribute types. The zero value is TypeString.
const (
	TypeString   AttrType = iota
	TypeInteger           // an int64 value
	TypeFloat             // a float64 value; an integer is accepted and widened
	TypeBool              // a bool value
	TypeEnum              // a string value from AttributeDef.Enum
	TypeURI               // a string value that is a URI reference
	TypeIP                // a string value that is an IPv4 or IPv6 address, optionally with a /prefix
	TypeCIDR              // a string value that is an IP range in CIDR notation
	TypeDatetime          // a string value in RFC 3339 form
	TypeList              // a []any value
	TypeHash              // a map[string]any value
)

var typeNames = [...]string{"string", "integer", "float", "boolean", "enum", "uri", "ip", "cidr", "datetime", "list", "hash"}

// String returns a lower-case name of the type, such as "integer".
func (t AttrType) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// JSONType returns the GFD.225 JSON type name: "string", "number",
// "boolean", "array" or "object".
func (t AttrType) JSONType() string {
	switch t {
	case TypeInteger, TypeFloat:
		return "number"
	case TypeBool:
		return "boolean"
	case TypeList:
		return "array"
	case TypeHash:
		return "object"
	default:
		return "string"
	}
}

// AttributeDef defines an attribute of a kind or mixin, or a parameter of an
// action. Mutable means the client may set it at creation and change it later;
// an immutable attribute is owned by the server. Required means the client
// must supply it at creation. Default, when not nil, is a value of Type in its
// canonical Go form (see Attributes).
type AttributeDef struct {
	Name        string
	Type        AttrType
	Mutable     bool
	Required    bool
	Default     any
	Enum        []string // allowed values for TypeEnum
	Pattern     string   // an extra RE2 regular expression a string value must match, anchored
	Description string
}

// Kind is an OCCI Kind: the type of an entity, with its parent, its own
// attribute definitions (not the inherited ones) and actions, and the path of
// its collection ("" for core#entity, which is never bound).
type Kind struct {
	ID         CategoryID
	Title      string
	Parent     CategoryID // zero for core#entity
	Location   string     // path such as "/compute/"
	Attributes []AttributeDef
	Actions    []CategoryID
}

// Mixin is an OCCI Mixin. Owner is empty for provider mixins (shared by all)
// and names the owning user for user-defined mixins and saved OS templates.
// Attributes may carry defaults, which is how templates work.
type Mixin struct {
	ID         CategoryID
	Title      string
	Depends    []CategoryID
	Applies    []CategoryID
	Location   string // path such as "/os_tpl/ubuntu/"
	Attributes []AttributeDef
	Actions    []CategoryID
	Owner      string
}

// Action is an OCCI Action; Attributes are its parameters.
type Action struct {
	ID         CategoryID
	Title      string
	Attributes []AttributeDef
}

// Discovery is the query interface's category collection.
type Discovery struct {
	Kinds   []*Kind
	Mixins  []*Mixin
	Actions []*Action
}

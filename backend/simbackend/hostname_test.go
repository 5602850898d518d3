package simbackend

import (
	"testing"

	"github.com/occid/occi"
)

func TestDefaultHostname(t *testing.T) {
	tests := []struct {
		id, location, want string
	}{
		{"urn:uuid:60e3704b-39c5-45d5-a247-a9b51e1a9c8f", "/compute/60e3704b-39c5-45d5-a247-a9b51e1a9c8f", "vm-60e3704b"},
		{"urn:uuid:60e3704b-39c5", "", "vm-60e3704b"},
		{"My.VM_1", "/compute/My.VM_1", "vm-myvm1"},
		{"..", "/compute/%2E%2E", "vm-2e2e"},
		{"", "/compute/---", "vm"},
	}
	for _, tt := range tests {
		got := defaultHostname(&occi.Entity{ID: tt.id, Location: tt.location})
		if got != tt.want {
			t.Errorf("defaultHostname(id %q, location %q) = %q, want %q", tt.id, tt.location, got, tt.want)
		}
	}
}

package infra_test

import (
	"slices"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/infra"
)

func TestRegister(t *testing.T) {
	m := occi.NewModel()
	infra.Register(m)
	infra.Register(m) // idempotent
	for _, k := range []occi.CategoryID{infra.Compute, infra.Storage, infra.Network} {
		if m.IsLink(k) || !m.IsA(k, occi.ResourceKind) {
			t.Errorf("%s should be a resource kind", k)
		}
	}
	for _, k := range []occi.CategoryID{infra.NetworkInterface, infra.StorageLink} {
		if !m.IsLink(k) {
			t.Errorf("%s should be a link kind", k)
		}
	}
	for _, x := range []occi.CategoryID{infra.IPNetwork, infra.IPNetworkInterface, infra.OSTemplate, infra.ResourceTemplate, infra.SSHKey, infra.UserData} {
		if _, ok := m.Mixin(x); !ok {
			t.Errorf("mixin %s not registered", x)
		}
	}
	if got := len(m.Actions()); got != 9 {
		t.Errorf("actions: got %d, want 9", got)
	}
	for _, tc := range []struct {
		mixin, kind occi.CategoryID
		want        bool
	}{
		{infra.IPNetwork, infra.Network, true}, {infra.IPNetwork, infra.Compute, false},
		{infra.IPNetworkInterface, infra.NetworkInterface, true}, {infra.SSHKey, infra.Compute, true},
		{infra.SSHKey, infra.Storage, false}, {infra.UserData, infra.Compute, true}, {infra.OSTemplate, infra.Compute, true},
	} {
		if got := m.Applies(tc.mixin, tc.kind); got != tc.want {
			t.Errorf("Applies(%s, %s): got %v, want %v", tc.mixin.Term, tc.kind.Term, got, tc.want)
		}
	}
}

func TestAttributesOfTheSpec(t *testing.T) {
	m := occi.NewModel()
	infra.Register(m)
	for _, tc := range []struct {
		kind     occi.CategoryID
		mixins   []occi.CategoryID
		mutable  []string
		immut    []string
		required []string
	}{
		{infra.Compute, []occi.CategoryID{infra.SSHKey, infra.UserData},
			[]string{"occi.compute.architecture", "occi.compute.cores", "occi.compute.hostname", "occi.compute.share", "occi.compute.memory", "occi.credentials.ssh.publickey", "occi.compute.userdata"},
			[]string{"occi.compute.state", "occi.compute.state.message"},
			[]string{"occi.credentials.ssh.publickey", "occi.compute.userdata"}},
		{infra.Storage, nil, []string{"occi.storage.size"}, []string{"occi.storage.state", "occi.storage.state.message"}, []string{"occi.storage.size"}},
		{infra.Network, []occi.CategoryID{infra.IPNetwork},
			[]string{"occi.network.vlan", "occi.network.label", "occi.network.address", "occi.network.gateway", "occi.network.allocation"},
			[]string{"occi.network.state", "occi.network.state.message"}, nil},
		{infra.NetworkInterface, []occi.CategoryID{infra.IPNetworkInterface},
			[]string{"occi.networkinterface.mac", "occi.networkinterface.address", "occi.networkinterface.gateway", "occi.networkinterface.allocation"},
			[]string{"occi.networkinterface.interface", "occi.networkinterface.state", "occi.networkinterface.state.message"}, nil},
		{infra.StorageLink, nil, []string{"occi.storagelink.deviceid", "occi.storagelink.mountpoint"},
			[]string{"occi.storagelink.state", "occi.storagelink.state.message"}, nil},
	} {
		defs, err := m.Attributes(tc.kind, tc.mixins)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.mutable {
			if d, ok := defs[n]; !ok || !d.Mutable {
				t.Errorf("%s: %s missing or immutable", tc.kind.Term, n)
			}
		}
		for _, n := range tc.immut {
			if d, ok := defs[n]; !ok || d.Mutable || d.Required {
				t.Errorf("%s: %s missing, mutable or required", tc.kind.Term, n)
			}
		}
		var req []string
		for n, d := range defs {
			if d.Required && n != occi.AttrSource && n != occi.AttrTarget {
				req = append(req, n)
			}
		}
		slices.Sort(req)
		want := append([]string(nil), tc.required...)
		slices.Sort(want)
		if !slices.Equal(req, want) {
			t.Errorf("%s: required %v, want %v", tc.kind.Term, req, want)
		}
	}
}

func TestStateMachines(t *testing.T) {
	if got := len(infra.StateMachines()); got != 5 {
		t.Fatalf("state machines: got %d, want 5", got)
	}
	for _, sm := range infra.StateMachines() {
		if !slices.Contains(sm.States, infra.StateError) || !slices.Contains(sm.States, sm.Initial) {
			t.Errorf("%s: states %v must include error and the initial state %s", sm.Kind.Term, sm.States, sm.Initial)
		}
		for _, k := range infra.Kinds() {
			if k.ID != sm.Kind {
				continue
			}
			for _, d := range k.Attributes {
				if d.Name == sm.Attr && (d.Default != sm.Initial || !slices.Equal(d.Enum, sm.States)) {
					t.Errorf("%s: attribute %s default %v enum %v disagree with the machine", sm.Kind.Term, d.Name, d.Default, d.Enum)
				}
			}
		}
	}
	for _, tc := range []struct {
		kind   occi.CategoryID
		action occi.CategoryID
		state  string
		want   bool
	}{
		{infra.Compute, infra.ActionStart, "inactive", true},
		{infra.Compute, infra.ActionStart, "active", false},
		{infra.Compute, infra.ActionStart, "suspended", true},
		{infra.Compute, infra.ActionStart, "error", true},
		{infra.Compute, infra.ActionStop, "active", true},
		{infra.Compute, infra.ActionStop, "inactive", false},
		{infra.Compute, infra.ActionSuspend, "active", true},
		{infra.Compute, infra.ActionSuspend, "inactive", false},
		{infra.Compute, infra.ActionRestart, "active", true},
		{infra.Compute, infra.ActionRestart, "suspended", false},
		{infra.Compute, infra.ActionSave, "active", true},
		{infra.Compute, infra.ActionSave, "inactive", false},
		{infra.Storage, infra.ActionOnline, "offline", true},
		{infra.Storage, infra.ActionOnline, "online", false},
		{infra.Storage, infra.ActionOffline, "online", true},
		{infra.Network, infra.ActionUp, "inactive", true},
		{infra.Network, infra.ActionDown, "inactive", false},
		{infra.Network, infra.ActionStart, "inactive", false},
	} {
		sm, _ := infra.MachineFor(tc.kind)
		if got := sm.Allowed(tc.action, tc.state); got != tc.want {
			t.Errorf("%s %s in %s: got %v, want %v", tc.kind.Term, tc.action.Term, tc.state, got, tc.want)
		}
	}
	for _, k := range []occi.CategoryID{infra.NetworkInterface, infra.StorageLink} {
		sm, ok := infra.MachineFor(k)
		if !ok || sm.Initial != "inactive" || len(sm.Transitions) != 0 {
			t.Errorf("%s: want a machine starting inactive with no actions", k.Term)
		}
	}
}

func TestActionParameters(t *testing.T) {
	want := map[occi.CategoryID][]string{
		infra.ActionStop:    {"graceful", "acpioff", "poweroff"},
		infra.ActionRestart: {"graceful", "warm", "cold"},
		infra.ActionSuspend: {"hibernate", "suspend"},
		infra.ActionSave:    {"hot", "deferred"},
	}
	for _, a := range infra.Actions() {
		w, has := want[a.ID]
		if !has {
			if len(a.Attributes) != 0 {
				t.Errorf("%s has parameters %v, want none", a.ID.Term, a.Attributes)
			}
			continue
		}
		if a.Attributes[0].Name != "method" || !slices.Equal(a.Attributes[0].Enum, w) {
			t.Errorf("%s method: got %v, want %v", a.ID.Term, a.Attributes[0].Enum, w)
		}
		if !slices.Contains(w, a.Attributes[0].Default.(string)) {
			t.Errorf("%s default %v is not an allowed method", a.ID.Term, a.Attributes[0].Default)
		}
	}
}

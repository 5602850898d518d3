package infra

import (
	"slices"

	"github.com/occid/occi"
)

// States.
const (
	StateActive    = "active"
	StateInactive  = "inactive"
	StateSuspended = "suspended"
	StateOnline    = "online"
	StateOffline   = "offline"
	StateError     = "error"
)

// Transition is one edge of a state machine: the action, the states it may
// be invoked from, and the state it leads to when it succeeds.
type Transition struct {
	Action occi.CategoryID
	From   []string
	To     string
}

// StateMachine is the life cycle of one Infrastructure kind (GFD.224): its
// state attribute and message attribute, the states, the initial state and
// the transitions. A failing action leads to StateError. occid adds exits
// from error (start/stop, online/offline, up/down) as recovery, and lets
// restart and save run from active only (digest 5.3, I6).
type StateMachine struct {
	Kind        occi.CategoryID
	Attr        string
	MessageAttr string
	States      []string
	Initial     string
	Transitions []Transition
}

// Transition returns the transition of action, if the machine has one.
func (sm *StateMachine) Transition(action occi.CategoryID) (Transition, bool) {
	for _, t := range sm.Transitions {
		if t.Action == action {
			return t, true
		}
	}
	return Transition{}, false
}

// Allowed reports whether action may run in state. An action the machine
// does not know is never allowed.
func (sm *StateMachine) Allowed(action occi.CategoryID, state string) bool {
	t, ok := sm.Transition(action)
	return ok && slices.Contains(t.From, state)
}

// StateMachines returns the five state machines: compute, storage, network,
// networkinterface and storagelink.
func StateMachines() []*StateMachine {
	return []*StateMachine{
		{
			Kind: Compute, Attr: AttrComputeState, MessageAttr: AttrComputeMessage,
			States:  []string{StateActive, StateInactive, StateSuspended, StateError},
			Initial: StateInactive,
			Transitions: []Transition{
				{ActionStart, []string{StateInactive, StateSuspended, StateError}, StateActive},
				{ActionStop, []string{StateActive, StateSuspended, StateError}, StateInactive},
				{ActionRestart, []string{StateActive}, StateActive},
				{ActionSuspend, []string{StateActive}, StateSuspended},
				{ActionSave, []string{StateActive}, StateActive},
			},
		},
		{
			Kind: Storage, Attr: AttrStorageState, MessageAttr: AttrStorageMessage,
			States:  []string{StateOnline, StateOffline, StateError},
			Initial: StateOffline,
			Transitions: []Transition{
				{ActionOnline, []string{StateOffline, StateError}, StateOnline},
				{ActionOffline, []string{StateOnline, StateError}, StateOffline},
			},
		},
		{
			Kind: Network, Attr: AttrNetworkState, MessageAttr: AttrNetworkMessage,
			States:  []string{StateActive, StateInactive, StateError},
			Initial: StateInactive,
			Transitions: []Transition{
				{ActionUp, []string{StateInactive, StateError}, StateActive},
				{ActionDown, []string{StateActive, StateError}, StateInactive},
			},
		},
		{
			Kind: NetworkInterface, Attr: AttrNIState, MessageAttr: AttrNIMessage,
			States:  []string{StateActive, StateInactive, StateError},
			Initial: StateInactive,
		},
		{
			Kind: StorageLink, Attr: AttrSLState, MessageAttr: AttrSLMessage,
			States:  []string{StateActive, StateInactive, StateError},
			Initial: StateInactive,
		},
	}
}

var machines = func() map[occi.CategoryID]*StateMachine {
	m := map[occi.CategoryID]*StateMachine{}
	for _, sm := range StateMachines() {
		m[sm.Kind] = sm
	}
	return m
}()

// MachineFor returns the state machine of kind, which callers must not
// modify, and whether kind has one.
func MachineFor(kind occi.CategoryID) (*StateMachine, bool) {
	sm, ok := machines[kind]
	return sm, ok
}

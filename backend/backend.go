// Package backend is the contract between the engine and the clouds occid
// fronts. The engine validates every request against the OCCI model, then
// calls a Driver; drivers are thin and only talk to their system. Drivers
// live in subpackages (simbackend, libvirtbackend, openstackbackend) and all
// run the conformance suite in backendtest.
package backend

import (
	"context"

	"github.com/occid/occi"
)

// Capabilities says what a driver supports. The engine advertises exactly
// this: a kind, action or mixin the driver does not list is not offered in
// discovery, so no advertised action ever answers Unimplemented.
type Capabilities struct {
	// Kinds the driver can create, e.g. infrastructure#compute.
	Kinds []occi.CategoryID
	// Actions the driver implements, e.g. compute/action#save.
	Actions []occi.CategoryID
	// Mixins with behaviour the driver honours: ssh_key, user_data,
	// ipnetwork, ipnetworkinterface.
	Mixins []occi.CategoryID
	// ReplaceOSTemplate reports whether an existing compute can be
	// re-imaged by associating another os_tpl.
	ReplaceOSTemplate bool
	// SaveMethods lists the save methods supported ("hot", "deferred").
	SaveMethods []string
}

// TemplateType tells OS templates from resource templates.
type TemplateType int

// Template types.
const (
	OSTemplate TemplateType = iota
	ResourceTemplate
)

// Template states: a saved image is usable once it is TemplateReady.
const (
	TemplateReady  = "ready"
	TemplateSaving = "saving"
	TemplateError  = "error"
)

// Template is an OS image or a resource size the driver offers; the engine
// turns each into an os_tpl or resource_tpl mixin. Name is the driver's
// identifier and must be a valid OCCI term; it is the mixin's term.
type Template struct {
	Type       TemplateType
	Name       string
	Title      string
	Attributes occi.Attributes // defaults, e.g. occi.compute.cores for a resource template
	State      string          // TemplateReady, TemplateSaving or TemplateError
	Message    string          // progress or failure, for humans
	Progress   int             // percent copied while saving
	Source     string          // for a saved template: location of the source compute
	Owner      string          // for a saved template: the owner of the source compute
}

// Observation is what the backend reports about the object behind an entity.
// State is the OCCI state (e.g. "active"); Message explains it or shows a
// transition ("stopping"). Attributes carries values the backend decides or
// knows, such as occi.compute.hostname or occi.networkinterface.mac; the
// engine stores them. Ref is the backend's id of the object (see
// occi.Entity.BackendRef). Gone reports that the object no longer exists.
type Observation struct {
	State      string
	Message    string
	Attributes occi.Attributes
	Ref        string
	Gone       bool
}

// CreateRequest asks a driver to make an entity real. For a link, Source is
// the source resource and Target the target resource when it is on this
// server (nil otherwise). OSTemplate and ResourceTemplate name the driver
// templates chosen through the entity's mixins ("" if none).
type CreateRequest struct {
	Entity           *occi.Entity
	Source           *occi.Entity
	Target           *occi.Entity
	OSTemplate       string
	ResourceTemplate string
}

// SaveRequest asks for a new OS template from a compute's disks. Method is
// "hot" (copy without disturbing the VM) or "deferred" (stop, copy, start).
// Name is the template name the driver should use (a valid term).
type SaveRequest struct {
	Entity *occi.Entity
	Method string
	Name   string
	Title  string
}

// ProgressFunc receives intermediate observations during a long operation,
// e.g. State "active" with Message "stopping for save".
type ProgressFunc func(Observation)

// Driver talks to one cloud. Methods may block for the duration of the
// operation and must honour ctx cancellation. Drivers return raw errors;
// ErrorCode classifies them and the engine wraps each error once. The engine
// serialises operations on one entity; a driver must still be safe for
// concurrent use across entities.
type Driver interface {
	// Capabilities reports what the driver supports; it does not change
	// while the driver is open.
	Capabilities() Capabilities
	// Templates returns the OS and resource templates offered now,
	// saved ones included, with their readiness.
	Templates(ctx context.Context) ([]Template, error)

	// Create makes the resource or link real and returns its first
	// observation.
	Create(ctx context.Context, req CreateRequest) (Observation, error)
	// Update applies a change of attributes or templates from old to
	// updated (e.g. a resize through occi.storage.size or a new
	// resource_tpl) and returns the new observation.
	Update(ctx context.Context, old, updated *occi.Entity) (Observation, error)
	// Delete removes the object behind e and everything it owns in the
	// backend. Deleting something already gone is not an error.
	Delete(ctx context.Context, e *occi.Entity) error
	// Observe returns the current state of the object behind e.
	Observe(ctx context.Context, e *occi.Entity) (Observation, error)
	// Act runs an action (not save) with its parameters and returns the
	// observation once the action has completed.
	Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, progress ProgressFunc) (Observation, error)
	// Save starts deriving a new OS template from the compute and returns
	// it at once, normally in TemplateSaving; the copy goes on in the
	// background and Templates reports its progress and end. A failure
	// leaves no half template behind and the compute as it was.
	Save(ctx context.Context, req SaveRequest, progress ProgressFunc) (Template, error)
	// ErrorCode classifies an error returned by this driver.
	ErrorCode(err error) occi.Code
	// Close releases the driver's connections.
	Close() error
}

// TemplateDeleter is implemented by drivers that can delete a saved OS
// template (an image that Save made). The engine calls DeleteTemplate with
// the template's Name when the owner deletes the template's mixin, only for
// a saved template that is not TemplateSaving, and removes the mixin from its
// store once the call succeeds. The contract:
//   - Only saved templates are deleted. A provider template (one Save did
//     not make) is never deleted: the driver refuses with an error that
//     ErrorCode classifies as PermissionDenied.
//   - Deleting a template that is gone (deleted before, or lost by the
//     system) is not an error: the driver returns nil, or an error that
//     ErrorCode classifies as NotFound, and callers treat both as done.
//   - Computes created from the template keep running: the driver deletes
//     only the image, never a disk made from it. When the system cannot
//     delete the image while disks still depend on it, the driver refuses
//     with FailedPrecondition and a message saying what depends on it.
//   - Once DeleteTemplate returns, Templates no longer lists the template.
//
// A driver without this interface cannot delete images; the engine then
// refuses the deletion with PermissionDenied.
type TemplateDeleter interface {
	DeleteTemplate(ctx context.Context, name string) error
}

// Event is a change the backend reports without being asked, such as a VM
// that powered itself off. Location names the entity.
type Event struct {
	Location    string
	Observation Observation
}

// Watcher is implemented by drivers that push changes. The engine calls
// Watch once; the driver calls fn for every change until ctx ends.
type Watcher interface {
	Watch(ctx context.Context, fn func(Event)) error
}

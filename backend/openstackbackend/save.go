package openstackbackend

import (
	"context"
	"fmt"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Save makes a Glance image of the server with Nova's createImage, named
// req.Name, and returns it as an OS template at once; its readiness then
// follows the image's Glance status (see Templates). "hot" images the
// server as it runs; "deferred" stops it, images it, waits until Nova has
// captured the disk and starts it again. The image records the source
// compute's location, owner and the title as properties. A failure deletes
// the image and restarts a server this call stopped.
func (d *Driver) Save(ctx context.Context, req backend.SaveRequest, progress backend.ProgressFunc) (backend.Template, error) {
	if progress == nil {
		progress = func(backend.Observation) {}
	}
	e := req.Entity
	if e == nil || e.Kind != kindCompute {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save applies to a compute")
	}
	c, err := d.clientsFor(ctx)
	if err != nil {
		return backend.Template{}, err
	}
	if e.BackendRef == "" {
		return backend.Template{}, occi.Errorf(occi.NotFound, "%s has no Nova server behind it", e.Location)
	}
	method := req.Method
	switch method {
	case "", saveHot:
		method = saveHot
	case saveDeferred, saveDeferredMisspelt:
		method = saveDeferred
	default:
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save method %q is not hot or deferred", req.Method)
	}
	name := req.Name
	if name == "" {
		name = "saved-" + e.ID
	}
	if !occi.ValidTerm(name) {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save name %q is not a valid OCCI term", name)
	}
	existing, err := d.listImages(ctx, c)
	if err != nil {
		return backend.Template{}, err
	}
	for _, i := range existing {
		if i.image.Name == name || i.term == name {
			return backend.Template{}, occi.Errorf(occi.AlreadyExists, "an os_tpl named %q already exists", name)
		}
	}
	id := e.BackendRef
	s, err := d.waitIdle(ctx, c, id, progress)
	if err != nil {
		return backend.Template{}, err
	}
	meta := map[string]string{imagePropSource: clip255(e.Location)}
	if e.Owner != "" {
		meta[imagePropOwner] = clip255(e.Owner)
	}
	if req.Title != "" {
		meta[imagePropTitle] = clip255(req.Title)
	}
	stopped := false
	// restore undoes a deferred save's stop after a failure.
	restore := func() {
		if !stopped {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Timeout)
		defer cancel()
		if _, err := d.waitIdle(rctx, c, id, nil); err == nil {
			_ = servers.Start(rctx, c.compute, id).ExtractErr()
		}
	}
	if method == saveDeferred && vmStateOf(s) == vmActive {
		progress(backend.Observation{State: stateActive, Message: "stopping for save"})
		if err := servers.Stop(ctx, c.compute, id).ExtractErr(); err != nil {
			return backend.Template{}, d.wrap(err, "nova", "stop server "+id+" for save")
		}
		stopped = true
		s, err = d.waitIdle(ctx, c, id, progress)
		if err != nil {
			restore()
			return backend.Template{}, err
		}
		if vmStateOf(s) != vmStopped {
			restore()
			return backend.Template{}, occi.Errorf(occi.FailedPrecondition, "nova: server %s did not stop for save; it is %s%s", id, s.Status, faultSuffix(s))
		}
	}
	imageID, err := servers.CreateImage(ctx, c.compute, id, servers.CreateImageOpts{Name: name, Metadata: meta}).ExtractImageID()
	if err != nil {
		restore()
		return backend.Template{}, d.wrap(err, "nova", "create an image of server "+id)
	}
	fail := func(err error) (backend.Template, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = images.Delete(dctx, c.image, imageID).ExtractErr()
		restore()
		return backend.Template{}, err
	}
	if method == saveDeferred {
		progress(backend.Observation{State: stateInactive, Message: "imaging for save"})
		s, err = d.waitIdle(ctx, c, id, progress)
		if err != nil {
			return fail(err)
		}
		if stopped {
			progress(backend.Observation{State: stateInactive, Message: "starting after save"})
			if err := servers.Start(ctx, c.compute, id).ExtractErr(); err != nil {
				stopped = false
				return fail(d.wrap(err, "nova", "start server "+id+" after save"))
			}
			stopped = false
			if s, err = d.waitIdle(ctx, c, id, progress); err != nil {
				return backend.Template{}, err
			}
			if vmStateOf(s) != vmActive {
				return backend.Template{}, occi.Errorf(occi.FailedPrecondition, "nova: server %s did not start again after save; it is %s%s", id, s.Status, faultSuffix(s))
			}
		}
	}
	img, err := images.Get(ctx, c.image, imageID).Extract()
	if err != nil {
		if isNotFound(err) {
			return fail(occi.Errorf(occi.Unavailable, "glance: the image %s of server %s vanished while saving", imageID, id))
		}
		return fail(d.wrap(err, "glance", "read image "+imageID))
	}
	t := imageTemplate(*img, name)
	t.Source = e.Location
	t.Owner = e.Owner
	if req.Title != "" {
		t.Title = req.Title
	}
	if t.State == backend.TemplateError {
		return fail(occi.Errorf(occi.Unavailable, "save of server %s failed: %s", id, t.Message))
	}
	return t, nil
}

// imageIDOfTemplate returns the Glance image behind an os_tpl name.
func (d *Driver) imageIDOfTemplate(ctx context.Context, c *clients, term string) (string, error) {
	im, err := d.listImages(ctx, c)
	if err != nil {
		return "", err
	}
	for _, i := range im {
		if i.term == term {
			return i.image.ID, nil
		}
	}
	return "", occi.Errorf(occi.NotFound, "os_tpl %q is not an image visible to this project", term)
}

var _ = fmt.Sprintf

package openstackbackend

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

func (d *Driver) needVolume(c *clients) error {
	if c.volume == nil || d.opts.DisableVolumes {
		return occi.Errorf(occi.Unimplemented, "this cloud offers no block storage (Cinder volumev3) to this project")
	}
	return nil
}

// volumeObservation maps a Cinder volume: available and in-use are online,
// creating and other preparatory statuses offline with the status as the
// message, error_* are error; attaching, detaching and extending are shown
// in the message.
func volumeObservation(v *volumes.Volume) backend.Observation {
	o := backend.Observation{Ref: v.ID, Attributes: occi.Attributes{attrStorageSize: float64(v.Size)}}
	switch s := v.Status; {
	case s == "available" || s == "in-use":
		o.State = stateOnline
	case s == "attaching" || s == "detaching" || s == "extending" || s == "reserved" || s == "backing-up":
		o.State = stateOnline
		o.Message = s
	case strings.HasPrefix(s, "error"):
		o.State = stateError
		o.Message = "cinder volume status " + s
	default: // creating, downloading, uploading, deleting, maintenance, …
		o.State = stateOffline
		o.Message = s
	}
	return o
}

// sizeGiB converts occi.storage.size (GiB, a float) to Cinder's whole GiB,
// rounding up.
func sizeGiB(a occi.Attributes) (int, error) {
	f, ok := attrNumber(a, attrStorageSize)
	if !ok {
		return 0, occi.Errorf(occi.InvalidArgument, "%s is required for a Cinder volume", attrStorageSize)
	}
	if f <= 0 || f > 1<<20 || math.IsNaN(f) {
		return 0, occi.Errorf(occi.InvalidArgument, "%s %v is not a size between 0 and 1048576 GiB", attrStorageSize, f)
	}
	return int(math.Ceil(f)), nil
}

func (d *Driver) createVolume(ctx context.Context, c *clients, req backend.CreateRequest) (backend.Observation, error) {
	if err := d.needVolume(c); err != nil {
		return backend.Observation{}, err
	}
	e := req.Entity
	size, err := sizeGiB(e.Attributes)
	if err != nil {
		return backend.Observation{}, err
	}
	name := e.Title
	if name == "" {
		name = "occi-" + e.ID
	}
	v, err := volumes.Create(ctx, c.volume, volumes.CreateOpts{
		Size: size, Name: name, Description: e.Summary,
		Metadata: map[string]string{metaOCCIID: e.ID, metaOCCILocation: clip255(e.Location)},
	}, nil).Extract()
	if err != nil {
		return backend.Observation{}, d.wrap(err, "cinder", "create volume")
	}
	last, err := d.waitVolume(ctx, c, v.ID, func(v *volumes.Volume) bool { return v.Status != "creating" && v.Status != "downloading" })
	if err != nil {
		if ctx.Err() != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = volumes.Delete(dctx, c.volume, v.ID, nil).ExtractErr()
			return backend.Observation{}, err
		}
		if last == nil {
			last = v
		}
	}
	return volumeObservation(last), nil
}

func (d *Driver) waitVolume(ctx context.Context, c *clients, id string, done func(*volumes.Volume) bool) (*volumes.Volume, error) {
	var last *volumes.Volume
	err := d.poll(ctx, "cinder volume "+id, func() (bool, string, error) {
		v, err := volumes.Get(ctx, c.volume, id).Extract()
		if err != nil {
			return false, "", err
		}
		last = v
		return done(v), "status " + v.Status, nil
	})
	return last, err
}

// poll calls check with backoff until it reports done, returns an error
// other than Unavailable, ctx ends or the timeout passes.
func (d *Driver) poll(ctx context.Context, what string, check func() (bool, string, error)) error {
	deadline := time.Now().Add(d.opts.Timeout)
	delay := d.opts.PollInterval
	status := "no answer"
	for {
		ok, st, err := check()
		if err != nil && errorCode(err) != occi.Unavailable {
			return err
		}
		if err == nil {
			if ok {
				return nil
			}
			status = st
		}
		if time.Now().After(deadline) {
			return occi.Errorf(occi.Unavailable, "%s did not get there within %s (%s)", what, d.opts.Timeout, status)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(delay*3/2, 3*time.Second)
	}
}

func (d *Driver) observeVolume(ctx context.Context, c *clients, id string) (backend.Observation, error) {
	if err := d.needVolume(c); err != nil {
		return backend.Observation{}, err
	}
	v, err := volumes.Get(ctx, c.volume, id).Extract()
	if isNotFound(err) {
		return backend.Observation{Ref: id, Gone: true}, nil
	}
	if err != nil {
		return backend.Observation{}, d.wrap(err, "cinder", "read volume "+id)
	}
	return volumeObservation(v), nil
}

// updateVolume grows a volume when occi.storage.size grows (Cinder cannot
// shrink one) and renames it when the title changes.
func (d *Driver) updateVolume(ctx context.Context, c *clients, old, updated *occi.Entity) (backend.Observation, error) {
	if err := d.needVolume(c); err != nil {
		return backend.Observation{}, err
	}
	id := updated.BackendRef
	newSize, err := sizeGiB(updated.Attributes)
	if err != nil {
		return backend.Observation{}, err
	}
	v, err := volumes.Get(ctx, c.volume, id).Extract()
	if err != nil {
		return backend.Observation{}, d.wrap(err, "cinder", "read volume "+id)
	}
	if newSize < v.Size {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "a Cinder volume cannot shrink: %s is %d GiB, asked for %v", updated.Location, v.Size, newSize)
	}
	if newSize > v.Size {
		if err := volumes.ExtendSize(ctx, c.volume, id, volumes.ExtendSizeOpts{NewSize: newSize}).ExtractErr(); err != nil {
			return backend.Observation{}, d.wrap(err, "cinder", fmt.Sprintf("extend volume %s to %d GiB", id, newSize))
		}
		if v, err = d.waitVolume(ctx, c, id, func(v *volumes.Volume) bool { return v.Status != "extending" }); err != nil {
			return backend.Observation{}, err
		}
	}
	if old.Title != updated.Title && updated.Title != "" {
		name := updated.Title
		if v, err = volumes.Update(ctx, c.volume, id, volumes.UpdateOpts{Name: &name}).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "cinder", "rename volume "+id)
		}
	}
	return volumeObservation(v), nil
}

func (d *Driver) deleteVolume(ctx context.Context, c *clients, e *occi.Entity) error {
	if e.BackendRef == "" {
		return nil
	}
	if err := d.needVolume(c); err != nil {
		return err
	}
	id := e.BackendRef
	err := volumes.Delete(ctx, c.volume, id, nil).ExtractErr()
	if isNotFound(err) {
		return nil
	}
	if httpStatus(err) == 400 {
		return occi.Wrap(err, occi.FailedPrecondition, "cinder: volume "+id+" cannot be deleted now: "+apiMessageOf(err))
	}
	if err != nil {
		return d.wrap(err, "cinder", "delete volume "+id)
	}
	werr := d.poll(ctx, "cinder volume "+id+" deletion", func() (bool, string, error) {
		v, err := volumes.Get(ctx, c.volume, id).Extract()
		if isNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		if strings.HasPrefix(v.Status, "error") {
			return false, "", occi.Errorf(occi.Unavailable, "cinder: deleting volume %s failed: status %s", id, v.Status)
		}
		return false, "status " + v.Status, nil
	})
	return werr
}

// Storage links are Nova volume attachments; their Ref is "SERVER/VOLUME".

func splitRef(ref string) (string, string, error) {
	a, b, ok := strings.Cut(ref, "/")
	if !ok || a == "" || b == "" {
		return "", "", occi.Errorf(occi.Internal, "backend reference %q is not SERVER/OBJECT", ref)
	}
	return a, b, nil
}

func linkEnds(req backend.CreateRequest, what string) (server, target string, err error) {
	if req.Source == nil || req.Source.Kind != kindCompute || req.Source.BackendRef == "" {
		return "", "", occi.Errorf(occi.InvalidArgument, "a %s needs a compute on this server as its source", what)
	}
	if req.Target == nil || req.Target.BackendRef == "" {
		return "", "", occi.Errorf(occi.InvalidArgument, "a %s needs a target on this server backed by OpenStack", what)
	}
	return req.Source.BackendRef, req.Target.BackendRef, nil
}

func (d *Driver) attachVolume(ctx context.Context, c *clients, req backend.CreateRequest) (backend.Observation, error) {
	if err := d.needVolume(c); err != nil {
		return backend.Observation{}, err
	}
	if req.Target != nil && req.Target.Kind != kindStorage {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "a storagelink must target a storage, not %s", req.Target.Kind)
	}
	server, volume, err := linkEnds(req, "storagelink")
	if err != nil {
		return backend.Observation{}, err
	}
	opts := volumeattach.CreateOpts{VolumeID: volume}
	if dev := attrString(req.Entity.Attributes, attrDeviceID); strings.HasPrefix(dev, "/dev/") {
		opts.Device = dev
	}
	if _, err := volumeattach.Create(ctx, c.compute, server, opts).Extract(); err != nil {
		return backend.Observation{}, d.wrap(err, "nova", fmt.Sprintf("attach volume %s to server %s", volume, server))
	}
	ref := server + "/" + volume
	_, _ = d.waitVolume(ctx, c, volume, func(v *volumes.Volume) bool { return v.Status != "attaching" && v.Status != "reserved" })
	if ctx.Err() != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = volumeattach.Delete(dctx, c.compute, server, volume).ExtractErr()
		return backend.Observation{}, ctx.Err()
	}
	return d.observeAttachment(ctx, c, ref)
}

// observeAttachment reports a storage link: active once Cinder shows the
// volume in-use, inactive while attaching, error when the volume is in an
// error status; occi.storagelink.deviceid is the device Nova assigned.
func (d *Driver) observeAttachment(ctx context.Context, c *clients, ref string) (backend.Observation, error) {
	server, volume, err := splitRef(ref)
	if err != nil {
		return backend.Observation{}, err
	}
	a, err := volumeattach.Get(ctx, c.compute, server, volume).Extract()
	if isNotFound(err) {
		return backend.Observation{Ref: ref, Gone: true}, nil
	}
	if err != nil {
		return backend.Observation{}, d.wrap(err, "nova", "read the attachment of volume "+volume)
	}
	o := backend.Observation{Ref: ref, State: stateActive, Attributes: occi.Attributes{}}
	if a.Device != "" {
		o.Attributes[attrDeviceID] = a.Device
	}
	if c.volume != nil {
		v, err := volumes.Get(ctx, c.volume, volume).Extract()
		if err == nil {
			switch s := v.Status; {
			case s == "in-use":
			case s == "attaching" || s == "reserved":
				o.State, o.Message = stateInactive, s
			case s == "detaching":
				o.Message = s
			case strings.HasPrefix(s, "error"):
				o.State, o.Message = stateError, "cinder volume status "+s
			default:
				o.State, o.Message = stateInactive, "cinder volume status "+s
			}
		}
	}
	return o, nil
}

func (d *Driver) updateAttachment(ctx context.Context, c *clients, old, updated *occi.Entity) (backend.Observation, error) {
	if o, n := attrString(old.Attributes, attrDeviceID), attrString(updated.Attributes, attrDeviceID); o != n && n != "" {
		cur, err := d.observeAttachment(ctx, c, updated.BackendRef)
		if err != nil {
			return backend.Observation{}, err
		}
		if cur.Attributes[attrDeviceID] != n {
			return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s of an attached volume cannot change; detach and attach again", attrDeviceID)
		}
	}
	return d.observeAttachment(ctx, c, updated.BackendRef)
}

func (d *Driver) detachVolume(ctx context.Context, c *clients, e *occi.Entity) error {
	if e.BackendRef == "" {
		return nil
	}
	server, volume, err := splitRef(e.BackendRef)
	if err != nil {
		return err
	}
	err = volumeattach.Delete(ctx, c.compute, server, volume).ExtractErr()
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return d.wrap(err, "nova", fmt.Sprintf("detach volume %s from server %s", volume, server))
	}
	return d.poll(ctx, "detaching volume "+volume, func() (bool, string, error) {
		_, err := volumeattach.Get(ctx, c.compute, server, volume).Extract()
		if isNotFound(err) {
			return true, "", nil
		}
		return false, "still attached", err
	})
}

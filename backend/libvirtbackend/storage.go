package libvirtbackend

import (
	"context"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"libvirt.org/go/libvirtxml"
)

// maxStorageGiB bounds occi.storage.size.
const maxStorageGiB = 64 * 1024

func storageSize(e *occi.Entity) (float64, error) {
	v, ok := numAttr(e.Attributes, attrStorageSize)
	if !ok {
		return 0, occi.Errorf(occi.InvalidArgument, "occi.storage.size is required (GiB)")
	}
	if v <= 0 || v > maxStorageGiB {
		return 0, occi.Errorf(occi.InvalidArgument, "occi.storage.size %v GiB is not above 0 and at most %d", v, maxStorageGiB)
	}
	return v, nil
}

func (d *Driver) createStorage(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	size, err := storageSize(e)
	if err != nil {
		return backend.Observation{}, err
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	pool, err := l.StoragePoolLookupByName(d.opts.VolumePool)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up the volume pool %s", d.opts.VolumePool)
	}
	name := d.volumeName(e)
	x, err := volumeXML(name, "qcow2", gibToBytes(size))
	if err != nil {
		return backend.Observation{}, occi.Wrap(err, occi.Internal, "building volume XML")
	}
	v, err := l.StorageVolCreateXML(pool, x, 0)
	if err != nil {
		return backend.Observation{}, d.fail(err, "creating volume %s", name)
	}
	return d.observeVolume(l, v)
}

func (d *Driver) lookupVolume(l *libvirt.Libvirt, e *occi.Entity) (libvirt.StorageVol, error) {
	pool, err := l.StoragePoolLookupByName(d.opts.VolumePool)
	if err != nil {
		return libvirt.StorageVol{}, err
	}
	return l.StorageVolLookupByName(pool, d.volumeName(e))
}

func (d *Driver) observeStorage(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	v, err := d.lookupVolume(l, e)
	if isNotFound(err) {
		return backend.Observation{Gone: true, State: stateError, Message: "the volume no longer exists in libvirt"}, nil
	}
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up volume %s", d.volumeName(e))
	}
	return d.observeVolume(l, v)
}

// observeVolume reports a volume: online with its size. A volume has no
// offline state in libvirt, so storage offers no online/offline actions.
func (d *Driver) observeVolume(l *libvirt.Libvirt, v libvirt.StorageVol) (backend.Observation, error) {
	_, capacity, _, err := l.StorageVolGetInfo(v)
	if err != nil {
		if isNotFound(err) {
			return backend.Observation{Gone: true, State: stateError, Message: "the volume no longer exists in libvirt"}, nil
		}
		return backend.Observation{}, d.fail(err, "reading volume %s", v.Name)
	}
	return backend.Observation{
		State:      stateOnline,
		Attributes: occi.Attributes{attrStorageSize: bytesToGiB(capacity)},
		Ref:        "volume/" + v.Name,
	}, nil
}

// updateStorage resizes a volume when occi.storage.size changed (growing
// only: shrinking would destroy data). A volume attached to a running
// domain is resized through the domain so that the guest sees the new size.
func (d *Driver) updateStorage(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	size, err := storageSize(updated)
	if err != nil {
		return backend.Observation{}, err
	}
	l, err := d.client()
	if err != nil {
		return backend.Observation{}, err
	}
	v, err := d.lookupVolume(l, updated)
	if err != nil {
		return backend.Observation{}, d.fail(err, "looking up volume %s", d.volumeName(updated))
	}
	_, capacity, _, err := l.StorageVolGetInfo(v)
	if err != nil {
		return backend.Observation{}, d.fail(err, "reading volume %s", v.Name)
	}
	want := gibToBytes(size)
	if want < capacity {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument,
			"occi.storage.size %v GiB is smaller than the volume's %v GiB: volumes only grow", size, bytesToGiB(capacity))
	}
	if want > capacity {
		if dom, dev, ok := d.runningUserOf(l, v); ok {
			if err := l.DomainBlockResize(dom, dev, want, libvirt.DomainBlockResizeBytes); err != nil {
				return backend.Observation{}, d.fail(err, "resizing volume %s through domain %s", v.Name, dom.Name)
			}
		} else if err := l.StorageVolResize(v, want, 0); err != nil {
			if !d.isTest || !isCode(err, libvirt.ErrNoSupport) {
				return backend.Observation{}, d.fail(err, "resizing volume %s", v.Name)
			}
			// libvirt's test driver cannot resize; its volumes hold no
			// data, so a new volume of the new size stands in.
			if v, err = d.recreateVolume(l, v, want); err != nil {
				return backend.Observation{}, d.fail(err, "resizing volume %s", v.Name)
			}
		}
	}
	return d.observeVolume(l, v)
}

// runningUserOf finds a running domain of ours that has the volume attached
// and returns it with the disk's target device.
func (d *Driver) runningUserOf(l *libvirt.Libvirt, v libvirt.StorageVol) (libvirt.Domain, string, bool) {
	path, err := l.StorageVolGetPath(v)
	if err != nil {
		return libvirt.Domain{}, "", false
	}
	doms, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
	if err != nil {
		return libvirt.Domain{}, "", false
	}
	for _, dom := range doms {
		if !strings.HasPrefix(dom.Name, d.opts.Prefix) {
			continue
		}
		x, err := l.DomainGetXMLDesc(dom, 0)
		if err != nil {
			continue
		}
		var def libvirtxml.Domain
		if def.Unmarshal(x) != nil || def.Devices == nil {
			continue
		}
		for _, dk := range def.Devices.Disks {
			if dk.Source != nil && dk.Source.File != nil && dk.Source.File.File == path && dk.Target != nil {
				return dom, dk.Target.Dev, true
			}
		}
	}
	return libvirt.Domain{}, "", false
}

func (d *Driver) deleteStorage(ctx context.Context, e *occi.Entity) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	v, err := d.lookupVolume(l, e)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return d.fail(err, "looking up volume %s", d.volumeName(e))
	}
	if dom, _, ok := d.runningUserOf(l, v); ok {
		return occi.Errorf(occi.FailedPrecondition, "storage %s is attached to the running domain %s; delete its storagelink first", e.Location, dom.Name)
	}
	if err := l.StorageVolDelete(v, 0); err != nil && !isNotFound(err) {
		return d.fail(err, "deleting volume %s", v.Name)
	}
	return nil
}

// recreateVolume replaces an empty volume by one of a new capacity (for
// libvirt's test driver only).
func (d *Driver) recreateVolume(l *libvirt.Libvirt, v libvirt.StorageVol, capacity uint64) (libvirt.StorageVol, error) {
	pool, err := l.StoragePoolLookupByName(d.opts.VolumePool)
	if err != nil {
		return v, err
	}
	if err := l.StorageVolDelete(v, 0); err != nil {
		return v, err
	}
	x, err := volumeXML(v.Name, "qcow2", capacity)
	if err != nil {
		return v, err
	}
	return l.StorageVolCreateXML(pool, x, 0)
}

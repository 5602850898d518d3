package openstackbackend

import (
	"context"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// addedMixins returns the mixins of updated that old lacks.
func addedMixins(old, updated *occi.Entity) []occi.CategoryID {
	var out []occi.CategoryID
	for _, m := range updated.Mixins {
		if !old.HasMixin(m) {
			out = append(out, m)
		}
	}
	return out
}

// updateServer applies a compute update: a new resource_tpl (or changed
// cores or memory) resizes the server to that flavor and confirms the
// resize; a new os_tpl rebuilds it from that image; a new title or
// hostname renames it. occi.compute.userdata and the ssh key are given
// once at creation and cannot be changed.
func (d *Driver) updateServer(ctx context.Context, c *clients, old, updated *occi.Entity) (backend.Observation, error) {
	id := updated.BackendRef
	if id == "" {
		return backend.Observation{}, occi.Errorf(occi.NotFound, "%s has no Nova server behind it", updated.Location)
	}
	if attrString(old.Attributes, attrUserData) != attrString(updated.Attributes, attrUserData) {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s is supplied once at creation and cannot be changed", attrUserData)
	}
	if sshPublicKey(attrString(old.Attributes, attrSSHKey)) != sshPublicKey(attrString(updated.Attributes, attrSSHKey)) {
		return backend.Observation{}, occi.Errorf(occi.FailedPrecondition, "%s is injected at creation and cannot be changed", attrSSHKey)
	}
	var newFlavor, newImage string
	added := addedMixins(old, updated)
	if len(added) > 0 {
		fl, err := d.listFlavors(ctx, c)
		if err != nil {
			return backend.Observation{}, err
		}
		im, err := d.listImages(ctx, c)
		if err != nil {
			return backend.Observation{}, err
		}
		for _, m := range added {
			isOS := strings.Contains(m.Scheme, "os_tpl")
			isRes := strings.Contains(m.Scheme, "resource_tpl")
			if !isOS {
				for _, f := range fl {
					if f.term == m.Term {
						newFlavor = f.flavor.ID
					}
				}
			}
			if !isRes {
				for _, i := range im {
					if i.term == m.Term {
						newImage = i.image.ID
					}
				}
			}
		}
	}
	s, err := d.waitIdle(ctx, c, id, nil)
	if err != nil {
		return backend.Observation{}, err
	}
	if newFlavor == "" {
		oc, _ := attrNumber(old.Attributes, attrCores)
		nc, hasC := attrNumber(updated.Attributes, attrCores)
		om, _ := attrNumber(old.Attributes, attrMemory)
		nm, hasM := attrNumber(updated.Attributes, attrMemory)
		if (hasC && nc != oc) || (hasM && nm != om) {
			cur := serverObservation(s).Attributes
			want := occi.Attributes{}
			if hasC {
				want[attrCores] = nc
			} else {
				want[attrCores] = cur[attrCores]
			}
			if hasM {
				want[attrMemory] = nm
			} else {
				want[attrMemory] = cur[attrMemory]
			}
			curC, _ := number(cur[attrCores])
			curM, _ := number(cur[attrMemory])
			wc, _ := number(want[attrCores])
			wm, _ := number(want[attrMemory])
			if wc != curC || wm != curM {
				f, err := d.pickFlavor(ctx, c, "", want)
				if err != nil {
					return backend.Observation{}, err
				}
				newFlavor = f
			}
		}
	}
	if newFlavor != "" {
		if err := servers.Resize(ctx, c.compute, id, servers.ResizeOpts{FlavorRef: newFlavor}).ExtractErr(); err != nil {
			return backend.Observation{}, d.wrap(err, "nova", "resize server "+id)
		}
		if s, err = d.waitIdle(ctx, c, id, nil); err != nil {
			return backend.Observation{}, err
		}
		if vmStateOf(s) != vmResized {
			return serverObservation(s), occi.Errorf(occi.FailedPrecondition, "nova: resize of server %s did not happen; it is %s%s", id, s.Status, faultSuffix(s))
		}
		if err := servers.ConfirmResize(ctx, c.compute, id).ExtractErr(); err != nil {
			return backend.Observation{}, d.wrap(err, "nova", "confirm the resize of server "+id)
		}
		if s, err = d.waitServer(ctx, c, id, func(s *servers.Server) bool { return idle(s) && vmStateOf(s) != vmResized }, nil); err != nil {
			return backend.Observation{}, err
		}
	}
	if newImage != "" {
		if _, err := servers.Rebuild(ctx, c.compute, id, servers.RebuildOpts{ImageRef: newImage}).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "nova", "rebuild server "+id)
		}
		if s, err = d.waitIdle(ctx, c, id, nil); err != nil {
			return backend.Observation{}, err
		}
	}
	if serverName(old) != serverName(updated) {
		name := serverName(updated)
		if s, err = servers.Update(ctx, c.compute, id, servers.UpdateOpts{Name: name}).Extract(); err != nil {
			return backend.Observation{}, d.wrap(err, "nova", "rename server "+id)
		}
		// The update answer lacks the extended status; read it again.
		return d.observeServer(ctx, c, id)
	}
	return serverObservation(s), nil
}

package openstackbackend

import (
	"context"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/occid/occi"
)

// DeleteTemplate deletes a saved OS template: the Glance image that a save
// made (one that carries the occi_source property). Provider images are
// not deleted (PermissionDenied); an unknown name is NotFound.
func (d *Driver) DeleteTemplate(ctx context.Context, name string) error {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return err
	}
	im, err := d.listImages(ctx, c)
	if err != nil {
		return err
	}
	for _, i := range im {
		if i.term != name {
			continue
		}
		if _, saved := i.image.Properties[imagePropSource]; !saved {
			return occi.Errorf(occi.PermissionDenied, "os_tpl %q is a provider image, not a saved template", name)
		}
		if err := images.Delete(ctx, c.image, i.image.ID).ExtractErr(); err != nil && !isNotFound(err) {
			return d.wrap(err, "glance", "delete image "+i.image.ID)
		}
		return nil
	}
	return occi.Errorf(occi.NotFound, "os_tpl %q is not an image visible to this project", name)
}

// Leftovers lists what occid made in the caller's project and has not
// deleted: servers and volumes that carry occi_id metadata, saved images,
// occi- keypairs, and networks and ports that occid named. It is for
// tests and operators looking for leaks.
func (d *Driver) Leftovers(ctx context.Context) ([]string, error) {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	pages, err := servers.List(c.compute, servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(err, "nova", "list servers")
	}
	ss, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, d.wrap(err, "nova", "read the server list")
	}
	for _, s := range ss {
		if _, ok := s.Metadata[metaOCCIID]; ok {
			out = append(out, "server:"+s.ID)
		}
	}
	kp, err := keypairs.List(c.compute, nil).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(err, "nova", "list keypairs")
	}
	kps, err := keypairs.ExtractKeyPairs(kp)
	if err != nil {
		return nil, d.wrap(err, "nova", "read the keypair list")
	}
	for _, k := range kps {
		if strings.HasPrefix(k.Name, keypairPrefix) {
			out = append(out, "keypair:"+k.Name)
		}
	}
	im, err := d.listImages(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, i := range im {
		if _, ok := i.image.Properties[imagePropSource]; ok {
			out = append(out, "image:"+i.image.ID)
		}
	}
	if c.volume != nil && !d.opts.DisableVolumes {
		vp, err := volumes.List(c.volume, volumes.ListOpts{}).AllPages(ctx)
		if err != nil {
			return nil, d.wrap(err, "cinder", "list volumes")
		}
		vs, err := volumes.ExtractVolumes(vp)
		if err != nil {
			return nil, d.wrap(err, "cinder", "read the volume list")
		}
		for _, v := range vs {
			if _, ok := v.Metadata[metaOCCIID]; ok {
				out = append(out, "volume:"+v.ID)
			}
		}
	}
	if c.network != nil && d.caps.hasKind(kindNetwork) {
		np, err := networks.List(c.network, networks.ListOpts{}).AllPages(ctx)
		if err != nil {
			return nil, d.wrap(err, "neutron", "list networks")
		}
		ns, err := networks.ExtractNetworks(np)
		if err != nil {
			return nil, d.wrap(err, "neutron", "read the network list")
		}
		for _, n := range ns {
			if strings.HasPrefix(n.Description, occiDescriptionPrefix) {
				out = append(out, "network:"+n.ID)
			}
		}
		pp, err := ports.List(c.network, ports.ListOpts{}).AllPages(ctx)
		if err != nil {
			return nil, d.wrap(err, "neutron", "list ports")
		}
		ps, err := ports.ExtractPorts(pp)
		if err != nil {
			return nil, d.wrap(err, "neutron", "read the port list")
		}
		for _, p := range ps {
			if strings.HasPrefix(p.Name, "occi-") {
				out = append(out, "port:"+p.ID)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

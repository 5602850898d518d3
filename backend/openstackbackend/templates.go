package openstackbackend

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Templates returns the flavors (resource templates, with
// occi.compute.cores and occi.compute.memory) and the Glance images
// (OS templates) visible to the caller's project. A template's name is the
// flavor's or image's name when that is a valid OCCI term used by no other
// flavor or image, and its ID otherwise. An image's readiness follows its
// Glance status: queued, saving, uploading and importing are saving,
// active is ready, killed, deleted and deactivated are an error.
func (d *Driver) Templates(ctx context.Context) ([]backend.Template, error) {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return nil, err
	}
	fl, err := d.listFlavors(ctx, c)
	if err != nil {
		return nil, err
	}
	im, err := d.listImages(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []backend.Template
	for _, f := range fl {
		out = append(out, flavorTemplate(f.flavor, f.term))
	}
	for _, i := range im {
		out = append(out, imageTemplate(i.image, i.term))
	}
	return out, nil
}

type namedFlavor struct {
	flavor flavors.Flavor
	term   string
}

type namedImage struct {
	image images.Image
	term  string
}

// termFor names an object: its name if that is a valid, unique term, else
// its ID if that is a valid term, else "" (not offered).
func termFor(name, id string, count map[string]int) string {
	if occi.ValidTerm(name) && count[name] == 1 {
		return name
	}
	if occi.ValidTerm(id) {
		return id
	}
	return ""
}

func (d *Driver) listFlavors(ctx context.Context, c *clients) ([]namedFlavor, error) {
	pages, err := flavors.ListDetail(c.compute, flavors.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(err, "nova", "list flavors")
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return nil, d.wrap(err, "nova", "read the flavor list")
	}
	count := map[string]int{}
	for _, f := range all {
		count[f.Name]++
	}
	var out []namedFlavor
	for _, f := range all {
		if t := termFor(f.Name, f.ID, count); t != "" {
			out = append(out, namedFlavor{f, t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].term < out[j].term })
	return out, nil
}

// hiddenImage reports images that are no templates: those being deleted
// and the snapshots Nova makes when it shelves a server.
func hiddenImage(i images.Image) bool {
	switch i.Status {
	case images.ImageStatusDeleted, images.ImageStatusPendingDelete:
		return true
	}
	if i.Hidden {
		return true
	}
	if _, ok := i.Properties["occi_source"]; !ok && strings.HasSuffix(i.Name, "-shelved") {
		if _, ok := i.Properties["instance_uuid"]; ok {
			return true
		}
	}
	return false
}

func (d *Driver) listImages(ctx context.Context, c *clients) ([]namedImage, error) {
	pages, err := images.List(c.image, images.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(err, "glance", "list images")
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		return nil, d.wrap(err, "glance", "read the image list")
	}
	count := map[string]int{}
	for _, i := range all {
		if !hiddenImage(i) {
			count[i.Name]++
		}
	}
	var out []namedImage
	for _, i := range all {
		if hiddenImage(i) {
			continue
		}
		if t := termFor(i.Name, i.ID, count); t != "" {
			out = append(out, namedImage{i, t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].term < out[j].term })
	return out, nil
}

func flavorTemplate(f flavors.Flavor, term string) backend.Template {
	return backend.Template{
		Type:  backend.ResourceTemplate,
		Name:  term,
		Title: fmt.Sprintf("%s: %d vCPU, %d MiB RAM, %d GiB disk", f.Name, f.VCPUs, f.RAM, f.Disk),
		Attributes: occi.Attributes{
			attrCores:  int64(f.VCPUs),
			attrMemory: float64(f.RAM) / 1024,
		},
		State: backend.TemplateReady,
	}
}

func imageTemplate(i images.Image, term string) backend.Template {
	t := backend.Template{Type: backend.OSTemplate, Name: term, Title: i.Name}
	if s, ok := i.Properties[imagePropTitle].(string); ok && s != "" {
		t.Title = s
	}
	t.Source, _ = i.Properties[imagePropSource].(string)
	t.Owner, _ = i.Properties[imagePropOwner].(string)
	t.State, t.Message = imageState(i.Status)
	if t.State == backend.TemplateReady {
		t.Progress = 100
	}
	return t
}

// imageState maps a Glance image status onto template readiness.
func imageState(s images.ImageStatus) (state, message string) {
	switch s {
	case images.ImageStatusActive:
		return backend.TemplateReady, ""
	case images.ImageStatusQueued, images.ImageStatusSaving, images.ImageStatusImporting, images.ImageStatusUploading:
		return backend.TemplateSaving, "glance image " + string(s)
	case images.ImageStatusKilled:
		return backend.TemplateError, "glance: the image upload failed (killed)"
	case images.ImageStatusDeleted, images.ImageStatusPendingDelete:
		return backend.TemplateError, "glance: the image was deleted"
	case images.ImageStatusDeactivated:
		return backend.TemplateError, "glance: the image was deactivated by an administrator"
	}
	return backend.TemplateError, "glance image status " + string(s)
}

// pickFlavor chooses the flavor for a new server: the resource template,
// else Options.DefaultFlavor, else the smallest flavor that has at least
// occi.compute.cores vCPUs and occi.compute.memory GiB.
func (d *Driver) pickFlavor(ctx context.Context, c *clients, template string, attrs occi.Attributes) (string, error) {
	fl, err := d.listFlavors(ctx, c)
	if err != nil {
		return "", err
	}
	if template != "" {
		for _, f := range fl {
			if f.term == template {
				return f.flavor.ID, nil
			}
		}
		return "", occi.Errorf(occi.InvalidArgument, "resource_tpl %q is not a flavor of this cloud", template)
	}
	cores, hasCores := attrNumber(attrs, attrCores)
	mem, hasMem := attrNumber(attrs, attrMemory)
	if !hasCores && !hasMem && d.opts.DefaultFlavor != "" {
		for _, f := range fl {
			if f.flavor.Name == d.opts.DefaultFlavor || f.flavor.ID == d.opts.DefaultFlavor {
				return f.flavor.ID, nil
			}
		}
		return "", occi.Errorf(occi.FailedPrecondition, "the default flavor %q is not visible to this project", d.opts.DefaultFlavor)
	}
	cand := slices.Clone(fl)
	sort.SliceStable(cand, func(i, j int) bool {
		a, b := cand[i].flavor, cand[j].flavor
		if a.RAM != b.RAM {
			return a.RAM < b.RAM
		}
		if a.VCPUs != b.VCPUs {
			return a.VCPUs < b.VCPUs
		}
		return a.Disk < b.Disk
	})
	for _, f := range cand {
		if float64(f.flavor.VCPUs) >= cores && float64(f.flavor.RAM) >= mem*1024-0.5 {
			return f.flavor.ID, nil
		}
	}
	if len(cand) == 0 {
		return "", occi.Errorf(occi.FailedPrecondition, "this project sees no flavor")
	}
	return "", occi.Errorf(occi.InvalidArgument, "no flavor has %v cores and %v GiB of memory; choose a resource_tpl", cores, mem)
}

// pickImage returns the Glance image ID of an OS template, or of
// Options.DefaultImage when none is given.
func (d *Driver) pickImage(ctx context.Context, c *clients, template string) (string, error) {
	im, err := d.listImages(ctx, c)
	if err != nil {
		return "", err
	}
	find := func(match func(namedImage) bool) (string, bool, error) {
		for _, i := range im {
			if match(i) {
				if i.image.Status != images.ImageStatusActive {
					return "", true, occi.Errorf(occi.FailedPrecondition, "os_tpl %q is not ready: glance image status %s", i.term, i.image.Status)
				}
				return i.image.ID, true, nil
			}
		}
		return "", false, nil
	}
	if template != "" {
		id, ok, err := find(func(i namedImage) bool { return i.term == template })
		if !ok && err == nil {
			err = occi.Errorf(occi.InvalidArgument, "os_tpl %q is not an image visible to this project", template)
		}
		return id, err
	}
	if d.opts.DefaultImage != "" {
		id, ok, err := find(func(i namedImage) bool {
			return i.image.Name == d.opts.DefaultImage || i.image.ID == d.opts.DefaultImage
		})
		if !ok && err == nil {
			err = occi.Errorf(occi.FailedPrecondition, "the default image %q is not visible to this project", d.opts.DefaultImage)
		}
		return id, err
	}
	return "", occi.Errorf(occi.InvalidArgument, "a compute on OpenStack needs an os_tpl mixin naming the image to boot")
}

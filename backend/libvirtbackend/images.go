package libvirtbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"libvirt.org/go/libvirtxml"
)

// imageTerm derives an os_tpl term from an image volume name: the name
// without a .qcow2, .img or .raw extension, with every character an OCCI
// term does not allow replaced by '-'.
func imageTerm(vol string) string {
	base := vol
	for _, ext := range []string{".qcow2", ".img", ".raw"} {
		if strings.HasSuffix(strings.ToLower(base), ext) && len(base) > len(ext) {
			base = base[:len(base)-len(ext)]
			break
		}
	}
	var b strings.Builder
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case i > 0 && (c == '-' || c == '_' || c == '.'):
			b.WriteByte(c)
		default:
			if i == 0 {
				b.WriteString("img")
			} else {
				b.WriteByte('-')
			}
		}
	}
	return b.String()
}

// imageIndex remembers, for saved images, their title, source compute and
// owner (libvirt volumes carry no such metadata). It is a JSON file in
// DataDir, rewritten atomically.
type imageIndex struct {
	path string
	mu   sync.Mutex
	m    map[string]imageRecord // volume name → record
}

type imageRecord struct {
	Title  string `json:"title,omitempty"`
	Source string `json:"source,omitempty"`
	Owner  string `json:"owner,omitempty"`
}

func openImageIndex(path string) (*imageIndex, error) {
	ix := &imageIndex{path: path, m: map[string]imageRecord{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return nil, occi.Wrap(err, occi.Internal, "reading the saved images' index")
	}
	if err := json.Unmarshal(b, &ix.m); err != nil {
		return nil, occi.Wrap(err, occi.Internal, "parsing the saved images' index "+path)
	}
	return ix, nil
}

func (ix *imageIndex) get(vol string) (imageRecord, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	r, ok := ix.m[vol]
	return r, ok
}

func (ix *imageIndex) put(vol string, r *imageRecord) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if r == nil {
		if _, ok := ix.m[vol]; !ok {
			return nil
		}
		delete(ix.m, vol)
	} else {
		ix.m[vol] = *r
	}
	b, err := json.MarshalIndent(ix.m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(ix.path), 0o755); err != nil {
		return err
	}
	tmp := ix.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, ix.path)
}

// saveJob is a save in progress.
type saveJob struct {
	tpl    backend.Template
	domain string
	vol    string
}

// Templates lists every volume in the image pool as an OS template (saves
// in progress with their state and progress), then the resource templates.
func (d *Driver) Templates(ctx context.Context) ([]backend.Template, error) {
	l, err := d.client()
	if err != nil {
		return nil, err
	}
	pool, err := l.StoragePoolLookupByName(d.opts.ImagePool)
	if err != nil {
		return nil, d.fail(err, "looking up the image pool %s", d.opts.ImagePool)
	}
	_ = l.StoragePoolRefresh(pool, 0) // fails while a copy runs; the list is then as last read
	vols, _, err := l.StoragePoolListAllVolumes(pool, 1, 0)
	if err != nil {
		return nil, d.fail(err, "listing the image pool %s", d.opts.ImagePool)
	}
	d.mu.Lock()
	saving := map[string]backend.Template{}
	for _, j := range d.saves {
		saving[j.vol] = j.tpl
	}
	d.mu.Unlock()
	var out []backend.Template
	seen := map[string]bool{}
	for _, v := range vols {
		if t, ok := saving[v.Name]; ok {
			out = append(out, t)
			seen[t.Name] = true
			continue
		}
		term := imageTerm(v.Name)
		if term == "" || seen[term] || !occi.ValidTerm(term) {
			continue
		}
		seen[term] = true
		t := backend.Template{Type: backend.OSTemplate, Name: term, Title: "Image " + v.Name, State: backend.TemplateReady}
		if r, ok := d.meta.get(v.Name); ok {
			if r.Title != "" {
				t.Title = r.Title
			}
			t.Source, t.Owner = r.Source, r.Owner
		}
		out = append(out, t)
	}
	for _, t := range saving {
		if !seen[t.Name] {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for _, t := range d.opts.ResourceTemplates {
		t.Attributes = t.Attributes.Clone()
		if t.State == "" {
			t.State = backend.TemplateReady
		}
		out = append(out, t)
	}
	return out, nil
}

// findImage returns the image volume whose term is term.
func (d *Driver) findImage(l *libvirt.Libvirt, term string) (libvirt.StorageVol, error) {
	pool, err := l.StoragePoolLookupByName(d.opts.ImagePool)
	if err != nil {
		return libvirt.StorageVol{}, d.fail(err, "looking up the image pool %s", d.opts.ImagePool)
	}
	vols, _, err := l.StoragePoolListAllVolumes(pool, 1, 0)
	if err != nil {
		return libvirt.StorageVol{}, d.fail(err, "listing the image pool %s", d.opts.ImagePool)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range vols {
		if imageTerm(v.Name) != term {
			continue
		}
		for _, j := range d.saves {
			if j.vol == v.Name {
				return libvirt.StorageVol{}, occi.Errorf(occi.FailedPrecondition, "os_tpl %s is still being saved", term)
			}
		}
		return v, nil
	}
	return libvirt.StorageVol{}, occi.Errorf(occi.NotFound, "os_tpl %s: no such image in the storage pool %s", term, d.opts.ImagePool)
}

// volFormat reads the format of a volume ("qcow2", "raw", ...).
func volFormat(l *libvirt.Libvirt, v libvirt.StorageVol) string {
	x, err := l.StorageVolGetXMLDesc(v, 0)
	if err != nil {
		return ""
	}
	var sv libvirtxml.StorageVolume
	if sv.Unmarshal(x) != nil || sv.Target == nil || sv.Target.Format == nil {
		return ""
	}
	return sv.Target.Format.Type
}

// cloneVolume copies src into a new qcow2 volume name in pool (libvirt
// converts with qemu-img, so the copy is independent of any backing chain)
// and returns its path.
func (d *Driver) cloneVolume(ctx context.Context, l *libvirt.Libvirt, src libvirt.StorageVol, pool, name string) (string, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return "", err
	}
	_, capacity, _, err := l.StorageVolGetInfo(src)
	if err != nil {
		return "", err
	}
	x, err := volumeXML(name, "qcow2", capacity)
	if err != nil {
		return "", err
	}
	if d.isTest {
		// The test driver looks the source up in the target pool, so it
		// cannot clone across pools; its volumes hold no data anyway.
		v, err := l.StorageVolCreateXML(p, x, 0)
		if err != nil {
			return "", err
		}
		return l.StorageVolGetPath(v)
	}
	v, err := l.StorageVolCreateXMLFrom(p, x, src, 0)
	if err != nil {
		return "", err
	}
	return l.StorageVolGetPath(v)
}

// uploadVolume stores data as a new volume name in pool and returns its
// path. On libvirt's test driver, which cannot upload, the volume is made
// but stays empty.
func (d *Driver) uploadVolume(l *libvirt.Libvirt, pool, name, format string, data []byte) (string, error) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return "", err
	}
	x, err := volumeXML(name, format, uint64(len(data)))
	if err != nil {
		return "", err
	}
	v, err := l.StorageVolCreateXML(p, x, 0)
	if err != nil {
		return "", err
	}
	if !d.isTest {
		if err := l.StorageVolUpload(v, bytes.NewReader(data), 0, uint64(len(data)), 0); err != nil {
			_ = l.StorageVolDelete(v, 0)
			return "", err
		}
	}
	return l.StorageVolGetPath(v)
}

// deleteVolume deletes a volume if it exists; failures are logged.
func (d *Driver) deleteVolume(l *libvirt.Libvirt, pool, name string) {
	p, err := l.StoragePoolLookupByName(pool)
	if err != nil {
		return
	}
	v, err := l.StorageVolLookupByName(p, name)
	if err != nil {
		return
	}
	if err := l.StorageVolDelete(v, 0); err != nil && !isNotFound(err) {
		d.log.Warn("deleting volume", "pool", pool, "volume", name, "err", err)
	}
}

// ImportImage copies the local file at path into the image pool as the
// volume name (e.g. "tinyos.qcow2"), where it becomes an OS template; the
// format (qcow2 or raw) is probed by libvirt. It replaces nothing: an
// existing volume of that name is an AlreadyExists error.
func (d *Driver) ImportImage(ctx context.Context, name, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return occi.Wrap(err, occi.InvalidArgument, "reading image "+path)
	}
	l, err := d.client()
	if err != nil {
		return err
	}
	p, err := l.StoragePoolLookupByName(d.opts.ImagePool)
	if err != nil {
		return d.fail(err, "looking up the image pool %s", d.opts.ImagePool)
	}
	if _, err := l.StorageVolLookupByName(p, name); err == nil {
		return occi.Errorf(occi.AlreadyExists, "image %s already exists in the pool %s", name, d.opts.ImagePool)
	}
	if _, err := d.uploadVolume(l, d.opts.ImagePool, name, "raw", data); err != nil {
		return d.fail(err, "uploading image %s", name)
	}
	// Let libvirt probe the format of the uploaded bytes.
	if err := l.StoragePoolRefresh(p, 0); err != nil {
		return d.fail(err, "refreshing the image pool %s", d.opts.ImagePool)
	}
	return nil
}

// DeleteTemplate deletes an image volume (an OS template) by its term; a
// template that does not exist is a NotFound error.
func (d *Driver) DeleteTemplate(ctx context.Context, term string) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	v, err := d.findImage(l, term)
	if err != nil {
		return err
	}
	if _, saved := d.meta.get(v.Name); !saved {
		// Only images that Save made are recorded in the index; any other
		// volume in the pool is a provider image (backend.TemplateDeleter).
		return occi.Errorf(occi.PermissionDenied, "os_tpl %s is a provider image and cannot be deleted through occid", term)
	}
	if err := l.StorageVolDelete(v, 0); err != nil && !isNotFound(err) {
		return d.fail(err, "deleting image %s", v.Name)
	}
	_ = d.meta.put(v.Name, nil)
	return nil
}

// rootDisk finds a domain's root disk: its device, file path and volume.
func (d *Driver) rootDisk(l *libvirt.Libvirt, info domainInfo) (dev, path string, vol libvirt.StorageVol, err error) {
	if info.def.Devices != nil {
		for _, dk := range info.def.Devices.Disks {
			if dk.Alias != nil && dk.Alias.Name == rootAlias && dk.Target != nil && dk.Source != nil && dk.Source.File != nil {
				dev, path = dk.Target.Dev, dk.Source.File.File
			}
		}
	}
	if dev == "" {
		return "", "", libvirt.StorageVol{}, errNoRoot
	}
	if info.meta.Root != "" {
		if p, err := l.StoragePoolLookupByName(d.opts.VolumePool); err == nil {
			if v, err := l.StorageVolLookupByName(p, info.meta.Root); err == nil {
				return dev, path, v, nil
			}
		}
	}
	vol, err = l.StorageVolLookupByPath(path)
	return dev, path, vol, err
}

// Save derives a new OS template from the compute's root disk. The image is
// the volume Name+".qcow2" in the image pool, listed by Templates at once in
// state saving.
//
// hot copies the disk of a running or paused domain without stopping it
// (a libvirt push-mode backup job into the new volume) and returns at once;
// the copy goes on in the background. deferred (also spelt "deffered")
// presses the ACPI power button, waits at most GracefulTimeout for the
// guest to power off (a guest still running then fails the save and keeps
// running: it is never destroyed), copies the volume, starts the domain
// again and returns with the template ready. Either method copies a
// shut-off domain's disk directly. A failure removes the half image and
// leaves the compute as it was.
func (d *Driver) Save(ctx context.Context, req backend.SaveRequest, progress backend.ProgressFunc) (backend.Template, error) {
	if progress == nil {
		progress = func(backend.Observation) {}
	}
	e := req.Entity
	if err := ctx.Err(); err != nil {
		return backend.Template{}, occi.Wrap(err, occi.Unavailable, "the request ended before the save started")
	}
	if e == nil || kindOf(e) != "compute" {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save applies to a compute")
	}
	method := req.Method
	switch method {
	case "":
		method = "hot"
	case "deffered":
		method = "deferred"
	}
	if method != "hot" && method != "deferred" {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save method %q is not hot or deferred", req.Method)
	}
	if method == "hot" && d.isTest {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "save method hot is not offered by libvirt's test driver")
	}
	if !occi.ValidTerm(req.Name) {
		return backend.Template{}, occi.Errorf(occi.InvalidArgument, "template name %q is not a valid OCCI term", req.Name)
	}
	volName := req.Name + ".qcow2"
	l, err := d.client()
	if err != nil {
		return backend.Template{}, err
	}
	name := d.domainName(e)
	dom, err := l.DomainLookupByName(name)
	if err != nil {
		return backend.Template{}, d.fail(err, "looking up domain %s", name)
	}
	x, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return backend.Template{}, d.fail(err, "reading domain %s", name)
	}
	info, err := parseDomain(x)
	if err != nil {
		return backend.Template{}, occi.Wrap(err, occi.Internal, "parsing domain "+name)
	}
	dev, _, srcVol, err := d.rootDisk(l, info)
	if errors.Is(err, errNoRoot) {
		return backend.Template{}, occi.Errorf(occi.FailedPrecondition, "compute %s has no root disk to save (it was created without an os_tpl)", e.Location)
	}
	if err != nil {
		return backend.Template{}, d.fail(err, "finding the root disk of %s", name)
	}
	pool, err := l.StoragePoolLookupByName(d.opts.ImagePool)
	if err != nil {
		return backend.Template{}, d.fail(err, "looking up the image pool %s", d.opts.ImagePool)
	}
	if _, err := d.findImage(l, req.Name); err == nil || occi.ErrorCode(err) == occi.FailedPrecondition {
		return backend.Template{}, occi.Errorf(occi.AlreadyExists, "an os_tpl named %s already exists", req.Name)
	}
	if _, err := l.StorageVolLookupByName(pool, volName); err == nil {
		return backend.Template{}, occi.Errorf(occi.AlreadyExists, "image %s already exists in the pool %s", volName, d.opts.ImagePool)
	}
	st, _, err := d.state(l, dom)
	if err != nil {
		return backend.Template{}, err
	}
	title := req.Title
	if title == "" {
		title = "Saved from " + e.Location
	}
	job := &saveJob{
		tpl: backend.Template{Type: backend.OSTemplate, Name: req.Name, Title: title, State: backend.TemplateSaving,
			Message: "copying the disk (" + method + ")", Source: e.Location, Owner: e.Owner},
		domain: name, vol: volName,
	}
	d.mu.Lock()
	if _, ok := d.busy[name]; ok {
		d.mu.Unlock()
		return backend.Template{}, occi.Errorf(occi.Conflict, "compute %s is already being saved", e.Location)
	}
	for _, j := range d.saves {
		if j.tpl.Name == req.Name {
			d.mu.Unlock()
			return backend.Template{}, occi.Errorf(occi.AlreadyExists, "an os_tpl named %s is already being saved", req.Name)
		}
	}
	d.saves[req.Name] = job
	d.busy[name] = "saving to os_tpl " + req.Name
	d.mu.Unlock()
	rec := &imageRecord{Title: title, Source: e.Location, Owner: e.Owner}

	running := st == libvirt.DomainRunning || st == libvirt.DomainBlocked || st == libvirt.DomainPaused
	if !running {
		// A shut-off domain's disk is consistent: copy it directly.
		if method == "hot" {
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				err := d.copyWithProgress(d.bg, srcVol, volName, job)
				d.finishSave(job, rec, err)
			}()
			return d.jobTemplate(job), nil
		}
		err := d.copyWithProgress(ctx, srcVol, volName, job)
		d.finishSave(job, rec, err)
		if err != nil {
			return backend.Template{}, d.fail(err, "copying the disk of %s", name)
		}
		return d.jobTemplate(job), nil
	}

	if method == "hot" {
		_, capacity, _, err := l.StorageVolGetInfo(srcVol)
		if err != nil {
			d.finishSave(job, nil, err)
			return backend.Template{}, d.fail(err, "reading the root disk of %s", name)
		}
		vx, _ := volumeXML(volName, "qcow2", capacity)
		tv, err := l.StorageVolCreateXML(pool, vx, 0)
		if err != nil {
			d.finishSave(job, nil, err)
			return backend.Template{}, d.fail(err, "creating image %s", volName)
		}
		tpath, err := l.StorageVolGetPath(tv)
		if err != nil {
			d.finishSave(job, nil, err)
			return backend.Template{}, d.fail(err, "creating image %s", volName)
		}
		bx, err := backupXML(dev, tpath, domainDisks(info.def))
		if err != nil {
			d.finishSave(job, nil, err)
			return backend.Template{}, occi.Wrap(err, occi.Internal, "building backup XML")
		}
		if err := l.DomainBackupBegin(dom, bx, nil, libvirt.DomainBackupBeginReuseExternal); err != nil {
			d.finishSave(job, nil, err)
			return backend.Template{}, d.fail(err, "starting the backup job of %s", name)
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			err := d.waitBackup(dom, job)
			d.finishSave(job, rec, err)
		}()
		return d.jobTemplate(job), nil
	}

	// deferred
	if st == libvirt.DomainPaused {
		d.finishSave(job, nil, errors.New("paused"))
		return backend.Template{}, occi.Errorf(occi.FailedPrecondition, "compute %s is suspended; start it before a deferred save, or save it hot", e.Location)
	}
	d.setBusy(name, "saving to os_tpl "+req.Name+": stopping")
	progress(backend.Observation{State: stateActive, Message: "stopping for save"})
	if err := d.shutdownAndWait(ctx, dom, true); err != nil {
		d.finishSave(job, nil, err)
		return backend.Template{}, err
	}
	d.setBusy(name, "saving to os_tpl "+req.Name+": copying the disk")
	progress(backend.Observation{State: stateInactive, Message: "copying the disk for save"})
	cerr := d.copyWithProgress(ctx, srcVol, volName, job)
	// Start again whatever happened: the compute was running.
	d.setBusy(name, "saving to os_tpl "+req.Name+": starting")
	progress(backend.Observation{State: stateInactive, Message: "starting after save"})
	serr := d.startAfterSave(dom)
	d.finishSave(job, rec, cerr)
	if cerr != nil {
		return backend.Template{}, d.fail(cerr, "copying the disk of %s", name)
	}
	t := d.jobTemplate(job)
	if serr != nil {
		return t, d.fail(serr, "starting %s again after the save (the image %s was saved)", name, req.Name)
	}
	return t, nil
}

func (d *Driver) setBusy(domain, what string) {
	d.mu.Lock()
	d.busy[domain] = what
	d.mu.Unlock()
}

// startAfterSave starts a domain, retrying while libvirtd is away for up to
// a minute.
func (d *Driver) startAfterSave(dom libvirt.Domain) error {
	var err error
	for i := 0; i < 300; i++ {
		var l *libvirt.Libvirt
		l, err = d.client()
		if err == nil {
			err = d.start(d.bg, l, dom)
			if err == nil || classify(err) != occi.Unavailable {
				return err
			}
		}
		if sleepCtx(d.bg, 200*time.Millisecond) != nil {
			return err
		}
	}
	return err
}

// jobTemplate returns the current template of a job.
func (d *Driver) jobTemplate(job *saveJob) backend.Template {
	d.mu.Lock()
	defer d.mu.Unlock()
	return job.tpl
}

func (d *Driver) setProgress(job *saveJob, pct int) {
	if pct > 99 {
		pct = 99
	}
	d.mu.Lock()
	if pct > job.tpl.Progress {
		job.tpl.Progress = pct
	}
	d.mu.Unlock()
}

// finishSave ends a save: on success the template is ready and recorded; on
// failure the half image is removed. Either way the compute is free again.
func (d *Driver) finishSave(job *saveJob, rec *imageRecord, err error) {
	if err == nil && rec != nil {
		if perr := d.meta.put(job.vol, rec); perr != nil {
			d.log.Warn("recording saved image", "image", job.vol, "err", perr)
		}
		if l, cerr := d.client(); cerr == nil {
			if p, perr := l.StoragePoolLookupByName(d.opts.ImagePool); perr == nil {
				_ = l.StoragePoolRefresh(p, 0)
			}
		}
		d.mu.Lock()
		job.tpl.State, job.tpl.Progress, job.tpl.Message = backend.TemplateReady, 100, ""
		delete(d.saves, job.tpl.Name)
		delete(d.busy, job.domain)
		d.mu.Unlock()
		d.log.Info("saved image", "template", job.tpl.Name, "source", job.tpl.Source)
		return
	}
	if err == nil {
		err = errors.New("save abandoned")
	}
	d.log.Warn("save failed; removing the half image", "template", job.tpl.Name, "err", err)
	for i := 0; i < 50; i++ {
		l, cerr := d.client()
		if cerr == nil {
			d.deleteVolume(l, d.opts.ImagePool, job.vol)
			break
		}
		if sleepCtx(context.Background(), 200*time.Millisecond) != nil {
			break
		}
	}
	d.mu.Lock()
	job.tpl.State, job.tpl.Message = backend.TemplateError, "save failed: "+occi.ErrorMessage(d.fail(err, "saving"))
	delete(d.saves, job.tpl.Name)
	delete(d.busy, job.domain)
	d.mu.Unlock()
}

// copyWithProgress clones src into the image pool as vol, reporting the
// copied share through the job while libvirt copies.
func (d *Driver) copyWithProgress(ctx context.Context, src libvirt.StorageVol, vol string, job *saveJob) error {
	l, err := d.client()
	if err != nil {
		return err
	}
	_, _, srcAlloc, _ := l.StorageVolGetInfo(src)
	done := make(chan struct{})
	go func() {
		pool, err := l.StoragePoolLookupByName(d.opts.ImagePool)
		if err != nil || srcAlloc == 0 {
			return
		}
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if v, err := l.StorageVolLookupByName(pool, vol); err == nil {
				if _, _, alloc, err := l.StorageVolGetInfo(v); err == nil {
					d.setProgress(job, int(alloc*100/srcAlloc))
				}
			}
		}
	}()
	_, err = d.cloneVolume(ctx, l, src, d.opts.ImagePool, vol)
	close(done)
	return err
}

// waitBackup follows a backup job until it ends, updating the job's
// progress. It returns nil when libvirt reports the job completed.
func (d *Driver) waitBackup(dom libvirt.Domain, job *saveJob) error {
	lostSince := time.Time{}
	for {
		if err := sleepCtx(d.bg, 100*time.Millisecond); err != nil {
			if l, cerr := d.client(); cerr == nil {
				_ = l.DomainAbortJob(dom)
			}
			return fmt.Errorf("driver closed during the backup: %w", err)
		}
		l, err := d.client()
		if err != nil {
			if lostSince.IsZero() {
				lostSince = time.Now()
			}
			if time.Since(lostSince) > 2*time.Minute {
				return err
			}
			continue
		}
		lostSince = time.Time{}
		typ, params, err := l.DomainGetJobStats(dom, 0)
		if err != nil {
			if classify(err) == occi.Unavailable {
				continue
			}
			return err
		}
		if libvirt.DomainJobType(typ) != libvirt.DomainJobNone {
			if pct, ok := jobPercent(params); ok {
				d.setProgress(job, pct)
			}
			continue
		}
		ctyp, cparams, err := l.DomainGetJobStats(dom, libvirt.DomainJobStatsCompleted)
		if err != nil {
			return err
		}
		switch libvirt.DomainJobType(ctyp) {
		case libvirt.DomainJobCompleted:
			// operation 9 is VIR_DOMAIN_JOB_OPERATION_BACKUP
			if op, ok := paramInt(cparams, "operation"); ok && op != 0 && op != 9 {
				return fmt.Errorf("the last completed job of %s was not the backup", dom.Name)
			}
			return nil
		case libvirt.DomainJobFailed:
			msg := "the backup job failed"
			for _, p := range cparams {
				if p.Field == "errmsg" {
					if s, ok := p.Value.I.(string); ok {
						msg += ": " + s
					}
				}
			}
			return errors.New(msg)
		case libvirt.DomainJobCancelled:
			return errors.New("the backup job was cancelled")
		}
		return errors.New("the backup job ended without a result (libvirtd restarted?)")
	}
}

// jobPercent computes the progress of a job from its statistics.
func jobPercent(params []libvirt.TypedParam) (int, bool) {
	for _, prefix := range []string{"disk_", "data_"} {
		done, ok1 := paramInt(params, prefix+"processed")
		total, ok2 := paramInt(params, prefix+"total")
		if ok1 && ok2 && total > 0 {
			return int(done * 100 / total), true
		}
	}
	return 0, false
}

func paramInt(params []libvirt.TypedParam, field string) (uint64, bool) {
	for _, p := range params {
		if p.Field != field {
			continue
		}
		switch v := p.Value.I.(type) {
		case uint64:
			return v, true
		case int64:
			return uint64(v), true
		case uint32:
			return uint64(v), true
		case int32:
			return uint64(v), true
		}
	}
	return 0, false
}

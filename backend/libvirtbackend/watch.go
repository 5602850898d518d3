package libvirtbackend

import (
	"context"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/occid/occi/backend"
)

// Watch reports every lifecycle change of the driver's domains (a guest
// that powered itself off, crashed, was paused or started outside occid)
// as an Event for the entity named in the domain's metadata, with a fresh
// observation. When the connection to libvirtd is lost it keeps re-dialling;
// once back it re-subscribes and reports every domain of the driver once,
// so changes made while it was away are not missed. It returns when ctx
// ends.
func (d *Driver) Watch(ctx context.Context, fn func(backend.Event)) error {
	first := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		l, err := d.client()
		if err != nil {
			if sleepCtx(ctx, 500*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		events, err := l.LifecycleEvents(ctx)
		if err != nil {
			d.log.Warn("subscribing to lifecycle events", "err", err)
			if sleepCtx(ctx, 500*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		if !first {
			d.reportAll(l, fn)
		}
		first = false
		for ev := range events {
			d.report(ev, fn)
		}
		// The channel closes when ctx ends or the connection is lost.
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("lost the connection to libvirtd; reconnecting")
		if sleepCtx(ctx, 200*time.Millisecond) != nil {
			return nil
		}
	}
}

// report turns one lifecycle event into an Event.
func (d *Driver) report(ev libvirt.DomainEventLifecycleMsg, fn func(backend.Event)) {
	if !strings.HasPrefix(ev.Dom.Name, d.opts.Prefix) {
		return
	}
	if libvirt.DomainEventType(ev.Event) == libvirt.DomainEventUndefined {
		d.mu.Lock()
		loc := d.locs[ev.Dom.Name]
		d.mu.Unlock()
		if loc != "" {
			fn(backend.Event{Location: loc, Observation: backend.Observation{Gone: true, State: stateError, Message: "the domain was undefined"}})
		}
		return
	}
	l, err := d.client()
	if err != nil {
		return
	}
	d.reportDomain(l, ev.Dom, fn)
}

func (d *Driver) reportDomain(l *libvirt.Libvirt, dom libvirt.Domain, fn func(backend.Event)) {
	obs, err := d.observeDomain(l, dom)
	if err != nil {
		return
	}
	d.mu.Lock()
	loc := d.locs[dom.Name]
	d.mu.Unlock()
	if loc == "" {
		return
	}
	fn(backend.Event{Location: loc, Observation: obs})
}

// reportAll reports every domain of the driver.
func (d *Driver) reportAll(l *libvirt.Libvirt, fn func(backend.Event)) {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return
	}
	for _, dom := range doms {
		if strings.HasPrefix(dom.Name, d.opts.Prefix) {
			d.reportDomain(l, dom, fn)
		}
	}
}

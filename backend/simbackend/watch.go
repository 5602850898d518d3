package simbackend

import (
	"context"
	"sync"

	"github.com/occid/occi/backend"
)

// watcher is one Watch call: a queue of events and a signal.
type watcher struct {
	mu     sync.Mutex
	queue  []backend.Event
	notify chan struct{}
}

// Watch registers fn and calls it, from the calling goroutine and in order,
// for every out-of-band change (Kill, PowerOff, Vanish, links removed with
// the object they depend on) and for the end of every background template
// copy (an event carrying the source compute's current observation). It
// blocks until ctx ends or the driver is closed and then returns nil;
// events not yet delivered are dropped. Several Watch calls may run at once.
func (d *Driver) Watch(ctx context.Context, fn func(backend.Event)) error {
	w := &watcher{notify: make(chan struct{}, 1)}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errorf(ErrClosed, "driver is closed")
	}
	id := d.nextW
	d.nextW++
	d.watch[id] = w
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.watch, id)
		d.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.closing:
			return nil
		case <-w.notify:
		}
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range q {
			if ctx.Err() != nil {
				return nil
			}
			fn(ev)
		}
	}
}

// emitLocked queues ev for every watcher; it never blocks.
func (d *Driver) emitLocked(ev backend.Event) {
	for _, w := range d.watch {
		w.mu.Lock()
		w.queue = append(w.queue, ev)
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

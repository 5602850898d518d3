package main

import (
	"io"
	"sync"
	"time"
)

// logWriter writes log lines in the background: Write appends to a queue
// and returns; one goroutine writes the queue out, whole, in one call,
// shortly after it gets a line (see batchWait). Under load many lines so
// share one write system call instead of one each (the request log writes
// a line per request). Lines
// are never dropped: Write waits while more than maxQueued bytes are
// queued (a blocked standard error slows requests down, as it did when
// every line was written in the request).
type logWriter struct {
	w io.Writer

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []byte
	spare   []byte
	writing bool // the goroutine is writing a batch out
	closed  bool
	done    chan struct{}
}

// maxQueued bounds the bytes waiting to be written. A batch smaller than
// batchBytes waits batchWait for more lines before it is written, so under
// load a write carries the lines of many requests, and a line is written
// at most about batchWait after it was logged.
const (
	maxQueued  = 1 << 20
	batchBytes = 32 << 10
	batchWait  = 2 * time.Millisecond
)

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Write queues p; after Close it writes p itself.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.w.Write(p)
	}
	for len(l.queue) > maxQueued && !l.closed {
		l.cond.Wait()
	}
	if l.closed {
		// Closed while this line waited for room: run may have written
		// its last batch already, so nothing would take the line out of
		// the queue.
		l.mu.Unlock()
		return l.w.Write(p)
	}
	l.queue = append(l.queue, p...)
	l.cond.Broadcast()
	l.mu.Unlock()
	return len(p), nil
}

func (l *logWriter) run() {
	defer close(l.done)
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for len(l.queue) == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.queue) == 0 && l.closed {
			return
		}
		if !l.closed && len(l.queue) < batchBytes {
			// Let the lines of the requests in flight join this one.
			l.mu.Unlock()
			time.Sleep(batchWait)
			l.mu.Lock()
		}
		batch := l.queue
		l.queue, l.spare = l.spare[:0], nil
		l.writing = true
		l.mu.Unlock()
		_, _ = l.w.Write(batch) // nowhere to report a failure to log
		l.mu.Lock()
		l.writing = false
		if cap(batch) <= 64<<10 {
			l.spare = batch[:0]
		}
		l.cond.Broadcast()
	}
}

// Flush returns once everything written before it is written out.
func (l *logWriter) Flush() {
	l.mu.Lock()
	for (len(l.queue) > 0 || l.writing) && !l.closed {
		l.cond.Wait()
	}
	l.mu.Unlock()
}

// Close writes out what is queued and stops the goroutine; later Writes
// go straight to the underlying writer.
func (l *logWriter) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	<-l.done
}

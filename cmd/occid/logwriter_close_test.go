package main

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// TestLogWriterWaiterAfterClose checks that a line whose Write waited for
// room in a full queue, and was woken by Close, reaches the underlying
// writer even though the writing goroutine has ended: it may end before
// the woken Write gets the lock, and nothing would take the line out of
// the queue then. The writer is built without its goroutine, as it is
// once that goroutine has returned.
func TestLogWriterWaiterAfterClose(t *testing.T) {
	var out bytes.Buffer
	l := &logWriter{w: &out, done: make(chan struct{}), queue: make([]byte, maxQueued+1)}
	l.cond = sync.NewCond(&l.mu)
	wrote := make(chan error, 1)
	go func() {
		_, err := l.Write([]byte("the last line\n"))
		wrote <- err
	}()
	time.Sleep(20 * time.Millisecond) // the Write waits for room
	select {
	case err := <-wrote:
		t.Fatalf("Write returned (%v) while the queue was full", err)
	default:
	}
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "the last line\n" {
		t.Errorf("written out after Close: %q, want the line", got)
	}
}

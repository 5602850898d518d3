package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter records what it is given, one call at a time, slowly.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
	delay time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestLogWriter checks that every line written from many goroutines comes
// out whole and exactly once, that lines written while a write is under
// way share the next one, that Flush waits for what was written before
// it, and that Close writes out the rest and later lines go straight
// through.
func TestLogWriter(t *testing.T) {
	out := &slowWriter{delay: time.Millisecond}
	l := newLogWriter(out)
	var wg sync.WaitGroup
	const writers, lines = 8, 200
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(l, "writer=%d line=%d %s\n", w, i, strings.Repeat("x", i%50))
			}
		}()
	}
	wg.Wait()
	l.Flush()
	got := out.String()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if seen[line] {
			t.Fatalf("line written twice: %q", line)
		}
		seen[line] = true
	}
	for w := range writers {
		for i := range lines {
			if line := fmt.Sprintf("writer=%d line=%d %s", w, i, strings.Repeat("x", i%50)); !seen[line] {
				t.Fatalf("line missing or torn: %q", line)
			}
		}
	}
	out.mu.Lock()
	calls := out.calls
	out.mu.Unlock()
	if calls >= writers*lines {
		t.Errorf("%d lines took %d writes: lines written meanwhile did not share one", writers*lines, calls)
	}
	fmt.Fprintf(l, "before close\n")
	l.Close()
	if !strings.HasSuffix(out.String(), "before close\n") {
		t.Errorf("Close did not write out the last line: %q", out.String()[len(got):])
	}
	fmt.Fprintf(l, "after close\n")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Error("a line written after Close was not written at once")
	}
}

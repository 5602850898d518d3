package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

// runner runs the checks of a conformance suite outside "go test" and
// reports one line per check: "PASS name", "FAIL name: reason" or "SKIP
// name: reason". A check is a sub-check without sub-checks of its own, or
// a group whose own assertions failed.
type runner struct {
	out io.Writer
	// filter selects checks like go test -run: one expression per level
	// of the name, split at '/'; nil runs everything.
	filter []*regexp.Regexp
	mu     sync.Mutex
	passed int
	failed int
	skip   int
}

// check is one check or group of checks; it implements occitest.T.
type check struct {
	r        *runner
	name     string
	parts    []string // the name's levels
	parent   *check
	mu       sync.Mutex
	failed   bool // own assertions failed
	subFail  bool // a sub-check failed
	skipped  bool
	subs     int
	msgs     []string
	logs     []string
	cleanups []func()
}

func (r *runner) root() *check { return &check{r: r} }

// Helper is a no-op: lines are reported by check name, not source line.
func (c *check) Helper() {}

// Name returns the check's full name, groups separated by '/'.
func (c *check) Name() string { return c.name }

// Errorf records a failure and lets the check go on.
func (c *check) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = true
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
}

// Error records a failure and lets the check go on.
func (c *check) Error(args ...any) { c.Errorf("%s", fmt.Sprint(args...)) }

// Fatalf records a failure and ends the check.
func (c *check) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}

// Fatal records a failure and ends the check.
func (c *check) Fatal(args ...any) { c.Fatalf("%s", fmt.Sprint(args...)) }

// FailNow ends the check as failed.
func (c *check) FailNow() {
	c.Fail()
	runtime.Goexit()
}

// Fail marks the check as failed.
func (c *check) Fail() {
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
}

// Logf keeps a note, shown with the check's line when it fails.
func (c *check) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, fmt.Sprintf(format, args...))
}

// Log keeps a note.
func (c *check) Log(args ...any) { c.Logf("%s", fmt.Sprint(args...)) }

// Skip ends the check as skipped.
func (c *check) Skip(args ...any) { c.Skipf("%s", fmt.Sprint(args...)) }

// Skipf ends the check as skipped.
func (c *check) Skipf(format string, args ...any) {
	c.mu.Lock()
	c.skipped = true
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
	runtime.Goexit()
}

// SkipNow ends the check as skipped.
func (c *check) SkipNow() { c.Skipf("skipped") }

// Skipped reports whether the check was skipped.
func (c *check) Skipped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skipped
}

// Cleanup registers f to run when the check and its sub-checks are done,
// last registered first.
func (c *check) Cleanup(f func()) {
	c.mu.Lock()
	c.cleanups = append(c.cleanups, f)
	c.mu.Unlock()
}

// Failed reports whether the check or one of its sub-checks failed.
func (c *check) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed || c.subFail
}

// run runs f as the sub-check name of c, in its own goroutine (so Fatalf
// and Skipf end only it), and reports it. It returns whether it passed.
func (c *check) run(name string, f func(c *check)) bool {
	full := name
	if c.name != "" {
		full = c.name + "/" + name
	}
	parts := append(append([]string(nil), c.parts...), name)
	if !c.r.selected(parts) {
		return true
	}
	sub := &check{r: c.r, name: full, parts: parts, parent: c}
	c.mu.Lock()
	c.subs++
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sub.runCleanups()
		defer func() {
			if p := recover(); p != nil {
				sub.Errorf("panic: %v", p)
			}
		}()
		f(sub)
	}()
	<-done
	sub.report()
	if sub.Failed() {
		c.mu.Lock()
		c.subFail = true
		c.mu.Unlock()
	}
	return !sub.Failed()
}

// compileFilter reads a -run style filter: expressions separated by '/',
// one per level of check names.
func compileFilter(expr string) ([]*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	var out []*regexp.Regexp
	for _, part := range strings.Split(expr, "/") {
		re, err := regexp.Compile(part)
		if err != nil {
			return nil, usageErrorf("--run %q: %v", expr, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// selected reports whether the check named by parts is run: each level
// of its name matches the filter's expression for that level, if any.
func (r *runner) selected(parts []string) bool {
	for i, part := range parts {
		if i < len(r.filter) && !r.filter[i].MatchString(part) {
			return false
		}
	}
	return true
}

func (c *check) runCleanups() {
	for {
		c.mu.Lock()
		n := len(c.cleanups)
		if n == 0 {
			c.mu.Unlock()
			return
		}
		f := c.cleanups[n-1]
		c.cleanups = c.cleanups[:n-1]
		c.mu.Unlock()
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.Errorf("panic in cleanup: %v", p)
				}
			}()
			f()
		}()
	}
}

// oneLine joins messages into one line.
func oneLine(msgs []string) string {
	s := strings.Join(msgs, "; ")
	s = strings.Join(strings.Fields(s), " ")
	return s
}

// report prints the check's line: every check without sub-checks, and
// groups whose own assertions failed or that were skipped.
func (c *check) report() {
	c.mu.Lock()
	failed, skipped, subs := c.failed, c.skipped, c.subs
	msgs := append([]string(nil), c.msgs...)
	logs := append([]string(nil), c.logs...)
	c.mu.Unlock()
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case failed:
		r.failed++
		if len(logs) > 0 {
			msgs = append(msgs, "log: "+strings.Join(logs, "; "))
		}
		fmt.Fprintf(r.out, "FAIL %s: %s\n", c.name, oneLine(msgs))
	case skipped:
		r.skip++
		fmt.Fprintf(r.out, "SKIP %s: %s\n", c.name, oneLine(msgs))
	case subs == 0:
		r.passed++
		fmt.Fprintf(r.out, "PASS %s\n", c.name)
	}
}

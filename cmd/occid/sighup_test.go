package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPReloadsAuthFiles runs the occid process with a tokens file,
// changes the file without changing its size or modification time (so the
// periodic check cannot see it), sends SIGHUP, and checks that the new
// token works and the old one no longer does.
func TestSIGHUPReloadsAuthFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process; run without -short")
	}
	const oldTok, newTok = "hup-token-old-1111", "hup-token-new-2222"
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(oldTok+" alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(tokens)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--listen", "127.0.0.1:0", "--data-dir", dir, "--store", "memory:", "--auth-tokens", tokens)
	cmd.Env = append(os.Environ(), "OCCID_TEST_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// waitFor returns the first log line matching re.
	waitFor := func(re *regexp.Regexp) []string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("occid exited before logging %s", re)
				}
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			case <-timeout:
				t.Fatalf("occid did not log %s within 30 s", re)
			}
		}
	}
	base := waitFor(regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`))[1]
	status := func(tok string) int {
		return do(t, "GET", base+"/compute/", http.Header{"X-Auth-Token": {tok}}, "").status
	}
	if got := status(oldTok); got != 200 {
		t.Fatalf("old token before the change: got status %d, want 200", got)
	}
	if err := os.WriteFile(tokens, []byte(newTok+" alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tokens, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // past the periodic check, which must not notice
	if got := status(oldTok); got != 200 {
		t.Fatalf("old token before SIGHUP: got status %d, want 200 (the change should be invisible without SIGHUP)", got)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(regexp.MustCompile(`authentication files reloaded`))
	for _, tt := range []struct {
		tok  string
		want int
	}{{newTok, 200}, {oldTok, 401}} {
		if got := status(tt.tok); got != tt.want {
			t.Errorf("after SIGHUP, token %s: got status %d, want %d", strings.Split(tt.tok, "-")[2], got, tt.want)
		}
	}
}

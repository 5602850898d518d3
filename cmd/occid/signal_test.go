package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as occid itself (for TestSIGTERM).
func TestMain(m *testing.M) {
	if os.Getenv("OCCID_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERM runs the occid process, sends SIGTERM while a slow action is
// in flight, and checks that the action is answered, the process exits 0,
// and the log tells what happened.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process; run without -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "--listen", "127.0.0.1:0", "--data-dir", dir, "--backend", "sim://?delay=1s", "--log-format", "text")
	cmd.Env = append(os.Environ(), "OCCID_TEST_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var base string
	urlRE := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)
	timeout := time.After(30 * time.Second)
	for base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("occid exited before listening")
			}
			if m := urlRE.FindStringSubmatch(l); m != nil {
				base = m[1]
			}
		case <-timeout:
			t.Fatal("occid did not say where it listens within 30 s")
		}
	}

	md := medias[0]
	h, b := md.entity(infra+"compute", []string{osTpl + "debian-12"}, nil, nil)
	loc := created(t, base, do(t, "POST", base+"/compute/", h, b))
	done := goDo("POST", base+loc+"?action=start", nil, "")
	waitInFlight(t, base, 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	mustStatus(t, r, 200)
	if got := md.attrOf(t, r, "occi.compute.state"); got != `"active"` {
		t.Errorf("the in-flight start answered state %s, want \"active\"", got)
	}
	var log []string
	for l := range lines { // until occid exits and its stderr closes
		log = append(log, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("occid exited with %v, want 0", err)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"shutting down: finishing requests in flight", "occid stopped"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log lacks %q:\n%s", want, all)
		}
	}
}

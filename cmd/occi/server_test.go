package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests run the CLI (in-process, through app.main) against
// the real occid: the first of them builds cmd/occid into a temporary
// directory (removed by TestMain) and each test starts it on 127.0.0.1 with a free port, the sim backend and a
// temporary data directory.

var (
	buildOnce   sync.Once
	occidBinary string
	buildErr    error
	binDir      string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildOccid builds cmd/occid once per test binary, on first use.
func buildOccid() (string, error) {
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "occi-e2e-")
		if buildErr != nil {
			return
		}
		bin := filepath.Join(binDir, "occid")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/occid/occi/cmd/occid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building occid: %v\n%s", err, out)
			return
		}
		occidBinary = bin
	})
	return occidBinary, buildErr
}

// server is a running occid.
type server struct {
	url  string
	dir  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// syncBuffer is a buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`msg="occid listening" url=(http://\S+)`)

// startOccid starts occid with the given extra flags and stops it when the
// test ends. It skips the test in -short mode (no binary is built).
func startOccid(t *testing.T, extra ...string) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode: it builds and starts occid")
	}
	bin, err := buildOccid()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "info"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OCCID_CONFIG=")
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(pw, logs)
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting occid: %v", err)
	}
	s := &server{dir: dir, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		pw.Close()
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			t.Logf("occid log (last lines):\n%s", strings.Join(lines, "\n"))
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("occid did not start within 60s; log:\n%s", logs.String())
	}
	return s
}

// result is what one run of the CLI printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs occi with args and the environment env (nothing else of the
// process's environment is seen; no config file unless env names one).
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{
		stdout: &stdout, stderr: &stderr,
		getenv:    func(k string) string { return env[k] },
		configDir: func() (string, error) { return env["XDG_CONFIG_HOME"], nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := a.main(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs occi and fails the test unless it exits 0.
func ok(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("occi %s: %s", strings.Join(args, " "), r)
	}
	return r
}

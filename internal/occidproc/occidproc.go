// Package occidproc runs the real occid binary for tests that need whole
// processes: it builds cmd/occid, starts it on a free loopback port and
// waits until it listens, keeps its log for failure messages, kills it when
// the test ends, and gives a test a fresh PostgreSQL schema.
package occidproc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Build compiles cmd/occid into dir and returns the binary's path. It fails
// t if the build fails.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin, err := build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func build(dir string) (string, error) {
	bin := filepath.Join(dir, "occid")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/occid/occi/cmd/occid").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/occid: %v\n%s", err, out)
	}
	return bin, nil
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds cmd/occid once per test binary, into a directory of its
// own that outlives every test, and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "occid-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary, buildErr = build(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Process is a running occid.
type Process struct {
	// Base is the URL occid listens on, http://127.0.0.1:PORT.
	Base string

	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

var listening = regexp.MustCompile(`msg="occid listening" url=(http://127\.0\.0\.1:[0-9]+)`)

// Start runs the occid binary with args, which should include
// "--listen 127.0.0.1:0" (the kernel picks a free port), and returns once
// occid logs the URL it listens on. occid runs with text logs at level
// info. It is killed when the test ends; t fails if it exits before
// listening or does not listen within 90 seconds.
func Start(t testing.TB, binary string, args ...string) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "OCCID_LOG_LEVEL=info", "OCCID_LOG_FORMAT=text")
	out, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start occid: %v", err)
	}
	urls := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
			p.mu.Lock()
			if p.log.Len() < 4<<20 {
				p.log.WriteString(line + "\n")
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.Kill)
	select {
	case p.Base = <-urls:
	case <-p.done:
		t.Fatalf("occid exited before listening:\n%s", p.Output())
	case <-time.After(90 * time.Second):
		t.Fatalf("occid did not report listening within 90 s:\n%s", p.Output())
	}
	return p
}

// Output returns the end of what occid logged (at most 8000 bytes).
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log.String()
	if len(out) > 8000 {
		out = "…" + out[len(out)-8000:]
	}
	return out
}

// Kill sends SIGKILL and waits for the process to be gone. Killing a
// process that is gone already does nothing.
func (p *Process) Kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	<-p.done
}

var schemaSeq atomic.Int64

// PostgresSchema creates an empty schema named prefix_PID_TIME_SEQ in the
// database dsn (a pgx URL) names, drops it when the test ends, and returns
// dsn with a search_path option that selects it, so every process opened
// on the returned URL shares that schema and nothing else.
func PostgresSchema(t testing.TB, dsn, prefix string) string {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("the PostgreSQL DSN %q is not a URL (want postgres://user:pass@host:port/db?...): %v", dsn, err)
	}
	schema := fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", u.Redacted(), err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("create schema %s: %v", schema, err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

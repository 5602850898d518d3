package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// buildOccid compiles ./cmd/occid of the module in root into dir. With
// pprof, a file added through -overlay (the package itself is not touched)
// makes the binary serve net/http/pprof on the address in the environment
// variable OCCIBENCH_PPROF, on a listener of its own.
func buildOccid(root, dir string, pprof bool) (string, error) {
	bin := filepath.Join(dir, "occid")
	args := []string{"build", "-o", bin}
	if pprof {
		src := filepath.Join(dir, "occibench_pprof.go")
		if err := os.WriteFile(src, []byte(pprofSource), 0o600); err != nil {
			return "", err
		}
		overlay, err := json.Marshal(map[string]map[string]string{
			"Replace": {filepath.Join(root, "cmd", "occid", "zz_occibench_pprof.go"): src},
		})
		if err != nil {
			return "", err
		}
		ov := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ov, overlay, 0o600); err != nil {
			return "", err
		}
		args = append(args, "-overlay", ov)
	}
	args = append(args, "./cmd/occid")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/occid: %v\n%s", err, out)
	}
	return bin, nil
}

const pprofSource = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
)

func init() {
	addr := os.Getenv("OCCIBENCH_PPROF")
	if addr == "" {
		return
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(100000)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, http.DefaultServeMux)
}
`

// moduleRoot returns the directory of the main module (the one holding
// cmd/occid), from the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the occid module: run occibench from the repository (go run ./cmd/occibench)")
	}
	root := filepath.Dir(mod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "occid")); err != nil {
		return "", fmt.Errorf("%s has no cmd/occid: run occibench from the occid repository", root)
	}
	return root, nil
}

// process is a server started by the harness.
type process struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan error
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop interrupts the process and waits for it (killing it after 20s).
func (p *process) stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-p.done
	}
}

// startOccid starts the occid binary bin with args on 127.0.0.1:0 and waits
// until /readyz answers. Its log goes to logPath.
func startOccid(bin string, args []string, env []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %v", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if !found && strings.Contains(line, "occid listening") {
				for _, f := range strings.Fields(line) {
					if u, ok := strings.CutPrefix(f, "url="); ok {
						found = true
						urls <- strings.Trim(u, `"`)
					}
				}
			}
		}
		io.Copy(logf, stderr)
		close(urls)
	}()
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.done <- err
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			return nil, fmt.Errorf("occid exited before listening; see %s", logPath)
		}
		p.addr = strings.TrimPrefix(u, "http://")
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("occid did not start listening within 60s; see %s", logPath)
	}
	if err := waitReady("http://"+p.addr+"/readyz", 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("occid: %v; see %s", err, logPath)
	}
	return p, nil
}

func waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// captured is a response recorded from occid, which the ceiling server
// replays: same status, same headers (but Date and Content-Length, which
// net/http writes itself), same body.
type captured struct {
	Path   string      `json:"path"`
	Accept string      `json:"accept"`
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

func ceilingKey(path, accept string) string { return path + "\x00" + accept }

// ceilingEnv names the file of captured responses; when it is set,
// occibench runs as the ceiling server instead.
const ceilingEnv = "OCCIBENCH_CEILING"

// serveCeiling is the ceiling: a plain net/http server with a handler that
// looks the request up by path and Accept and writes the recorded headers
// and body. It prints its address on stdout and serves until interrupted.
func serveCeiling(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var cs []captured
	if err := json.Unmarshal(data, &cs); err != nil {
		return err
	}
	byKey := map[string]*captured{}
	for i := range cs {
		c := &cs[i]
		c.Header.Del("Date")
		c.Header.Del("Content-Length")
		byKey[ceilingKey(c.Path, c.Accept)] = c
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := byKey[ceilingKey(r.URL.RequestURI(), r.Header.Get("Accept"))]
		if c == nil {
			http.NotFound(w, r)
			return
		}
		wh := w.Header()
		for k, v := range c.Header {
			wh[k] = v
		}
		wh["Content-Length"] = []string{strconv.Itoa(len(c.Body))}
		w.WriteHeader(c.Status)
		w.Write(c.Body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startCeiling starts this program again as the ceiling server for the
// responses in file.
func startCeiling(file, logPath string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), ceilingEnv+"="+file)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() {
		io.Copy(io.Discard, out)
		err := cmd.Wait()
		logf.Close()
		p.done <- err
	}()
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		p.stop()
		return nil, fmt.Errorf("ceiling server did not start (%v); see %s", err, logPath)
	}
	p.addr = addr
	return p, nil
}

// memory reads the resident set (VmRSS) and its peak (VmHWM) of process
// pid from /proc, in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// cpuTime returns the CPU time (user and system) process pid has used, from
// /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime or stime", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks just enough HTTP/1.1 over keep-alive
// connections to drive a server hard from the same machine: each request is
// a prepared byte string, each response is read with a minimal parser
// (status line, Content-Length or chunked body, Connection: close) and its
// body discarded. It costs far less CPU per request than net/http's client,
// which matters on a small machine where client and server share the cores.

// response is what readResponse saw of one response.
type response struct {
	status  int
	size    int64  // body bytes
	lines   int64  // '\n' bytes in the body
	body    []byte // the body, when asked for
	close   bool   // the server asked to close the connection
	chunked bool
}

var errMalformed = errors.New("malformed HTTP response")

// maxLine caps the part of a status or header line the parser looks at;
// the rest of a longer line is skipped.
const maxLine = 512

// readLine reads one line ending in '\n' and returns at most its first
// maxLine bytes (without the line ending); longer lines are read whole and
// cut. The returned slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := append([]byte(nil), line[:min(len(line), maxLine)]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return head, nil
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	return line, nil
}

// readResponse reads one response to a request with method (HEAD has no
// body) from br; keep asks for the body to be returned.
func readResponse(br *bufio.Reader, method string, keep bool) (response, error) {
	var r response
	line, err := readLine(br)
	if err != nil {
		return r, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return r, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	r.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || r.status < 100 || r.status > 999 {
		return r, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	r.close = line[7] == '0'
	length := int64(-1)
	for {
		line, err = readLine(br)
		if err != nil {
			return r, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return r, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			r.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				r.close = true
			}
		}
	}
	if method == "HEAD" || r.status == 204 || r.status == 304 || r.status < 200 {
		return r, nil
	}
	var sink bodySink
	sink.keep = keep
	switch {
	case r.chunked:
		if err := readChunked(br, &sink); err != nil {
			return r, err
		}
	case length >= 0:
		if err := sink.copyN(br, length); err != nil {
			return r, err
		}
	default:
		// Until the server closes the connection.
		r.close = true
		if _, err := io.Copy(&sink, br); err != nil {
			return r, err
		}
	}
	r.size, r.lines, r.body = sink.n, sink.lines, sink.buf
	return r, nil
}

// bodySink counts (and optionally keeps) body bytes.
type bodySink struct {
	keep  bool
	n     int64
	lines int64
	buf   []byte
}

func (s *bodySink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.lines += int64(bytes.Count(p, []byte{'\n'}))
	if s.keep {
		s.buf = append(s.buf, p...)
	}
	return len(p), nil
}

// copyN moves n bytes from br into s without an intermediate buffer.
func (s *bodySink) copyN(br *bufio.Reader, n int64) error {
	for n > 0 {
		p, err := br.Peek(int(min(n, int64(br.Size()))))
		if len(p) > 0 {
			s.Write(p)
			br.Discard(len(p))
			n -= int64(len(p))
		}
		if err != nil && n > 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readChunked reads a chunked body and its trailer.
func readChunked(br *bufio.Reader, s *bodySink) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			for { // trailer, up to the empty line
				line, err := readLine(br)
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := s.copyN(br, size); err != nil {
			return err
		}
		crlf, err := readLine(br)
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return fmt.Errorf("%w: chunk of %d bytes not followed by CRLF", errMalformed, size)
		}
	}
}

// target is one kind of request to send: method, path, headers and body.
type target struct {
	method, path string
	header       [][2]string
	body         []byte
	wantStatus   int
}

// build returns the request as bytes for host.
func (t target) build(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: occibench\r\n", t.method, t.path, host)
	for _, h := range t.header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if t.body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(t.body))
	}
	b.WriteString("\r\n")
	b.Write(t.body)
	return b.Bytes()
}

// loadResult is one measurement.
type loadResult struct {
	requests int             // answered with the wanted status
	errors   int             // failed, or answered with another status
	firstErr string          // the first failure, for the report
	elapsed  time.Duration   // from the first request to the end
	bytes    int64           // body bytes received
	lines    int64           // body lines received
	lat      []time.Duration // latency of each answered request, sorted
	cpu      time.Duration   // CPU time the server used meanwhile, if known
}

// cpuPerRequest returns the server's CPU time per answered request.
func (r loadResult) cpuPerRequest() time.Duration {
	if r.requests == 0 || r.cpu <= 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// measured runs f and records the CPU time process pid used meanwhile.
func measured(pid int, f func() loadResult) loadResult {
	before, err := cpuTime(pid)
	r := f()
	after, err2 := cpuTime(pid)
	if err == nil && err2 == nil {
		r.cpu = after - before
	}
	return r
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p <= 100) of the latencies.
func (r loadResult) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p/100+0.5) - 1
	i = max(0, min(i, len(r.lat)-1))
	return r.lat[i]
}

// requestTimeout bounds one request, from writing it to having read the
// whole response; a request that takes longer fails.
var requestTimeout = 2 * time.Minute

// load sends t to addr from conns connections, each one request at a time,
// for d (closed loop), and until at least minReq requests in all have been
// answered (d 0 and minReq 1: exactly one request). Latencies are
// measured per request, from writing it to having read the whole response.
func load(addr string, t target, conns int, d time.Duration, minReq int) loadResult {
	return loadAt(addr, t, conns, d, minReq, 0)
}

// loadPaced is load at a fixed rate: the conns connections together send
// rate requests per second for d, each on its own schedule (one request
// every conns/rate seconds, the connections' schedules spread over that
// interval), still one request at a time per connection. A request's
// latency runs from the time it was scheduled, so a server that falls
// behind is charged for the wait of the requests queued behind a slow one
// (no coordinated omission).
func loadPaced(addr string, t target, conns int, d time.Duration, rate float64) loadResult {
	return loadAt(addr, t, conns, d, 0, rate)
}

// loadAt is load (rate 0: closed loop) or loadPaced (rate > 0).
func loadAt(addr string, t target, conns int, d time.Duration, minReq int, rate float64) loadResult {
	req := t.build(addr)
	var every time.Duration // one connection's interval between sends
	if rate > 0 {
		every = time.Duration(float64(conns) / rate * float64(time.Second))
	}
	want := t.wantStatus
	if want == 0 {
		want = 200
	}
	type worker struct {
		slot     int // the connection's index, spreading paced schedules
		n, errs  int
		firstErr string
		bytes    int64
		lines    int64
		lat      []time.Duration
	}
	ws := make([]worker, conns)
	for i := range ws {
		ws[i].slot = i
	}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	// attempts counts every finished request, failed ones included, so
	// that a target that only fails ends the run at the deadline too.
	var attempts atomic.Int64
	hardStop := deadline.Add(d + 30*time.Second)
	for i := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			var conn net.Conn
			var br *bufio.Reader
			fail := func(err error) {
				attempts.Add(1)
				w.errs++
				if w.firstErr == "" {
					w.firstErr = err.Error()
				}
				if conn != nil {
					conn.Close()
					conn = nil
				}
			}
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			w.lat = make([]time.Duration, 0, 4096)
			var next time.Time // the next send this connection has scheduled
			if every > 0 {
				next = start.Add(time.Duration(w.slot) * every / time.Duration(conns))
			}
			for {
				if now := time.Now(); (!now.Before(deadline) && attempts.Load() >= int64(minReq)) || now.After(hardStop) {
					return
				}
				if every > 0 {
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
				}
				if conn == nil {
					c, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 64<<10)
				}
				t0 := time.Now()
				conn.SetDeadline(t0.Add(requestTimeout))
				if every > 0 {
					// Latency counts from the schedule, not from when a
					// late send went out.
					t0, next = next, next.Add(every)
				}
				if _, err := conn.Write(req); err != nil {
					fail(err)
					continue
				}
				resp, err := readResponse(br, t.method, false)
				if err != nil {
					fail(err)
					continue
				}
				if resp.status != want {
					fail(fmt.Errorf("%s %s: status %d, want %d", t.method, t.path, resp.status, want))
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				w.n++
				w.bytes += resp.size
				w.lines += resp.lines
				attempts.Add(1)
				if resp.close {
					conn.Close()
					conn = nil
				}
			}
		}(&ws[i])
	}
	wg.Wait()
	res := loadResult{elapsed: time.Since(start)}
	for _, w := range ws {
		res.requests += w.n
		res.errors += w.errs
		res.bytes += w.bytes
		res.lines += w.lines
		res.lat = append(res.lat, w.lat...)
		if res.firstErr == "" {
			res.firstErr = w.firstErr
		}
	}
	slices.Sort(res.lat)
	return res
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadResponse(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name    string
		in      string
		method  string
		want    response
		wantErr bool
		// rest is what must be left unread: the next response.
		rest string
	}{
		{
			name: "content length",
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nab\ncd\nNEXT",
			want: response{status: 200, size: 6, lines: 2, body: []byte("ab\ncd\n")},
			rest: "NEXT",
		},
		{
			name: "chunked with extension and trailer",
			in:   "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nab\n\r\n2\r\ncd\r\n0\r\nTrailer: 1\r\n\r\nNEXT",
			want: response{status: 201, size: 5, lines: 1, body: []byte("ab\ncd"), chunked: true},
			rest: "NEXT",
		},
		{
			name: "connection close",
			in:   "HTTP/1.1 404 Not Found\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n",
			want: response{status: 404, close: true},
		},
		{
			name: "HTTP/1.0 closes",
			in:   "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nz",
			want: response{status: 200, size: 1, body: []byte("z"), close: true},
		},
		{
			name: "body until close",
			in:   "HTTP/1.1 200 OK\r\n\r\nall of it",
			want: response{status: 200, size: 9, body: []byte("all of it"), close: true},
		},
		{
			name:   "HEAD has no body",
			method: "HEAD",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 7194\r\n\r\nNEXT",
			want:   response{status: 200},
			rest:   "NEXT",
		},
		{
			name: "no content",
			in:   "HTTP/1.1 204 No Content\r\n\r\nNEXT",
			want: response{status: 204},
			rest: "NEXT",
		},
		{
			name: "header longer than the buffer",
			in:   "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\nContent-Length: 2\r\n\r\nokNEXT",
			want: response{status: 200, size: 2, body: []byte("ok")},
			rest: "NEXT",
		},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: true},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", wantErr: true},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n", wantErr: true},
		{name: "truncated headers", in: "HTTP/1.1 200 OK\r\nContent-Len", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 1024)
			got, err := readResponse(br, method, true)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(response{})); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("left unread %q, want %q", rest, tc.rest)
			}
		})
	}
}

// TestLoad runs the load generator against net/http servers: what it
// counts must match what the server answered.
func TestLoad(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		target     target
		wantOK     bool
		wantBytes  int64 // per request
		wantErrSub string
	}{
		{
			name: "content length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != "text/plain" {
					http.Error(w, "want Accept: text/plain", http.StatusNotAcceptable)
					return
				}
				io.WriteString(w, "hello\n")
			},
			target:    target{method: "GET", path: "/x", header: [][2]string{{"Accept", "text/plain"}}},
			wantOK:    true,
			wantBytes: 6,
		},
		{
			name: "chunked",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for range 3 {
					io.WriteString(w, strings.Repeat("a", 5000)+"\n")
					w.(http.Flusher).Flush()
				}
			},
			target:    target{method: "GET", path: "/big"},
			wantOK:    true,
			wantBytes: 15003,
		},
		{
			name: "post with body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, "%d", len(b))
			},
			target:    target{method: "POST", path: "/c/", body: []byte("12345"), wantStatus: http.StatusCreated},
			wantOK:    true,
			wantBytes: 1,
		},
		{
			name: "wrong status counts as an error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.NotFound(w, r)
			},
			target:     target{method: "GET", path: "/missing"},
			wantErrSub: "status 404, want 200",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")
			r := load(addr, tc.target, 4, 50*time.Millisecond, 10)
			if !tc.wantOK {
				if r.requests != 0 || r.errors == 0 || !strings.Contains(r.firstErr, tc.wantErrSub) {
					t.Errorf("got %d requests, %d errors (first %q), want only errors mentioning %q", r.requests, r.errors, r.firstErr, tc.wantErrSub)
				}
				return
			}
			if r.errors != 0 {
				t.Fatalf("got %d errors, first: %s", r.errors, r.firstErr)
			}
			if r.requests < 10 {
				t.Errorf("got %d requests, want at least 10", r.requests)
			}
			if r.bytes != tc.wantBytes*int64(r.requests) {
				t.Errorf("got %d body bytes in %d requests, want %d each", r.bytes, r.requests, tc.wantBytes)
			}
			if len(r.lat) != r.requests {
				t.Errorf("got %d latencies, want one per request (%d)", len(r.lat), r.requests)
			}
			if p50, p99 := r.percentile(50), r.percentile(99); p50 <= 0 || p99 < p50 {
				t.Errorf("got p50 %v, p99 %v, want 0 < p50 <= p99", p50, p99)
			}
		})
	}
}

func TestPercentileAndMedian(t *testing.T) {
	r := loadResult{}
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"p50", float64(r.percentile(50)), float64(50 * time.Millisecond)},
		{"p99", float64(r.percentile(99)), float64(99 * time.Millisecond)},
		{"p100", float64(r.percentile(100)), float64(100 * time.Millisecond)},
		{"empty", float64(loadResult{}.percentile(99)), 0},
		{"median odd", median([]float64{3, 1, 2}), 2},
		{"median even", median([]float64{4, 1, 3, 2}), 2.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	tests := []struct {
		name    string
		pid     int
		wantErr bool
	}{
		{"this process", os.Getpid(), false},
		{"no such process", 1 << 30, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rss, hwm, err := memory(tc.pid)
			if tc.wantErr {
				if err == nil {
					t.Errorf("got rss %d, want an error", rss)
				}
				return
			}
			if err != nil {
				t.Skipf("no /proc here: %v", err)
			}
			if rss <= 0 || hwm < rss {
				t.Errorf("got VmRSS %d, VmHWM %d; want 0 < VmRSS <= VmHWM", rss, hwm)
			}
		})
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\n\r\ngone",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), 64)
		r, err := readResponse(br, "GET", true)
		if err != nil {
			if errors.Is(err, errMalformed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			t.Fatalf("unexpected kind of error: %v", err)
		}
		if r.size != int64(len(r.body)) {
			t.Errorf("size %d, but %d body bytes", r.size, len(r.body))
		}
		if r.size > int64(len(data)) {
			t.Errorf("body of %d bytes from %d bytes of input", r.size, len(data))
		}
	})
}

// TestLoadPaced: a paced load sends no faster than its rate, and charges a
// stall to the requests scheduled during it (their latency runs from their
// scheduled time), where a closed loop would hide it.
func TestLoadPaced(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			time.Sleep(200 * time.Millisecond) // the first request stalls
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	r := loadPaced(addr, target{method: "GET", path: "/"}, 1, 500*time.Millisecond, 100)
	if r.errors != 0 {
		t.Fatalf("got %d errors, first: %s", r.errors, r.firstErr)
	}
	// 100/s for 0.5 s: at most about 50 requests, however fast the server.
	if r.requests > 60 || r.requests < 5 {
		t.Errorf("got %d requests at 100/s for 0.5 s, want about 50 and no more than 60", r.requests)
	}
	// About 20 requests were scheduled during the 200 ms stall, 10 ms
	// apart: the latest tenth waited at least 100 ms.
	if p90 := r.percentile(90); p90 < 100*time.Millisecond {
		t.Errorf("got p90 %v, want at least 100ms: the stall is not charged to the requests queued behind it", p90)
	}
}

package occihttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startHTTP serves h with limits l on a loopback port and returns its
// address.
func startHTTP(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h, l, nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestLimitsHeaderTooLarge(t *testing.T) {
	addr := startHTTP(t, newTestServer(seeded(), Options{}), Limits{MaxHeaderBytes: 1024})
	tests := []struct {
		name       string
		header     int
		wantStatus int
	}{
		{name: "small headers", header: 100, wantStatus: 200},
		// net/http allows MaxHeaderBytes plus 4096 bytes of slack.
		{name: "huge headers", header: 16 << 10, wantStatus: 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+addr+"/compute/1", nil)
			req.Header.Set("X-Padding", strings.Repeat("p", tt.header))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

// TestLimitsSlowClient checks that a client trickling its headers is cut off
// after ReadHeaderTimeout and that other clients are served meanwhile.
func TestLimitsSlowClient(t *testing.T) {
	addr := startHTTP(t, newTestServer(seeded(), Options{}), Limits{ReadHeaderTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /compute/1 HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		// Trickle one header byte every 50 ms, for at most 5 s; the
		// server must close the connection long before.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := io.WriteString(conn, "X"); err != nil {
				closed <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		closed <- nil
	}()
	// A well-behaved client is served while the slow one trickles.
	resp, err := http.Get("http://" + addr + "/compute/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("got status %d for a normal client, want 200", resp.StatusCode)
	}
	// The server gives up on the headers: it closes the connection, at
	// most after a short error answer.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(bufio.NewReader(conn))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held the slow connection after 5 s (read %q)", rest)
	}
	if len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 4") {
		t.Errorf("got %q from the server, want the connection closed or a 4xx answer", rest)
	}
	if werr := <-closed; werr == nil {
		t.Errorf("the slow client could still write after 5 s, want the connection closed")
	}
}

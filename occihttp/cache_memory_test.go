package occihttp_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestEntityCacheMemoryWithLongHosts checks that GETs of one entity with
// ever new, long Host values do not grow the server's memory: the base URL
// made of the Host is in the cache key, in Content-Location and, in
// text/occi, in every header of the rendering, and the cache's bound
// counts them all. (Counting bodies alone, it grew by about 120 MiB here.)
func TestEntityCacheMemoryWithLongHosts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	if r := a.do(t, "PUT", "/compute/c1", "alice", "text/plain", "text/plain", computeKindLine); r.status != 201 {
		t.Fatalf("create %d %s", r.status, r.body)
	}
	before := liveHeap()
	const n, hostLen = 200, 200 << 10
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("h%d.", i) + strings.Repeat("a", hostLen)
		r := a.do(t, "GET", "/compute/c1", "alice", "text/occi", "", "", "Host", host)
		if r.status != 200 || len(r.body) > 16 {
			t.Fatalf("GET %d: %d body %d bytes", i, r.status, len(r.body))
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("heap grew by %d MiB after %d text/occi GETs with %d KiB Hosts", grown>>20, n, hostLen>>10)
	if grown > 48<<20 {
		t.Fatalf("heap grew by %d MiB: the entity cache (bounded at 32 MiB of bodies) keeps header-only renderings without counting them", grown>>20)
	}
}

// TestDiscoveryCacheMemoryWithLongHosts checks the same of GET /-/, whose
// rendering repeats the base URL once per location. (Bounded by count
// alone, the cache grew by about 120 MiB here.)
func TestDiscoveryCacheMemoryWithLongHosts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	before := liveHeap()
	const n, hostLen = 60, 100 << 10
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("h%d.", i) + strings.Repeat("a", hostLen)
		if r := a.do(t, "GET", "/-/", "alice", "text/plain", "", "", "Host", host); r.status != 200 {
			t.Fatalf("GET %d: %d", i, r.status)
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("heap grew by %d MiB after %d GET /-/ with %d KiB Hosts", grown>>20, n, hostLen>>10)
	if grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB: the discovery cache keeps every rendering for a new Host, whatever its size", grown>>20)
	}
}

// liveHeap returns the bytes of heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

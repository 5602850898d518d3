package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// TestDeferredSync checks that a Write with store.WithDeferredSync is
// committed without an fsync only when every Write of its group asks for
// it, that the next plain Write is fsynced again, and that deferred writes
// are acknowledged, visible and kept across Close and Open like any other.
func TestDeferredSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var commits []int
	testCommitHook = func(_ int, mode int) {
		mu.Lock()
		commits = append(commits, mode)
		mu.Unlock()
	}
	defer func() { testCommitHook = nil }()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	ctx := context.Background()
	put := func(ctx context.Context, loc string) {
		t.Helper()
		if err := s.Write(ctx, store.Mutation{Put: &occi.Entity{Location: loc, Kind: compute, Owner: "u"}}); err != nil {
			t.Fatalf("Write %s: %v", loc, err)
		}
	}
	put(ctx, "/compute/1")
	put(store.WithDeferredSync(ctx), "/compute/2")
	put(store.WithDeferredSync(ctx), "/compute/3")
	put(ctx, "/compute/4")
	mu.Lock()
	got := fmt.Sprint(commits)
	mu.Unlock()
	// 2 is FULL (fsynced), 1 NORMAL, as SQLite reports the mode.
	if want := "[2 1 1 2]"; got != want {
		t.Fatalf("synchronous modes of the commits: %s, want %s", got, want)
	}

	// Many writers at once: a group is deferred only if all of it is.
	commits = nil
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if i%2 == 0 {
				c = store.WithDeferredSync(ctx)
			}
			if err := s.Write(c, store.Mutation{Put: &occi.Entity{Location: fmt.Sprintf("/compute/g%02d", i), Kind: compute, Owner: "u"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	for i, m := range commits {
		if m != 1 && m != 2 {
			t.Errorf("commit %d ran with synchronous mode %d, want 1 or 2", i, m)
		}
	}
	mu.Unlock()

	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"/compute/2", "/compute/3", "/compute/g00", "/compute/g63"} {
		if _, err := other.Get(ctx, loc); err != nil {
			t.Errorf("another Store does not see the deferred write at %s: %v", loc, err)
		}
	}
	other.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Count(ctx, store.Query{})
	if err != nil || n != 68 {
		t.Fatalf("after reopening: %d entities (%v), want 68", n, err)
	}
}

//go:build linux

package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// lockChildEnv makes the test binary, run as a child, report who holds a
// lock on byte 128 of the WAL-index file it names, SQLite's sign that the
// index is in use ("RDLCK <pid>", or "UNLCK"), and exit. A process does not
// see its own locks with F_GETLK, so it takes another process to look.
const lockChildEnv = "OCCID_SQLITESTORE_LOCK_CHILD"

func init() {
	name := os.Getenv(lockChildEnv)
	if name == "" {
		return
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 128, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	switch lk.Type {
	case syscall.F_RDLCK:
		fmt.Printf("RDLCK %d\n", lk.Pid)
	case syscall.F_WRLCK:
		fmt.Printf("WRLCK %d\n", lk.Pid)
	default:
		fmt.Println("UNLCK")
	}
	os.Exit(0)
}

// indexLock returns what a child process sees of the lock on byte 128 of
// the WAL-index of the database at path.
func indexLock(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path+"-shm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestWALIndexLockKept checks that a Store keeps SQLite's lock on its
// WAL-index while it is open, through a second Store on the same file
// being opened and closed: mapping the index for the store's version must
// not release it (on POSIX systems, closing any descriptor of a file drops
// all of the process's locks on it), or the next process to open the
// database rebuilds the index under this one.
func TestWALIndexLockKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	compute := occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	if err := s.Write(ctx, store.Mutation{Put: &occi.Entity{Location: "/compute/a", Kind: compute, Owner: "u"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/compute/a"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("RDLCK %d", os.Getpid())
	if got := indexLock(t, path); got != want {
		t.Fatalf("after Open, a write and a read: the WAL-index lock is %q, want %q", got, want)
	}
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Version(); !ok {
		t.Error("the second Store has no version")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if got := indexLock(t, path); got != want {
		t.Fatalf("after a second Store on the file was opened and closed: the WAL-index lock is %q, want %q", got, want)
	}
	if _, err := s.Get(ctx, "/compute/a"); err != nil {
		t.Fatalf("the first Store after the second closed: %v", err)
	}
	if _, ok := s.Version(); !ok {
		t.Error("the first Store lost its version")
	}
}

//go:build unix

package sqlitestore

import (
	"os"
	"syscall"
)

// mapWALIndex maps the start of the WAL-index file of the database at
// path read-only. It returns nil when the file is missing or too short
// (the store then has no version).
func mapWALIndex(path string) *walIndex {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < 4096 {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &walIndex{mem: mem, unmap: func() error { return syscall.Munmap(mem) }}
}

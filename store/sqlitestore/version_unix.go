//go:build unix

package sqlitestore

import (
	"os"
	"sync"
	"syscall"
)

// walIndexes holds the WAL-index files this process has mapped, by device
// and inode, for the life of the process; every Store on the same file
// shares one. Their files are never closed, and neither is any other
// descriptor opened here: on POSIX systems, closing any descriptor of a
// file releases every lock the process holds on that file, including the
// locks SQLite's own connections hold on the WAL-index. (The read lock on
// its byte 128 tells other processes that the index is in use; without it
// the next process to open the database truncates and rebuilds the index
// under this one's connections, whose reads and commits then fail.) A
// descriptor kept open also keeps its inode from being reused, so a key
// never names two files.
var walIndexes struct {
	mu   sync.Mutex
	m    map[fileID]*walIndex
	kept []*os.File // descriptors opened but not mapped, kept open too
}

// fileID names a file by device and inode.
type fileID struct{ dev, ino uint64 }

// mapWALIndex returns the mapped start of the WAL-index file of the
// database at path, read-only, shared by every caller for the same file.
// It returns nil when the file is missing or too short (the store then has
// no version).
func mapWALIndex(path string) *walIndex {
	name := path + "-shm"
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		return nil
	}
	walIndexes.mu.Lock()
	defer walIndexes.mu.Unlock()
	if walIndexes.m == nil {
		walIndexes.m = map[fileID]*walIndex{}
	}
	if w, ok := walIndexes.m[fileID{uint64(st.Dev), uint64(st.Ino)}]; ok {
		return w
	}
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	// From here on f stays open (see walIndexes).
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Size < 4096 {
		walIndexes.kept = append(walIndexes.kept, f)
		return nil
	}
	id := fileID{uint64(st.Dev), uint64(st.Ino)}
	if w, ok := walIndexes.m[id]; ok {
		// The file at name changed between Stat and Open, to one
		// already mapped.
		walIndexes.kept = append(walIndexes.kept, f)
		return w
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		walIndexes.kept = append(walIndexes.kept, f)
		return nil
	}
	w := &walIndex{mem: mem, file: f}
	walIndexes.m[id] = w
	return w
}

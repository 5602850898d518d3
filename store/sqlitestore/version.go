package sqlitestore

import (
	"runtime/debug"
	"sync/atomic"
	"unsafe"
)

// The store's version (store.Versioner) is read from SQLite's WAL-index,
// the shared-memory file ("<db>-shm") through which every connection to
// the database, in any process, learns about commits. Its first 48 bytes
// are the WAL-index header (https://www.sqlite.org/walformat.html): a
// writer rewrites it as the last step of every commit, before the commit
// returns, and no reader sees the commit before the header says so. The
// header holds a change counter (iChange, incremented by every commit),
// the number of valid frames in the WAL, the WAL's salts (new at every
// restart of the WAL) and the checksum of its last frame; so a commit by
// any process changes it, and a WAL restart or an index rebuild after a
// crash changes it too. The format is shared by every SQLite version that
// may open the file at once, so it is stable.
//
// The file is mapped read-only once per process (see mapWALIndex); the version is a hash of the
// 48 header bytes, read as twelve atomic 32-bit loads. A reader that
// catches a header mid-update computes a value that differs from both the
// old and the new header's, which only costs a cache miss.

// walHeaderSize is the size of the first copy of the WAL-index header.
const walHeaderSize = 48

// walIndex is the mapped start of the WAL-index file. It is never
// unmapped, and its file never closed (see mapWALIndex).
type walIndex struct {
	mem  []byte
	file any // the open file, kept reachable so that it stays open
}

// version returns the hash of the WAL-index header, and false if the
// header is not initialised or cannot be read (the file was truncated
// under the mapping: the fault is recovered).
func (w *walIndex) version() (v uint64, ok bool) {
	if w == nil || len(w.mem) < walHeaderSize {
		return 0, false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			v, ok = 0, false
		}
	}()
	// FNV-1a over the header, a 32-bit word at a time.
	h := uint64(14695981039346656037)
	var words [walHeaderSize / 4]uint32
	for i := range words {
		words[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[i*4])))
		h ^= uint64(words[i])
		h *= 1099511628211
	}
	// Byte 12 of the header is isInit: 0 until a connection has built
	// the index.
	if isInit := byte(words[3]); isInit == 0 {
		return 0, false
	}
	return h, true
}

// Version returns the store's version (see store.Versioner): it changes
// whenever a write is committed to the database file, through this Store,
// another Store on the same file, or another process. ok is false when the
// WAL-index could not be mapped (the caller then takes every read as
// possibly changed) or the store is closed.
func (s *Store) Version() (v uint64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, false
	}
	return s.shm.version()
}

//go:build unix

package simbackend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir so that two simulators never share
// one state file; the returned function releases it.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("simbackend: locking state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errorf(ErrBusy, "state directory %s is in use by another simulator", dir)
		}
		return nil, fmt.Errorf("simbackend: locking state directory: %w", err)
	}
	return func() { f.Close() }, nil
}

//go:build unix

package gitsource

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockClone takes an exclusive, non-blocking lock on path (created if
// needed) for the life of the process or until the returned file is
// closed: one process at a time fetches into and reads a clone. The lock is
// released by the kernel when the process dies, so a crash leaves none.
func lockClone(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock clone: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by another berth process; give each process its own --data-dir",
				ErrCloneInUse, path)
		}
		return nil, fmt.Errorf("lock clone %s: %w", path, err)
	}
	return f, nil
}

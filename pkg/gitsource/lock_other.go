//go:build !unix

package gitsource

import (
	"fmt"
	"os"
)

// lockClone creates path and holds it open; without flock(2) it does not
// keep a second process out.
func lockClone(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock clone: %w", err)
	}
	return f, nil
}

//go:build unix

package main

import "syscall"

// closeOnExec keeps fd from the processes this one starts (git's
// upload-pack for a file:// remote): an inherited pipe would keep its
// reader from seeing the end of it when this process exits.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }

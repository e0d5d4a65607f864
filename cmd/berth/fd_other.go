//go:build !unix

package main

// closeOnExec does nothing where berth serve's reconciler process has no
// inherited descriptors to keep.
func closeOnExec(int) {}

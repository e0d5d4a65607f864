package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// setNice sets the nice value of every thread of this process to n. On
// Linux the nice value belongs to a thread, and a new thread takes its
// creator's: the threads are listed until a pass finds none not yet set,
// after which every thread the Go runtime starts has it too.
func setNice(n int) error {
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("set nice %d: %w", n, err)
		}
		fresh := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			// A thread that ended since the listing is no error.
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("set nice %d: %w", n, err)
			}
			done[tid], fresh = true, true
		}
		if !fresh {
			return nil
		}
	}
	return nil
}

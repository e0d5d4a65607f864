package main

import (
	"fmt"
	"io"
)

// run is berth's entry point, kept apart from main for testscript.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "berth: not wired yet")
	return 2
}

// Command berth validates, indexes, scores and serves a catalog-as-code
// repository. Run `berth --help` for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

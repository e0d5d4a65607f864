//go:build race

package action

// raceEnabled is true when the tests run with -race: the build step then
// builds with -race as well, reusing the packages `go test -race` compiled
// instead of compiling every dependency a second time.
const raceEnabled = true

//go:build !race && linux

package keys

// raceEnabled says the race detector is on (race_test.go).
const raceEnabled = false

//go:build race && linux

package keys

// raceEnabled says the race detector is on: its shadow memory faults
// pages of its own, so page-fault counts mean nothing then.
const raceEnabled = true

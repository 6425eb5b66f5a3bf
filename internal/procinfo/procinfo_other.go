//go:build !linux

package procinfo

// BootID returns "": this platform offers no boot ID, so no process is
// ever reported gone.
func BootID() string { return "" }

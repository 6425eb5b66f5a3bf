package procinfo

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestBootID(t *testing.T) {
	b := BootID()
	if runtime.GOOS == "linux" && !validBoot(b) {
		t.Fatalf("boot ID %q on Linux", b)
	}
	if b != BootID() {
		t.Fatal("boot ID changes between calls")
	}
}

// TestGone checks the three answers: this process is alive, a process
// that has exited and been reaped is gone on this boot, and nothing is
// gone on another boot or without a boot.
func TestGone(t *testing.T) {
	if BootID() == "" {
		t.Skip("no boot ID on this platform")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	other := "00000000000000000000000000000000"
	for _, tc := range []struct {
		name string
		boot string
		pid  int
		want bool
	}{
		{"this process", BootID(), os.Getpid(), false},
		{"exited child", BootID(), dead, true},
		{"exited child, other boot", other, dead, false},
		{"exited child, no boot", "", dead, false},
		{"no pid", BootID(), 0, false},
	} {
		if got := Gone(tc.boot, tc.pid); got != tc.want {
			t.Errorf("%s: Gone = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidBoot(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "0123456789abcdef0123456789abcdef": true,
		"0123456789ABCDEF0123456789abcdef": false, "0123": false,
		"0123456789abcdef0123456789abcdeg": false,
	} {
		if ValidBoot(s) != want {
			t.Errorf("ValidBoot(%q) = %v", s, !want)
		}
	}
}

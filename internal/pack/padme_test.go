package pack

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPadmeVectors checks Padme against the known answers in
// testdata/padme.txt, computed by an independent implementation of the
// paper's formula.
func TestPadmeVectors(t *testing.T) {
	f, err := os.Open("testdata/padme.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	count := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var fields [2]uint64
		for i, s := range strings.Fields(line) {
			if fields[i], err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatalf("bad vector %q: %v", line, err)
			}
		}
		if got := Padme(fields[0]); got != fields[1] {
			t.Errorf("Padme(%d) = %d, want %d", fields[0], got, fields[1])
		}
		count++
	}
	if count < 50 {
		t.Fatalf("only %d vectors read", count)
	}
}

// TestPadmeProperties checks that Padme never shrinks a length, is
// idempotent and monotonic, and adds at most 12%.
func TestPadmeProperties(t *testing.T) {
	prev := uint64(0)
	for n := uint64(0); n < 1<<17; n++ {
		p := Padme(n)
		switch {
		case p < n:
			t.Fatalf("Padme(%d) = %d shrinks", n, p)
		case Padme(p) != p:
			t.Fatalf("Padme(Padme(%d)) = %d, not %d", n, Padme(p), p)
		case p < prev:
			t.Fatalf("Padme(%d) = %d < Padme(%d) = %d", n, p, n-1, prev)
		case float64(p-n) > 0.12*float64(n):
			t.Fatalf("Padme(%d) = %d adds more than 12%%", n, p)
		}
		prev = p
	}
}

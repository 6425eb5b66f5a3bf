package snapshot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Within is a calendar span, as restic's --keep-within takes it: years,
// months, days and hours (docs/format.md §8.1, "Retention").
type Within struct {
	Years, Months, Days, Hours int
}

// maxWithinPart bounds each part of a span, so that subtracting it from a
// time cannot overflow.
const maxWithinPart = 1_000_000

// ErrWithin is wrapped by every error of ParseWithin.
var ErrWithin = errors.New("a span is numbers each followed by y, m, d or h, such as 1y6m or 7d12h")

// ParseWithin parses a span such as "1y2m3d4h": one or more non-negative
// decimal numbers, each followed by its unit (y years, m months, d days, h
// hours), each unit at most once, in any order.
func ParseWithin(s string) (Within, error) {
	var w Within
	seen := map[byte]bool{}
	for rest := s; rest != ""; {
		i := strings.IndexAny(rest, "ymdh")
		if i <= 0 {
			return Within{}, fmt.Errorf("span %q: %w", s, ErrWithin)
		}
		n, err := strconv.Atoi(rest[:i])
		unit := rest[i]
		if err != nil || n < 0 || n > maxWithinPart || seen[unit] || strings.ContainsAny(rest[:i], "+-") {
			return Within{}, fmt.Errorf("span %q: %w", s, ErrWithin)
		}
		seen[unit] = true
		*w.part(unit) = n
		rest = rest[i+1:]
	}
	if len(seen) == 0 {
		return Within{}, fmt.Errorf("span %q: %w", s, ErrWithin)
	}
	return w, nil
}

func (w *Within) part(unit byte) *int {
	switch unit {
	case 'y':
		return &w.Years
	case 'm':
		return &w.Months
	case 'd':
		return &w.Days
	}
	return &w.Hours
}

// Zero reports whether the span is empty: the rule is unused.
func (w Within) Zero() bool { return w == Within{} }

// String formats the span as ParseWithin reads it, omitting zero parts
// ("0h" for the zero span).
func (w Within) String() string {
	var b strings.Builder
	for _, p := range []struct {
		n    int
		unit string
	}{{w.Years, "y"}, {w.Months, "m"}, {w.Days, "d"}, {w.Hours, "h"}} {
		if p.n != 0 {
			fmt.Fprintf(&b, "%d%s", p.n, p.unit)
		}
	}
	if b.Len() == 0 {
		return "0h"
	}
	return b.String()
}

// Before returns the instant the span reaches back to from t, in t's zone:
// the calendar parts first, then the hours.
func (w Within) Before(t time.Time) time.Time {
	return t.AddDate(-w.Years, -w.Months, -w.Days).Add(-time.Duration(w.Hours) * time.Hour)
}

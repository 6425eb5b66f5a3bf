package snapshot

import (
	"errors"
	"fmt"
	"slices"
)

// TagChange is what `coffer tag` does to a snapshot's tags: replace them
// with Set (when Replace), or add Add and then remove Remove.
type TagChange struct {
	Replace          bool
	Set, Add, Remove []string
}

// ErrTagChange is wrapped by the errors of TagChange.Check.
var ErrTagChange = errors.New("give --set, or --add and --remove")

// Check refuses a change that does nothing, mixes Set with Add or
// Remove, or names a tag no snapshot can carry.
func (c TagChange) Check() error {
	switch {
	case c.Replace && len(c.Add)+len(c.Remove) > 0:
		return fmt.Errorf("--set replaces all tags, so it goes alone: %w", ErrTagChange)
	case !c.Replace && len(c.Add)+len(c.Remove) == 0:
		return fmt.Errorf("no change: %w", ErrTagChange)
	}
	for _, t := range slices.Concat(c.Set, c.Add, c.Remove) {
		if err := CheckTag(t); err != nil {
			return err
		}
	}
	return nil
}

// Apply returns the tags a snapshot carrying tags has after the change, in
// order: kept tags where they were, added ones after them, no repeats. It
// does not modify tags.
func (c TagChange) Apply(tags []string) []string {
	out := []string{}
	if !c.Replace {
		out = append(out, tags...)
	}
	for _, t := range slices.Concat(c.Set, c.Add) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return slices.DeleteFunc(out, func(t string) bool { return slices.Contains(c.Remove, t) })
}

// Retagged returns a copy of s carrying the changed tags, and whether they
// differ from s's own (as a set and in order).
func (c TagChange) Retagged(s *Snapshot) (*Snapshot, bool) {
	tags := c.Apply(s.Tags)
	if len(tags) == 0 {
		tags = nil // an empty tag list is not written (§8.1)
	}
	if slices.Equal(tags, s.Tags) {
		return s, false
	}
	n := *s
	n.Tags = tags
	return &n, true
}

//go:build linux || darwin || freebsd

package fsmeta

import (
	"os/user"
	"strconv"
	"sync"
)

// cache memoises a lookup that is slow (it may read /etc/passwd or ask a
// directory service) and whose answer seldom changes during one run, such as
// the name of a user ID. It is safe for concurrent use.
type cache[K comparable, V any] struct {
	mu     sync.Mutex
	m      map[K]V
	lookup func(K) V
}

func newCache[K comparable, V any](lookup func(K) V) *cache[K, V] {
	return &cache[K, V]{m: make(map[K]V), lookup: lookup}
}

func (c *cache[K, V]) get(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok {
		v = c.lookup(k)
		c.m[k] = v
	}
	return v
}

// localID is this system's numeric ID for a name, if the name is known.
type localID struct {
	id uint32
	ok bool
}

func parseID(s string) localID {
	id, err := strconv.ParseUint(s, 10, 32)
	return localID{uint32(id), err == nil}
}

// The names of user and group IDs on this system ("" if unknown), and the
// IDs of user and group names.
var (
	userNames = newCache(func(id uint32) string {
		u, err := user.LookupId(strconv.FormatUint(uint64(id), 10))
		if err != nil {
			return ""
		}
		return u.Username
	})
	groupNames = newCache(func(id uint32) string {
		g, err := user.LookupGroupId(strconv.FormatUint(uint64(id), 10))
		if err != nil {
			return ""
		}
		return g.Name
	})
	userIDs = newCache(func(name string) localID {
		u, err := user.Lookup(name)
		if err != nil {
			return localID{}
		}
		return parseID(u.Uid)
	})
	groupIDs = newCache(func(name string) localID {
		g, err := user.LookupGroup(name)
		if err != nil {
			return localID{}
		}
		return parseID(g.Gid)
	})
)

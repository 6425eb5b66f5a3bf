//go:build linux || darwin || freebsd

package fsmeta

import (
	"container/list"
	"sync"

	"golang.org/x/sys/unix"
)

// maxDirs bounds the directory descriptors a Root keeps: dirLimit of the
// descriptors the process may open, asked once.
var maxDirs = sync.OnceValue(func() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return dirLimit(0)
	}
	return dirLimit(uint64(lim.Cur))
})

// dirLimit is how many directory descriptors a Root keeps when the process
// may open nofile descriptors (Go raises the soft limit to the hard one at
// start): an eighth of them, at least 64 and at most 1024. A restore
// creates its files in pack order, which visits a directory many times;
// with 64 it resolved the directory again for about half its files.
func dirLimit(nofile uint64) int {
	return int(min(max(nofile/8, 64), 1024))
}

// dirCache keeps O_PATH descriptors of the directories a Root resolved
// last, so that creating many items in one directory resolves its path
// once, not once per item. A descriptor refers to the directory itself:
// it was opened beneath the root without following any symbolic link,
// and it is forgotten whenever the Root removes a directory. (A directory
// that another process moves elsewhere while it is cached still receives
// what is created in it, as one moved between resolving its path and
// using it always could; only the window is longer.) It is safe for
// concurrent use.
type dirCache struct {
	mu   sync.Mutex
	dirs map[string]*list.Element // of *dirFD
	lru  list.List                // most recent first
}

// dirFD is a cached descriptor and the operations using it.
type dirFD struct {
	rel  string
	fd   int
	refs int
	dead bool // forgotten: closed once its last user is done
}

// get returns the descriptor of directory rel, opening it with open if it
// is not cached; put must follow.
func (c *dirCache) get(rel string, open func() (int, error)) (*dirFD, error) {
	c.mu.Lock()
	if el, ok := c.dirs[rel]; ok {
		d := el.Value.(*dirFD)
		d.refs++
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	fd, err := open()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := &dirFD{rel: rel, fd: fd, refs: 1}
	if c.dirs == nil {
		c.dirs = make(map[string]*list.Element)
	}
	if old, ok := c.dirs[rel]; ok { // opened meanwhile by another user: replace it
		c.drop(old)
	}
	c.dirs[rel] = c.lru.PushFront(d)
	for c.lru.Len() > maxDirs() {
		c.drop(c.lru.Back())
	}
	return d, nil
}

// put ends a use of d begun by get.
func (c *dirCache) put(d *dirFD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.refs--; d.refs == 0 && d.dead {
		unix.Close(d.fd)
	}
}

// forget drops every cached descriptor (a directory was removed, or the
// Root is closing): each is closed once no operation uses it.
func (c *dirCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lru.Len() > 0 {
		c.drop(c.lru.Back())
	}
}

// drop removes el from the cache and closes its descriptor unless in
// use. c.mu is held.
func (c *dirCache) drop(el *list.Element) {
	d := c.lru.Remove(el).(*dirFD)
	if c.dirs[d.rel] == el {
		delete(c.dirs, d.rel)
	}
	d.dead = true
	if d.refs == 0 {
		unix.Close(d.fd)
	}
}

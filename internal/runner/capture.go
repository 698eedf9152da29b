package runner

import "sync"

// capture keeps the first and the last MaxOutput/2 bytes written to it.
type capture struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // a window over the latest bytes past head
	dropped bool   // bytes between head and tail were dropped
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if room := MaxOutput/2 - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	c.tail = append(c.tail, p...)
	if over := len(c.tail) - MaxOutput/2; over > 0 {
		c.tail = append(c.tail[:0], c.tail[over:]...)
		c.dropped = true
	}
	return n, nil
}

// String returns the kept output, with "\n...\n" where bytes were dropped.
func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return string(c.head) + "\n...\n" + string(c.tail)
	}
	return string(c.head) + string(c.tail)
}

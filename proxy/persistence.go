package proxy

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/proxy/persist"
)

// persistSweep is how often expired affinity entries are dropped. Lookups
// already ignore expired entries; the sweep only bounds memory.
const persistSweep = 10 * time.Second

func (b *Balancer) janitor() {
	defer close(b.janitorDone)
	t := b.clock.NewTicker(persistSweep)
	defer t.Stop()
	for {
		select {
		case <-b.janitorStop:
			return
		case <-t.C():
			b.ExpirePersistence()
		}
	}
}

// tables yields each persistent service's name and affinity table, with
// b.mu held for the whole walk.
func (b *Balancer) tables() iter.Seq2[string, *persist.Table] {
	return func(yield func(string, *persist.Table) bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for name, s := range b.services {
			if t := s.picker.pools.Load().sticky; t != nil && !yield(name, t) {
				return
			}
		}
	}
}

// ExportPersistence returns every persistent service's affinity entries,
// by service name, for syncing to the peer.
func (b *Balancer) ExportPersistence() map[string][]persist.Entry {
	return b.export((*persist.Table).Export)
}

// ExportPersistenceShard is ExportPersistence of part i (0 <= i <
// persist.Shards) of every table, for a full resync a part at a time.
func (b *Balancer) ExportPersistenceShard(i int) map[string][]persist.Entry {
	return b.export(func(t *persist.Table) []persist.Entry { return t.ExportShard(i) })
}

func (b *Balancer) export(entries func(*persist.Table) []persist.Entry) map[string][]persist.Entry {
	out := make(map[string][]persist.Entry)
	for name, t := range b.tables() {
		out[name] = entries(t)
	}
	return out
}

// ImportPersistence merges entries received from the peer. Entries for
// services that are unknown or not persistent here are ignored and named in
// the error.
func (b *Balancer) ImportPersistence(es map[string][]persist.Entry) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var skipped []string
	for name, list := range es {
		s, ok := b.services[name]
		if !ok || s.picker.pools.Load().sticky == nil {
			skipped = append(skipped, name)
			continue
		}
		s.picker.pools.Load().sticky.Import(list)
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		return fmt.Errorf("proxy: persistence entries for unknown or non-persistent service(s) %s ignored", strings.Join(skipped, ", "))
	}
	return nil
}

// ExpirePersistence drops expired affinity entries of every service and
// returns how many. The balancer runs it every 10s by itself.
func (b *Balancer) ExpirePersistence() int {
	n := 0
	for _, t := range b.tables() {
		n += t.Expire()
	}
	return n
}

// PersistenceChanges returns, by service name, up to max affinity entries
// in all that are new or refreshed since the last call (persist.Table
// Changes), for the persistence sync to send to the peer.
func (b *Balancer) PersistenceChanges(max int) map[string][]persist.Entry {
	out := make(map[string][]persist.Entry)
	for name, t := range b.tables() {
		if max <= 0 {
			break
		}
		if es := t.Changes(max); len(es) > 0 {
			out[name] = es
			max -= len(es)
		}
	}
	return out
}

// PersistenceEntries returns how many affinity entries every persistent
// service holds together (expired ones not yet swept included).
func (b *Balancer) PersistenceEntries() int {
	n := 0
	for _, t := range b.tables() {
		n += t.Stats().Entries
	}
	return n
}

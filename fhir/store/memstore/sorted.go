package memstore

import (
	"slices"
	"strings"
)

// sortedSet is a set of strings kept in byte order, so that a scan walks it as the other engines walk
// their keys (Pebble) or sorted set members (Redis).
type sortedSet []string

// add inserts m (a member already there stays once).
func (set sortedSet) add(m string) sortedSet {
	i, found := slices.BinarySearch(set, m)
	if found {
		return set
	}
	return slices.Insert(set, i, m)
}

// remove takes m out.
func (set sortedSet) remove(m string) sortedSet {
	i, found := slices.BinarySearch(set, m)
	if !found {
		return set
	}
	return slices.Delete(set, i, i+1)
}

// from copies up to n members from lo (inclusive), below hi when bounded.
func (set sortedSet) from(lo, hi string, bounded bool, n int) []string {
	i, _ := slices.BinarySearch(set, lo)
	var out []string
	for ; i < len(set) && len(out) < n; i++ {
		if bounded && strings.Compare(set[i], hi) >= 0 {
			break
		}
		out = append(out, set[i])
	}
	return out
}

// scanPage is how many members a scan copies under the lock at a time.
const scanPage = 256

// walk calls fn with the members of the set that set returns, from lo (inclusive) and below hi when
// bounded, in order, until fn returns false. It holds the read lock only while it copies a page, never
// while fn runs: fn may call the store.
func (s *Store) walk(set func() sortedSet, lo, hi string, bounded bool, fn func(member string) bool) {
	for {
		s.mu.RLock()
		page := set().from(lo, hi, bounded, scanPage)
		s.mu.RUnlock()
		for _, m := range page {
			if !fn(m) {
				return
			}
		}
		if len(page) < scanPage {
			return
		}
		lo = page[len(page)-1] + "\x00" // the smallest string after the last member seen
	}
}

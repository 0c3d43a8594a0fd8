package broker

// commitTracker decides, for one partition, how far offsets may be committed when records
// finish out of order: up to, and not past, the oldest record still in flight. It is not
// safe for concurrent use; Consumer guards it.
type commitTracker struct {
	inflight  map[int64]struct{}
	done      map[int64]struct{}
	committed int64 // next offset to read after a restart; -1 until the first record
}

func newCommitTracker() *commitTracker {
	return &commitTracker{inflight: map[int64]struct{}{}, done: map[int64]struct{}{}, committed: -1}
}

// started records that offset was handed out.
func (c *commitTracker) started(offset int64) {
	if c.committed < 0 {
		c.committed = offset
	}
	c.inflight[offset] = struct{}{}
}

// finished records that offset is done and returns the new commit position (the offset the
// next reader starts from) and whether it moved.
func (c *commitTracker) finished(offset int64) (int64, bool) {
	if _, ok := c.inflight[offset]; !ok {
		return c.committed, false
	}
	delete(c.inflight, offset)
	c.done[offset] = struct{}{}
	moved := false
	for {
		if _, ok := c.done[c.committed]; ok {
			delete(c.done, c.committed)
			c.committed++
			moved = true
			continue
		}
		// Offsets can have gaps (compaction, transaction markers): skip a gap when no
		// in-flight record lies below the next finished one.
		next, ok := c.lowestDone()
		if !ok || next < c.committed {
			break
		}
		if lo, any := c.lowestInflight(); any && lo < next {
			break
		}
		c.committed = next
		moved = true
	}
	return c.committed, moved
}

// pending is the number of records handed out and not yet finished.
func (c *commitTracker) pending() int { return len(c.inflight) }

func (c *commitTracker) lowestDone() (int64, bool)     { return lowest(c.done) }
func (c *commitTracker) lowestInflight() (int64, bool) { return lowest(c.inflight) }

// lowest is linear: the maps hold at most the in-flight window (maxPeek records).
func lowest(m map[int64]struct{}) (int64, bool) {
	first, min := true, int64(0)
	for k := range m {
		if first || k < min {
			first, min = false, k
		}
	}
	return min, !first
}

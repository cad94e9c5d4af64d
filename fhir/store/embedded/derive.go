package embedded

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// The audit chain's derived keys.
//
// Every request writes an AuditEvent, so the cost of one shapes the throughput of the whole server. A
// chained create (Op.Chain) is committed, durably, with what a read by id, a chain walk and a recovery
// need: its current record, its index list and its chain link. Its history entries and its search index
// entries are derived from those afterwards, in batches (derive): a batch writes each (parameter, value)
// once, as a block listing the ids of all the batch's events that have it (codec.IndexBlockTail), where
// writing them with each commit costs some forty keys per event, most of them the same values again
// (type=rest, the server's agent, the user's role...).
//
// Readers never see the difference: a read that could miss derived keys (History of the system or of a
// chained type, IndexScan of a chained type) first derives whatever is pending (settle). The chain
// position up to which the keys are derived is written with each batch (keyDerived); Open derives what a
// crash left pending. Chained resources are never changed (commit.Decide refuses it), so a block never has
// to be rewritten.

// pendingLink is a committed chained version whose history and index entries are not written yet.
type pendingLink struct {
	chainSeq, seq, vid uint64
	typ, id            string
	entries            []store.IndexEntry
}

const (
	// deriveBatch pending links wake the deriver before its period.
	deriveBatch = 1024
	// deriveMax pending links make a commit derive them itself before it returns (backpressure when the
	// deriver falls behind).
	deriveMax = 16384
	// derivePeriod bounds the time a link stays pending while nobody reads.
	derivePeriod = 100 * time.Millisecond
)

// keyDerived holds the chain position (8 bytes) up to which history and index entries are written.
var keyDerived = []byte{pMeta, 'd', 'e', 'r', 'i', 'v', 'e', 'd'}

// pend queues the links of an applied commit; it runs under commitMu, right after the batch is applied,
// so that pending links and applied commits never disagree for a reader who holds commitMu.
func (s *Store) pend(links []pendingLink) {
	if len(links) == 0 {
		return
	}
	s.pending = append(s.pending, links...)
	if n := s.npending.Add(int64(len(links))); n >= deriveBatch && n-int64(len(links)) < deriveBatch {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// markChained records that typ has chained resources, before the first of them is committed: from then
// on its readers settle.
func (s *Store) markChained(typ string) {
	if _, ok := s.chainedTypes.Load(typ); !ok {
		s.chainedTypes.Store(typ, true)
	}
	s.anyChained.Store(true)
}

// settle writes the pending derived keys before a read of typ ("" for the system history) that could miss
// them. It returns the sequence number up to which every commit is then fully visible (0 when typ has no
// chained resources and the read need not be bounded): a history read shows nothing after it, so that a
// commit still on its way does not appear before an earlier one that is still pending.
func (s *Store) settle(typ string) (uint64, error) {
	if typ == "" && !s.anyChained.Load() {
		return 0, nil
	}
	if _, ok := s.chainedTypes.Load(typ); typ != "" && !ok {
		return 0, nil
	}
	return s.derive()
}

// derive writes the history and index entries of the pending links in one batch and returns the last
// sequence number committed when it took them.
func (s *Store) derive() (uint64, error) {
	s.deriveMu.Lock()
	defer s.deriveMu.Unlock()
	s.commitMu.Lock()
	links, last := s.pending, s.state.Seq
	s.pending = nil
	s.commitMu.Unlock()
	if len(links) == 0 {
		return last, nil
	}
	if err := s.writeDerived(links); err != nil {
		s.commitMu.Lock()
		s.pending = append(links, s.pending...)
		s.commitMu.Unlock()
		return 0, store.Unavailable(fmt.Errorf("embedded: deriving the audit chain's index: %w", err))
	}
	s.npending.Add(-int64(len(links)))
	return last, nil
}

// writeDerived writes the links' history entries, their index entries grouped by value into blocks, and
// the new derived position, in one batch. The batch is not synced: a crash that loses it loses the
// position with it, and Open derives the links again from their durable records.
func (s *Store) writeDerived(links []pendingLink) error {
	b := s.db.NewBatch()
	defer s.releaseBatch(b)
	block := links[0].chainSeq // unique: no two batches start at the same link
	type posting struct {
		key string
		ids []string
	}
	var postings []posting
	at := make(map[string]int, 64) // block key -> index in postings
	var k []byte
	for _, l := range links {
		if err := b.Set(systemKey(l.seq), codec.Pointer(l.typ, l.id, l.vid), nil); err != nil {
			return err
		}
		if err := b.Set(typeKey(l.typ, l.seq), codec.Pointer("", l.id, l.vid), nil); err != nil {
			return err
		}
		for _, e := range l.entries {
			k = append(k[:0], pIndex)
			k = append(k, l.typ...)
			k = append(k, 0)
			k = append(k, e.Param...)
			k = append(k, 0)
			k = codec.IndexBlockTail(k, e.Value, block)
			if i, ok := at[string(k)]; ok {
				postings[i].ids = append(postings[i].ids, l.id)
				continue
			}
			at[string(k)] = len(postings)
			postings = append(postings, posting{key: string(k), ids: []string{l.id}})
		}
	}
	slices.SortFunc(postings, func(a, b posting) int { return strings.Compare(a.key, b.key) })
	var v []byte
	for _, p := range postings {
		v = codec.AppendIDs(v[:0], p.ids)
		if err := b.Set([]byte(p.key), v, nil); err != nil {
			return err
		}
	}
	if err := b.Set(keyDerived, encodeDerived(links[len(links)-1].chainSeq), nil); err != nil {
		return err
	}
	return s.db.Apply(b, pebble.NoSync)
}

// deriver writes pending links in the background: when enough are pending, and at least every
// derivePeriod.
func (s *Store) deriver() {
	defer close(s.deriverDone)
	tick := time.NewTicker(derivePeriod)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		case <-tick.C:
			if s.npending.Load() == 0 {
				continue
			}
		}
		if _, err := s.derive(); err != nil {
			s.cfg.Logger.Error("audit chain index not written yet; retrying", "err", err)
		}
	}
}

// recoverDerived, at Open, queues the links a crash left underived (after the derived position) and
// derives them. A store without a derived position has every link derived (it was written before links
// were derived in batches, or it is new).
func (s *Store) recoverDerived() (err error) {
	b, ok, err := s.get(keyDerived)
	if err != nil {
		return err
	}
	if !ok {
		return s.db.Set(keyDerived, encodeDerived(s.state.ChainSeq), pebble.Sync)
	}
	derived, err := decodeDerived(b)
	if err != nil {
		return err
	}
	from := derived + 1
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: chainKey(from), UpperBound: []byte{pChain + 1}})
	if err != nil {
		return err
	}
	defer closeIter(it, &err, nil)
	var links []pendingLink
	for ok := it.First(); ok; ok = it.Next() {
		r, err := decodeChainLink(it.Key(), it.Value())
		if err != nil {
			return err
		}
		v, err := s.readCurrent(r.Type, r.ID)
		if err != nil || v.VersionID != r.VersionID {
			// Nothing to derive from: the record is gone or altered, which VerifyChain reports.
			s.cfg.Logger.Warn("audit chain link without its record; not indexed", "link", r.Seq, "ref", r.Ref(), "err", err)
			continue
		}
		entries, err := s.readIndexList(r.Type, r.ID)
		if err != nil {
			return err
		}
		links = append(links, pendingLink{chainSeq: r.Seq, seq: v.Seq, vid: v.VersionID, typ: r.Type, id: r.ID, entries: entries})
		s.markChained(r.Type)
	}
	if err := it.Error(); err != nil {
		return err
	}
	if len(links) == 0 {
		return nil
	}
	s.cfg.Logger.Info("deriving the index of audit events left pending by a crash", "events", len(links))
	s.commitMu.Lock()
	s.pend(links)
	s.commitMu.Unlock()
	_, err = s.derive()
	return err
}

package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"

	"fhirgate/fhir/store"
)

// Report is the result of verifying the audit trail.
type Report struct {
	// Chain is the walk of the hash chain; Chain.Broken (or Broken) names the first bad record.
	Chain *store.ChainReport
	// Checkpoints is the number of signed checkpoints the chain was held against; Keys their keys'
	// fingerprints.
	Checkpoints int
	Keys        []string
	// Broken is the first problem found, the chain's own or a checkpoint's (nil when the trail holds).
	Broken *store.ChainBreak
}

// Verify walks the audit chain of st, checking every record against its link (altered, removed,
// inserted, reordered), and then against signed checkpoints: each signature must verify (with pinned
// when it is not "": the key the server logged), and the chain must still reach each checkpoint's head
// with the same hash — a store whose newest records were cut off no longer does. progress, when set, is
// told of the records verified every 10,000.
func Verify(ctx context.Context, st store.ChainStore, checkpoints []Checkpoint, pinned string, progress func(n int)) (*Report, error) {
	rep := &Report{Checkpoints: len(checkpoints)}
	keys := map[string]bool{}
	want := map[uint64][]*Checkpoint{}
	for i := range checkpoints {
		c := &checkpoints[i]
		if err := c.Verify(pinned); err != nil {
			rep.Broken = &store.ChainBreak{Seq: c.Seq, Ref: "(checkpoint)",
				Reason: fmt.Sprintf("the checkpoint of position %d taken at %s cannot be trusted: %v (the checkpoint file was altered)", c.Seq, c.At.Format("2006-01-02T15:04:05Z07:00"), err)}
			return rep, nil
		}
		keys[c.Fingerprint()] = true
		want[c.Seq] = append(want[c.Seq], c)
	}
	for k := range keys {
		rep.Keys = append(rep.Keys, k)
	}
	sort.Strings(rep.Keys)
	// The chain's hash at every position a checkpoint names.
	seen := map[uint64][32]byte{}
	n := 0
	chain, err := store.VerifyChain(ctx, st, []string{"AuditEvent"}, func(r store.ChainRecord) {
		if _, ok := want[r.Seq]; ok {
			seen[r.Seq] = r.Hash
		}
		n++
		if progress != nil && n%10000 == 0 {
			progress(n)
		}
	})
	if err != nil {
		return nil, err
	}
	rep.Chain = chain
	if chain.Broken != nil {
		rep.Broken = chain.Broken
		return rep, nil
	}
	seqs := make([]uint64, 0, len(want))
	for seq := range want {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	agreed := uint64(0) // the last position a checkpoint and the chain agree on
	for _, seq := range seqs {
		for _, c := range want[seq] {
			h, ok := seen[seq]
			switch {
			case !ok:
				rep.Broken = &store.ChainBreak{Seq: uint64(chain.Records) + 1, Ref: "(end of chain)",
					Reason: fmt.Sprintf("the chain ends at position %d, but a checkpoint signed at %s sealed position %d: records %d to %d were cut off (a deleted or truncated log, a store restored from an older copy)",
						chain.Records, c.At.Format("2006-01-02T15:04:05Z07:00"), seq, chain.Records+1, seq)}
				return rep, nil
			case hex.EncodeToString(h[:]) != c.Head:
				rep.Broken = &store.ChainBreak{Seq: agreed + 1, Ref: "(chain rewritten)",
					Reason: fmt.Sprintf("the chain was rewritten after position %d: at position %d it disagrees with the checkpoint signed at %s",
						agreed, seq, c.At.Format("2006-01-02T15:04:05Z07:00"))}
				return rep, nil
			}
		}
		agreed = seq
	}
	return rep, nil
}

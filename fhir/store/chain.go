package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// The audit chain: every version written with Op.Chain (AuditEvents) becomes a link whose hash covers
// the previous link's hash and the version's stored bytes:
//
//	hash(n) = SHA-256( hash(n-1) || body(n) ),   hash(0) = 32 zero bytes
//
// Engines persist each link with its version in the same commit, and the chain head (the last link's
// position and hash) with it, so that an acknowledged AuditEvent is always part of the chain and a chain
// cut short at its end is noticed. VerifyChain walks it.

// ChainRecord is one link of the audit chain.
type ChainRecord struct {
	Seq       uint64 // position, from 1
	Type, ID  string
	VersionID uint64
	Prev      [32]byte
	Hash      [32]byte
}

// Ref returns "Type/id/_history/vid".
func (r ChainRecord) Ref() string { return fmt.Sprintf("%s/%s/_history/%d", r.Type, r.ID, r.VersionID) }

// ChainHash computes a link's hash.
func ChainHash(prev [32]byte, body []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Chain is what an engine offers to walk the audit chain.
type Chain interface {
	// ChainRecords calls fn with every link in chain order, until fn returns false.
	ChainRecords(ctx context.Context, fn func(ChainRecord) bool) error
	// ChainHead returns the last link's position and hash (zero when the chain is empty).
	ChainHead(ctx context.Context) (uint64, [32]byte, error)
	// ChainLink returns the link at a position (ErrNotFound when there is none).
	ChainLink(ctx context.Context, seq uint64) (ChainRecord, error)
}

// ChainReport is the result of a verification.
type ChainReport struct {
	Records int
	Head    [32]byte
	// Broken describes the first tampering found (nil when the chain is intact).
	Broken *ChainBreak
}

// HeadHex returns the head hash in hex, to be kept outside the store as an anchor.
func (r *ChainReport) HeadHex() string { return hex.EncodeToString(r.Head[:]) }

// ChainBreak names the first record where the chain does not hold.
type ChainBreak struct {
	Seq    uint64
	Ref    string
	Reason string
}

func (b *ChainBreak) String() string {
	return fmt.Sprintf("record %d (%s): %s", b.Seq, b.Ref, b.Reason)
}

// ChainStore is a store whose audit chain can be verified.
type ChainStore interface {
	Chain
	Read(ctx context.Context, typ, id string) (*Version, error)
	ReadVersion(ctx context.Context, typ, id string, versionID uint64) (*Version, error)
	ScanIDs(ctx context.Context, typ string, fn func(id string) bool) error
}

// VerifyChain walks the audit chain of st and reports the first record that was altered, removed,
// inserted or reordered. chainedTypes are the types whose every resource must be in the chain (an
// AuditEvent stored outside the chain was inserted). visit, when set, is called with every link verified,
// in chain order (to check them against anchors kept elsewhere, or to show progress).
func VerifyChain(ctx context.Context, st ChainStore, chainedTypes []string, visit func(ChainRecord)) (*ChainReport, error) {
	rep := &ChainReport{}
	var prev [32]byte
	var last ChainRecord
	expect := uint64(1)
	chained := map[string]uint64{} // Type/id -> the version its link names
	var walkErr error
	err := st.ChainRecords(ctx, func(r ChainRecord) bool {
		if err := ctx.Err(); err != nil {
			walkErr = err
			return false
		}
		brk := func(at ChainRecord, reason string) bool {
			rep.Broken = &ChainBreak{Seq: at.Seq, Ref: at.Ref(), Reason: reason}
			return false
		}
		if r.Seq != expect {
			if r.Seq > expect {
				// The first bad position is the first missing one; the record named is where the walk
				// met the gap.
				rep.Broken = &ChainBreak{Seq: expect, Ref: r.Ref(),
					Reason: fmt.Sprintf("links %d to %d are missing before this one (removed, or moved)", expect, r.Seq-1)}
				return false
			}
			return brk(r, "a link is out of order (inserted or reordered)")
		}
		if r.Prev != prev {
			if expect > 1 && r.Prev == last.Prev {
				// This link follows the one before last: the last one was slipped in between them.
				return brk(last, "this link was inserted: the next link follows the one before it")
			}
			return brk(r, "the link does not follow the previous one (a record was inserted, removed or reordered)")
		}
		v, err := st.ReadVersion(ctx, r.Type, r.ID, r.VersionID)
		if errors.Is(err, ErrNotFound) {
			return brk(r, "the audit event was removed")
		}
		if errors.Is(err, ErrCorrupt) {
			return brk(r, "the audit event was altered (its stored record can no longer be read)")
		}
		if err != nil {
			walkErr = err
			return false
		}
		if ChainHash(prev, v.Body) != r.Hash {
			return brk(r, "the audit event was altered (its content no longer matches the chain)")
		}
		chained[r.Type+"/"+r.ID] = r.VersionID
		prev, last = r.Hash, r
		expect++
		rep.Records++
		if visit != nil {
			visit(r)
		}
		return true
	})
	if walkErr != nil {
		return nil, walkErr
	}
	if err != nil {
		return nil, err
	}
	rep.Head = prev
	if rep.Broken != nil {
		return rep, nil
	}
	headSeq, head, err := st.ChainHead(ctx)
	if err != nil {
		return nil, err
	}
	// Every stored resource of a chained type must be the version its link names.
	for _, typ := range chainedTypes {
		var ids []string
		if err := st.ScanIDs(ctx, typ, func(id string) bool { ids = append(ids, id); return true }); err != nil {
			return nil, err
		}
		for _, id := range ids {
			v, err := st.Read(ctx, typ, id)
			if err != nil {
				return nil, err
			}
			if vid, ok := chained[typ+"/"+id]; ok && vid == v.VersionID {
				continue
			}
			ref := fmt.Sprintf("%s/%s/_history/%d", typ, id, v.VersionID)
			if _, ok := chained[typ+"/"+id]; ok {
				rep.Broken = &ChainBreak{Seq: 0, Ref: ref, Reason: "this audit event was rewritten after it was chained"}
			} else if headSeq == expect {
				rep.Broken = &ChainBreak{Seq: headSeq, Ref: ref, Reason: "this audit event's link was removed from the end of the chain"}
			} else {
				rep.Broken = &ChainBreak{Seq: 0, Ref: ref, Reason: "this audit event is not in the chain (inserted, or its link was removed)"}
			}
			return rep, nil
		}
	}
	switch {
	case headSeq != expect-1:
		rep.Broken = &ChainBreak{Seq: expect - 1, Ref: "(end of chain)",
			Reason: fmt.Sprintf("the chain head says %d links, the chain has %d (links were removed at the end, or the head was altered)", headSeq, expect-1)}
	case head != prev:
		rep.Broken = &ChainBreak{Seq: expect - 1, Ref: "(end of chain)", Reason: "the chain head's hash differs from the last link's (the head was altered)"}
	}
	return rep, nil
}

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
	ReadVersion(ctx context.Context, typ, id string, versionID uint64) (*Version, error)
	History(ctx context.Context, q HistoryQuery) ([]*Version, error)
}

// VerifyChain walks the audit chain of st and reports the first record that was altered, removed,
// inserted or reordered. chainedTypes are the types whose every version must be in the chain (an
// AuditEvent stored outside the chain was inserted). progress, when set, is called every 10,000 records.
func VerifyChain(ctx context.Context, st ChainStore, chainedTypes []string, progress func(n int)) (*ChainReport, error) {
	rep := &ChainReport{}
	var prev [32]byte
	expect := uint64(1)
	inChain := map[string]bool{}
	var walkErr error
	err := st.ChainRecords(ctx, func(r ChainRecord) bool {
		if err := ctx.Err(); err != nil {
			walkErr = err
			return false
		}
		brk := func(reason string) bool {
			rep.Broken = &ChainBreak{Seq: r.Seq, Ref: r.Ref(), Reason: reason}
			return false
		}
		if r.Seq != expect {
			if r.Seq > expect {
				return brk(fmt.Sprintf("links %d to %d are missing (removed)", expect, r.Seq-1))
			}
			return brk("a link is out of order (inserted or reordered)")
		}
		if r.Prev != prev {
			return brk("the link does not follow the previous one (a record was inserted, removed or reordered)")
		}
		v, err := st.ReadVersion(ctx, r.Type, r.ID, r.VersionID)
		if errors.Is(err, ErrNotFound) {
			return brk("the audit event was removed")
		}
		if err != nil {
			walkErr = err
			return false
		}
		if ChainHash(prev, v.Body) != r.Hash {
			return brk("the audit event was altered (its content no longer matches the chain)")
		}
		inChain[r.Ref()] = true
		prev = r.Hash
		expect++
		rep.Records++
		if progress != nil && rep.Records%10000 == 0 {
			progress(rep.Records)
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
	seq, head, err := st.ChainHead(ctx)
	if err != nil {
		return nil, err
	}
	if seq != expect-1 || head != prev {
		rep.Broken = &ChainBreak{Seq: expect, Ref: "(end of chain)",
			Reason: fmt.Sprintf("the chain head says %d links, the chain has %d (links removed at the end, or the head was altered)", seq, expect-1)}
		return rep, nil
	}
	// Every version of a chained type must be in the chain.
	for _, typ := range chainedTypes {
		var before uint64
		for {
			vs, err := st.History(ctx, HistoryQuery{Type: typ, Before: before, Limit: 10000})
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				ref := fmt.Sprintf("%s/%s/_history/%d", v.Type, v.ID, v.VersionID)
				if !inChain[ref] {
					rep.Broken = &ChainBreak{Ref: ref, Reason: "this audit event is not in the chain (inserted)"}
					return rep, nil
				}
			}
			if len(vs) < 10000 {
				break
			}
			before = vs[len(vs)-1].Seq
		}
	}
	return rep, nil
}

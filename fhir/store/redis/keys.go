package redis

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// Key layout, under the prefix (types and ids never contain ':'):
//
//	seq                  the last sequence number given (every commit moves it: the commits' WATCH)
//	clock                the last lastUpdated given (ms), so that it never decreases along seq
//	c:<type>:<id>        current version record (codec.EncodeVersion)
//	v:<type>:<id>        hash: versionId -> every superseded version record
//	h                    sorted set, score seq: system history (codec.Pointer with type)
//	t:<type>             sorted set, score seq: type history (codec.Pointer without type)
//	i:<type>:<param>     sorted set, all scores 0, by member: search index (codec.IndexTail)
//	r:<type>:<id>        the resource's index entries (codec.EncodeIndexList)
//	ids:<type>           sorted set, all scores 0: the ids that currently exist (not deleted)
//	a                    sorted set, score chain position: audit chain links (chainMember)
//	chainhead            the chain head (codec.EncodeChainHead)
//	changes              hash: type -> writes of that type (Changes)
//	rec:<ns>             hash: key -> value, the store's records (store.Records)
func (s *Store) seqKey() string                    { return s.p + "seq" }
func (s *Store) clockKey() string                  { return s.p + "clock" }
func (s *Store) currentKey(typ, id string) string  { return s.p + "c:" + typ + ":" + id }
func (s *Store) versionsKey(typ, id string) string { return s.p + "v:" + typ + ":" + id }
func (s *Store) systemKey() string                 { return s.p + "h" }
func (s *Store) typeKey(typ string) string         { return s.p + "t:" + typ }
func (s *Store) indexKey(typ, param string) string { return s.p + "i:" + typ + ":" + param }
func (s *Store) reverseKey(typ, id string) string  { return s.p + "r:" + typ + ":" + id }
func (s *Store) idsKey(typ string) string          { return s.p + "ids:" + typ }
func (s *Store) chainKey() string                  { return s.p + "a" }
func (s *Store) chainHeadKey() string              { return s.p + "chainhead" }
func (s *Store) changesKey() string                { return s.p + "changes" }

// chainMember is a link as a member of the chain's sorted set: <seq:8> codec.EncodeChainLink. The
// position leads, so that no two links are ever the same member.
func chainMember(r store.ChainRecord) []byte {
	return append(binary.BigEndian.AppendUint64(nil, r.Seq), codec.EncodeChainLink(r)...)
}

// decodeChainMember decodes a member of the chain's sorted set.
func decodeChainMember(m []byte) (store.ChainRecord, error) {
	if len(m) < 8 {
		return store.ChainRecord{}, codec.ErrBadPointer
	}
	return codec.DecodeChainLink(binary.BigEndian.Uint64(m[:8]), m[8:])
}

// parseCounter decodes a counter the engine keeps as a decimal string (seq, clock).
func parseCounter(b string) (uint64, error) {
	n, err := strconv.ParseUint(b, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: corrupt counter %q", b)
	}
	return n, nil
}

// versionField is the field of a superseded version in its resource's hash of versions.
func versionField(vid uint64) string { return strconv.FormatUint(vid, 10) }

// parseVersionField decodes a field of a resource's hash of versions.
func parseVersionField(f string) (uint64, error) {
	n, err := strconv.ParseUint(f, 10, 64)
	if err != nil || versionField(n) != f {
		return 0, fmt.Errorf("corrupt version field %q", f)
	}
	return n, nil
}

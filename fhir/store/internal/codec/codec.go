// Package codec holds the byte formats the storage engines share: version records, history pointers,
// index entry tails and blocks, a resource's index list, audit chain links and the chain head. An engine
// decides where the bytes go (Pebble keys, Redis keys); the bytes are the same everywhere. What a commit
// decides is package commit's; every decoder here takes bytes read back from an engine, so it refuses
// what it cannot read (an error, never a panic).
package codec

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"fhirgate/fhir/store"
)

// Value format. Every stored record starts with a format byte, then a flags byte. Format 1 is plain; the
// flags mark a compressed body (compress.go) and reserve a bit for encryption at rest, so that it can be
// added later without a migration (old values keep their header and stay readable).
const (
	formatV1 byte = 1

	flagDeleted byte = 1 << 0
	// flagCreated marks a version that brought the resource into existence (first, or after a deletion).
	flagCreated byte = 1 << 3
	// flagChained marks a version that is a link of the audit chain: it is never changed or deleted.
	flagChained byte = 1 << 4
	// flagCompressed marks a body stored compressed (compress.go).
	flagCompressed byte = 1 << 1
	// flagEncrypted is reserved: a reader that meets it refuses the value rather than return garbage.
	flagEncrypted byte = 1 << 2
)

var methods = []string{"", "POST", "PUT", "PATCH", "DELETE"}

func methodCode(m string) byte {
	for i, s := range methods {
		if s == m && i > 0 {
			return byte(i)
		}
	}
	return 0
}

// Errors of corrupt stored bytes.
var (
	ErrBadRecord    = fmt.Errorf("%w: corrupt or unsupported record", store.ErrCorrupt)
	ErrBadPointer   = errors.New("store: corrupt history pointer")
	ErrBadIndexKey  = errors.New("store: corrupt index entry")
	ErrBadIndexList = errors.New("store: corrupt index list")
)

// EncodeVersion encodes a version record: header, versionId, lastUpdated (ms), seq, method, body (compressed
// when that makes it smaller).
func EncodeVersion(v *store.Version) []byte {
	buf := make([]byte, 0, 2+3*binary.MaxVarintLen64+1+len(v.Body))
	flags := byte(0)
	if v.Deleted {
		flags |= flagDeleted
	}
	if v.Created {
		flags |= flagCreated
	}
	if v.Chained {
		flags |= flagChained
	}
	buf = append(buf, formatV1, flags)
	buf = binary.AppendUvarint(buf, v.VersionID)
	buf = binary.AppendVarint(buf, v.LastUpdated.UnixMilli())
	buf = binary.AppendUvarint(buf, v.Seq)
	buf = append(buf, methodCode(v.Method))
	if c, ok := compress(buf, v.Body); ok {
		c[1] |= flagCompressed
		return c
	}
	return append(buf, v.Body...)
}

// DecodeVersion decodes a record into v (Type and ID come from where it was found). The body is copied.
func DecodeVersion(b []byte, v *store.Version) error {
	if len(b) < 2 || b[0] != formatV1 || b[1]&flagEncrypted != 0 {
		return ErrBadRecord
	}
	compressed := b[1]&flagCompressed != 0
	v.Deleted = b[1]&flagDeleted != 0
	v.Created = b[1]&flagCreated != 0
	v.Chained = b[1]&flagChained != 0
	b = b[2:]
	vid, n := binary.Uvarint(b)
	if n <= 0 {
		return ErrBadRecord
	}
	b = b[n:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return ErrBadRecord
	}
	b = b[n:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return ErrBadRecord
	}
	b = b[n:]
	if len(b) < 1 || int(b[0]) >= len(methods) {
		return ErrBadRecord
	}
	v.VersionID, v.LastUpdated, v.Seq, v.Method = vid, time.UnixMilli(ms).UTC(), seq, methods[b[0]]
	switch {
	case v.Deleted:
		v.Body = nil
	case compressed:
		body, err := decompress(b[1:])
		if err != nil {
			return ErrBadRecord
		}
		v.Body = body
	default:
		v.Body = append([]byte(nil), b[1:]...)
	}
	return nil
}

// DecodeVersionOf decodes the record of the resource typ/id; a corrupt record's error names the resource.
func DecodeVersionOf(typ, id string, b []byte) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id}
	if err := DecodeVersion(b, v); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", typ, id, err)
	}
	return v, nil
}

// IsDeleted reports whether a record is a deletion, without decoding it.
func IsDeleted(record []byte) bool { return len(record) >= 2 && record[1]&flagDeleted != 0 }

// Pointer encodes a history entry: [<type> 00] <id> 00 <vid:8>.
func Pointer(typ, id string, vid uint64) []byte {
	p := make([]byte, 0, len(typ)+len(id)+10)
	if typ != "" {
		p = append(p, typ...)
		p = append(p, 0)
	}
	p = append(p, id...)
	p = append(p, 0)
	return binary.BigEndian.AppendUint64(p, vid)
}

// ParsePointer decodes a history entry (with its type when withType). It refuses what Pointer never
// writes: a separator other than 00 before the version, an empty type.
func ParsePointer(p []byte, withType bool) (typ, id string, vid uint64, err error) {
	if len(p) < 9 || p[len(p)-9] != 0 {
		return "", "", 0, ErrBadPointer
	}
	vid = binary.BigEndian.Uint64(p[len(p)-8:])
	rest := p[:len(p)-9]
	if withType {
		i := indexByte(rest, 0)
		if i <= 0 {
			return "", "", 0, ErrBadPointer
		}
		typ, rest = string(rest[:i]), rest[i+1:]
	}
	return typ, string(rest), vid, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Escape appends v with 0x00 written as 00 FF, so that the terminator 00 01 sorts before any
// continuation and a value is never a prefix of another value's entry.
func Escape(dst, v []byte) []byte {
	for _, c := range v {
		if c == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// IndexTail is the ordered part of an index entry: <escaped value> 00 01 <id>. Entries sorted byte-wise
// by their tails are sorted by value, then id.
func IndexTail(dst, value []byte, id string) []byte {
	dst = Escape(dst, value)
	dst = append(dst, 0, 1)
	return append(dst, id...)
}

// IndexBlockTail is the tail of an index block: <escaped value> 00 02 <block:8>. A block holds the
// entries of several resources with one value, written together (the deferred index of the audit chain,
// see the embedded engine); the key's value lists their ids (AppendIDs). A value's blocks sort after its
// single entries and before any longer value.
func IndexBlockTail(dst, value []byte, block uint64) []byte {
	dst = Escape(dst, value)
	dst = append(dst, 0, 2)
	return binary.BigEndian.AppendUint64(dst, block)
}

// SplitIndexTail splits an index entry's tail and unescapes the value. For a block tail (IndexBlockTail),
// block is true and id is empty: the ids are in the key's value.
func SplitIndexTail(k []byte) (value []byte, id string, block bool, err error) {
	value = make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != 0 {
			value = append(value, c)
			continue
		}
		if i+1 >= len(k) {
			break
		}
		switch k[i+1] {
		case 0xFF:
			value = append(value, 0)
			i++
		case 1:
			return value, string(k[i+2:]), false, nil
		case 2:
			if len(k)-(i+2) != 8 {
				return nil, "", false, ErrBadIndexKey
			}
			return value, "", true, nil
		default:
			return nil, "", false, ErrBadIndexKey
		}
	}
	return nil, "", false, ErrBadIndexKey
}

// AppendIDs appends the encoding of an index block's ids to b: 00, then each id as a uvarint header and
// bytes. The ids of one block are mostly the server's own UUIDs (v7: time first), written in the order
// they were made, so a UUID is kept as 16 bytes and only those that differ from the previous UUID's are
// written: header (shared<<1)|1, then 16-shared bytes. Any other id is written as it is: header len<<1,
// then its bytes. A block of a few hundred events' ids takes about 10 bytes an id instead of 37.
//
// Blocks written before this encoding (uvarint-length prefixed ids, never an empty one) start with a
// non-zero byte, and DecodeIDs reads them too.
func AppendIDs(b []byte, ids []string) []byte {
	b = append(b, 0)
	var prev [16]byte
	for _, id := range ids {
		u, ok := parseUUID(id)
		if !ok {
			b = binary.AppendUvarint(b, uint64(len(id))<<1)
			b = append(b, id...)
			continue
		}
		shared := 0
		for shared < 16 && u[shared] == prev[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, uint64(shared)<<1|1)
		b = append(b, u[shared:]...)
		prev = u
	}
	return b
}

// DecodeIDs calls fn with each id of an index block until fn returns false.
func DecodeIDs(b []byte, fn func(id string) bool) error {
	if len(b) == 0 || b[0] != 0 {
		return decodeLengthPrefixedIDs(b, fn)
	}
	b = b[1:]
	var prev [16]byte
	for len(b) > 0 {
		h, w := binary.Uvarint(b)
		if w <= 0 {
			return ErrBadIndexKey
		}
		b = b[w:]
		if h&1 == 0 {
			n := h >> 1
			if uint64(len(b)) < n {
				return ErrBadIndexKey
			}
			if !fn(string(b[:n])) {
				return nil
			}
			b = b[n:]
			continue
		}
		shared := h >> 1
		if shared > 16 || uint64(len(b)) < 16-shared {
			return ErrBadIndexKey
		}
		copy(prev[shared:], b[:16-shared])
		b = b[16-shared:]
		if !fn(formatUUID(prev)) {
			return nil
		}
	}
	return nil
}

func decodeLengthPrefixedIDs(b []byte, fn func(id string) bool) error {
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return ErrBadIndexKey
		}
		if !fn(string(b[w : w+int(n)])) {
			return nil
		}
		b = b[w+int(n):]
	}
	return nil
}

// uuidGroups are the byte ranges of a UUID's five hyphen-separated groups.
var uuidGroups = [5][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 16}}

// parseUUID reads a UUID in its canonical text form, lower case: exactly what formatUUID writes back.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 {
		return u, false
	}
	at := 0
	for _, g := range uuidGroups {
		n := 2 * (g[1] - g[0])
		if _, err := hex.Decode(u[g[0]:g[1]], []byte(s[at:at+n])); err != nil {
			return u, false
		}
		at += n + 1
	}
	return u, formatUUID(u) == s // hyphens in place, no upper case
}

func formatUUID(u [16]byte) string {
	var s [36]byte
	at := 0
	for i, g := range uuidGroups {
		if i > 0 {
			s[at] = '-'
			at++
		}
		at += hex.Encode(s[at:], u[g[0]:g[1]])
	}
	return string(s[:])
}

// EncodeIndexList encodes a resource's index entries (param, value pairs, uvarint-length prefixed),
// compressed when that makes them smaller: then 00 and the dictionary's id come first (compress.go). A
// plain list that starts with 00 (an empty parameter name, which the indexer never writes) is written
// after 00 00.
func EncodeIndexList(entries []store.IndexEntry) []byte {
	list := PlainIndexList(entries)
	if c, ok := compress([]byte{0}, list); ok {
		return c
	}
	if len(list) > 0 && list[0] == 0 {
		return append([]byte{0, 0}, list...)
	}
	return list
}

// PlainIndexList is EncodeIndexList without compression.
func PlainIndexList(entries []store.IndexEntry) []byte {
	var list []byte
	for _, e := range entries {
		list = binary.AppendUvarint(list, uint64(len(e.Param)))
		list = append(list, e.Param...)
		list = binary.AppendUvarint(list, uint64(len(e.Value)))
		list = append(list, e.Value...)
	}
	return list
}

// DecodeIndexList decodes a resource's list of entries, keeping one parameter's only when param is set.
// The values share one copy of b, and consecutive entries of one parameter share its name.
func DecodeIndexList(b []byte, param string) ([]store.IndexEntry, error) {
	switch {
	case len(b) > 1 && b[0] == 0 && b[1] == 0:
		b = append([]byte(nil), b[2:]...)
	case len(b) > 0 && b[0] == 0:
		var err error
		if b, err = decompress(b[1:]); err != nil {
			return nil, ErrBadIndexList
		}
	default:
		b = append([]byte(nil), b...)
	}
	var out []store.IndexEntry
	if param == "" {
		out = make([]store.IndexEntry, 0, len(b)/24+1)
	}
	last := ""
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, ErrBadIndexList
		}
		p := b[w : w+int(n)]
		b = b[w+int(n):]
		n, w = binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, ErrBadIndexList
		}
		v := b[w : w+int(n)]
		b = b[w+int(n):]
		if param != "" && string(p) != param {
			continue
		}
		if string(p) != last {
			last = string(p)
		}
		out = append(out, store.IndexEntry{Param: last, Value: v[:len(v):len(v)]})
	}
	return out, nil
}

// DecodeIndexValues decodes the values of one parameter's entries in a resource's list of entries.
func DecodeIndexValues(b []byte, param string) ([][]byte, error) {
	entries, err := DecodeIndexList(b, param)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.Value
	}
	return out, nil
}

// EncodeChainLink encodes a chain link's value: <type> 00 <id> 00 <vid:8> <prev:32> <hash:32> (its
// position is kept by the engine, beside it).
func EncodeChainLink(r store.ChainRecord) []byte {
	v := Pointer(r.Type, r.ID, r.VersionID)
	v = append(v, r.Prev[:]...)
	return append(v, r.Hash[:]...)
}

// DecodeChainLink decodes a link found at position seq.
func DecodeChainLink(seq uint64, val []byte) (store.ChainRecord, error) {
	var r store.ChainRecord
	if len(val) < 64+9 {
		return r, ErrBadPointer
	}
	r.Seq = seq
	typ, id, vid, err := ParsePointer(val[:len(val)-64], true)
	if err != nil {
		return r, err
	}
	r.Type, r.ID, r.VersionID = typ, id, vid
	copy(r.Prev[:], val[len(val)-64:len(val)-32])
	copy(r.Hash[:], val[len(val)-32:])
	return r, nil
}

// EncodeChainHead encodes the chain head: <seq:8> <hash:32>.
func EncodeChainHead(seq uint64, hash [32]byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), hash[:]...)
}

// DecodeChainHead decodes the chain head.
func DecodeChainHead(b []byte) (uint64, [32]byte, error) {
	var h [32]byte
	if len(b) != 40 {
		return 0, h, errors.New("store: corrupt audit chain head")
	}
	copy(h[:], b[8:])
	return binary.BigEndian.Uint64(b[:8]), h, nil
}

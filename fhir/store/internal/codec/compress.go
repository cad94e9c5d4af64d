package codec

import (
	"crypto/sha256"
	_ "embed" // the dictionaries
	"encoding/hex"
	"errors"
	"slices"

	"github.com/klauspost/compress/s2"
)

// Compression. A resource's body and its index list are most of what a commit writes, and most of their
// bytes are the same from one record to the next: FHIR's element names and code systems, an AuditEvent's
// constant parts (BALP's codes, the server as observer), the search parameters' names. Each is compressed
// on its own, as an S2 block against a dictionary of such bytes, so that a record stays readable alone
// (a read decodes one value, not a block of them) and shrinks 2-4x: an audit event from ~2.8 KB to
// ~0.7 KB, its index list from ~1.5 KB to ~0.46 KB. Less to write means less to flush, compact and cache.
//
// A dictionary is never changed once a release has written with it: a stored value names its dictionary
// by id, and a new dictionary takes the next id (dictionaries[id]), keeping the old ones to read with.
// Dictionary 1 was built by gendict from a store written by `fhirgate bench populate` and audited reads
// and searches (see gendict).

//go:embed dict1.s2dict
var dict1 []byte

// dict1SHA256 pins dictionary 1: values written with it are unreadable with any other bytes.
const dict1SHA256 = "c2a55a69d9c5ed9e4323ce0c8e6cb873d597e5ad6669d593f1548cd22623ef29"

var dictionaries = []*s2.Dict{nil, mustDict(dict1, dict1SHA256)}

// writeDict is the dictionary new values are compressed with.
const writeDict = 1

func mustDict(b []byte, sum string) *s2.Dict {
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != sum {
		panic("codec: a compression dictionary was changed; values written with it would no longer be readable")
	}
	d := s2.NewDict(b)
	if d == nil {
		panic("codec: invalid compression dictionary")
	}
	return d
}

// minCompress is the smallest value worth compressing: below it a dictionary rarely saves the bytes of
// the header.
const minCompress = 64

// maxDecoded bounds what a compressed value may claim to decode to, so that a corrupt length cannot make
// a reader allocate without bound (resources are bounded far below it by the REST layer).
const maxDecoded = 256 << 20

// ErrBadCompressed is the error of a compressed value that cannot be decoded.
var ErrBadCompressed = errors.New("store: corrupt compressed value")

// compress appends to dst src compressed (<dict id> <s2 block>) and reports whether it did: it does not
// when src is small or would not shrink (then dst comes back as it was given, perhaps moved).
func compress(dst, src []byte) ([]byte, bool) {
	if len(src) < minCompress {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, writeDict)
	dst = slices.Grow(dst, s2.MaxEncodedLen(len(src)))
	block := dictionaries[writeDict].Encode(dst[len(dst):cap(dst)], src) // in place: there is room for the largest
	if len(block)+1 >= len(src) {
		return dst[:start], false
	}
	return dst[:len(dst)+len(block)], true
}

// decompress decodes <dict id> <s2 block> into a new slice.
func decompress(b []byte) ([]byte, error) {
	if len(b) < 2 || int(b[0]) >= len(dictionaries) || dictionaries[b[0]] == nil {
		return nil, ErrBadCompressed
	}
	d := dictionaries[b[0]]
	n, err := s2.DecodedLen(b[1:])
	if err != nil || n > maxDecoded {
		return nil, ErrBadCompressed
	}
	out, err := d.Decode(make([]byte, 0, n), b[1:])
	if err != nil {
		return nil, ErrBadCompressed
	}
	return out, nil
}

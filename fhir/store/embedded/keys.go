package embedded

import (
	"encoding/binary"
	"errors"

	"fhirgate/fhir/store"
)

// Key layout (types and ids never contain 0x00):
//
//	c <type> 00 <id>                  current version record
//	v <type> 00 <id> 00 <vid:8>       every superseded version record (the current one is under c)
//	h <seq:8>                         system history: <type> 00 <id> 00 <vid:8>
//	t <type> 00 <seq:8>               type history:   <id> 00 <vid:8>
//	i <type> 00 <param> 00 <value> 00 01 <id>   search index entry (value escaped, see escape)
//	r <type> 00 <id>                  the resource's index entries (param, value), to check candidates
//	                                  and to replace the entries on update and delete
//	a <seq:8>                         audit chain link: <type> 00 <id> 00 <vid:8> <prev hash> <hash>
//	m <name>                          store metadata (the audit chain head)
const (
	pCurrent = 'c'
	pVersion = 'v'
	pSystem  = 'h'
	pType    = 't'
	pIndex   = 'i'
	pReverse = 'r'
	pMeta    = 'm'
	pChain   = 'a'
)

// keyChainHead holds the audit chain's head: <seq:8> <hash:32>.
var keyChainHead = []byte{pMeta, 'c', 'h', 'a', 'i', 'n'}

// chainKey is a link of the audit chain: a <seq:8> -> <type> 00 <id> 00 <vid:8> <prev:32> <hash:32>.
func chainKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pChain}, seq)
}

func encodeChainRecord(r store.ChainRecord) []byte {
	v := pointer(r.Type, r.ID, r.VersionID)
	v = append(v, r.Prev[:]...)
	return append(v, r.Hash[:]...)
}

func decodeChainRecord(key, val []byte) (store.ChainRecord, error) {
	var r store.ChainRecord
	if len(key) != 9 || len(val) < 64+9 {
		return r, errBadPointer
	}
	r.Seq = binary.BigEndian.Uint64(key[1:])
	typ, id, vid, err := parsePointer(val[:len(val)-64], true)
	if err != nil {
		return r, err
	}
	r.Type, r.ID, r.VersionID = typ, id, vid
	copy(r.Prev[:], val[len(val)-64:len(val)-32])
	copy(r.Hash[:], val[len(val)-32:])
	return r, nil
}

func currentKey(typ, id string) []byte {
	k := make([]byte, 0, 2+len(typ)+len(id))
	k = append(k, pCurrent)
	k = append(k, typ...)
	k = append(k, 0)
	return append(k, id...)
}

func versionPrefix(typ, id string) []byte {
	k := make([]byte, 0, 3+len(typ)+len(id)+8)
	k = append(k, pVersion)
	k = append(k, typ...)
	k = append(k, 0)
	k = append(k, id...)
	return append(k, 0)
}

func versionKey(typ, id string, vid uint64) []byte {
	return binary.BigEndian.AppendUint64(versionPrefix(typ, id), vid)
}

func systemKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pSystem}, seq)
}

func typePrefix(typ string) []byte {
	k := make([]byte, 0, 2+len(typ)+8)
	k = append(k, pType)
	k = append(k, typ...)
	return append(k, 0)
}

func typeKey(typ string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(typePrefix(typ), seq)
}

// reverseKey holds a resource's index entries (param, value pairs, uvarint-length prefixed): to check
// candidates, and to replace the entries on update and delete.
func reverseKey(typ, id string) []byte {
	k := make([]byte, 0, 2+len(typ)+len(id))
	k = append(k, pReverse)
	k = append(k, typ...)
	k = append(k, 0)
	return append(k, id...)
}

// IndexValuePrefix returns the key prefix of all entries of a parameter value: scanning it yields the
// ids whose index holds exactly that value.
func indexValuePrefix(typ, param string, value []byte) []byte {
	k := indexParamPrefix(typ, param)
	k = escape(k, value)
	return append(k, 0, 1)
}

func indexParamPrefix(typ, param string) []byte {
	k := make([]byte, 0, 4+len(typ)+len(param)+32)
	k = append(k, pIndex)
	k = append(k, typ...)
	k = append(k, 0)
	k = append(k, param...)
	return append(k, 0)
}

func indexKey(typ, param string, value []byte, id string) []byte {
	return append(indexValuePrefix(typ, param, value), id...)
}

// escape appends v with 0x00 written as 00 FF, so that the terminator 00 01 sorts before any
// continuation and a value is never a prefix of another value's key.
func escape(dst, v []byte) []byte {
	for _, c := range v {
		if c == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// splitIndexKey splits the tail of an index key, <escaped value> 00 01 <id>, and unescapes the value.
func splitIndexKey(k []byte) (value []byte, id string, err error) {
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
			return value, string(k[i+2:]), nil
		default:
			return nil, "", errBadIndexKey
		}
	}
	return nil, "", errBadIndexKey
}

var errBadIndexKey = errors.New("embedded: corrupt index key")

// pointer encodes a history entry: [<type> 00] <id> 00 <vid:8>.
func pointer(typ, id string, vid uint64) []byte {
	p := make([]byte, 0, len(typ)+len(id)+10)
	if typ != "" {
		p = append(p, typ...)
		p = append(p, 0)
	}
	p = append(p, id...)
	p = append(p, 0)
	return binary.BigEndian.AppendUint64(p, vid)
}

var errBadPointer = errors.New("embedded: corrupt history pointer")

func parsePointer(p []byte, withType bool) (typ, id string, vid uint64, err error) {
	if len(p) < 9 {
		return "", "", 0, errBadPointer
	}
	vid = binary.BigEndian.Uint64(p[len(p)-8:])
	rest := p[:len(p)-9]
	if withType {
		i := indexByte(rest, 0)
		if i < 0 {
			return "", "", 0, errBadPointer
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

// upperBound returns the smallest key greater than every key with the given prefix.
func upperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

package embedded

import (
	"encoding/binary"
	"errors"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// Key layout (types and ids never contain 0x00):
//
//	c <type> 00 <id>                  current version record
//	v <type> 00 <id> 00 <vid:8>       every superseded version record (the current one is under c)
//	h <seq:8>                         system history: <type> 00 <id> 00 <vid:8>
//	t <type> 00 <seq:8>               type history:   <id> 00 <vid:8>
//	i <type> 00 <param> 00 <value> 00 01 <id>   search index entry (codec.IndexTail)
//	r <type> 00 <id>                  the resource's index entries (param, value), to check candidates
//	                                  and to replace the entries on update and delete
//	a <seq:8>                         audit chain link: <type> 00 <id> 00 <vid:8> <prev hash> <hash>
//	m <name>                          store metadata (the audit chain head)
//	x <ns> 00 <key>                   the store's records (store.Records)
const (
	pCurrent = 'c'
	pVersion = 'v'
	pSystem  = 'h'
	pType    = 't'
	pIndex   = 'i'
	pReverse = 'r'
	pMeta    = 'm'
	pChain   = 'a'
	pRecord  = 'x'
)

// keyChainHead holds the audit chain's head: <seq:8> <hash:32>.
var keyChainHead = []byte{pMeta, 'c', 'h', 'a', 'i', 'n'}

// chainKey is a link of the audit chain: a <seq:8> -> <type> 00 <id> 00 <vid:8> <prev:32> <hash:32>.
func chainKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pChain}, seq)
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
	k = codec.Escape(k, value)
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

// errBadKey is the error of a key that does not have the layout of its prefix.
var errBadKey = errors.New("embedded: corrupt key")

// parseSeqKey decodes a key made of a one-byte prefix and a sequence number (systemKey, chainKey).
func parseSeqKey(prefix byte, key []byte) (uint64, error) {
	if len(key) != 9 || key[0] != prefix {
		return 0, errBadKey
	}
	return binary.BigEndian.Uint64(key[1:]), nil
}

// decodeChainLink decodes the link at a chain key.
func decodeChainLink(key, val []byte) (store.ChainRecord, error) {
	seq, err := parseSeqKey(pChain, key)
	if err != nil {
		return store.ChainRecord{}, codec.ErrBadPointer
	}
	return codec.DecodeChainLink(seq, val)
}

// encodeDerived encodes the chain position up to which derived keys are written (keyDerived).
func encodeDerived(chainSeq uint64) []byte { return binary.BigEndian.AppendUint64(nil, chainSeq) }

// decodeDerived decodes the value of keyDerived.
func decodeDerived(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, errors.New("embedded: corrupt derived position")
	}
	return binary.BigEndian.Uint64(b), nil
}

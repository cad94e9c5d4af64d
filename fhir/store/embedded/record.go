package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	"fhirgate/fhir/store"
)

// Value format. Every stored value starts with a format byte, then a flags byte. Format 1 is plain; the
// flags reserve bits for compression and encryption at rest, so that either can be added later without
// a migration (old values keep their header and stay readable).
const (
	formatV1 byte = 1

	flagDeleted byte = 1 << 0
	// flagCreated marks a version that brought the resource into existence (first, or after a deletion).
	flagCreated byte = 1 << 3
	// flagCompressed and flagEncrypted are reserved: a reader that meets them refuses the value rather
	// than return garbage.
	flagCompressed byte = 1 << 1
	flagEncrypted  byte = 1 << 2
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

var errBadRecord = errors.New("embedded: corrupt or unsupported record")

// encodeVersion encodes a version record: header, versionId, lastUpdated (ms), seq, method, body.
func encodeVersion(v *store.Version) []byte {
	buf := make([]byte, 0, 2+3*binary.MaxVarintLen64+1+len(v.Body))
	flags := byte(0)
	if v.Deleted {
		flags |= flagDeleted
	}
	if v.Created {
		flags |= flagCreated
	}
	buf = append(buf, formatV1, flags)
	buf = binary.AppendUvarint(buf, v.VersionID)
	buf = binary.AppendVarint(buf, v.LastUpdated.UnixMilli())
	buf = binary.AppendUvarint(buf, v.Seq)
	buf = append(buf, methodCode(v.Method))
	return append(buf, v.Body...)
}

// decodeVersion decodes a record into v (Type and ID come from the key). The body is copied.
func decodeVersion(b []byte, v *store.Version) error {
	if len(b) < 2 || b[0] != formatV1 || b[1]&(flagCompressed|flagEncrypted) != 0 {
		return errBadRecord
	}
	v.Deleted = b[1]&flagDeleted != 0
	v.Created = b[1]&flagCreated != 0
	b = b[2:]
	vid, n := binary.Uvarint(b)
	if n <= 0 {
		return errBadRecord
	}
	b = b[n:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return errBadRecord
	}
	b = b[n:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return errBadRecord
	}
	b = b[n:]
	if len(b) < 1 || int(b[0]) >= len(methods) {
		return errBadRecord
	}
	v.VersionID, v.LastUpdated, v.Seq, v.Method = vid, time.UnixMilli(ms).UTC(), seq, methods[b[0]]
	if v.Deleted {
		v.Body = nil
	} else {
		v.Body = append([]byte(nil), b[1:]...)
	}
	return nil
}

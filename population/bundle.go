package population

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// builder collects the entries of one transaction Bundle.
type builder struct {
	entries []entry
}

// add appends resource typ/id as an idempotent PUT.
func (b *builder) add(typ, id string, res any) {
	ref := typ + "/" + id
	b.entries = append(b.entries, entry{
		FullURL:  "urn:uuid:" + uuidFor(ref),
		Resource: res,
		Request:  entryRequest{Method: "PUT", URL: ref},
	})
}

// bytes returns the transaction Bundle as JSON.
func (b *builder) bytes() []byte {
	out, err := json.Marshal(bundle{ResourceType: "Bundle", Type: "transaction", Entry: b.entries})
	if err != nil {
		// Only plain structs, strings and valid json.Numbers are marshalled: an error is a bug here.
		panic("population: marshal bundle: " + err.Error())
	}
	return out
}

// uuidNamespace is the name-space of the entries' UUIDs (an RFC 9562 version-5 UUID of
// "urn:fhirgate:population" in the URL name-space), so that the fullUrl of Patient/pat-000042 is the
// same in every run.
var uuidNamespace = func() [16]byte {
	url := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	return uuid5(url, "urn:fhirgate:population")
}()

// uuidFor returns the version-5 UUID of a relative reference (Type/id), as text.
func uuidFor(ref string) string {
	u := uuid5(uuidNamespace, ref)
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], u[10:16])
	return string(buf[:])
}

func uuid5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// Formatting of values.

const (
	fmtDateTime = "2006-01-02T15:04:05Z07:00"
	fmtDate     = "2006-01-02"
)

func dateTime(t time.Time) string { return t.UTC().Format(fmtDateTime) }
func date(t time.Time) string     { return t.UTC().Format(fmtDate) }

// fixed formats v/10^decimals with exactly that many decimals: fixed(372, 1) = "37.2".
func fixed(v, decimals int) json.Number {
	if decimals == 0 {
		return json.Number(strconv.Itoa(v))
	}
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.Itoa(v)
	for len(s) <= decimals {
		s = "0" + s
	}
	s = s[:len(s)-decimals] + "." + s[len(s)-decimals:]
	if neg {
		s = "-" + s
	}
	return json.Number(s)
}

// pad returns n in decimal, left-padded with zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

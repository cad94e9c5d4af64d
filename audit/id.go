package audit

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// newEventID returns a time-ordered (version 7, RFC 9562) UUID for an AuditEvent: 48 bits of Unix
// milliseconds, then 74 random bits. Events are written once and never changed, so ids that grow with
// time keep the store's keys of the trail append-mostly: its compactions move new tables down instead of
// rewriting the whole trail's keys, as random ids made them do. The time an id carries is the event's
// recorded time, which the event says anyway; clinical resources keep random ids.
func newEventID() string { return eventIDAt(time.Now()) }

func eventIDAt(t time.Time) string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("audit: no randomness: " + err.Error())
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(b[:6], ms[2:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

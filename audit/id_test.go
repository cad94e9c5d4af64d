package audit

import (
	"regexp"
	"testing"
	"time"
)

// Event ids are version 7 UUIDs whose order is their time's, random below the millisecond.
func TestEventIDsGrowWithTime(t *testing.T) {
	v7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	t0 := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := eventIDAt(t0.Add(time.Duration(i) * time.Millisecond))
		if !v7.MatchString(id) {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("%q does not sort after %q", id, prev)
		}
		prev, seen[id] = id, true
	}
	if a, b := eventIDAt(t0), eventIDAt(t0); a == b || a[:13] != b[:13] {
		t.Fatalf("the same millisecond: %q and %q", a, b)
	}
	if got := eventIDAt(t0)[:13]; got != "01a24b70-9880" {
		t.Fatalf("the time prefix of %v is %q", t0, got)
	}
}
